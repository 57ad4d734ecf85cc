/*-------------------------------------------------------------------------
 *
 * credit_hold.c
 *	  The life of a credit hold, from freetier_reserve_credits' reservation
 *	  to its end: placed (ft_credit_hold_place), settled
 *	  (freetier_settle_credits), released (ft_credit_hold_release) or
 *	  expired (ft_credit_holds_expire); its TTL moved on the way
 *	  (ft_credit_hold_extend).  holds.c's freetier_release,
 *	  freetier_expire_holds and freetier_extend_hold call the last three.
 *
 * A live credit hold (state 'held', before expires_at) counts against the
 * allowance of the scope it was taken in and against the purchased balance
 * of its account; those are counted from this table (account.c), so a
 * release or an expiry never writes the account.  A settle spends it
 * through account.c, the only writer of accounts.
 *
 * Lock order: the hold row (one statement, lock_credit_hold), then its
 * account.  Expiry takes hold rows with SKIP LOCKED, so it never waits.
 *
 *-------------------------------------------------------------------------
 */
#include "freetier.h"

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "funcapi.h"
#include "utils/builtins.h"

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

static FtStatement release_credit_hold = {
	"UPDATE freetier.credit_holds SET state = 'released', ended_at = $2, end_reason = $3"
	" WHERE hold_id OPERATOR(pg_catalog.=) $1",
	3, {UUIDOID, TIMESTAMPTZOID, TEXTOID}, NULL
};

static FtStatement expire_credit_holds = {
	"WITH expired AS ("
	" UPDATE freetier.credit_holds h SET state = 'expired', ended_at = $1, end_reason = 'ttl'"
	" FROM (SELECT hold_id FROM freetier.credit_holds WHERE " FT_EXPIRED_HOLD("", "$1")
	"       FOR NO KEY UPDATE SKIP LOCKED) x"
	" WHERE h.hold_id OPERATOR(pg_catalog.=) x.hold_id"
	" RETURNING h.allowance_credits, h.purchased_credits)"
	" SELECT pg_catalog.count(*), " FT_SATURATED("pg_catalog.sum(allowance_credits)") ","
	" " FT_SATURATED("pg_catalog.sum(purchased_credits)") " FROM expired",
	1, {TIMESTAMPTZOID}, NULL
};

/*
 * The account's updated_at once its lock is ours: the account row alone,
 * since a joined row would be rechecked against the old snapshot after a
 * lock wait.
 */
static FtStatement lock_account_for_extend = {
	"SELECT a.updated_at FROM freetier.accounts a WHERE a.subject OPERATOR(pg_catalog.=) $1"
	" FOR NO KEY UPDATE",
	1, {TEXTOID}, NULL
};

/* The credit settings' max_hold_ttl, read after the account's lock. */
static FtStatement credit_max_hold_ttl = {
	"SELECT s.max_hold_ttl FROM freetier.credit_settings s",
	0, {InvalidOid}, NULL
};

static FtStatement set_credit_hold_expiry = {
	"UPDATE freetier.credit_holds SET expires_at = $2 WHERE hold_id OPERATOR(pg_catalog.=) $1",
	2, {UUIDOID, TIMESTAMPTZOID}, NULL
};

/* A credit hold row, locked. */
typedef struct LockedCreditHold
{
	pg_uuid_t	id;
	char	   *subject;
	char	   *backend;
	int64		allowance_credits;
	int64		purchased_credits;
	TimestampTz scope_start;
	TimestampTz expires_at;
	char	   *state;
	int64		settled_credits;	/* when settled */
} LockedCreditHold;

/* Lock the credit hold row; false when there is none. */
static bool
lock_credit_hold_row(const pg_uuid_t *id, LockedCreditHold *h)
{
	Datum		args[1] = {UUIDPGetDatum(id)};
	bool		isnull;

	if (ft_execute(&lock_credit_hold, args, NULL) == 0)
		return false;
	h->id = *id;
	h->subject = ft_column_text(0, 1);
	h->backend = ft_column_text(0, 2);
	h->allowance_credits = ft_column_int64(0, 3);
	h->purchased_credits = ft_column_int64(0, 4);
	h->scope_start = DatumGetTimestampTz(ft_column(0, 5, &isnull));
	h->expires_at = DatumGetTimestampTz(ft_column(0, 6, &isnull));
	h->state = ft_column_text(0, 7);
	(void) ft_column(0, 8, &isnull);
	h->settled_credits = isnull ? 0 : ft_column_int64(0, 8);
	return true;
}

/*
 * Place a credit hold of allowance_credits (from the scope that began at
 * scope_start) and purchased_credits on a locked account.  Returns its id,
 * palloc'd in the caller's (upper) memory context.
 */
pg_uuid_t *
ft_credit_hold_place(const char *subject, const char *backend,
					 int64 allowance_credits, int64 purchased_credits,
					 TimestampTz scope_start, TimestampTz now)
{
	Datum		args[6];
	pg_uuid_t  *id;
	bool		isnull;

	args[0] = CStringGetTextDatum(subject);
	args[1] = CStringGetTextDatum(backend);
	args[2] = Int64GetDatum(allowance_credits);
	args[3] = Int64GetDatum(purchased_credits);
	args[4] = TimestampTzGetDatum(scope_start);
	args[5] = TimestampTzGetDatum(now);
	ft_execute(&insert_credit_hold, args, NULL);
	id = SPI_palloc(sizeof(pg_uuid_t));
	memcpy(id, DatumGetUUIDP(ft_column(0, 1, &isnull)), sizeof(pg_uuid_t));
	return id;
}

/* 55000: a credit hold that cannot be settled in its state. */
static void
report_not_held(const char *state)
{
	ereport(ERROR,
			(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
			 errmsg("cannot settle credit hold: it is %s", state),
			 errdetail("Only a hold in state held and within its TTL can be settled.")));
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
	LockedCreditHold h;
	int64		reserved;
	int64		actual;
	int64		from_allowance;
	Datum		values[3];
	bool		nulls[3] = {false, false, false};

	ft_check_not_null(fcinfo, 0, "hold_id");
	id = PG_GETARG_UUID_P(0);
	if (!PG_ARGISNULL(1))
		ft_check_sats("actual_credits", PG_GETARG_INT64(1));

	ft_result_begin(fcinfo);
	ft_connect(FT_LOCKING);
	if (!lock_credit_hold_row(id, &h))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("credit hold %s does not exist", ft_uuid_string(id)),
				 errdetail("Credit holds are placed by freetier_reserve_credits.")));
	reserved = h.allowance_credits + h.purchased_credits;
	actual = PG_ARGISNULL(1) ? reserved : PG_GETARG_INT64(1);

	if (strcmp(h.state, "settled") == 0)
	{
		if (h.settled_credits != actual)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("credit hold was already settled with other arguments"),
					 errdetail("It was settled for " INT64_FORMAT " credits.",
							   h.settled_credits)));
	}
	else if (strcmp(h.state, "held") != 0)
		report_not_held(h.state);
	else if (actual > reserved)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("actual_credits exceeds the reservation"),
				 errdetail("The hold reserved " INT64_FORMAT " credits; actual_credits was "
						   INT64_FORMAT ".", reserved, actual),
				 errhint("Reserve again for more.")));
	else
	{
		FtAccount	a;
		Datum		args[3];

		from_allowance = Min(actual, h.allowance_credits);
		ft_account_require(h.subject, now, &a);

		/*
		 * Past its TTL by our clock, or by the clock of whoever wrote the
		 * account last: a reserve or spend then may have counted this hold
		 * as returned and used its credits.
		 */
		if (h.expires_at <= now || h.expires_at <= a.updated_at)
			report_not_held("expired");
		ft_account_roll_over(&a);
		ft_account_spend(&a, h.backend, h.scope_start, from_allowance,
						 actual - from_allowance, id);
		ft_account_save(&a);
		args[0] = UUIDPGetDatum(id);
		args[1] = TimestampTzGetDatum(now);
		args[2] = Int64GetDatum(actual);
		ft_execute(&settle_credit_hold, args, NULL);
		ft_count_account(FT_CALL_SETTLE, NULL, 1, from_allowance, actual - from_allowance);
	}
	SPI_finish();

	from_allowance = Min(actual, h.allowance_credits);
	values[0] = Int64GetDatum(from_allowance);
	values[1] = Int64GetDatum(actual - from_allowance);
	values[2] = Int64GetDatum(reserved - actual);
	ft_result_row(fcinfo, values, nulls);
	return (Datum) 0;
}

/*
 * Move live credit hold `id`'s expiry to now + ttl (a checked TTL, at most
 * the credit settings' max_hold_ttl, else 22023); *expires_at is the new
 * expiry.  False when there is no such credit hold; 55000 when it has ended
 * or is past its TTL, by our clock or by that of the account's latest
 * write (as for a settle).
 */
bool
ft_credit_hold_extend(const pg_uuid_t *id, const Interval *ttl, TimestampTz now,
					  TimestampTz *expires_at)
{
	LockedCreditHold h;
	Datum		args[2];
	bool		isnull;
	TimestampTz account_updated_at;

	if (!lock_credit_hold_row(id, &h))
		return false;
	args[0] = CStringGetTextDatum(h.subject);
	ft_execute(&lock_account_for_extend, args, NULL);
	account_updated_at = DatumGetTimestampTz(ft_column(0, 1, &isnull));
	ft_execute(&credit_max_hold_ttl, NULL, NULL);
	ft_check_hold_ttl_bound(ttl, "ttl", DatumGetIntervalP(ft_column(0, 1, &isnull)),
							"the credit settings");
	if (strcmp(h.state, "held") != 0)
		ft_report_hold_not_extendable(id, h.state);
	if (h.expires_at <= now || h.expires_at <= account_updated_at)
		ft_report_hold_not_extendable(id, "expired");

	*expires_at = ft_plus_duration(now, ttl);
	args[0] = UUIDPGetDatum(id);
	args[1] = TimestampTzGetDatum(*expires_at);
	ft_execute(&set_credit_hold_expiry, args, NULL);
	return true;
}

/*
 * Release credit hold `id`: its credits stop counting against its account.
 * Sets *released (0 when it had already been released or expired); false
 * when there is no such credit hold.  A settled hold is an error.
 */
bool
ft_credit_hold_release(const pg_uuid_t *id, const char *reason, TimestampTz now,
					   int64 *released)
{
	LockedCreditHold h;

	*released = 0;
	if (!lock_credit_hold_row(id, &h))
		return false;
	if (strcmp(h.state, "settled") == 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("cannot release hold %s: it is settled", ft_uuid_string(id)),
				 errdetail("A settled hold's credits were spent; nothing is left to return.")));
	if (strcmp(h.state, "held") == 0)
	{
		Datum		args[3];
		char		nulls[3] = {' ', ' ', reason ? ' ' : 'n'};

		*released = h.allowance_credits + h.purchased_credits;
		ft_count_account(FT_CALL_RELEASE, NULL, 1, h.allowance_credits, h.purchased_credits);
		args[0] = UUIDPGetDatum(id);
		args[1] = TimestampTzGetDatum(now);
		args[2] = reason ? CStringGetTextDatum(reason) : (Datum) 0;
		ft_execute(&release_credit_hold, args, nulls);
	}
	return true;
}

/*
 * Mark every credit hold past its TTL expired (it stopped counting against
 * its account when its TTL passed); holds locked elsewhere are left.
 * Returns how many.
 */
int64
ft_credit_holds_expire(TimestampTz now, int64 *credits)
{
	Datum		args[1] = {TimestampTzGetDatum(now)};

	int64		expired;

	ft_execute(&expire_credit_holds, args, NULL);
	expired = ft_column_int64(0, 1);
	*credits = ft_add_saturating(ft_column_int64(0, 2), ft_column_int64(0, 3));
	if (expired > 0)
		ft_count_account(FT_CALL_EXPIRE, NULL, expired, ft_column_int64(0, 2),
						 ft_column_int64(0, 3));
	return expired;
}
