/*-------------------------------------------------------------------------
 *
 * holds.c
 *	  The entry points both kinds of hold share: freetier_release,
 *	  freetier_expire_holds and freetier_extend_hold.  Each kind's own life
 *	  is in gate_hold.c and credit_hold.c.
 *
 * A hold id names a gate hold or a credit hold, never both (uuids).  From
 * 0.2 on (the _v2 symbols) release and expiry also end credit holds; the
 * 0.1 functions still bound to the old symbols only see gate holds.  From
 * 0.3 on (_v3) pools are striped.
 *
 *-------------------------------------------------------------------------
 */
#include "freetier.h"

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "utils/builtins.h"

static FtStatement stripes_with_expired_holds[2] = {
	{"SELECT DISTINCT pool, 0 FROM freetier.holds WHERE " FT_EXPIRED_HOLD("", "$1")
		" ORDER BY 1", 1, {TIMESTAMPTZOID}, NULL},
	{"SELECT DISTINCT pool, stripe FROM freetier.holds WHERE " FT_EXPIRED_HOLD("", "$1")
		" ORDER BY 1, 2", 1, {TIMESTAMPTZOID}, NULL}
};

/*
 * freetier_release(hold_id uuid, reason text DEFAULT NULL) RETURNS bigint
 *
 * Return everything a hold took.  A hold already released or expired
 * returns 0; a settled hold is an error.  With credit_aware a credit hold
 * is released the same way and its credits are returned.
 */
static int64
release_hold(FunctionCallInfo fcinfo, bool credit_aware, FtLayout layout)
{
	pg_uuid_t  *id;
	char	   *reason;
	TimestampTz now = ft_now();
	int64		returned = 0;

	ft_check_not_null(fcinfo, 0, "hold_id");
	id = PG_GETARG_UUID_P(0);
	reason = ft_text_arg(fcinfo, 1, "reason", false);

	ft_connect(FT_LOCKING);
	if (!ft_gate_hold_release(id, reason, layout, now, &returned) &&
		!(credit_aware && ft_credit_hold_release(id, reason, now, &returned)))
		ft_report_unknown_hold(id);
	SPI_finish();
	return returned;
}

PG_FUNCTION_INFO_V1(freetier_release);

/* freetier_release of 0.1: gate holds only. */
Datum
freetier_release(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT64(release_hold(fcinfo, false, FT_LAYOUT_POOL_ROW));
}

PG_FUNCTION_INFO_V1(freetier_release_v2);

/* freetier_release from 0.2 on: gate and credit holds. */
Datum
freetier_release_v2(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT64(release_hold(fcinfo, true, FT_LAYOUT_POOL_ROW));
}

PG_FUNCTION_INFO_V1(freetier_release_v3);

/* freetier_release from 0.3 on: striped pools. */
Datum
freetier_release_v3(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT64(release_hold(fcinfo, true, FT_LAYOUT_STRIPES));
}

/*
 * freetier_expire_holds() RETURNS bigint
 *
 * End every hold past its TTL; the number of holds expired.  Stripe by
 * stripe, the same reclaim a decide does: the stripe row is taken with
 * SKIP LOCKED and its holds likewise, so the sweep never waits and can be
 * part of no deadlock; a stripe or hold busy right now is left to the next
 * decide that locks it or the next sweep.  With credit_aware, credit holds
 * too.
 */
static int64
expire_holds(bool credit_aware, FtLayout layout)
{
	TimestampTz now = ft_now();
	Datum		args[1] = {TimestampTzGetDatum(now)};
	int			n;
	char	  **pools;
	int		   *stripes;
	int64		expired = 0;

	ft_connect(FT_LOCKING);
	n = ft_execute(&stripes_with_expired_holds[layout], args, NULL);
	pools = palloc(sizeof(char *) * Max(n, 1));
	stripes = palloc(sizeof(int) * Max(n, 1));
	for (int i = 0; i < n; i++)
	{
		bool		isnull;

		pools[i] = ft_column_text(i, 1);
		stripes[i] = DatumGetInt32(ft_column(i, 2, &isnull));
	}
	for (int i = 0; i < n; i++)
	{
		FtStripe	stripe;

		/* up to 0.2.1 the one row is every stripe of its pool */
		if (ft_stripe_try_lock(pools[i], stripes[i], layout, &stripe))
			expired += ft_gate_holds_expire(&stripe, 1, layout == FT_LAYOUT_POOL_ROW,
											layout, now);
	}
	if (credit_aware)
		expired += ft_credit_holds_expire(now);
	SPI_finish();
	return expired;
}

PG_FUNCTION_INFO_V1(freetier_expire_holds);

/* freetier_expire_holds of 0.1: gate holds only. */
Datum
freetier_expire_holds(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT64(expire_holds(false, FT_LAYOUT_POOL_ROW));
}

PG_FUNCTION_INFO_V1(freetier_expire_holds_v2);

/* freetier_expire_holds from 0.2 on: gate and credit holds. */
Datum
freetier_expire_holds_v2(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT64(expire_holds(true, FT_LAYOUT_POOL_ROW));
}

PG_FUNCTION_INFO_V1(freetier_expire_holds_v3);

/* freetier_expire_holds from 0.3 on: striped pools. */
Datum
freetier_expire_holds_v3(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT64(expire_holds(true, FT_LAYOUT_STRIPES));
}

/* 55000: hold `id` cannot be extended: it is settled, released or expired. */
void
ft_report_hold_not_extendable(const pg_uuid_t *id, const char *state)
{
	ereport(ERROR,
			(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
			 errmsg("cannot extend hold %s: it is %s", ft_uuid_string(id), state),
			 errdetail("Only a hold in state held and within its TTL can be extended.")));
}

PG_FUNCTION_INFO_V1(freetier_extend_hold);

/*
 * freetier_extend_hold(hold_id uuid, ttl interval) RETURNS timestamptz
 *
 * Move a live hold's expiry, a gate hold's or a credit hold's, to now +
 * ttl; returns the new expiry.  ttl is bounded by the hold's pool's
 * max_hold_ttl, or the credit settings' (22023 past it).
 */
Datum
freetier_extend_hold(PG_FUNCTION_ARGS)
{
	pg_uuid_t  *id;
	Interval   *ttl;
	TimestampTz now = ft_now();
	TimestampTz expires_at;

	ft_check_not_null(fcinfo, 0, "hold_id");
	id = PG_GETARG_UUID_P(0);
	ft_check_not_null(fcinfo, 1, "ttl");
	ttl = PG_GETARG_INTERVAL_P(1);
	ft_check_ttl_arg(ttl, "ttl");

	ft_connect(FT_LOCKING);
	if (!ft_gate_hold_extend(id, ttl, now, &expires_at) &&
		!ft_credit_hold_extend(id, ttl, now, &expires_at))
		ft_report_unknown_hold(id);
	SPI_finish();
	PG_RETURN_TIMESTAMPTZ(expires_at);
}
