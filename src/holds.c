/*-------------------------------------------------------------------------
 *
 * holds.c
 *	  The end of a hold: freetier_record_grant (settled), freetier_release
 *	  (released) and freetier_expire_holds (expired).
 *
 * Lock order: the hold row, then the subject row (record_grant only), then
 * the pool row.  A release or an expiry never touches the subject: the sats
 * a live hold takes from a window are counted from the holds table, so a
 * hold that stops being live stops counting.
 *
 * "Past its TTL" is judged by the caller's clock and, for a settle, also by
 * the subject's last_hold_at: a decide that began after the TTL ran out
 * counted the hold as returned and may have given its sats away, so a
 * settle whose transaction began earlier must not absorb them again.
 *
 *-------------------------------------------------------------------------
 */
#include "freetier.h"

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "funcapi.h"
#include "utils/builtins.h"

static FtStatement lock_hold = {
	"SELECT subject, pool, held_sats, state, window_start, expires_at"
	" FROM freetier.holds WHERE hold_id OPERATOR(pg_catalog.=) $1 FOR NO KEY UPDATE",
	1, {UUIDOID}, NULL
};

static FtStatement grant_of_hold = {
	"SELECT grant_id, actual_sats, absorbed_sats, returned_sats, charge_sats,"
	" pool_balance_after, request_hash FROM freetier.grants"
	" WHERE hold_id OPERATOR(pg_catalog.=) $1",
	1, {UUIDOID}, NULL
};

/*
 * Lock the subject and add what a settle absorbed to its window, if the
 * window the hold was charged to is still the subject's; returns the
 * subject's last_hold_at as it is once the lock is ours.
 */
static FtStatement absorb_into_window = {
	"UPDATE freetier.subjects"
	" SET window_settled_sats = window_settled_sats OPERATOR(pg_catalog.+)"
	"     CASE WHEN window_start OPERATOR(pg_catalog.=) $2 THEN $3 ELSE 0 END,"
	"   updated_at = $4"
	" WHERE subject OPERATOR(pg_catalog.=) $1 RETURNING last_hold_at",
	4, {TEXTOID, TIMESTAMPTZOID, INT8OID, TIMESTAMPTZOID}, NULL
};

static FtStatement end_hold = {
	"UPDATE freetier.holds SET state = $2, ended_at = $3, end_reason = $4"
	" WHERE hold_id OPERATOR(pg_catalog.=) $1",
	4, {UUIDOID, TEXTOID, TIMESTAMPTZOID, TEXTOID}, NULL
};

static FtStatement insert_grant = {
	"INSERT INTO freetier.grants (hold_id, subject, pool, actual_sats, absorbed_sats,"
	"  returned_sats, charge_sats, pool_balance_after, request_hash, created_at)"
	" VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING grant_id",
	10, {UUIDOID, TEXTOID, TEXTOID, INT8OID, INT8OID, INT8OID, INT8OID, INT8OID,
	TEXTOID, TIMESTAMPTZOID}, NULL
};

static FtStatement pools_with_expired_holds = {
	"SELECT DISTINCT pool FROM freetier.holds"
	" WHERE state OPERATOR(pg_catalog.=) 'held' AND expires_at OPERATOR(pg_catalog.<=) $1"
	" ORDER BY pool",
	1, {TIMESTAMPTZOID}, NULL
};

/* A hold row, locked. */
typedef struct LockedHold
{
	pg_uuid_t	id;
	char	   *subject;
	char	   *pool;
	int64		held_sats;
	char	   *state;
	TimestampTz window_start;
	TimestampTz expires_at;
} LockedHold;

static char *
uuid_string(const pg_uuid_t *id)
{
	return DatumGetCString(DirectFunctionCall1(uuid_out, UUIDPGetDatum(id)));
}

/* Lock the hold row; false when there is none. */
static bool
try_lock_hold_row(const pg_uuid_t *id, LockedHold *h)
{
	Datum		args[1] = {UUIDPGetDatum(id)};
	bool		isnull;

	if (ft_execute(&lock_hold, args, NULL) == 0)
		return false;
	h->id = *id;
	h->subject = ft_column_text(0, 1);
	h->pool = ft_column_text(0, 2);
	h->held_sats = ft_column_int64(0, 3);
	h->state = ft_column_text(0, 4);
	h->window_start = DatumGetTimestampTz(ft_column(0, 5, &isnull));
	h->expires_at = DatumGetTimestampTz(ft_column(0, 6, &isnull));
	return true;
}

static void
report_unknown_hold(const pg_uuid_t *id)
{
	ereport(ERROR,
			(errcode(ERRCODE_UNDEFINED_OBJECT),
			 errmsg("hold %s does not exist", uuid_string(id)),
			 errdetail("Holds are placed by freetier_decide.")));
}

static void
end_hold_row(const LockedHold *h, const char *state, TimestampTz now,
			 const char *reason)
{
	Datum		args[4];
	char		nulls[4] = {' ', ' ', ' ', reason ? ' ' : 'n'};

	args[0] = UUIDPGetDatum(&h->id);
	args[1] = CStringGetTextDatum(state);
	args[2] = TimestampTzGetDatum(now);
	args[3] = reason ? CStringGetTextDatum(reason) : (Datum) 0;
	ft_execute(&end_hold, args, nulls);
}

static void
report_hold_state(const LockedHold *h, const char *what)
{
	ereport(ERROR,
			(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
			 errmsg("cannot %s hold %s: it is %s", what, uuid_string(&h->id),
					h->state),
			 strcmp(what, "settle") == 0 ?
			 errdetail("Only a hold in state held and within its TTL can be settled.") :
			 errdetail("A settled hold's sats were absorbed by its grant; nothing is left to return.")));
}

PG_FUNCTION_INFO_V1(freetier_record_grant);

/*
 * freetier_record_grant(hold_id uuid, actual_sats bigint, request_hash text DEFAULT NULL)
 *	 RETURNS TABLE (grant_id bigint, absorbed_sats bigint, returned_sats bigint,
 *					charge_sats bigint, pool_balance_after bigint)
 *
 * Settle a hold: absorbed = min(actual, held), the rest back to the pool and
 * the window, charge = actual - absorbed.  Repeating it with the same
 * arguments returns the first result; with others it is an error.
 */
Datum
freetier_record_grant(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	pg_uuid_t  *id;
	int64		actual;
	char	   *request_hash;
	LockedHold	h;
	TimestampTz now = ft_now();
	int64		grant_id;
	int64		absorbed;
	int64		returned;
	int64		charge;
	int64		balance_after;
	Datum		result[5];
	bool		result_null[5] = {false, false, false, false, false};

	ft_check_not_null(fcinfo, 0, "hold_id");
	id = PG_GETARG_UUID_P(0);
	ft_check_not_null(fcinfo, 1, "actual_sats");
	actual = PG_GETARG_INT64(1);
	ft_check_sats("actual_sats", actual);
	request_hash = ft_text_arg(fcinfo, 2, "request_hash", false);

	InitMaterializedSRF(fcinfo, 0);
	ft_connect(FT_LOCKING);
	if (!try_lock_hold_row(id, &h))
		report_unknown_hold(id);

	if (strcmp(h.state, "settled") == 0)
	{
		/* a replay: the first result, if the arguments are the same */
		Datum		args[1] = {UUIDPGetDatum(id)};
		char	   *first_hash;
		int64		first_actual;

		if (ft_execute(&grant_of_hold, args, NULL) != 1)
			elog(ERROR, "freetier: settled hold %s has no grant", uuid_string(id));
		first_actual = ft_column_int64(0, 2);
		first_hash = ft_column_text(0, 7);
		if (first_actual != actual ||
			(first_hash == NULL) != (request_hash == NULL) ||
			(first_hash && strcmp(first_hash, request_hash) != 0))
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("hold %s was already settled with other arguments",
							uuid_string(id)),
					 errdetail("It was settled with actual_sats " INT64_FORMAT
							   " and request_hash %s.", first_actual,
							   first_hash ? quote_literal_cstr(first_hash) : "NULL")));
		grant_id = ft_column_int64(0, 1);
		absorbed = ft_column_int64(0, 3);
		returned = ft_column_int64(0, 4);
		charge = ft_column_int64(0, 5);
		balance_after = ft_column_int64(0, 6);
	}
	else if (strcmp(h.state, "held") != 0)
		report_hold_state(&h, "settle");
	else
	{
		FtPool		pool;
		Datum		args[10];
		char		nulls[10];
		bool		isnull;
		TimestampTz last_hold_at;

		absorbed = Min(actual, h.held_sats);
		returned = h.held_sats - absorbed;
		charge = actual - absorbed;

		/*
		 * The hold is past its TTL by our clock, or by the clock of a decide
		 * for this subject that may already have counted it as returned.
		 */
		args[0] = CStringGetTextDatum(h.subject);
		args[1] = TimestampTzGetDatum(h.window_start);
		args[2] = Int64GetDatum(absorbed);
		args[3] = TimestampTzGetDatum(now);
		ft_execute(&absorb_into_window, args, NULL);
		last_hold_at = DatumGetTimestampTz(ft_column(0, 1, &isnull));
		if (h.expires_at <= now || (!isnull && h.expires_at <= last_hold_at))
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("cannot settle hold %s: it has expired", uuid_string(id)),
					 errdetail("The hold expired at %s; its sats count as returned to the pool.",
							   timestamptz_to_str(h.expires_at))));

		ft_pool_lock(h.pool, &pool);
		ft_pool_append(&pool, "return", returned, id, NULL, now);
		end_hold_row(&h, "settled", now, NULL);
		balance_after = pool.balance_sats;

		memset(nulls, ' ', sizeof(nulls));
		args[0] = UUIDPGetDatum(id);
		args[1] = CStringGetTextDatum(h.subject);
		args[2] = CStringGetTextDatum(h.pool);
		args[3] = Int64GetDatum(actual);
		args[4] = Int64GetDatum(absorbed);
		args[5] = Int64GetDatum(returned);
		args[6] = Int64GetDatum(charge);
		args[7] = Int64GetDatum(balance_after);
		args[8] = request_hash ? CStringGetTextDatum(request_hash) : (Datum) 0;
		nulls[8] = request_hash ? ' ' : 'n';
		args[9] = TimestampTzGetDatum(now);
		ft_execute(&insert_grant, args, nulls);
		grant_id = ft_column_int64(0, 1);
	}

	SPI_finish();

	/* built after SPI_finish: by-reference int8 Datums would not survive it */
	result[0] = Int64GetDatum(grant_id);
	result[1] = Int64GetDatum(absorbed);
	result[2] = Int64GetDatum(returned);
	result[3] = Int64GetDatum(charge);
	result[4] = Int64GetDatum(balance_after);
	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, result, result_null);
	return (Datum) 0;
}

static FtStatement lock_credit_hold = {
	"SELECT state, allowance_credits OPERATOR(pg_catalog.+) purchased_credits"
	" FROM freetier.credit_holds WHERE hold_id OPERATOR(pg_catalog.=) $1 FOR NO KEY UPDATE",
	1, {UUIDOID}, NULL
};

static FtStatement release_credit_hold = {
	"UPDATE freetier.credit_holds SET state = 'released', ended_at = $2, end_reason = $3"
	" WHERE hold_id OPERATOR(pg_catalog.=) $1",
	3, {UUIDOID, TIMESTAMPTZOID, TEXTOID}, NULL
};

static FtStatement expire_credit_holds = {
	"WITH expired AS ("
	" UPDATE freetier.credit_holds h SET state = 'expired', ended_at = $1, end_reason = 'ttl'"
	" FROM (SELECT hold_id FROM freetier.credit_holds"
	"       WHERE state OPERATOR(pg_catalog.=) 'held' AND expires_at OPERATOR(pg_catalog.<=) $1"
	"       FOR NO KEY UPDATE SKIP LOCKED) x"
	" WHERE h.hold_id OPERATOR(pg_catalog.=) x.hold_id RETURNING 1)"
	" SELECT count(*) FROM expired",
	1, {TIMESTAMPTZOID}, NULL
};

/*
 * Release a credit hold: its credits stop counting against the account (a
 * live hold is counted from this table, so the account row is not written).
 * Returns the credits released; false when there is no such credit hold.
 */
static bool
release_credit(const pg_uuid_t *id, const char *reason, TimestampTz now, int64 *released)
{
	Datum		args[3];
	char		nulls[3] = {' ', ' ', reason ? ' ' : 'n'};
	char	   *state;

	args[0] = UUIDPGetDatum(id);
	if (ft_execute(&lock_credit_hold, args, NULL) == 0)
		return false;
	state = ft_column_text(0, 1);
	*released = 0;
	if (strcmp(state, "settled") == 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("cannot release hold %s: it is settled", uuid_string(id)),
				 errdetail("A settled hold's credits were spent; nothing is left to return.")));
	if (strcmp(state, "held") == 0)
	{
		*released = ft_column_int64(0, 2);
		args[1] = TimestampTzGetDatum(now);
		args[2] = reason ? CStringGetTextDatum(reason) : (Datum) 0;
		ft_execute(&release_credit_hold, args, nulls);
	}
	return true;
}

/*
 * freetier_release(hold_id uuid, reason text DEFAULT NULL) RETURNS bigint
 *
 * Return everything a hold took.  A hold already released or expired
 * returns 0; a settled hold is an error.  From 0.2 on (credit_aware) a
 * credit hold is released the same way and the credits are returned.
 */
static int64
release_hold(FunctionCallInfo fcinfo, bool credit_aware)
{
	pg_uuid_t  *id;
	char	   *reason;
	LockedHold	h;
	TimestampTz now = ft_now();
	int64		returned = 0;

	ft_check_not_null(fcinfo, 0, "hold_id");
	id = PG_GETARG_UUID_P(0);
	reason = ft_text_arg(fcinfo, 1, "reason", false);

	ft_connect(FT_LOCKING);
	if (try_lock_hold_row(id, &h))
	{
		if (strcmp(h.state, "settled") == 0)
			report_hold_state(&h, "release");
		if (strcmp(h.state, "held") == 0)
		{
			FtPool		pool;

			ft_pool_lock(h.pool, &pool);
			ft_pool_append(&pool, "release", h.held_sats, id, NULL, now);
			end_hold_row(&h, "released", now, reason);
			returned = h.held_sats;
		}
	}
	else if (!credit_aware || !release_credit(id, reason, now, &returned))
		report_unknown_hold(id);
	SPI_finish();
	return returned;
}

PG_FUNCTION_INFO_V1(freetier_release);

Datum
freetier_release(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT64(release_hold(fcinfo, false));
}

PG_FUNCTION_INFO_V1(freetier_release_v2);

Datum
freetier_release_v2(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT64(release_hold(fcinfo, true));
}

/*
 * freetier_expire_holds() RETURNS bigint
 *
 * Return every hold past its TTL to its pool; the number of holds expired.
 * Pool by pool, the same reclaim a decide does: the pool row is taken with
 * SKIP LOCKED and its holds likewise, so the sweep never waits and can be
 * part of no deadlock; a pool or hold busy right now is left to its next
 * decide or the next sweep.  From 0.2 on, credit holds past their TTL are
 * marked expired too (they stopped counting against their account when
 * their TTL passed).
 */
static int64
expire_holds(bool credit_aware)
{
	TimestampTz now = ft_now();
	Datum		args[1] = {TimestampTzGetDatum(now)};
	int			n;
	char	  **pools;
	int64		expired = 0;

	ft_connect(FT_LOCKING);
	n = ft_execute(&pools_with_expired_holds, args, NULL);
	pools = palloc(sizeof(char *) * Max(n, 1));
	for (int i = 0; i < n; i++)
		pools[i] = ft_column_text(i, 1);
	for (int i = 0; i < n; i++)
	{
		FtPool		pool;

		if (ft_pool_try_lock(pools[i], &pool))
			expired += ft_pool_reclaim_expired(&pool, now);
	}
	if (credit_aware)
	{
		ft_execute(&expire_credit_holds, args, NULL);
		expired += ft_column_int64(0, 1);
	}
	SPI_finish();
	return expired;
}

PG_FUNCTION_INFO_V1(freetier_expire_holds);

Datum
freetier_expire_holds(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT64(expire_holds(false));
}

PG_FUNCTION_INFO_V1(freetier_expire_holds_v2);

Datum
freetier_expire_holds_v2(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT64(expire_holds(true));
}
