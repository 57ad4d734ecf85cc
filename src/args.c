/*-------------------------------------------------------------------------
 *
 * args.c
 *	  Arguments in, rows out: the argument checks shared by the SQL-callable
 *	  functions, with the errors users read, and their result rows.  Every
 *	  check runs before anything is locked or written.
 *
 *-------------------------------------------------------------------------
 */
#include "freetier.h"

#include "common/int.h"
#include "fmgr.h"
#include "funcapi.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

/*
 * Start the result of a function that RETURNS TABLE (one or more rows),
 * with the row type the executor expects when it says (a call in FROM), so
 * that it is not built from pg_proc again on every call.
 */
void
ft_result_begin(FunctionCallInfo fcinfo)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;

	InitMaterializedSRF(fcinfo, rsinfo && rsinfo->expectedDesc ? MAT_SRF_USE_EXPECTED_DESC : 0);
}

/* One row of that result. */
void
ft_result_row(FunctionCallInfo fcinfo, Datum *values, bool *isnull)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;

	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, isnull);
}

/* A NULL where a value is required: 22023. */
void
ft_check_not_null(FunctionCallInfo fcinfo, int argno, const char *argname)
{
	if (PG_ARGISNULL(argno))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must not be NULL", argname)));
}

/* An amount of sats must be zero or more: 22023. */
void
ft_check_sats(const char *argname, int64 value)
{
	if (value < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must not be negative", argname),
				 errdetail("%s was " INT64_FORMAT ".", argname, value)));
}

/*
 * A text argument as a C string, NULL when the argument is NULL and not
 * required.  Longer than FT_MAX_TEXT_BYTES is 22023.
 */
char *
ft_text_arg(FunctionCallInfo fcinfo, int argno, const char *argname,
			bool required)
{
	text	   *t;
	int			len;

	if (PG_ARGISNULL(argno))
	{
		if (required)
			ft_check_not_null(fcinfo, argno, argname);
		return NULL;
	}
	t = PG_GETARG_TEXT_PP(argno);
	len = VARSIZE_ANY_EXHDR(t);
	if (len > FT_MAX_TEXT_BYTES)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s is too long", argname),
				 errdetail("A %s may be at most %d bytes; this one has %d.",
						   argname, FT_MAX_TEXT_BYTES, len)));
	return text_to_cstring(t);
}

/*
 * A required text argument of 1 to FT_MAX_TEXT_BYTES bytes: empty is 22023,
 * its detail naming what needs it ("A correction", "An import").
 */
char *
ft_nonempty_text_arg(FunctionCallInfo fcinfo, int argno, const char *argname,
					 const char *whose)
{
	char	   *s = ft_text_arg(fcinfo, argno, argname, true);

	if (s[0] == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must not be empty", argname),
				 errdetail("%s names its %s: 1 to %d bytes.", whose, argname,
						   FT_MAX_TEXT_BYTES)));
	return s;
}

/* a + b, or 22003 naming what overflowed; never a wrapped number. */
int64
ft_add_sats(int64 a, int64 b, const char *what)
{
	int64		sum;

	if (pg_add_s64_overflow(a, b, &sum))
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("%s would be out of range for bigint", what),
				 errdetail("Adding " INT64_FORMAT " to " INT64_FORMAT
						   " does not fit in a bigint.", b, a)));
	return sum;
}

/* A subject that names an account: non-empty (its length is checked on entry). */
void
ft_check_subject(const char *subject)
{
	if (subject[0] == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("subject must not be empty"),
				 errdetail("A subject is a non-empty string of at most %d bytes.",
						   FT_MAX_TEXT_BYTES)));
}

/*
 * A TTL: a positive duration with no month part and no negative part, so
 * that now + ttl is later than now on every date.
 */
bool
ft_is_duration(const Interval *i)
{
	return i->month == 0 && i->day >= 0 && i->time >= 0 &&
		(i->day > 0 || i->time > 0);
}

/* ttl as interval_out shows it, for messages. */
static char *
interval_shown(const Interval *ttl)
{
	return DatumGetCString(DirectFunctionCall1(interval_out, IntervalPGetDatum(ttl)));
}

/*
 * A hold TTL (argument `argname`): a duration of at most
 * FT_MAX_HOLD_TTL_DAYS, so that every hold's expiry is a valid timestamp.
 * 22023 otherwise.
 */
void
ft_check_ttl_arg(const Interval *ttl, const char *argname)
{
	char	   *shown = interval_shown(ttl);

	if (!ft_is_duration(ttl))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must be a positive duration", argname),
				 errdetail("%s was %s.", argname, shown),
				 errhint("Give days, hours, minutes or seconds, none negative.")));
	/* a duration has day, time >= 0; compared so that nothing overflows */
	if (ttl->day > FT_MAX_HOLD_TTL_DAYS ||
		ttl->time > (FT_MAX_HOLD_TTL_DAYS - ttl->day) * USECS_PER_DAY)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must be at most %d days", argname, FT_MAX_HOLD_TTL_DAYS),
				 errdetail("%s was %s.", argname, shown)));
}

void
ft_check_hold_ttl(const Interval *ttl)
{
	ft_check_ttl_arg(ttl, "hold_ttl");
}

/*
 * 22023 when a checked TTL asked for (argument `argname`) is longer than
 * `max`, the max_hold_ttl of `bound` (a pool, the credit settings).
 */
void
ft_check_hold_ttl_bound(const Interval *ttl, const char *argname, const Interval *max,
						const char *bound)
{
	if (DatumGetInt32(DirectFunctionCall2(interval_cmp, IntervalPGetDatum(ttl),
										  IntervalPGetDatum(max))) > 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s is longer than the max_hold_ttl of %s", argname, bound),
				 errdetail("%s was %s; max_hold_ttl is %s.", argname, interval_shown(ttl),
						   interval_shown(max)),
				 errhint("An operator may raise max_hold_ttl (at most %d days).",
						 FT_MAX_HOLD_TTL_DAYS)));
}

/* credit_pct between 0 and 100, or 22023. */
void
ft_check_credit_pct(Datum pct)
{
	if (DatumGetInt32(DirectFunctionCall2(numeric_cmp, pct,
										  DirectFunctionCall1(int4_numeric, Int32GetDatum(0)))) < 0 ||
		DatumGetInt32(DirectFunctionCall2(numeric_cmp, pct,
										  DirectFunctionCall1(int4_numeric, Int32GetDatum(100)))) > 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("credit_pct must be between 0 and 100"),
				 errdetail("credit_pct was %s.",
						   DatumGetCString(DirectFunctionCall1(numeric_out, pct)))));
}

/* A pool's number of stripes, 1 to FT_MAX_STRIPES, or 22023. */
void
ft_check_stripes(int stripes)
{
	if (stripes < 1 || stripes > FT_MAX_STRIPES)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("stripes must be between 1 and %d", FT_MAX_STRIPES),
				 errdetail("stripes was %d.", stripes)));
}

/* A pool's low-water mark, 0 (none) to FT_MAX_LOW_WATER_SATS: else 22023. */
void
ft_check_low_water(int64 low_water_sats)
{
	if (low_water_sats < 0 || low_water_sats > FT_MAX_LOW_WATER_SATS)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("low_water_sats must be between 0 and " INT64_FORMAT,
						FT_MAX_LOW_WATER_SATS),
				 errdetail("low_water_sats was " INT64_FORMAT ".", low_water_sats)));
}

/* A uuid as text, for messages. */
char *
ft_uuid_string(const pg_uuid_t *id)
{
	return DatumGetCString(DirectFunctionCall1(uuid_out, UUIDPGetDatum(id)));
}

PG_FUNCTION_INFO_V1(freetier_is_duration);

/* freetier.is_duration(interval): the table CHECKs' and plpgsql's test. */
Datum
freetier_is_duration(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(ft_is_duration(PG_GETARG_INTERVAL_P(0)));
}
