/*-------------------------------------------------------------------------
 *
 * renewal.c
 *	  next_renewal_after: anniversary-aligned monthly renewals.
 *
 * One calendar month after ts, in UTC, on anchor_day (default: ts's own
 * day) clamped to the target month's last day, time of day kept, fractions
 * of a second included.  Stepping with the original anchor keeps a
 * subscription on its day: Jan 31 -> Feb 29 (2024) -> Mar 31.  This is
 * nextRenewalAfter of the credits seed (003), which drops fractions of a
 * second; freetier keeps them.
 *
 *-------------------------------------------------------------------------
 */
#include "freetier.h"

#include "fmgr.h"
#include "utils/datetime.h"

/* The pure step, shared with the credit periods. */
TimestampTz
ft_next_renewal(TimestampTz ts, int anchor_day)
{
	struct pg_tm tm;
	fsec_t		fsec;
	TimestampTz result;

	if (TIMESTAMP_NOT_FINITE(ts))
		return ts;
	if (timestamp2tm(ts, NULL, &tm, &fsec, NULL, NULL) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("timestamp out of range")));
	if (anchor_day == 0)
		anchor_day = tm.tm_mday;
	if (++tm.tm_mon > MONTHS_PER_YEAR)
	{
		tm.tm_mon = 1;
		tm.tm_year++;
	}
	tm.tm_mday = Min(anchor_day, day_tab[isleap(tm.tm_year)][tm.tm_mon - 1]);
	if (tm2timestamp(&tm, fsec, NULL, &result) != 0 || !IS_VALID_TIMESTAMP(result))
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("timestamp out of range")));
	return result;
}

PG_FUNCTION_INFO_V1(freetier_next_renewal_after);

/* next_renewal_after(ts timestamptz, anchor_day int DEFAULT NULL) RETURNS timestamptz */
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
