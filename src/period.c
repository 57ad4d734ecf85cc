/*-------------------------------------------------------------------------
 *
 * period.c
 *	  Calendar arithmetic, pure: anniversary-aligned months,
 *	  next_renewal_after, and the periods of credit plans.
 *
 * A monthly grid from an anniversary A steps one calendar month at a time
 * on A's own day of the month, clamped to each month's last day, with A's
 * time of day: Jan 31 -> Feb 29 (2024) -> Mar 31, never drifting to the
 * 28th.  Daily and weekly grids are 24 h and 7 d steps from A.  All in UTC.
 *
 *-------------------------------------------------------------------------
 */
#include "freetier.h"

#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/datetime.h"

/* ts broken down in UTC, or 22008. */
static void
to_tm(TimestampTz ts, struct pg_tm *tm, fsec_t *fsec)
{
	if (timestamp2tm(ts, NULL, tm, fsec, NULL, NULL) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("timestamp out of range")));
}

/* ts's UTC day of the month. */
int
ft_day_of_month(TimestampTz ts)
{
	struct pg_tm tm;
	fsec_t		fsec;

	to_tm(ts, &tm, &fsec);
	return tm.tm_mday;
}

/*
 * ts moved by `months` calendar months (may be negative), on anchor_day
 * clamped to the target month's last day, time of day kept.
 */
TimestampTz
ft_add_months_anchored(TimestampTz ts, int64 months, int anchor_day)
{
	struct pg_tm tm;
	fsec_t		fsec;
	int64		month_index;
	TimestampTz result;

	if (TIMESTAMP_NOT_FINITE(ts))
		return ts;
	to_tm(ts, &tm, &fsec);
	month_index = (int64) tm.tm_year * MONTHS_PER_YEAR + (tm.tm_mon - 1) + months;
	tm.tm_year = (int) (month_index >= 0 ? month_index / MONTHS_PER_YEAR
						: -((-month_index + MONTHS_PER_YEAR - 1) / MONTHS_PER_YEAR));
	tm.tm_mon = (int) (month_index - (int64) tm.tm_year * MONTHS_PER_YEAR) + 1;
	tm.tm_mday = Min(anchor_day, day_tab[isleap(tm.tm_year)][tm.tm_mon - 1]);
	if (tm2timestamp(&tm, fsec, NULL, &result) != 0 || !IS_VALID_TIMESTAMP(result))
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("timestamp out of range")));
	return result;
}

/* The next renewal one calendar month after ts (anchor_day 0: ts's own day). */
TimestampTz
ft_next_renewal(TimestampTz ts, int anchor_day)
{
	if (TIMESTAMP_NOT_FINITE(ts))
		return ts;
	return ft_add_months_anchored(ts, 1,
								  anchor_day ? anchor_day : ft_day_of_month(ts));
}

/* A plan's period from its stored name. */
FtPeriod
ft_period_from_name(const char *name)
{
	if (strcmp(name, "daily") == 0)
		return FT_PERIOD_DAILY;
	if (strcmp(name, "weekly") == 0)
		return FT_PERIOD_WEEKLY;
	if (strcmp(name, "monthly") == 0)
		return FT_PERIOD_MONTHLY;
	return FT_PERIOD_LIFETIME;
}

/*
 * The start of the period on the grid from `anniversary` that contains
 * `now`.  However long an account was idle, this is one period: missed
 * periods are not stacked.  Before the anniversary it is the anniversary.
 */
TimestampTz
ft_period_start(FtPeriod period, TimestampTz anniversary, TimestampTz now)
{
	int64		step;

	if (period == FT_PERIOD_LIFETIME || now <= anniversary)
		return anniversary;
	if (period == FT_PERIOD_MONTHLY)
	{
		struct pg_tm a,
					n;
		fsec_t		fsec;
		int			anchor = ft_day_of_month(anniversary);
		int64		k;
		TimestampTz start;

		to_tm(anniversary, &a, &fsec);
		to_tm(now, &n, &fsec);
		k = ((int64) n.tm_year - a.tm_year) * MONTHS_PER_YEAR + (n.tm_mon - a.tm_mon);
		start = ft_add_months_anchored(anniversary, k, anchor);
		while (start > now)		/* at most once: the anchor day is later in the month */
			start = ft_add_months_anchored(anniversary, --k, anchor);
		return start;
	}
	step = period == FT_PERIOD_DAILY ? USECS_PER_DAY : 7 * USECS_PER_DAY;
	return anniversary + ((now - anniversary) / step) * step;
}

/* The end of the period that starts at `start`; DT_NOEND for lifetime. */
TimestampTz
ft_period_end(FtPeriod period, TimestampTz anniversary, TimestampTz start)
{
	switch (period)
	{
		case FT_PERIOD_DAILY:
			return start + USECS_PER_DAY;
		case FT_PERIOD_WEEKLY:
			return start + 7 * USECS_PER_DAY;
		case FT_PERIOD_MONTHLY:
			return ft_next_renewal(start, ft_day_of_month(anniversary));
		case FT_PERIOD_LIFETIME:
			break;
	}
	return DT_NOEND;
}

PG_FUNCTION_INFO_V1(freetier_next_renewal_after);

/*
 * next_renewal_after(ts timestamptz, anchor_day int DEFAULT NULL) RETURNS timestamptz
 *
 * The seed's nextRenewalAfter (003), keeping fractions of a second.
 */
Datum
freetier_next_renewal_after(PG_FUNCTION_ARGS)
{
	int			anchor_day = 0;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	if (!PG_ARGISNULL(1))
	{
		anchor_day = PG_GETARG_INT32(1);
		if (anchor_day < 1 || anchor_day > 31)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("anchor_day must be between 1 and 31"),
					 errdetail("anchor_day was %d.", anchor_day)));
	}
	PG_RETURN_TIMESTAMPTZ(ft_next_renewal(PG_GETARG_TIMESTAMPTZ(0), anchor_day));
}

PG_FUNCTION_INFO_V1(freetier_period_start);

/*
 * freetier.period_start(period text, anniversary timestamptz, at timestamptz)
 *	 RETURNS timestamptz
 *
 * ft_period_start for SQL: the start of the period of a plan of `period`
 * from `anniversary` that contains `at` (verify.c checks an account's
 * period start with it).
 */
Datum
freetier_period_start(PG_FUNCTION_ARGS)
{
	char	   *period = text_to_cstring(PG_GETARG_TEXT_PP(0));

	PG_RETURN_TIMESTAMPTZ(ft_period_start(ft_period_from_name(period),
										  PG_GETARG_TIMESTAMPTZ(1),
										  PG_GETARG_TIMESTAMPTZ(2)));
}
