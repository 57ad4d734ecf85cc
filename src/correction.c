/*-------------------------------------------------------------------------
 *
 * correction.c
 *	  An operator's corrections, each applied once per ref:
 *	  freetier_adjust_pool (a pool topped up or written down),
 *	  freetier_reverse_credit (a chargeback takes a credit back) and
 *	  freetier_refund_credits (a purchase taken back out of an account).
 *
 * Every correction is a row of freetier.corrections, keyed by its kind and
 * ref, with its arguments and its result.  A call that repeats a ref with
 * the same arguments returns the first result and moves nothing; with
 * other arguments it is 55000.  A call locks what it moves first (the
 * pool's stripes, or the account), then looks its ref up: one that waited
 * for a concurrent call with the same ref sees that call's row.  Its claim
 * (INSERT ... ON CONFLICT DO NOTHING) conflicts only when such a call,
 * holding other stripes, committed meanwhile; it then replays that one.
 *
 * Lock order: a write-down or reversal locks one active stripe that holds
 * enough without waiting (SKIP LOCKED), or else every stripe in ascending
 * order, as decide does; a top-up locks one stripe, as a credit does.  An
 * account is locked alone.  Pool movements go through pool.c, account
 * movements through account.c.
 *
 *-------------------------------------------------------------------------
 */
#include "freetier.h"

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "utils/builtins.h"

/* One correction as the caller asked for it. */
typedef struct Correction
{
	const char *kind;			/* adjust, reversal, refund */
	const char *ref;
	const char *target;			/* the pool or subject it moves */
	bool		has_amount;
	int64		amount;			/* adjust: delta_sats */
	const char *reason;
	TimestampTz now;
} Correction;

static FtStatement find_correction = {
	"SELECT target, amount, reason, result FROM freetier.corrections"
	" WHERE kind OPERATOR(pg_catalog.=) $1 AND ref OPERATOR(pg_catalog.=) $2",
	2, {TEXTOID, TEXTOID}, NULL
};

static FtStatement claim_correction = {
	"INSERT INTO freetier.corrections (kind, ref, target, amount, reason, result, created_at)"
	" VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (kind, ref) DO NOTHING RETURNING 1",
	7, {TEXTOID, TEXTOID, TEXTOID, INT8OID, TEXTOID, INT8OID, TIMESTAMPTZOID}, NULL
};

static FtStatement pool_balance = {
	"SELECT " FT_SATURATED("(SELECT pg_catalog.sum(balance_sats) FROM freetier.pool_stripes"
						   " WHERE pool OPERATOR(pg_catalog.=) $1)"),
	1, {TEXTOID}, NULL
};

static FtStatement credited_payment = {
	"SELECT pool, credited_sats FROM freetier.credits"
	" WHERE payment_ref OPERATOR(pg_catalog.=) $1",
	1, {TEXTOID}, NULL
};

static FtStatement added_credits = {
	"SELECT subject, credits FROM freetier.credit_additions"
	" WHERE ref OPERATOR(pg_catalog.=) $1",
	1, {TEXTOID}, NULL
};

/*
 * Whether c's ref was applied already: then *result is its first result,
 * or 55000 when its arguments were other than c's.
 */
static bool
replayed(const Correction *c, int64 *result)
{
	Datum		args[2] = {CStringGetTextDatum(c->kind), CStringGetTextDatum(c->ref)};
	bool		no_amount;
	char	   *target;
	char	   *reason;
	int64		amount;

	if (ft_execute(&find_correction, args, NULL) == 0)
		return false;
	target = ft_column_text(0, 1);
	(void) ft_column(0, 2, &no_amount);
	amount = no_amount ? 0 : ft_column_int64(0, 2);
	reason = ft_column_text(0, 3);
	if (strcmp(target, c->target) != 0 || no_amount == c->has_amount ||
		amount != c->amount || strcmp(reason, c->reason) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("%s ref \"%s\" was already applied with other arguments",
						c->kind, c->ref),
				 no_amount ?
				 errdetail("It was applied to \"%s\", for \"%s\".", target, reason) :
				 errdetail("It moved \"%s\" by " INT64_FORMAT " sats, for \"%s\".",
						   target, amount, reason)));
	*result = ft_column_int64(0, 4);
	return true;
}

/*
 * Record c with its result, unless a concurrent call with its ref committed
 * meanwhile: then false, and *result is that call's.
 */
static bool
claimed(const Correction *c, int64 *result)
{
	Datum		args[7];
	char		nulls[7] = {' ', ' ', ' ', c->has_amount ? ' ' : 'n', ' ', ' ', ' '};

	args[0] = CStringGetTextDatum(c->kind);
	args[1] = CStringGetTextDatum(c->ref);
	args[2] = CStringGetTextDatum(c->target);
	args[3] = Int64GetDatum(c->amount);
	args[4] = CStringGetTextDatum(c->reason);
	args[5] = Int64GetDatum(*result);
	args[6] = TimestampTzGetDatum(c->now);
	if (ft_execute(&claim_correction, args, nulls) == 1)
		return true;
	if (!replayed(c, result))
		elog(ERROR, "freetier: ref \"%s\" is claimed but not visible", c->ref);
	return false;
}

/*
 * Lock stripes of `pool` to take `need` sats from: one active stripe that
 * holds that much and that nobody else has locked, else every stripe, in
 * ascending order, waiting.  Returns how many (42704 when there is no such
 * pool) and what they hold in all.
 */
static int
lock_to_take(const char *pool, int64 need, TimestampTz now, FtStripe **stripes,
			 int64 *total)
{
	FtPoolSettings ps;
	bool		has_expired;
	int64		others;
	int			n;

	*stripes = palloc(sizeof(FtStripe));
	if (ft_stripe_pick(pool, need, 0, now, false, *stripes, &ps, &has_expired, &others))
		n = 1;
	else if ((n = ft_stripes_lock_all(pool, FT_LAYOUT_STRIPES, stripes)) == 0)
		ft_report_unknown_pool(pool);
	*total = 0;
	for (int i = 0; i < n; i++)
		*total = ft_add_sats(*total, (*stripes)[i].balance_sats, "pool balance");
	return n;
}

/* Take `amount` sats from the locked stripes, in their order: entries of `kind`. */
static void
take_from_stripes(FtStripe *stripes, int n, int64 amount, const char *kind,
				  const char *ref, TimestampTz now)
{
	for (int i = 0; i < n && amount > 0; i++)
	{
		int64		part = Min(amount, stripes[i].balance_sats);

		if (part > 0)
			ft_stripe_append(&stripes[i], FT_LAYOUT_STRIPES, kind, -part, NULL, ref, now);
		amount -= part;
	}
}

PG_FUNCTION_INFO_V1(freetier_adjust_pool);

/*
 * freetier_adjust_pool(pool text, delta_sats bigint, reason text, ref text)
 *	 RETURNS bigint
 *
 * Top a pool up (delta_sats > 0: an 'adjust' entry on the stripe a credit
 * would take) or write it down (delta_sats < 0: 'adjust' entries on the
 * stripes it takes from); returns the pool's balance after.  A write-down
 * past the balance, holds not counted, is 55000.
 */
Datum
freetier_adjust_pool(PG_FUNCTION_ARGS)
{
	Correction	c = {.kind = "adjust"};
	int64		delta;
	FtStripe   *stripes;
	int			n = 1;
	int64		total = 0;
	int64		result;
	Datum		args[1];

	c.target = ft_text_arg(fcinfo, 0, "pool", true);
	ft_check_not_null(fcinfo, 1, "delta_sats");
	delta = PG_GETARG_INT64(1);
	c.reason = ft_nonempty_text_arg(fcinfo, 2, "reason", "A correction");
	c.ref = ft_nonempty_text_arg(fcinfo, 3, "ref", "A correction");
	if (delta == 0 || delta == PG_INT64_MIN)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("delta_sats must not be %s", delta == 0 ? "zero" : "the smallest bigint"),
				 errdetail("delta_sats is the sats added to the pool, or taken from it when negative.")));
	c.has_amount = true;
	c.amount = delta;
	c.now = ft_now();

	ft_connect(FT_LOCKING);
	if (delta > 0)
	{
		stripes = palloc(sizeof(FtStripe));
		ft_stripe_lock_emptiest(c.target, stripes);
	}
	else
		n = lock_to_take(c.target, -delta, c.now, &stripes, &total);
	if (replayed(&c, &result))
	{
		SPI_finish();
		PG_RETURN_INT64(result);
	}

	if (delta < 0 && total < -delta)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("pool \"%s\" holds " INT64_FORMAT " sats, less than the write-down of "
						INT64_FORMAT, c.target, total, -delta),
				 errdetail("A pool's balance never goes below zero; sats on holds are not part of it.")));
	if (delta > 0)
		ft_pool_check_room(c.target, delta);	/* as a credit */
	args[0] = CStringGetTextDatum(c.target);
	ft_execute(&pool_balance, args, NULL);
	result = ft_add_sats(ft_column_int64(0, 1), delta, "pool balance");
	if (claimed(&c, &result))
	{
		if (delta > 0)
			ft_stripe_append(stripes, FT_LAYOUT_STRIPES, "adjust", delta, NULL, c.ref, c.now);
		else
			take_from_stripes(stripes, n, -delta, "adjust", c.ref, c.now);
	}
	SPI_finish();
	PG_RETURN_INT64(result);
}

PG_FUNCTION_INFO_V1(freetier_reverse_credit);

/*
 * freetier_reverse_credit(payment_ref text, reason text) RETURNS bigint
 *
 * A chargeback: take what freetier_credit added for payment_ref back out
 * of its pool ('reversal' entries on the stripes it takes from).  What the
 * pool does not hold now (sats on holds are not taken) it owes: an 'owed'
 * entry on stripe 0, repaid first by the pool's next credits.  Returns the
 * sats taken now.
 */
Datum
freetier_reverse_credit(PG_FUNCTION_ARGS)
{
	Correction	c = {.kind = "reversal"};
	Datum		args[1];
	int64		credited;
	FtStripe   *stripes;
	int			n;
	int64		total = 0;
	int64		taken;

	c.ref = ft_nonempty_text_arg(fcinfo, 0, "payment_ref", "A correction");
	c.reason = ft_nonempty_text_arg(fcinfo, 1, "reason", "A correction");
	c.now = ft_now();

	ft_connect(FT_LOCKING);
	args[0] = CStringGetTextDatum(c.ref);
	if (ft_execute(&credited_payment, args, NULL) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("payment_ref \"%s\" was never credited", c.ref),
				 errdetail("A reversal takes back what freetier_credit added for a payment_ref.")));
	c.target = ft_column_text(0, 1);
	credited = ft_column_int64(0, 2);

	n = lock_to_take(c.target, credited, c.now, &stripes, &total);
	if (replayed(&c, &taken))
	{
		SPI_finish();
		PG_RETURN_INT64(taken);
	}
	taken = Min(credited, total);
	if (claimed(&c, &taken))
	{
		take_from_stripes(stripes, n, taken, "reversal", c.ref, c.now);
		if (credited > taken)
		{
			/* one stripe is locked only when it held enough: here all are */
			Assert(stripes[0].stripe == 0);
			ft_pool_owed_append(&stripes[0], "owed", credited - taken, c.ref, c.now);
		}
	}
	SPI_finish();
	PG_RETURN_INT64(taken);
}

PG_FUNCTION_INFO_V1(freetier_refund_credits);

/*
 * freetier_refund_credits(subject text, ref text, reason text) RETURNS bigint
 *
 * Take the credits that freetier_add_credits added with `ref` back out of
 * the subject's purchased balance, never below what its live holds keep
 * (a 'refund' entry); returns the credits taken back.
 */
Datum
freetier_refund_credits(PG_FUNCTION_ARGS)
{
	Correction	c = {.kind = "refund"};
	Datum		args[1];
	FtAccount	a;
	char	   *added_to;
	int64		added;
	int64		taken;

	c.target = ft_text_arg(fcinfo, 0, "subject", true);
	ft_check_subject(c.target);
	c.ref = ft_nonempty_text_arg(fcinfo, 1, "ref", "A correction");
	c.reason = ft_nonempty_text_arg(fcinfo, 2, "reason", "A correction");
	c.now = ft_now();

	ft_connect(FT_LOCKING);
	ft_account_require(c.target, c.now, &a);
	args[0] = CStringGetTextDatum(c.ref);
	if (ft_execute(&added_credits, args, NULL) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("ref \"%s\" added no credits", c.ref),
				 errdetail("A refund takes back what freetier_add_credits added with a ref.")));
	added_to = ft_column_text(0, 1);
	added = ft_column_int64(0, 2);
	if (strcmp(added_to, c.target) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("ref \"%s\" added credits to another account", c.ref),
				 errdetail("It added them to \"%s\".", added_to)));
	if (replayed(&c, &taken))
	{
		SPI_finish();
		PG_RETURN_INT64(taken);
	}
	taken = Min(added, ft_account_purchased_left(&a));
	if (claimed(&c, &taken) && taken > 0)
	{
		ft_account_take_purchased(&a, "refund", taken, c.ref);
		ft_account_save(&a);
	}
	SPI_finish();
	PG_RETURN_INT64(taken);
}
