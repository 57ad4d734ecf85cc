/*-------------------------------------------------------------------------
 *
 * credits.c
 *	  Spending credits: freetier_reserve_credits and freetier_settle_credits
 *	  (two phases on the hold machinery), freetier_spend_credits (one shot)
 *	  and freetier_route (which backend, read-only).
 *
 * Every path decides through ft_split_credits (allowance.c) on an account
 * loaded at the call's instant, so reserve, spend and route cannot
 * disagree.  A reserve locks the account and, when it places a hold,
 * writes it (at least its updated_at), so two reserves for one account
 * queue on its row, and under REPEATABLE READ the second fails to
 * serialize instead of missing the first's hold.  A refused request writes
 * nothing (but a due rollover).  Lock order: a credit hold, then its
 * account.
 *
 *-------------------------------------------------------------------------
 */
#include "freetier.h"

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "funcapi.h"
#include "utils/array.h"
#include "utils/builtins.h"

/* The most backends freetier_route weighs in one call. */
#define FT_MAX_BACKENDS 64

static FtStatement insert_credit_hold = {
	"INSERT INTO freetier.credit_holds (subject, backend, allowance_credits,"
	" purchased_credits, scope_start, created_at, expires_at)"
	" SELECT $1, $2, $3, $4, $5, $6, " FT_PLUS_DURATION("$6", "s.hold_ttl")
	" FROM freetier.credit_settings s RETURNING hold_id",
	6, {TEXTOID, TEXTOID, INT8OID, INT8OID, TIMESTAMPTZOID, TIMESTAMPTZOID}, NULL
};

static FtStatement lock_credit_hold = {
	"SELECT subject, backend, allowance_credits, purchased_credits, scope_start,"
	" expires_at, state, settled_credits FROM freetier.credit_holds"
	" WHERE hold_id OPERATOR(pg_catalog.=) $1 FOR NO KEY UPDATE",
	1, {UUIDOID}, NULL
};

static FtStatement settle_credit_hold = {
	"UPDATE freetier.credit_holds SET state = 'settled', ended_at = $2,"
	" settled_credits = $3 WHERE hold_id OPERATOR(pg_catalog.=) $1",
	3, {UUIDOID, TIMESTAMPTZOID, INT8OID}, NULL
};

static void
report_not_held(const char *state)
{
	ereport(ERROR,
			(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
			 errmsg("cannot settle credit hold: it is %s", state),
			 errdetail("Only a hold in state held and within its TTL can be settled.")));
}

/* The request as received, checked. */
typedef struct CreditRequest
{
	char	   *subject;
	int64		credits;
	char	   *backend;
} CreditRequest;

static void
require_positive(FunctionCallInfo fcinfo, int argno, const char *argname, int64 *value)
{
	ft_check_not_null(fcinfo, argno, argname);
	*value = PG_GETARG_INT64(argno);
	if (*value <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must be positive", argname),
				 errdetail("%s was " INT64_FORMAT ".", argname, *value)));
}

static void
read_request(FunctionCallInfo fcinfo, CreditRequest *r)
{
	r->subject = ft_text_arg(fcinfo, 0, "subject", true);
	ft_check_subject(r->subject);
	require_positive(fcinfo, 1, "credits", &r->credits);
	r->backend = ft_text_arg(fcinfo, 2, "backend", true);
	if (r->backend[0] == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("backend must not be empty")));
}

/* Load, lock and roll over the account, and split the request against it. */
static bool
split_request(const CreditRequest *r, TimestampTz now, FtAccount *a, FtSplit *split)
{
	if (!ft_account_load(r->subject, now, true, a))
	{
		split->ok = false;
		split->allowance_credits = split->purchased_credits = 0;
		split->reason = "no_account";
		return false;
	}
	ft_account_roll_over(a);
	ft_split_credits(r->credits, ft_account_backend_left(a, r->backend),
					 ft_account_allowance_left(a), ft_account_purchased_left(a), split);
	return true;
}

static void
put_row(FunctionCallInfo fcinfo, Datum *values, bool *isnull)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;

	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, isnull);
}

/*
 * A reserve (two_phase) or a one-shot spend of a checked request: split it
 * against the locked account, then place a credit hold for it or spend it.
 * Returns the split; *hold_id is set when a hold was placed.
 */
static void
reserve_or_spend(const CreditRequest *r, bool two_phase, FtSplit *split,
				 pg_uuid_t **hold_id)
{
	FtAccount	a;
	TimestampTz now = ft_now();

	*hold_id = NULL;
	ft_connect(FT_LOCKING);
	if (split_request(r, now, &a, split))
	{
		if (split->ok)
			ft_account_check_spend_room(&a, r->credits);
		if (split->ok && two_phase)
		{
			Datum		args[6];
			bool		n;

			args[0] = CStringGetTextDatum(r->subject);
			args[1] = CStringGetTextDatum(r->backend);
			args[2] = Int64GetDatum(split->allowance_credits);
			args[3] = Int64GetDatum(split->purchased_credits);
			args[4] = TimestampTzGetDatum(a.scope_start);
			args[5] = TimestampTzGetDatum(now);
			ft_execute(&insert_credit_hold, args, NULL);
			*hold_id = SPI_palloc(sizeof(pg_uuid_t));
			memcpy(*hold_id, DatumGetUUIDP(ft_column(0, 1, &n)), sizeof(pg_uuid_t));
			a.changed = true;
		}
		else if (split->ok)
			ft_account_spend(&a, r->backend, a.scope_start, split->allowance_credits,
							 split->purchased_credits, NULL);
		ft_account_save(&a);
	}
	SPI_finish();
}

PG_FUNCTION_INFO_V1(freetier_reserve_credits);

/*
 * freetier_reserve_credits(subject text, credits bigint, backend text)
 *	 RETURNS TABLE (hold_id uuid, allowance_credits bigint,
 *					purchased_credits bigint, reason text)
 *
 * All or nothing: a hold for the whole request, or hold_id NULL and why
 * (no_account, out_of_credits, backend_cap_exceeded).
 */
Datum
freetier_reserve_credits(PG_FUNCTION_ARGS)
{
	CreditRequest r;
	FtSplit		split;
	pg_uuid_t  *hold_id;
	Datum		values[4];
	bool		isnull[4] = {false, false, false, false};

	read_request(fcinfo, &r);
	InitMaterializedSRF(fcinfo, 0);
	reserve_or_spend(&r, true, &split, &hold_id);

	values[0] = hold_id ? UUIDPGetDatum(hold_id) : (Datum) 0;
	isnull[0] = hold_id == NULL;
	values[1] = Int64GetDatum(split.allowance_credits);
	values[2] = Int64GetDatum(split.purchased_credits);
	values[3] = split.reason ? CStringGetTextDatum(split.reason) : (Datum) 0;
	isnull[3] = split.reason == NULL;
	put_row(fcinfo, values, isnull);
	return (Datum) 0;
}

PG_FUNCTION_INFO_V1(freetier_settle_credits);

/*
 * freetier_settle_credits(hold_id uuid, actual_credits bigint DEFAULT NULL)
 *	 RETURNS TABLE (allowance_credits bigint, purchased_credits bigint,
 *					returned_credits bigint)
 *
 * Spend actual_credits (default: all) of a credit hold, allowance part
 * first; the rest is returned.  Repeating it with the same arguments
 * returns the first result; with others it is an error.
 */
Datum
freetier_settle_credits(PG_FUNCTION_ARGS)
{
	pg_uuid_t  *id;
	TimestampTz now = ft_now();
	char	   *subject;
	char	   *backend;
	char	   *state;
	int64		held_allowance;
	int64		held_purchased;
	int64		reserved;
	int64		actual;
	int64		from_allowance;
	TimestampTz scope_start;
	TimestampTz expires_at;
	bool		isnull;
	Datum		args[3];
	Datum		values[3];
	bool		nulls[3] = {false, false, false};

	ft_check_not_null(fcinfo, 0, "hold_id");
	id = PG_GETARG_UUID_P(0);
	if (!PG_ARGISNULL(1))
		ft_check_sats("actual_credits", PG_GETARG_INT64(1));

	InitMaterializedSRF(fcinfo, 0);
	ft_connect(FT_LOCKING);
	args[0] = UUIDPGetDatum(id);
	if (ft_execute(&lock_credit_hold, args, NULL) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("credit hold %s does not exist",
						DatumGetCString(DirectFunctionCall1(uuid_out, UUIDPGetDatum(id)))),
				 errdetail("Credit holds are placed by freetier_reserve_credits.")));
	subject = ft_column_text(0, 1);
	backend = ft_column_text(0, 2);
	held_allowance = ft_column_int64(0, 3);
	held_purchased = ft_column_int64(0, 4);
	scope_start = DatumGetTimestampTz(ft_column(0, 5, &isnull));
	expires_at = DatumGetTimestampTz(ft_column(0, 6, &isnull));
	state = ft_column_text(0, 7);
	reserved = held_allowance + held_purchased;
	actual = PG_ARGISNULL(1) ? reserved : PG_GETARG_INT64(1);

	if (strcmp(state, "settled") == 0)
	{
		if (ft_column_int64(0, 8) != actual)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("credit hold was already settled with other arguments"),
					 errdetail("It was settled for " INT64_FORMAT " credits.",
							   ft_column_int64(0, 8))));
	}
	else if (strcmp(state, "held") != 0)
		report_not_held(state);
	else if (actual > reserved)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("actual_credits exceeds the reservation"),
				 errdetail("The hold reserved " INT64_FORMAT " credits; actual_credits was "
						   INT64_FORMAT ". Reserve again for more.", reserved, actual)));
	else
	{
		FtAccount	a;

		from_allowance = Min(actual, held_allowance);
		ft_account_require(subject, now, &a);

		/*
		 * Past its TTL by our clock, or by the clock of whoever wrote the
		 * account last: a reserve or spend then may have counted this hold
		 * as returned and used its credits.
		 */
		if (expires_at <= now || expires_at <= a.updated_at)
			report_not_held("expired");
		ft_account_roll_over(&a);
		ft_account_spend(&a, backend, scope_start, from_allowance,
						 actual - from_allowance, id);
		ft_account_save(&a);
		args[1] = TimestampTzGetDatum(now);
		args[2] = Int64GetDatum(actual);
		ft_execute(&settle_credit_hold, args, NULL);
	}
	SPI_finish();

	from_allowance = Min(actual, held_allowance);
	values[0] = Int64GetDatum(from_allowance);
	values[1] = Int64GetDatum(actual - from_allowance);
	values[2] = Int64GetDatum(reserved - actual);
	put_row(fcinfo, values, nulls);
	return (Datum) 0;
}

PG_FUNCTION_INFO_V1(freetier_spend_credits);

/*
 * freetier_spend_credits(subject text, credits bigint, backend text)
 *	 RETURNS TABLE (ok boolean, allowance_credits bigint,
 *					purchased_credits bigint, reason text)
 */
Datum
freetier_spend_credits(PG_FUNCTION_ARGS)
{
	CreditRequest r;
	FtSplit		split;
	pg_uuid_t  *hold_id;
	Datum		values[4];
	bool		isnull[4] = {false, false, false, false};

	read_request(fcinfo, &r);
	InitMaterializedSRF(fcinfo, 0);
	reserve_or_spend(&r, false, &split, &hold_id);

	values[0] = BoolGetDatum(split.ok);
	values[1] = Int64GetDatum(split.allowance_credits);
	values[2] = Int64GetDatum(split.purchased_credits);
	values[3] = split.reason ? CStringGetTextDatum(split.reason) : (Datum) 0;
	isnull[3] = split.reason == NULL;
	put_row(fcinfo, values, isnull);
	return (Datum) 0;
}

PG_FUNCTION_INFO_V1(freetier_route);

/*
 * freetier_route(subject text, backends text[], credits bigint DEFAULT 1)
 *	 RETURNS TABLE (backend text, reason text)
 *
 * The first backend, in the caller's order, whose cap still covers the
 * request from the allowance; else the first that the purchased balance
 * can make up for; else backend NULL and why (no_account, out_of_credits,
 * backend_cap_exceeded).  Read-only.
 */
Datum
freetier_route(PG_FUNCTION_ARGS)
{
	char	   *subject = ft_text_arg(fcinfo, 0, "subject", true);
	int64		credits;
	Datum	   *elems;
	bool	   *elem_nulls;
	int			n;
	FtAccount	a;
	FtSplit		split = {false, 0, 0, "no_account"};
	const char *chosen = NULL;
	Datum		values[2];
	bool		isnull[2] = {false, false};

	ft_check_subject(subject);
	ft_check_not_null(fcinfo, 1, "backends");
	require_positive(fcinfo, 2, "credits", &credits);
	deconstruct_array(PG_GETARG_ARRAYTYPE_P(1), TEXTOID, -1, false, TYPALIGN_INT,
					  &elems, &elem_nulls, &n);
	if (n == 0 || n > FT_MAX_BACKENDS)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("backends must name 1 to %d backends", FT_MAX_BACKENDS),
				 errdetail("Pass the backends the caller can use, in preference order; %d were given.", n)));
	for (int i = 0; i < n; i++)
		if (elem_nulls[i] || VARSIZE_ANY_EXHDR(DatumGetPointer(elems[i])) == 0 ||
			VARSIZE_ANY_EXHDR(DatumGetPointer(elems[i])) > FT_MAX_TEXT_BYTES)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("backends must be non-empty names of at most %d bytes",
							FT_MAX_TEXT_BYTES)));

	InitMaterializedSRF(fcinfo, 0);
	ft_connect(FT_READING);
	if (ft_account_load(subject, ft_now(), false, &a))
	{
		int64		allowance_left = ft_account_allowance_left(&a);
		int64		purchased_left = ft_account_purchased_left(&a);
		int64	   *backend_left = palloc(sizeof(int64) * n);

		for (int i = 0; i < n && chosen == NULL; i++)
		{
			backend_left[i] = ft_account_backend_left(&a, TextDatumGetCString(elems[i]));
			if (backend_left[i] >= credits)
				chosen = TextDatumGetCString(elems[i]);
		}
		for (int i = 0; i < n && chosen == NULL; i++)
		{
			ft_split_credits(credits, backend_left[i], allowance_left, purchased_left, &split);
			if (split.ok)
				chosen = TextDatumGetCString(elems[i]);
		}
	}

	/* before SPI_finish: `chosen` lives in SPI's memory */
	values[0] = chosen ? CStringGetTextDatum(chosen) : (Datum) 0;
	isnull[0] = chosen == NULL;
	values[1] = chosen ? (Datum) 0 : CStringGetTextDatum(split.reason);
	isnull[1] = chosen != NULL;
	put_row(fcinfo, values, isnull);
	SPI_finish();
	return (Datum) 0;
}
