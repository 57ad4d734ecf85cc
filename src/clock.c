/*-------------------------------------------------------------------------
 *
 * clock.c
 *	  The instant freetier decides at.
 *
 * Normally the start of the caller's transaction, so that every row a call
 * writes carries one time.  A superuser may set freetier.test_now to a
 * timestamp to evaluate windows, TTLs and periods at a chosen instant; the
 * setting is PGC_SUSET, so no application role can move its own clock.
 *
 *-------------------------------------------------------------------------
 */
#include "freetier.h"

#include "access/xact.h"
#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/guc.h"
#include "utils/timestamp.h"

static char *test_now_setting = NULL;
static TimestampTz test_now_value;

/* Parse a timestamptz without throwing, as GUC check hooks must. */
static bool
parse_timestamptz(const char *str, TimestampTz *result)
{
	char		workbuf[MAXDATELEN + MAXDATEFIELDS];
	char	   *field[MAXDATEFIELDS];
	int			ftype[MAXDATEFIELDS];
	int			nf;
	int			dtype;
	int			tz;
	fsec_t		fsec;
	struct pg_tm tt;

	if (ParseDateTime(str, workbuf, sizeof(workbuf), field, ftype,
					  MAXDATEFIELDS, &nf) != 0)
		return false;
	if (ft_decode_datetime(field, ftype, nf, &dtype, &tt, &fsec, &tz) != 0)
		return false;
	if (dtype != DTK_DATE)
		return false;
	return tm2timestamp(&tt, fsec, &tz, result) == 0;
}

/* GUC check hook: empty, or a timestamp parsed once into *extra. */
static bool
check_test_now(char **newval, void **extra, GucSource source)
{
	TimestampTz *parsed;
	TimestampTz ts;

	if (*newval == NULL || (*newval)[0] == '\0')
		return true;
	if (!parse_timestamptz(*newval, &ts))
	{
		GUC_check_errdetail("freetier.test_now must be empty or a timestamp with time zone.");
		return false;
	}
	parsed = ft_guc_extra_malloc(sizeof(TimestampTz));	/* the GUC machinery frees it */
	if (parsed == NULL)
		return false;
	*parsed = ts;
	*extra = parsed;
	return true;
}

/* GUC assign hook: keep the parsed instant. */
static void
assign_test_now(const char *newval, void *extra)
{
	if (extra != NULL)
		test_now_value = *(TimestampTz *) extra;
}

/* Define freetier.test_now (from _PG_init). */
void
ft_define_clock_guc(void)
{
	DefineCustomStringVariable("freetier.test_now",
							   "Evaluates freetier at this instant instead of the transaction's start (for tests).",
							   "Empty means the real clock. Only superusers can set it.",
							   &test_now_setting,
							   "",
							   PGC_SUSET,
							   0,
							   check_test_now, assign_test_now, NULL);
}

/* The instant of this call: freetier.test_now if set, else the transaction's start. */
TimestampTz
ft_now(void)
{
	if (test_now_setting != NULL && test_now_setting[0] != '\0')
		return test_now_value;
	return GetCurrentTransactionStartTimestamp();
}

/*
 * ts + d in UTC, whatever the caller's TimeZone: the C side of
 * FT_PLUS_DURATION (a day is 24 hours, also across daylight saving time).
 * 22008 past the end of time.
 */
TimestampTz
ft_plus_duration(TimestampTz ts, const Interval *d)
{
	return DatumGetTimestamp(DirectFunctionCall2(timestamp_pl_interval,
												 TimestampGetDatum(ts),
												 IntervalPGetDatum(d)));
}

PG_FUNCTION_INFO_V1(freetier_clock);

/* freetier.clock(): the instant freetier decides at. */
Datum
freetier_clock(PG_FUNCTION_ARGS)
{
	PG_RETURN_TIMESTAMPTZ(ft_now());
}
