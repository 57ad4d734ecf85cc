/*-------------------------------------------------------------------------
 *
 * request_key.c
 *	  Idempotency keys: a call made with a request_key is done once; a
 *	  repeat with the same arguments gets the first call's result and moves
 *	  nothing, a repeat with other arguments is 55000.
 *
 * freetier.request_keys holds one row per key that did something: the call,
 * a BLAKE2b fingerprint of its arguments, and what it made (a hold, a spend,
 * a trial).  A call that only answers (a gate answer, a refused spend or
 * trial) records nothing, so its key is free to be used again.
 *
 * Concurrency: the caller looks its key up (ft_request_key_find) after it
 * has locked the row its effect depends on (decide: the subject; reserve
 * and spend: the account; a trial: the client's network), so a second call
 * with the same arguments waits for the first and then, in a new statement
 * (FT_LOCKING), finds its key.  A call with the same key and
 * other arguments may lock another row; it then waits on the key's unique
 * index in ft_request_key_record, and is 55000 once the first commits.
 *
 * Nothing here runs when a call has no key: the unkeyed path is unchanged.
 *
 * Retention: freetier_prune_request_keys deletes the keys recorded more than
 * freetier.request_key_retention (a superuser's setting, default 24 hours)
 * before its clock, and nothing else deletes them, so a key repeats with
 * the first call's result for at least that long after the first call.
 *
 *-------------------------------------------------------------------------
 */
#include "freetier.h"

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/guc.h"

/* The key's row, with what its gate hold was (decide). */
static FtStatement find_key = {
	"SELECT k.call, k.fingerprint, k.hold_id, h.estimated_sats, h.held_sats,"
	" k.subject, k.allowance_credits, k.purchased_credits"
	" FROM freetier.request_keys k"
	" LEFT JOIN freetier.holds h ON h.hold_id OPERATOR(pg_catalog.=) k.hold_id"
	" WHERE k.request_key OPERATOR(pg_catalog.=) $1",
	1, {TEXTOID}, NULL
};

static FtStatement record_key = {
	"INSERT INTO freetier.request_keys (request_key, call, fingerprint, hold_id, subject,"
	" allowance_credits, purchased_credits, created_at)"
	" VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (request_key) DO NOTHING RETURNING 1",
	8, {TEXTOID, TEXTOID, BYTEAOID, UUIDOID, TEXTOID, INT8OID, INT8OID, TIMESTAMPTZOID}, NULL
};

/*
 * Keys older than the cutoff $1, except those whose hold (gate or credit)
 * is still live at $2: a retry of that request must still get that hold
 * back.
 */
static FtStatement prune_keys = {
	"DELETE FROM freetier.request_keys k WHERE k.created_at OPERATOR(pg_catalog.<) $1"
	" AND NOT EXISTS (SELECT FROM freetier.holds h"
	"   WHERE h.hold_id OPERATOR(pg_catalog.=) k.hold_id AND " FT_LIVE_HOLD("h.", "$2") ")"
	" AND NOT EXISTS (SELECT FROM freetier.credit_holds c"
	"   WHERE c.hold_id OPERATOR(pg_catalog.=) k.hold_id AND " FT_LIVE_HOLD("c.", "$2") ")",
	2, {TIMESTAMPTZOID, TIMESTAMPTZOID}, NULL
};

/* freetier.request_key_retention, in seconds. */
static int	retention_secs = 24 * 60 * 60;

void
ft_define_request_key_guc(void)
{
	DefineCustomIntVariable("freetier.request_key_retention",
							"How long request keys are kept: a retry within it gets the first call's result.",
							"freetier_prune_request_keys deletes keys older than this. Only superusers can set it.",
							&retention_secs, 24 * 60 * 60, 1, INT_MAX, PGC_SUSET, GUC_UNIT_S,
							NULL, NULL, NULL);
}

PG_FUNCTION_INFO_V1(freetier_prune_request_keys);

/*
 * freetier_prune_request_keys() RETURNS bigint
 *
 * Delete the request keys recorded more than freetier.request_key_retention
 * before now (freetier's clock), but not one whose hold is still live;
 * returns how many.  A key recorded exactly that long ago is kept.
 */
Datum
freetier_prune_request_keys(PG_FUNCTION_ARGS)
{
	TimestampTz now = ft_now();
	Datum		args[2] = {TimestampTzGetDatum(now - retention_secs * USECS_PER_SEC),
		TimestampTzGetDatum(now)};
	int64		pruned;

	ft_connect(FT_LOCKING);
	pruned = ft_execute(&prune_keys, args, NULL);
	SPI_finish();
	PG_RETURN_INT64(pruned);
}

/* The request_key argument: NULL (no key), else 1 to 256 bytes. */
char *
ft_request_key_arg(FunctionCallInfo fcinfo, int argno)
{
	char	   *key;

	if (PG_NARGS() <= argno)
		return NULL;
	key = ft_text_arg(fcinfo, argno, "request_key", false);
	if (key && key[0] == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("request_key must not be empty"),
				 errhint("Give NULL for a call without a key.")));
	return key;
}

/* The fingerprint of `call` with these arguments. */
void
ft_request_key_fingerprint(const char *call, const FtField *args, int nargs,
						   uint8 *fingerprint)
{
	static const uint8 none[FT_HASH_BYTES] = {0};
	char	   *domain = psprintf("freetier request key v1 %s", call);

	ft_chain_hash(domain, args, nargs, none, fingerprint);
}

/* 55000: the key was used by another call or with other arguments. */
static void
report_key_reused(const char *key, const char *first_call)
{
	ereport(ERROR,
			(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
			 errmsg("request_key %s was already used with other arguments",
					quote_literal_cstr(key)),
			 first_call ?
			 errdetail("It was used by freetier_%s.", first_call) :
			 errdetail("A concurrent call with it committed first."),
			 errhint("A request_key names one request; give a new key for a new request.")));
}

/*
 * Look key up.  False when no call has recorded it; true when `call` did,
 * with these arguments: *replay is what it made.  55000 otherwise.
 */
bool
ft_request_key_find(const char *key, const char *call, const uint8 *fingerprint,
					FtKeyedResult *replay)
{
	Datum		args[1] = {CStringGetTextDatum(key)};
	bool		isnull;
	char	   *first_call;
	bytea	   *first_fingerprint;
	Datum		hold_id;

	if (ft_execute(&find_key, args, NULL) == 0)
		return false;
	first_call = ft_column_text(0, 1);
	first_fingerprint = DatumGetByteaPP(ft_column(0, 2, &isnull));
	if (strcmp(first_call, call) != 0 ||
		VARSIZE_ANY_EXHDR(first_fingerprint) != FT_HASH_BYTES ||
		memcmp(VARDATA_ANY(first_fingerprint), fingerprint, FT_HASH_BYTES) != 0)
		report_key_reused(key, first_call);

	memset(replay, 0, sizeof(*replay));
	hold_id = ft_column(0, 3, &isnull);
	if (!isnull)
	{
		replay->has_hold = true;
		memcpy(&replay->hold, DatumGetUUIDP(hold_id), sizeof(pg_uuid_t));
	}
	(void) ft_column(0, 4, &isnull);
	if (!isnull)
	{
		replay->estimated = ft_column_int64(0, 4);
		replay->held = ft_column_int64(0, 5);
	}
	replay->subject = ft_column_text(0, 6);
	(void) ft_column(0, 7, &isnull);
	if (!isnull)
	{
		replay->allowance_credits = ft_column_int64(0, 7);
		replay->purchased_credits = ft_column_int64(0, 8);
	}
	return true;
}

/*
 * Record that `call` with this fingerprint made `made` under key: a hold
 * (decide, reserve), credits (reserve, spend: allowance and purchased; a
 * trial: purchased), a subject (a trial).  A concurrent call that recorded
 * the key first (and committed) makes this one 55000.
 */
void
ft_request_key_record(const char *key, const char *call, const uint8 *fingerprint,
					  const FtKeyedResult *made, bool with_credits, TimestampTz now)
{
	Datum		args[8];
	char		nulls[8] = {' ', ' ', ' ', made->has_hold ? ' ' : 'n',
	made->subject ? ' ' : 'n', with_credits ? ' ' : 'n', with_credits ? ' ' : 'n', ' '};
	bytea	   *fp = palloc(VARHDRSZ + FT_HASH_BYTES);

	SET_VARSIZE(fp, VARHDRSZ + FT_HASH_BYTES);
	memcpy(VARDATA(fp), fingerprint, FT_HASH_BYTES);
	args[0] = CStringGetTextDatum(key);
	args[1] = CStringGetTextDatum(call);
	args[2] = PointerGetDatum(fp);
	args[3] = made->has_hold ? UUIDPGetDatum(&made->hold) : (Datum) 0;
	args[4] = made->subject ? CStringGetTextDatum(made->subject) : (Datum) 0;
	args[5] = Int64GetDatum(made->allowance_credits);
	args[6] = Int64GetDatum(made->purchased_credits);
	args[7] = TimestampTzGetDatum(now);
	if (ft_execute(&record_key, args, nulls) == 0)
		report_key_reused(key, NULL);
}
