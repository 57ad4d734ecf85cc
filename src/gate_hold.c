/*-------------------------------------------------------------------------
 *
 * gate_hold.c
 *	  The life of a gate hold, from freetier_decide's reservation to its
 *	  end: placed (ft_gate_hold_place), settled (freetier_record_grant),
 *	  released (ft_gate_hold_release) or expired (ft_gate_holds_expire); its
 *	  TTL moved on the way (ft_gate_hold_extend).  holds.c's
 *	  freetier_release, freetier_expire_holds and freetier_extend_hold call
 *	  the last three.
 *
 * A hold takes sats from its pool's stripes and counts against its
 * subject's window while it is live: in state 'held' and before
 * expires_at.  The sats a live hold takes from a window are counted from
 * this table, so a release or an expiry never touches the subject's row.
 * An expiry gives back to the hold's own stripe (holds.stripe), the one it
 * drew from first; a settle or a release to that one when no other
 * transaction has it locked, else to another (ft_stripe_lock_for_return).
 *
 * Lock order: the hold row (one statement, lock_hold), then the subject
 * row (a settle only), then one stripe.  Expiry takes hold rows with
 * SKIP LOCKED after their stripes, so it never waits on a hold.
 *
 * "Past its TTL" is judged by the caller's clock and, for a settle, also by
 * the subject's last_hold_at: a decide that began after the TTL ran out
 * counted the hold as returned and may have given its sats away, so a
 * settle whose transaction began earlier must not absorb them again.
 *
 * On a striped pool (FT_LAYOUT_STRIPES) a placement and a settle each write
 * everything in one statement; the 0.1 to 0.2.1 layout keeps the separate
 * statements those versions had.
 *
 *-------------------------------------------------------------------------
 */
#include "freetier.h"

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "funcapi.h"
#include "utils/builtins.h"
#include "utils/uuid.h"

/*
 * A placement on a striped pool: the first stripe's debit and ledger entry
 * ($1..$11, pool.c), the hold ($6 its id, $12 subject, $13 estimated, $14
 * held, $15 window start, $16 expiry) and the subject's window ($17 the
 * sats settled in it).
 */
static FtStatement place_hold = {
	"WITH " FT_STRIPE_APPEND_CTES ","
	" hold AS (INSERT INTO freetier.holds (hold_id, subject, pool, stripe, estimated_sats,"
	"   held_sats, window_start, created_at, expires_at)"
	"   VALUES ($6, $12, $1, $9, $13, $14, $15, $8, $16))"
	" UPDATE freetier.subjects SET window_start = $15, window_settled_sats = $17,"
	" last_hold_at = $8, updated_at = $8 WHERE subject OPERATOR(pg_catalog.=) $12",
	17, {FT_STRIPE_APPEND_TYPES, TEXTOID, INT8OID, INT8OID, TIMESTAMPTZOID,
	TIMESTAMPTZOID, INT8OID}, NULL
};

/* The same in the 0.1 to 0.2.1 layout, in separate statements. */
static FtStatement insert_hold_row = {
	"INSERT INTO freetier.holds (hold_id, subject, pool, estimated_sats, held_sats,"
	"  window_start, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
	8, {UUIDOID, TEXTOID, TEXTOID, INT8OID, INT8OID, TIMESTAMPTZOID, TIMESTAMPTZOID,
	TIMESTAMPTZOID}, NULL
};

static FtStatement charge_subject = {
	"UPDATE freetier.subjects SET window_start = $2, window_settled_sats = $3,"
	" last_hold_at = $4, updated_at = $4 WHERE subject OPERATOR(pg_catalog.=) $1",
	4, {TEXTOID, TIMESTAMPTZOID, INT8OID, TIMESTAMPTZOID}, NULL
};

static FtStatement lock_hold[2] = {
	{"SELECT subject, pool, 0, held_sats, state, window_start, expires_at"
		" FROM freetier.holds WHERE hold_id OPERATOR(pg_catalog.=) $1 FOR NO KEY UPDATE",
	1, {UUIDOID}, NULL},
	{"SELECT subject, pool, stripe, held_sats, state, window_start, expires_at"
		" FROM freetier.holds WHERE hold_id OPERATOR(pg_catalog.=) $1 FOR NO KEY UPDATE",
	1, {UUIDOID}, NULL}
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

/*
 * A settle on a striped pool: the return to a locked stripe ($1..$11,
 * pool.c; $6 is the hold), the hold ended, and the grant ($12 subject, $13
 * actual, $14 absorbed, $15 charge, $16 request_hash).  pool_balance_after
 * is the stripe's new balance and the other stripes' as this statement
 * sees them.  ctes: the stripe's part; grant_id_column and grant_id: the
 * grant's id when the statement takes it itself, empty for the column's
 * default.
 */
#define SETTLE_HOLD(ctes, grant_id_column, grant_id) \
	"WITH " ctes "," \
	" ended AS (UPDATE freetier.holds SET state = 'settled', ended_at = $8" \
	"   WHERE hold_id OPERATOR(pg_catalog.=) $6)" \
	" INSERT INTO freetier.grants (" grant_id_column "hold_id, subject, pool, actual_sats," \
	"  absorbed_sats, returned_sats, charge_sats, pool_balance_after, request_hash, created_at)" \
	" VALUES (" grant_id "$6, $12, $1, $13, $14, $4, $15," \
	"  $5 OPERATOR(pg_catalog.+) coalesce((SELECT pg_catalog.sum(o.balance_sats)::bigint" \
	"    FROM freetier.pool_stripes o WHERE o.pool OPERATOR(pg_catalog.=) $1" \
	"    AND o.stripe OPERATOR(pg_catalog.<>) $9), 0)," \
	"  $16, $8) RETURNING grant_id, pool_balance_after"

static FtStatement settle_hold = {
	SETTLE_HOLD(FT_STRIPE_APPEND_CTES, "", ""),
	16, {FT_STRIPE_APPEND_TYPES, TEXTOID, INT8OID, INT8OID, INT8OID, TEXTOID}, NULL
};

/*
 * The same from 0.4 on: the grant's id, taken first, is also kept on the
 * stripe (pool_stripes.max_grant_id), so that a dump carries the highest
 * grant_id in rows that every restore loads (restore_pool_stripe moves
 * freetier.grant_ids past it).  The stripe row is written anyway.  GREATEST:
 * the id is taken under the stripe's lock, but a sequence given a CACHE
 * hands ids to backends out of order.
 */
static FtStatement settle_hold_v4 = {
	SETTLE_HOLD("new_grant AS (SELECT pg_catalog.nextval('freetier.grant_ids'::pg_catalog.regclass)"
				" AS grant_id), "
				FT_STRIPE_APPEND_CTES_SETTING(", max_grant_id = GREATEST(max_grant_id,"
											  "   (SELECT grant_id FROM new_grant))"),
				"grant_id, ", "(SELECT grant_id FROM new_grant), "),
	16, {FT_STRIPE_APPEND_TYPES, TEXTOID, INT8OID, INT8OID, INT8OID, TEXTOID}, NULL
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

/*
 * Holds past their TTL on a pool's locked stripes, expired; rows locked
 * elsewhere are skipped.  expire_all: every stripe of pool $1 (the pool's
 * one row up to 0.2.1); expire_one: stripe $3 of it.
 */
#define EXPIRE_HOLDS(where, stripe) \
	"UPDATE freetier.holds h SET state = 'expired', ended_at = $2, end_reason = 'ttl'" \
	" FROM (SELECT hold_id FROM freetier.holds" \
	"       WHERE pool OPERATOR(pg_catalog.=) $1 AND " FT_EXPIRED_HOLD("", "$2") where \
	"       ORDER BY expires_at, hold_id FOR NO KEY UPDATE SKIP LOCKED) x" \
	" WHERE h.hold_id OPERATOR(pg_catalog.=) x.hold_id" \
	" RETURNING h.hold_id, h.held_sats, " stripe

static FtStatement expire_all[2] = {
	{EXPIRE_HOLDS("", "0"), 2, {TEXTOID, TIMESTAMPTZOID}, NULL},
	{EXPIRE_HOLDS("", "h.stripe"), 2, {TEXTOID, TIMESTAMPTZOID}, NULL}
};
static FtStatement expire_one = {
	EXPIRE_HOLDS(" AND stripe OPERATOR(pg_catalog.=) $3", "h.stripe"),
	3, {TEXTOID, TIMESTAMPTZOID, INT4OID}, NULL
};

/* The subject's last_hold_at, once the subject's lock is ours. */
static FtStatement lock_subject_last_hold = {
	"SELECT last_hold_at FROM freetier.subjects WHERE subject OPERATOR(pg_catalog.=) $1"
	" FOR NO KEY UPDATE",
	1, {TEXTOID}, NULL
};

static FtStatement set_hold_expiry = {
	"UPDATE freetier.holds SET expires_at = $2 WHERE hold_id OPERATOR(pg_catalog.=) $1",
	2, {UUIDOID, TIMESTAMPTZOID}, NULL
};

/* A hold row, locked. */
typedef struct LockedHold
{
	pg_uuid_t	id;
	char	   *subject;
	char	   *pool;
	int			stripe;
	int64		held_sats;
	char	   *state;
	TimestampTz window_start;
	TimestampTz expires_at;
} LockedHold;

/* 42704: no hold with this id. */
void
ft_report_unknown_hold(const pg_uuid_t *id)
{
	ereport(ERROR,
			(errcode(ERRCODE_UNDEFINED_OBJECT),
			 errmsg("hold %s does not exist", ft_uuid_string(id)),
			 errdetail("Holds are placed by freetier_decide.")));
}

/* A random (version 4) uuid for a new hold, as gen_random_uuid() makes. */
static void
new_hold_id(pg_uuid_t *id)
{
	if (!pg_strong_random(id->data, UUID_LEN))
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not generate random values")));
	id->data[6] = (id->data[6] & 0x0f) | 0x40;	/* version 4 */
	id->data[8] = (id->data[8] & 0x3f) | 0x80;	/* the RFC 4122 variant */
}

/*
 * Place the hold for a decision of absorb_sats on a locked subject, drawing
 * the sats from the locked stripes: from stripes[home] first (the hold's
 * own stripe), then from the others in order.  Writes the hold row, the
 * subject's window (a new one if the old has ended) and last_hold_at, and
 * each stripe's debit with its ledger entry.  Returns the hold's id,
 * palloc'd in the caller's (upper) memory context.
 */
pg_uuid_t *
ft_gate_hold_place(const char *subject, int64 estimated_sats, int64 absorb_sats,
				   const FtSubjectState *s, FtStripe *stripes, int n, int home,
				   const FtPoolSettings *ps, FtLayout layout, TimestampTz now)
{
	bool		current = ft_window_is_current(s->has_window, s->window_start, now);
	TimestampTz window_start = current ? s->window_start : now;
	int64		settled = current ? s->window_settled_sats : 0;
	TimestampTz expires_at = ft_plus_duration(now, &ps->hold_ttl);
	pg_uuid_t  *hold_id = SPI_palloc(sizeof(pg_uuid_t));
	FtStripe   *first = &stripes[home];
	int64		from_first = Min(absorb_sats, first->balance_sats);
	int64		left = absorb_sats - from_first;

	new_hold_id(hold_id);
	if (layout == FT_LAYOUT_STRIPES)
	{
		Datum		args[17];
		char		nulls[17];
		FtStripe	after;

		ft_stripe_entry_args(first, "hold", -from_first, hold_id, NULL, now, args, nulls,
							 &after);
		args[11] = CStringGetTextDatum(subject);
		args[12] = Int64GetDatum(estimated_sats);
		args[13] = Int64GetDatum(absorb_sats);
		args[14] = TimestampTzGetDatum(window_start);
		args[15] = TimestampTzGetDatum(expires_at);
		args[16] = Int64GetDatum(settled);
		memset(nulls + 11, ' ', 6);
		ft_execute(&place_hold, args, nulls);
		*first = after;
	}
	else
	{
		Datum		hold_args[8];
		Datum		charge_args[4];

		hold_args[0] = UUIDPGetDatum(hold_id);
		hold_args[1] = CStringGetTextDatum(subject);
		hold_args[2] = CStringGetTextDatum(first->pool);
		hold_args[3] = Int64GetDatum(estimated_sats);
		hold_args[4] = Int64GetDatum(absorb_sats);
		hold_args[5] = TimestampTzGetDatum(window_start);
		hold_args[6] = TimestampTzGetDatum(now);
		hold_args[7] = TimestampTzGetDatum(expires_at);
		ft_execute(&insert_hold_row, hold_args, NULL);
		charge_args[0] = CStringGetTextDatum(subject);
		charge_args[1] = TimestampTzGetDatum(window_start);
		charge_args[2] = Int64GetDatum(settled);
		charge_args[3] = TimestampTzGetDatum(now);
		ft_execute(&charge_subject, charge_args, NULL);
		ft_stripe_append(first, layout, "hold", -from_first, hold_id, NULL, now);
	}

	/* the rest, when one stripe could not give it all */
	for (int i = 0; i < n && left > 0; i++)
	{
		int64		take = Min(left, stripes[i].balance_sats);

		if (i == home || take == 0)
			continue;
		ft_stripe_append(&stripes[i], layout, "hold", -take, hold_id, NULL, now);
		left -= take;
	}
	if (left != 0)
		elog(ERROR, "freetier: the locked stripes of pool \"%s\" could not cover a hold",
			 first->pool);
	return hold_id;
}

/* Lock the hold row; false when there is none. */
static bool
lock_hold_row(const pg_uuid_t *id, FtLayout layout, LockedHold *h)
{
	Datum		args[1] = {UUIDPGetDatum(id)};
	bool		isnull;

	if (ft_execute(&lock_hold[layout], args, NULL) == 0)
		return false;
	h->id = *id;
	h->subject = ft_column_text(0, 1);
	h->pool = ft_column_text(0, 2);
	h->stripe = DatumGetInt32(ft_column(0, 3, &isnull));
	h->held_sats = ft_column_int64(0, 4);
	h->state = ft_column_text(0, 5);
	h->window_start = DatumGetTimestampTz(ft_column(0, 6, &isnull));
	h->expires_at = DatumGetTimestampTz(ft_column(0, 7, &isnull));
	return true;
}

/* End the hold row in `state` (settled, released). */
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

/* 55000: the hold cannot be settled (`what` settle) or released in its state. */
static void
report_hold_state(const LockedHold *h, const char *what)
{
	ereport(ERROR,
			(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
			 errmsg("cannot %s hold %s: it is %s", what, ft_uuid_string(&h->id),
					h->state),
			 strcmp(what, "settle") == 0 ?
			 errdetail("Only a hold in state held and within its TTL can be settled.") :
			 errdetail("A settled hold's sats were absorbed by its grant; nothing is left to return.")));
}

/*
 * Write a settle of locked hold h, whose return of `returned` sats goes to
 * its stripe or another (ft_stripe_lock_for_return): the stripe's entry,
 * the hold ended, the grant.  Sets *grant_id and *balance_after.
 */
static void
write_settle(const LockedHold *h, int64 actual, int64 absorbed, int64 returned,
			 int64 charge, const char *request_hash, FtLayout layout, bool max_grant_ids,
			 TimestampTz now, int64 *grant_id, int64 *balance_after)
{
	FtStripe	stripe;
	Datum		args[16];
	char		nulls[16];

	ft_stripe_lock_for_return(h->pool, h->stripe, layout, &stripe);
	if (layout == FT_LAYOUT_STRIPES)
	{
		FtStripe	after;

		ft_stripe_entry_args(&stripe, "return", returned, &h->id, NULL, now, args, nulls,
							 &after);
		args[11] = CStringGetTextDatum(h->subject);
		args[12] = Int64GetDatum(actual);
		args[13] = Int64GetDatum(absorbed);
		args[14] = Int64GetDatum(charge);
		args[15] = request_hash ? CStringGetTextDatum(request_hash) : (Datum) 0;
		memset(nulls + 11, ' ', 5);
		nulls[15] = request_hash ? ' ' : 'n';
		ft_execute(max_grant_ids ? &settle_hold_v4 : &settle_hold, args, nulls);
		*grant_id = ft_column_int64(0, 1);
		*balance_after = ft_column_int64(0, 2);
		return;
	}
	ft_stripe_append(&stripe, layout, "return", returned, &h->id, NULL, now);
	end_hold_row(h, "settled", now, NULL);
	*balance_after = stripe.balance_sats;

	memset(nulls, ' ', 10);
	args[0] = UUIDPGetDatum(&h->id);
	args[1] = CStringGetTextDatum(h->subject);
	args[2] = CStringGetTextDatum(h->pool);
	args[3] = Int64GetDatum(actual);
	args[4] = Int64GetDatum(absorbed);
	args[5] = Int64GetDatum(returned);
	args[6] = Int64GetDatum(charge);
	args[7] = Int64GetDatum(*balance_after);
	args[8] = request_hash ? CStringGetTextDatum(request_hash) : (Datum) 0;
	nulls[8] = request_hash ? ' ' : 'n';
	args[9] = TimestampTzGetDatum(now);
	ft_execute(&insert_grant, args, nulls);
	*grant_id = ft_column_int64(0, 1);
}

/*
 * freetier_record_grant(hold_id uuid, actual_sats bigint, request_hash text DEFAULT NULL)
 *	 RETURNS TABLE (grant_id bigint, absorbed_sats bigint, returned_sats bigint,
 *					charge_sats bigint, pool_balance_after bigint)
 *
 * Settle a hold: absorbed = min(actual, held), the rest back to the pool and
 * the window, charge = actual - absorbed.  Repeating it with the same
 * arguments returns the first result; with others it is an error.
 */
static void
record_grant(FunctionCallInfo fcinfo, FtLayout layout, bool max_grant_ids)
{
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

	ft_result_begin(fcinfo);
	ft_connect(FT_LOCKING);
	if (!lock_hold_row(id, layout, &h))
		ft_report_unknown_hold(id);

	if (strcmp(h.state, "settled") == 0)
	{
		/* a replay: the first result, if the arguments are the same */
		Datum		args[1] = {UUIDPGetDatum(id)};
		char	   *first_hash;
		int64		first_actual;

		if (ft_execute(&grant_of_hold, args, NULL) != 1)
			elog(ERROR, "freetier: settled hold %s has no grant", ft_uuid_string(id));
		first_actual = ft_column_int64(0, 2);
		first_hash = ft_column_text(0, 7);
		if (first_actual != actual ||
			(first_hash == NULL) != (request_hash == NULL) ||
			(first_hash && strcmp(first_hash, request_hash) != 0))
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("hold %s was already settled with other arguments",
							ft_uuid_string(id)),
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
		Datum		args[4];
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
					 errmsg("cannot settle hold %s: it has expired", ft_uuid_string(id)),
					 errdetail("The hold expired at %s; its sats count as returned to the pool.",
							   timestamptz_to_str(h.expires_at))));
		write_settle(&h, actual, absorbed, returned, charge, request_hash, layout,
					 max_grant_ids, now, &grant_id, &balance_after);
		ft_count(h.pool, FT_SATS_ABSORBED, absorbed);
		ft_count(h.pool, FT_SATS_CHARGED, charge);
		ft_count(h.pool, FT_SATS_RETURNED, returned);
	}

	SPI_finish();

	/* built after SPI_finish: by-reference int8 Datums would not survive it */
	result[0] = Int64GetDatum(grant_id);
	result[1] = Int64GetDatum(absorbed);
	result[2] = Int64GetDatum(returned);
	result[3] = Int64GetDatum(charge);
	result[4] = Int64GetDatum(balance_after);
	ft_result_row(fcinfo, result, result_null);
}

PG_FUNCTION_INFO_V1(freetier_record_grant);

/* freetier_record_grant of 0.1 to 0.2.1. */
Datum
freetier_record_grant(PG_FUNCTION_ARGS)
{
	record_grant(fcinfo, FT_LAYOUT_POOL_ROW, false);
	return (Datum) 0;
}

PG_FUNCTION_INFO_V1(freetier_record_grant_v3);

/* freetier_record_grant of 0.3. */
Datum
freetier_record_grant_v3(PG_FUNCTION_ARGS)
{
	record_grant(fcinfo, FT_LAYOUT_STRIPES, false);
	return (Datum) 0;
}

PG_FUNCTION_INFO_V1(freetier_record_grant_v4);

/* freetier_record_grant from 0.4 on: stripes keep the highest grant_id. */
Datum
freetier_record_grant_v4(PG_FUNCTION_ARGS)
{
	record_grant(fcinfo, FT_LAYOUT_STRIPES, true);
	return (Datum) 0;
}

/*
 * Release gate hold `id`: everything it took goes back to the pool (its
 * stripe, or another: ft_stripe_lock_for_return).  Sets
 * *returned (0 when it had already been released or expired); false when
 * there is no such gate hold.  A settled hold is an error.
 */
bool
ft_gate_hold_release(const pg_uuid_t *id, const char *reason, FtLayout layout,
					 TimestampTz now, int64 *returned)
{
	LockedHold	h;

	*returned = 0;
	if (!lock_hold_row(id, layout, &h))
		return false;
	if (strcmp(h.state, "settled") == 0)
		report_hold_state(&h, "release");
	if (strcmp(h.state, "held") == 0)
	{
		FtStripe	stripe;

		ft_stripe_lock_for_return(h.pool, h.stripe, layout, &stripe);
		ft_stripe_append(&stripe, layout, "release", h.held_sats, id, NULL, now);
		end_hold_row(&h, "released", now, reason);
		ft_count(h.pool, FT_SATS_RELEASED, h.held_sats);
		*returned = h.held_sats;
	}
	return true;
}

/*
 * Move live gate hold `id`'s expiry to now + ttl (a checked TTL, at most its
 * pool's max_hold_ttl, else 22023); *expires_at is the new expiry.  False
 * when there is no such gate hold; 55000 when it has ended or is past its
 * TTL, by our clock or by that of a decide for its subject which may have
 * counted it as returned already (as for a settle).
 */
bool
ft_gate_hold_extend(const pg_uuid_t *id, const Interval *ttl, TimestampTz now,
					TimestampTz *expires_at)
{
	LockedHold	h;
	Datum		args[2];
	bool		isnull;
	TimestampTz last_hold_at;

	if (!lock_hold_row(id, FT_LAYOUT_STRIPES, &h))
		return false;
	ft_pool_check_hold_ttl(h.pool, ttl, "ttl");
	if (strcmp(h.state, "held") != 0)
		ft_report_hold_not_extendable(id, h.state);
	args[0] = CStringGetTextDatum(h.subject);
	ft_execute(&lock_subject_last_hold, args, NULL);
	last_hold_at = DatumGetTimestampTz(ft_column(0, 1, &isnull));
	if (h.expires_at <= now || (!isnull && h.expires_at <= last_hold_at))
		ft_report_hold_not_extendable(id, "expired");

	*expires_at = ft_plus_duration(now, ttl);
	args[0] = UUIDPGetDatum(id);
	args[1] = TimestampTzGetDatum(*expires_at);
	ft_execute(&set_hold_expiry, args, NULL);
	return true;
}

/*
 * Return the holds past their TTL on a pool's n locked stripes to them, one
 * 'expiry' entry each: on every stripe of the pool when `all` (the caller
 * has locked them all), else on stripes[0] alone.  Holds locked by another
 * transaction are left.  Returns how many.
 */
int64
ft_gate_holds_expire(FtStripe *stripes, int n, bool all, FtLayout layout,
					 TimestampTz now)
{
	Datum		args[3];
	int			expired;
	pg_uuid_t  *ids;
	int64	   *sats;
	int		   *on;

	args[0] = CStringGetTextDatum(stripes[0].pool);
	args[1] = TimestampTzGetDatum(now);
	args[2] = Int32GetDatum(stripes[0].stripe);
	expired = ft_execute(all ? &expire_all[layout] : &expire_one, args, NULL);
	if (expired == 0)
		return 0;

	/* copy out: each append overwrites SPI_tuptable */
	ids = palloc(expired * sizeof(pg_uuid_t));
	sats = palloc(expired * sizeof(int64));
	on = palloc(expired * sizeof(int));
	for (int i = 0; i < expired; i++)
	{
		bool		isnull;

		memcpy(&ids[i], DatumGetUUIDP(ft_column(i, 1, &isnull)), sizeof(pg_uuid_t));
		sats[i] = ft_column_int64(i, 2);
		on[i] = DatumGetInt32(ft_column(i, 3, &isnull));
	}
	for (int i = 0; i < expired; i++)
	{
		int			k = 0;

		while (k < n && stripes[k].stripe != on[i])
			k++;
		if (k == n)
			elog(ERROR, "freetier: a hold of pool \"%s\" names stripe %d, which is not locked",
				 stripes[0].pool, on[i]);
		ft_stripe_append(&stripes[k], layout, "expiry", sats[i], &ids[i], NULL, now);
		ft_count(stripes[0].pool, FT_HOLDS_EXPIRED, 1);
		ft_count(stripes[0].pool, FT_SATS_EXPIRED, sats[i]);
	}
	return expired;
}
