/*-------------------------------------------------------------------------
 *
 * spend.c
 *	  Spending credits: freetier_reserve_credits (the first of two phases:
 *	  a credit hold, see credit_hold.c), freetier_spend_credits (one shot)
 *	  and freetier_route (which backend, read-only).
 *
 * Every path decides through ft_split_credits (allowance.c) on an account
 * loaded at the call's instant, so reserve, spend and route cannot
 * disagree.  A reserve locks the account and, when it places a hold,
 * writes it (at least its updated_at), so two reserves for one account
 * queue on its row, and under REPEATABLE READ the second fails to
 * serialize instead of missing the first's hold.  A refused request writes
 * nothing (but a due rollover).
 *
 * With a request_key (request_key.c), reserve and spend look the key up
 * once the account is locked: a key that reserved or spent gets that
 * answer back and nothing moves; a refusal records nothing.
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

/* The request as received, checked. */
typedef struct CreditRequest
{
	char	   *subject;
	int64		credits;
	char	   *backend;
	char	   *request_key;	/* NULL when none */
} CreditRequest;

/* A positive bigint argument, or 22023. */
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

/* subject, credits, backend: checked. */
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
	r->request_key = ft_request_key_arg(fcinfo, 3);
}

/*
 * freetier_reserve_credits (two_phase) and freetier_spend_credits: load,
 * lock and roll over the account, split the request against it, then place
 * a credit hold for it or spend it.  One row: the hold (or whether it was
 * spent), the split, and the reason when refused.
 */
static void
reserve_or_spend(FunctionCallInfo fcinfo, bool two_phase)
{
	CreditRequest r;
	FtAccount	a;
	FtSplit		split = {false, 0, 0, "no_account"};
	pg_uuid_t  *hold_id = NULL;
	TimestampTz now = ft_now();
	Datum		values[4];
	bool		isnull[4] = {false, false, false, false};
	const char *call = two_phase ? "reserve_credits" : "spend_credits";
	uint8		fingerprint[FT_HASH_BYTES];
	FtKeyedResult k;
	bool		loaded;
	bool		replayed = false;

	read_request(fcinfo, &r);
	if (r.request_key)
	{
		FtField		args[3] = {ft_text_field(r.subject), ft_int64_field(r.credits),
		ft_text_field(r.backend)};

		ft_request_key_fingerprint(call, args, lengthof(args), fingerprint);
	}
	ft_result_begin(fcinfo);
	ft_connect(FT_LOCKING);
	loaded = ft_account_load(r.subject, now, true, &a);
	/* once the account is locked: a repeat waited for the first call */
	if (r.request_key && ft_request_key_find(r.request_key, call, fingerprint, &k))
	{
		replayed = true;
		split.ok = true;
		split.allowance_credits = k.allowance_credits;
		split.purchased_credits = k.purchased_credits;
		split.reason = NULL;
		hold_id = k.has_hold ? &k.hold : NULL;
	}
	else if (loaded)
	{
		ft_account_roll_over(&a);
		ft_split_credits(r.credits, ft_account_backend_left(&a, r.backend),
						 ft_account_allowance_left(&a), ft_account_purchased_left(&a),
						 &split);
		if (split.ok)
			ft_account_check_spend_room(&a, r.credits);
		if (split.ok && two_phase)
		{
			hold_id = ft_credit_hold_place(r.subject, r.backend,
										   split.allowance_credits,
										   split.purchased_credits,
										   a.scope_start, now);
			a.changed = true;
		}
		else if (split.ok)
			ft_account_spend(&a, r.backend, a.scope_start, split.allowance_credits,
							 split.purchased_credits, NULL);
		ft_account_save(&a);
		if (split.ok && r.request_key)
		{
			FtKeyedResult made = {
				.has_hold = hold_id != NULL,
				.allowance_credits = split.allowance_credits,
				.purchased_credits = split.purchased_credits
			};

			if (hold_id)
				made.hold = *hold_id;
			ft_request_key_record(r.request_key, call, fingerprint, &made, true, now);
		}
	}
	if (!replayed)
		ft_count_account(two_phase ? FT_CALL_RESERVE : FT_CALL_SPEND, split.reason, 1,
						 split.allowance_credits, split.purchased_credits);
	SPI_finish();

	if (two_phase)
	{
		values[0] = hold_id ? UUIDPGetDatum(hold_id) : (Datum) 0;
		isnull[0] = hold_id == NULL;
	}
	else
		values[0] = BoolGetDatum(split.ok);
	values[1] = Int64GetDatum(split.allowance_credits);
	values[2] = Int64GetDatum(split.purchased_credits);
	values[3] = split.reason ? CStringGetTextDatum(split.reason) : (Datum) 0;
	isnull[3] = split.reason == NULL;
	ft_result_row(fcinfo, values, isnull);
}

PG_FUNCTION_INFO_V1(freetier_reserve_credits);

/*
 * freetier_reserve_credits(subject text, credits bigint, backend text
 *		[, request_key text DEFAULT NULL])
 *	 RETURNS TABLE (hold_id uuid, allowance_credits bigint,
 *					purchased_credits bigint, reason text)
 *
 * All or nothing: a hold for the whole request, or hold_id NULL and why
 * (no_account, out_of_credits, backend_cap_exceeded).
 */
Datum
freetier_reserve_credits(PG_FUNCTION_ARGS)
{
	reserve_or_spend(fcinfo, true);
	return (Datum) 0;
}

PG_FUNCTION_INFO_V1(freetier_spend_credits);

/*
 * freetier_spend_credits(subject text, credits bigint, backend text
 *		[, request_key text DEFAULT NULL])
 *	 RETURNS TABLE (ok boolean, allowance_credits bigint,
 *					purchased_credits bigint, reason text)
 */
Datum
freetier_spend_credits(PG_FUNCTION_ARGS)
{
	reserve_or_spend(fcinfo, false);
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
				 errdetail("%d were given.", n),
				 errhint("Pass the backends the caller can use, in preference order.")));
	for (int i = 0; i < n; i++)
		if (elem_nulls[i] || VARSIZE_ANY_EXHDR(DatumGetPointer(elems[i])) == 0 ||
			VARSIZE_ANY_EXHDR(DatumGetPointer(elems[i])) > FT_MAX_TEXT_BYTES)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("backends must be non-empty names of at most %d bytes",
							FT_MAX_TEXT_BYTES)));

	ft_result_begin(fcinfo);
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

	/* route and reserve cannot disagree: past the counters' bound is 22003 */
	if (chosen)
		ft_account_check_spend_room(&a, credits);

	/* before SPI_finish: `chosen` lives in SPI's memory */
	values[0] = chosen ? CStringGetTextDatum(chosen) : (Datum) 0;
	isnull[0] = chosen == NULL;
	values[1] = chosen ? (Datum) 0 : CStringGetTextDatum(split.reason);
	isnull[1] = chosen != NULL;
	ft_result_row(fcinfo, values, isnull);
	SPI_finish();
	return (Datum) 0;
}
