/*-------------------------------------------------------------------------
 *
 * pool_credit.c
 *	  freetier_credit: a paid invoice grows a pool by credit_pct, once per
 *	  payment reference.
 *
 * A stripe of the pool is locked first (the active one with the fewest sats
 * that nobody has locked, else stripe 0, waiting; from 0.4 on stripe 0 when
 * the pool owes sats), then the payment reference is claimed with
 * INSERT ... ON CONFLICT DO NOTHING.  Two sessions
 * crediting one reference at once queue on the reference's index entry (or
 * on the stripe); the second then finds the first's committed row and
 * returns its result.  If the first rolls back, the second credits.
 *
 *-------------------------------------------------------------------------
 */
#include "freetier.h"

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "utils/builtins.h"

/*
 * floor(paid * credit_pct / 100), exactly (div truncates; numeric division
 * would round first), never more than paid since credit_pct <= 100; and,
 * up to 0.2.1 (one stripe, the pools row), the sats on the pool's holds,
 * which will come back to its balance (from 0.3 on ft_pool_check_room).
 */
static FtStatement credit_for[2] = {
	{"SELECT pg_catalog.div($2::pg_catalog.numeric OPERATOR(pg_catalog.*) p.credit_pct, 100)::bigint,"
		" coalesce((SELECT pg_catalog.sum(h.held_sats) FROM freetier.holds h"
		"   WHERE h.pool OPERATOR(pg_catalog.=) p.pool"
		"     AND h.state OPERATOR(pg_catalog.=) 'held'), 0)::bigint"
		" FROM freetier.pools p WHERE p.pool OPERATOR(pg_catalog.=) $1",
	2, {TEXTOID, INT8OID}, NULL},
	{"SELECT pg_catalog.div($2::pg_catalog.numeric OPERATOR(pg_catalog.*) p.credit_pct, 100)::bigint,"
		" 0::bigint FROM freetier.pools p WHERE p.pool OPERATOR(pg_catalog.=) $1",
	2, {TEXTOID, INT8OID}, NULL}
};

static FtStatement claim_payment = {
	"INSERT INTO freetier.credits (payment_ref, pool, paid_sats, credited_sats, created_at)"
	" VALUES ($1, $2, $3, $4, $5) ON CONFLICT (payment_ref) DO NOTHING RETURNING 1",
	5, {TEXTOID, TEXTOID, INT8OID, INT8OID, TIMESTAMPTZOID}, NULL
};

static FtStatement claimed_payment = {
	"SELECT pool, paid_sats, credited_sats FROM freetier.credits"
	" WHERE payment_ref OPERATOR(pg_catalog.=) $1",
	1, {TEXTOID}, NULL
};

/* The result of an earlier credit of payment_ref, if the arguments match. */
static int64
replayed_credit(const char *payment_ref, const char *pool, int64 paid)
{
	Datum		args[1] = {CStringGetTextDatum(payment_ref)};
	char	   *first_pool;
	int64		first_paid;

	if (ft_execute(&claimed_payment, args, NULL) != 1)
		elog(ERROR, "freetier: payment_ref \"%s\" is claimed but not visible",
			 payment_ref);
	first_pool = ft_column_text(0, 1);
	first_paid = ft_column_int64(0, 2);
	if (first_paid != paid || strcmp(first_pool, pool) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("payment_ref \"%s\" was already credited with other arguments",
						payment_ref),
				 errdetail("It credited paid_sats " INT64_FORMAT " to pool \"%s\".",
						   first_paid, first_pool)));
	return ft_column_int64(0, 3);
}

/*
 * freetier_credit(paid_sats bigint, pool text DEFAULT 'default',
 *				   payment_ref text DEFAULT NULL) RETURNS bigint
 */
static int64
credit(FunctionCallInfo fcinfo, FtLayout layout, bool repays)
{
	int64		paid;
	char	   *pool_name;
	char	   *payment_ref;
	TimestampTz now = ft_now();
	FtStripe	stripe;
	Datum		args[5];
	int64		credited;
	int64		held;
	int64		repaid = 0;

	ft_check_not_null(fcinfo, 0, "paid_sats");
	paid = PG_GETARG_INT64(0);
	ft_check_sats("paid_sats", paid);
	pool_name = ft_text_arg(fcinfo, 1, "pool", true);
	payment_ref = ft_text_arg(fcinfo, 2, "payment_ref", false);
	if (payment_ref && payment_ref[0] == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("payment_ref must not be empty"),
				 errhint("Pass NULL when the payment has no reference.")));

	ft_connect(FT_LOCKING);
	args[0] = CStringGetTextDatum(pool_name);
	/* a pool that owes sats takes the credit on stripe 0, which keeps the debt */
	if (layout == FT_LAYOUT_STRIPES && !(repays && ft_pool_owed(pool_name) > 0))
		ft_stripe_lock_emptiest(pool_name, &stripe);
	else
		ft_stripe_lock(pool_name, 0, layout, &stripe);

	args[1] = Int64GetDatum(paid);
	ft_execute(&credit_for[layout], args, NULL);
	credited = ft_column_int64(0, 1);
	held = ft_column_int64(0, 2);

	if (payment_ref)
	{
		args[0] = CStringGetTextDatum(payment_ref);
		args[1] = CStringGetTextDatum(pool_name);
		args[2] = Int64GetDatum(paid);
		args[3] = Int64GetDatum(credited);
		args[4] = TimestampTzGetDatum(now);
		if (ft_execute(&claim_payment, args, NULL) == 0)
		{
			credited = replayed_credit(payment_ref, pool_name, paid);
			SPI_finish();
			return credited;
		}
	}
	if (repays && stripe.stripe == 0)
	{
		repaid = Min(credited, ft_pool_owed(pool_name));
		if (repaid > 0)
			ft_pool_owed_append(&stripe, "repay", -repaid, payment_ref, now);
	}
	ft_count(pool_name, FT_CREDITS, 1);
	ft_count(pool_name, FT_SATS_CREDITED, credited - repaid);
	if (credited - repaid > 0)
	{
		/*
		 * The pool must still fit when every hold comes back: a return may
		 * go to any stripe (ft_stripe_lock_for_return).
		 */
		if (layout == FT_LAYOUT_STRIPES)
			ft_pool_check_room(pool_name, credited - repaid);
		else
			(void) ft_add_sats(ft_add_sats(stripe.balance_sats, held, "pool balance"),
							   credited - repaid, "pool balance");
		ft_stripe_append(&stripe, layout, "credit", credited - repaid, NULL, payment_ref,
						 now);
	}
	SPI_finish();
	return credited;
}

PG_FUNCTION_INFO_V1(freetier_credit);

/* freetier_credit of 0.1 to 0.2.1. */
Datum
freetier_credit(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT64(credit(fcinfo, FT_LAYOUT_POOL_ROW, false));
}

PG_FUNCTION_INFO_V1(freetier_credit_v3);

/* freetier_credit of 0.3: to one stripe of the pool. */
Datum
freetier_credit_v3(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT64(credit(fcinfo, FT_LAYOUT_STRIPES, false));
}

PG_FUNCTION_INFO_V1(freetier_credit_v4);

/*
 * freetier_credit from 0.4 on: what the pool owes (reversed credits it
 * could not give back) is repaid first, a 'repay' entry on stripe 0, and
 * only the rest is a 'credit' entry.  It returns the sats credited, repaid
 * ones included.
 */
Datum
freetier_credit_v4(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT64(credit(fcinfo, FT_LAYOUT_STRIPES, true));
}
