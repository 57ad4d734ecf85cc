/*-------------------------------------------------------------------------
 *
 * pool.c
 *	  The only code that moves a pool's balance; freetier_create_pool.
 *
 * A pool's balance is spread over stripes: rows of freetier.pool_stripes,
 * each with its own balance and its own hash chain in freetier.ledger, so
 * that concurrent requests lock different rows.  The pool's balance is the
 * sum of its stripes'.  The first pools.stripes of them are active: decides
 * and credits use those.  A stripe past that number (the pool was
 * narrowed) keeps taking the returns of its holds, and gives what it has to
 * the decides that lock every stripe.
 *
 * A caller locks a stripe, then appends movements to it: each append writes
 * one ledger entry and the stripe's new balance and chain head in a single
 * statement, so at every commit a stripe's balance is the sum of its
 * chain's entries.  The stripe's row lock serialises appends to its chain.
 *
 * Lock order among stripes: a caller that waits for stripes locks them in
 * ascending stripe order (ft_stripes_lock_all; decide's wait for one stripe
 * holds 0 .. k while it waits for k + 1), or locks one stripe only
 * (ft_stripe_lock, ft_stripe_lock_for_return).  ft_stripe_pick,
 * ft_stripe_try_lock and the emptiest-stripe pick never wait (SKIP LOCKED),
 * so they can close no cycle.
 *
 * Up to 0.2.1 a pool's balance and chain were in its pools row: one stripe,
 * number 0, whose ledger entries had no stripe column.  That SQL keeps
 * working on this library until ALTER EXTENSION UPDATE: its entry points
 * pass FT_LAYOUT_POOL_ROW, and each statement whose text depends on the
 * layout is a pair indexed by it.
 *
 *-------------------------------------------------------------------------
 */
#include "freetier.h"

#include "catalog/pg_type.h"
#include "commands/extension.h"
#include "fmgr.h"
#include "common/hashfn.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"

static FtStatement pool_settings[2] = {
	{"SELECT 1, hold_ttl, 0::bigint FROM freetier.pools WHERE pool OPERATOR(pg_catalog.=) $1",
	1, {TEXTOID}, NULL},
	{"SELECT stripes, hold_ttl, 0::bigint FROM freetier.pools"
		" WHERE pool OPERATOR(pg_catalog.=) $1",
	1, {TEXTOID}, NULL}
};
/* From 0.4 on, with the low-water mark. */
static FtStatement pool_settings_marks = {
	"SELECT stripes, hold_ttl, low_water_sats FROM freetier.pools"
	" WHERE pool OPERATOR(pg_catalog.=) $1",
	1, {TEXTOID}, NULL
};

/* Every stripe of pool $1, or stripe $2 alone: stripe, balance, head. */
#define LOCK_ALL_ROW \
	"SELECT 0, balance_sats, head_seq, head_hash FROM freetier.pools" \
	" WHERE pool OPERATOR(pg_catalog.=) $1 FOR NO KEY UPDATE"
#define LOCK_ALL_STRIPES \
	"SELECT stripe, balance_sats, head_seq, head_hash FROM freetier.pool_stripes" \
	" WHERE pool OPERATOR(pg_catalog.=) $1"
#define LOCK_ONE_STRIPE \
	LOCK_ALL_STRIPES " AND stripe OPERATOR(pg_catalog.=) $2 FOR NO KEY UPDATE"

static FtStatement lock_all[2] = {
	{LOCK_ALL_ROW, 1, {TEXTOID}, NULL},
	{LOCK_ALL_STRIPES " ORDER BY stripe FOR NO KEY UPDATE", 1, {TEXTOID}, NULL}
};
static FtStatement lock_one[2] = {
	{LOCK_ALL_ROW, 1, {TEXTOID}, NULL},
	{LOCK_ONE_STRIPE, 2, {TEXTOID, INT4OID}, NULL}
};
static FtStatement try_lock_one[2] = {
	{LOCK_ALL_ROW " SKIP LOCKED", 1, {TEXTOID}, NULL},
	{LOCK_ONE_STRIPE " SKIP LOCKED", 2, {TEXTOID, INT4OID}, NULL}
};

/*
 * decide's pick: the first active stripe of pool $1, in the order that
 * starts at stripe $3 mod the active count, that has at least $2 sats and
 * that nobody else has locked; with the pool's settings.  Whether the
 * stripe has holds past their TTL is read afterwards (stripe_has_expired).
 *
 * From 0.4 on (pick_stripe[1]) the stripe must keep at least one sat, so
 * that only a decide that has locked every stripe can take a pool's last
 * sat and knows that it ran dry; and when taking $2 leaves the stripe at
 * or below the pool's low-water mark, ft_stripe_pick then reads the other
 * stripes' sum (ft_stripes_others_sum), as wait_for_stripe does, for the
 * mark's line (log_lines.c).  Above the mark it reads nothing more.
 */
#define PICK_STRIPE(marks, enough) \
	"SELECT s.stripe, s.balance_sats, s.head_seq, s.head_hash, p.hold_ttl, p.stripes," \
	marks \
	" FROM freetier.pools p JOIN freetier.pool_stripes s ON s.pool OPERATOR(pg_catalog.=) p.pool" \
	" WHERE p.pool OPERATOR(pg_catalog.=) $1 AND s.stripe OPERATOR(pg_catalog.<) p.stripes" \
	"   AND s.balance_sats " enough " $2" \
	" ORDER BY (s.stripe OPERATOR(pg_catalog.+) p.stripes OPERATOR(pg_catalog.-)" \
	"   $3 OPERATOR(pg_catalog.%) p.stripes) OPERATOR(pg_catalog.%) p.stripes" \
	" LIMIT 1 FOR NO KEY UPDATE OF s SKIP LOCKED"

static FtStatement pick_stripe[2] = {
	{PICK_STRIPE(" 0::bigint", "OPERATOR(pg_catalog.>=)"),
	3, {TEXTOID, INT8OID, INT4OID}, NULL},
	{PICK_STRIPE(" p.low_water_sats", "OPERATOR(pg_catalog.>)"),
	3, {TEXTOID, INT8OID, INT4OID}, NULL}
};

static FtStatement append[2] = {
	{"WITH entry AS ("
		" INSERT INTO freetier.ledger (pool, seq, kind, delta_sats, balance_after,"
		"  hold_id, payment_ref, created_at, prev_hash, hash)"
		" VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $10, $11))"
		" UPDATE freetier.pools SET balance_sats = $5, head_seq = $2, head_hash = $11"
		" WHERE pool OPERATOR(pg_catalog.=) $1",
		FT_STRIPE_APPEND_ARGS, {FT_STRIPE_APPEND_TYPES}, NULL},
	{"WITH " FT_STRIPE_APPEND_CTES " SELECT 1",
	FT_STRIPE_APPEND_ARGS, {FT_STRIPE_APPEND_TYPES}, NULL}
};

/* 42704: no such pool. */
void
ft_report_unknown_pool(const char *pool)
{
	ereport(ERROR,
			(errcode(ERRCODE_UNDEFINED_OBJECT),
			 errmsg("pool \"%s\" does not exist", pool),
			 errdetail("Pools are created with freetier_create_pool.")));
}

/* A pool's settings, or 42704; marks: the SQL is 0.4's, which has the low-water mark. */
void
ft_pool_settings(const char *pool, FtLayout layout, bool marks, FtPoolSettings *ps)
{
	Datum		args[1] = {CStringGetTextDatum(pool)};
	bool		isnull;

	if (ft_execute(marks ? &pool_settings_marks : &pool_settings[layout], args, NULL) == 0)
		ft_report_unknown_pool(pool);
	ps->stripes = DatumGetInt32(ft_column(0, 1, &isnull));
	ps->hold_ttl = *DatumGetIntervalP(ft_column(0, 2, &isnull));
	ps->low_water_sats = ft_column_int64(0, 3);
}

static FtStatement pool_max_hold_ttl = {
	"SELECT max_hold_ttl FROM freetier.pools WHERE pool OPERATOR(pg_catalog.=) $1",
	1, {TEXTOID}, NULL
};

/*
 * 22023 unless a hold of `pool` may live for ttl (checked argument
 * `argname`): at most the pool's max_hold_ttl.  42704 when there is no such pool.
 */
void
ft_pool_check_hold_ttl(const char *pool, const Interval *ttl, const char *argname)
{
	Datum		args[1] = {CStringGetTextDatum(pool)};
	bool		isnull;
	Datum		max;

	if (ft_execute(&pool_max_hold_ttl, args, NULL) == 0)
		ft_report_unknown_pool(pool);
	max = ft_column(0, 1, &isnull);
	ft_check_hold_ttl_bound(ttl, argname, DatumGetIntervalP(max),
							psprintf("pool \"%s\"", pool));
}

/* Row `row` of the last result (stripe, balance, head_seq, head_hash) into s. */
static void
stripe_from_row(const char *pool, int row, FtStripe *s)
{
	bool		isnull;

	s->pool = pstrdup(pool);
	s->stripe = DatumGetInt32(ft_column(row, 1, &isnull));
	s->balance_sats = ft_column_int64(row, 2);
	ft_chain_head_read(&s->head, ft_column_int64(row, 3), ft_column(row, 4, &isnull));
}

/*
 * Where a subject's requests start among a pool's stripes: a hash of the
 * subject, so that concurrent requests from different subjects spread, and
 * the same request always takes the same way.
 */
int
ft_stripe_start(const char *subject)
{
	return (int) (hash_bytes((const unsigned char *) subject, strlen(subject)) & 0x7fffffff);
}

/*
 * Whether the locked stripe `stripe` of `pool` has holds past their TTL at
 * `now`, read through holds_held_by_expiry down to its (pool, stripe)
 * range, with the snapshot the call's next statement would take.  As a
 * column of the pick, this was planned as one scan of every expired entry
 * of the index, settled holds' dead entries too: each decide read the
 * whole index until VACUUM came.
 */
static bool
stripe_has_expired(const char *pool, int stripe, TimestampTz now)
{
	FtIndexKey	keys[3] = {
		{1, BTEqualStrategyNumber, F_TEXTEQ, CStringGetTextDatum(pool)},
		{2, BTEqualStrategyNumber, F_INT4EQ, Int32GetDatum(stripe)},
		{3, BTLessEqualStrategyNumber, F_TIMESTAMPTZ_LE, TimestampTzGetDatum(now)}
	};
	bool		found;

	ft_push_read_snapshot();
	found = ft_index_has_row(&ft_holds, &ft_holds_held_by_expiry, keys, 3);
	ft_pop_read_snapshot();
	return found;
}

/*
 * Lock, without waiting, an active stripe of `pool` that holds at least
 * `need` sats, trying them from stripe `start` (mod the active number) on.  False when
 * there is none: every such stripe is locked by others, or none holds that
 * much (or the pool does not exist).  Sets *has_expired when the stripe has
 * holds past their TTL; ps gets the pool's settings.  With marks (0.4's
 * SQL) the stripe keeps at least one sat, and *others is the other
 * stripes' sum as last committed when taking `need` would leave the stripe
 * at or below the low-water mark, else -1.
 */
bool
ft_stripe_pick(const char *pool, int64 need, int start, TimestampTz now, bool marks,
			   FtStripe *s, FtPoolSettings *ps, bool *has_expired, int64 *others)
{
	Datum		args[3];
	bool		isnull;

	args[0] = CStringGetTextDatum(pool);
	args[1] = Int64GetDatum(need);
	args[2] = Int32GetDatum(start);
	if (ft_execute(&pick_stripe[marks], args, NULL) == 0)
		return false;
	stripe_from_row(pool, 0, s);
	ps->hold_ttl = *DatumGetIntervalP(ft_column(0, 5, &isnull));
	ps->stripes = DatumGetInt32(ft_column(0, 6, &isnull));
	ps->low_water_sats = ft_column_int64(0, 7);
	*others = marks && s->balance_sats - need <= ps->low_water_sats ?
		ft_stripes_others_sum(pool, s->stripe) : -1;
	*has_expired = stripe_has_expired(pool, s->stripe, now);
	return true;
}

/*
 * Lock every stripe of `pool`, in ascending order, waiting for each; the
 * stripes, palloc'd, in *stripes.  Returns how many: 0 when there is no
 * such pool.
 */
int
ft_stripes_lock_all(const char *pool, FtLayout layout, FtStripe **stripes)
{
	Datum		args[1] = {CStringGetTextDatum(pool)};
	int			n = ft_execute(&lock_all[layout], args, NULL);

	*stripes = palloc(sizeof(FtStripe) * Max(n, 1));
	for (int i = 0; i < n; i++)
		stripe_from_row(pool, i, &(*stripes)[i]);
	return n;
}

/* Lock stripe `stripe` of `pool`, waiting; 42704 when there is none. */
void
ft_stripe_lock(const char *pool, int stripe, FtLayout layout, FtStripe *s)
{
	Datum		args[2] = {CStringGetTextDatum(pool), Int32GetDatum(stripe)};

	if (ft_execute(&lock_one[layout], args, NULL) == 0)
		ft_report_unknown_pool(pool);
	stripe_from_row(pool, 0, s);
}

/* Lock stripe `stripe` of `pool` unless another transaction has it; false then. */
bool
ft_stripe_try_lock(const char *pool, int stripe, FtLayout layout, FtStripe *s)
{
	Datum		args[2] = {CStringGetTextDatum(pool), Int32GetDatum(stripe)};

	if (ft_execute(&try_lock_one[layout], args, NULL) == 0)
		return false;
	stripe_from_row(pool, 0, s);
	return true;
}

/*
 * The ledger entry of locked stripe s that moves one of its balances from
 * `before` by delta_sats, as the parameters of FT_STRIPE_APPEND_CTES; *head
 * the stripe's chain head once it is written.  A balance below zero is a
 * bug in the caller, never a user error.  Stripe 0 hashes as a pool's one
 * chain always has; other stripes hash their number too, under their own
 * domain tag.
 */
static int64
entry_args(const FtStripe *s, int64 before, const char *what, const char *kind,
		   int64 delta_sats, const pg_uuid_t *hold_id, const char *payment_ref,
		   TimestampTz at, Datum *args, char *nulls, FtChainHead *head)
{
	int64		balance_after = ft_add_sats(before, delta_sats, what);
	FtField		fields[9];
	int			nfields = s->stripe == 0 ? 8 : 9;

	if (balance_after < 0)
		elog(ERROR, "freetier: %s of stripe %d of pool \"%s\" would go negative ("
			 INT64_FORMAT " + " INT64_FORMAT ")", what, s->stripe, s->pool, before,
			 delta_sats);

	fields[0] = ft_text_field(s->pool);
	/* fields[1], the seq, is set by ft_chain_next */
	fields[2] = ft_text_field(kind);
	fields[3] = ft_int64_field(delta_sats);
	fields[4] = ft_int64_field(balance_after);
	fields[5] = ft_uuid_field(hold_id);
	fields[6] = ft_text_field(payment_ref);
	fields[7] = ft_int64_field(at);
	fields[8] = ft_int64_field(s->stripe);
	ft_chain_next(&s->head, nfields == 8 ? FT_POOL_CHAIN : FT_STRIPE_CHAIN,
				  fields, nfields, head);

	for (int i = 0; i < 8; i++)
		ft_field_arg(&fields[i], &args[i], &nulls[i]);
	args[8] = Int32GetDatum(s->stripe);
	args[9] = ft_hash_datum(s->head.hash);
	args[10] = ft_hash_datum(head->hash);
	nulls[8] = nulls[9] = nulls[10] = ' ';
	return balance_after;
}

/*
 * The ledger entry that moves locked stripe s's balance by delta_sats, as
 * the parameters of FT_STRIPE_APPEND_CTES; *after is s once it is written.
 */
void
ft_stripe_entry_args(const FtStripe *s, const char *kind, int64 delta_sats,
					 const pg_uuid_t *hold_id, const char *payment_ref, TimestampTz at,
					 Datum *args, char *nulls, FtStripe *after)
{
	*after = *s;
	after->balance_sats = entry_args(s, s->balance_sats, "pool balance", kind, delta_sats,
									 hold_id, payment_ref, at, args, nulls, &after->head);
}

/* Move locked stripe s by delta_sats and append the ledger entry. */
void
ft_stripe_append(FtStripe *s, FtLayout layout, const char *kind, int64 delta_sats,
				 const pg_uuid_t *hold_id, const char *payment_ref, TimestampTz at)
{
	Datum		args[FT_STRIPE_APPEND_ARGS];
	char		nulls[FT_STRIPE_APPEND_ARGS];
	FtStripe	after;

	ft_stripe_entry_args(s, kind, delta_sats, hold_id, payment_ref, at, args, nulls,
						 &after);
	ft_execute(&append[layout], args, nulls);
	*s = after;
}

/*
 * What a pool owes (0.4): sats that reversed credits could not take back,
 * kept on its stripe 0 in pool_stripes.owed_sats and moved by entries of
 * kind 'owed' (more owed) and 'repay' (less), whose balance_after is the
 * sats owed after them.  Later credits repay it first (pool_credit.c).
 */
static FtStatement read_owed = {
	"SELECT owed_sats FROM freetier.pool_stripes"
	" WHERE pool OPERATOR(pg_catalog.=) $1 AND stripe OPERATOR(pg_catalog.=) 0",
	1, {TEXTOID}, NULL
};

static FtStatement append_owed = {
	"WITH entry AS (INSERT INTO freetier.ledger (pool, seq, kind, delta_sats, balance_after,"
	"  hold_id, payment_ref, created_at, stripe, prev_hash, hash)"
	"  VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11))"
	" UPDATE freetier.pool_stripes SET owed_sats = $5, head_seq = $2, head_hash = $11"
	" WHERE pool OPERATOR(pg_catalog.=) $1 AND stripe OPERATOR(pg_catalog.=) $9",
	FT_STRIPE_APPEND_ARGS, {FT_STRIPE_APPEND_TYPES}, NULL
};

/*
 * The sats pool owes, as committed (or as this transaction wrote them);
 * exact only while its stripe 0 is locked.  0 for a pool that does not
 * exist.
 */
int64
ft_pool_owed(const char *pool)
{
	Datum		args[1] = {CStringGetTextDatum(pool)};

	return ft_execute(&read_owed, args, NULL) == 0 ? 0 : ft_column_int64(0, 1);
}

/* Move what the pool of locked stripe 0 s owes by delta_sats: an entry of `kind`. */
void
ft_pool_owed_append(FtStripe *s, const char *kind, int64 delta_sats,
					const char *payment_ref, TimestampTz at)
{
	Datum		args[FT_STRIPE_APPEND_ARGS];
	char		nulls[FT_STRIPE_APPEND_ARGS];
	FtChainHead head;

	Assert(s->stripe == 0);
	(void) entry_args(s, ft_pool_owed(s->pool), "sats owed", kind, delta_sats, NULL,
					  payment_ref, at, args, nulls, &head);
	ft_execute(&append_owed, args, nulls);
	s->head = head;
}

/*
 * A pool's settings in its chain (0.4): credit_pct, hold_ttl and
 * max_hold_ttl move money (what a credit adds, how long a hold keeps sats
 * from the pool), so every change of them is a 'settings' entry on the
 * pool's stripe 0, moving nothing, whose payment_ref (hashed like every
 * field) is the pools row's new values as jsonb text.  A chain with no
 * such entry has the defaults, FT_POOL_DEFAULT_SETTINGS: a pool created
 * with them (the install's 'default' too) needs none.  Only the setters
 * write one (create_pool, configure_pool; the 0.4 upgrade through
 * chain_pool_settings); verify.c compares the pools row with the latest
 * (FT_CHAINED_POOL_SETTINGS), and a checkpoint on stripe 0 carries that
 * latest on (ledger_archive.c).
 */
static FtStatement row_settings = {
	"SELECT " FT_POOL_SETTINGS_JSON("p.") ","
	" " FT_POOL_SETTINGS_MATCH("c.settings", "p.")
	" FROM freetier.pools p, LATERAL (SELECT " FT_POOL_CHAINED_JSONB("p.pool") " AS settings) c"
	" WHERE p.pool OPERATOR(pg_catalog.=) $1",
	1, {TEXTOID}, NULL
};

static FtStatement chained_settings = {
	"SELECT " FT_CHAINED_POOL_SETTINGS("$1"),
	1, {TEXTOID}, NULL
};

/*
 * Chain the pools row's settings: a 'settings' entry on locked stripe 0
 * unless they are the chained ones already.
 */
void
ft_pool_settings_chain(FtStripe *stripe0, TimestampTz at)
{
	Datum		args[1] = {CStringGetTextDatum(stripe0->pool)};
	bool		isnull;

	Assert(stripe0->stripe == 0);
	if (ft_execute(&row_settings, args, NULL) == 0)
		ft_report_unknown_pool(stripe0->pool);
	if (!DatumGetBool(ft_column(0, 2, &isnull)))
		ft_stripe_append(stripe0, FT_LAYOUT_STRIPES, "settings", 0, NULL,
						 ft_column_text(0, 1), at);
}

PG_FUNCTION_INFO_V1(freetier_chain_pool_settings);

/*
 * freetier.chain_pool_settings(pool text) RETURNS void: chain the pool's
 * stored settings, for the 0.4 upgrade to bring the pools of 0.3 under
 * their chains (whatever 0.3 let them be).
 */
Datum
freetier_chain_pool_settings(PG_FUNCTION_ARGS)
{
	char	   *pool = ft_text_arg(fcinfo, 0, "pool", true);
	FtStripe	stripe0;

	ft_connect(FT_LOCKING);
	ft_stripe_lock(pool, 0, FT_LAYOUT_STRIPES, &stripe0);
	ft_pool_settings_chain(&stripe0, ft_now());
	SPI_finish();
	PG_RETURN_VOID();
}

/* The pool's latest chained settings, NULL for the defaults; exact while stripe 0 is locked. */
char *
ft_pool_chained_settings(const char *pool)
{
	Datum		args[1] = {CStringGetTextDatum(pool)};
	bool		isnull;

	ft_execute(&chained_settings, args, NULL);
	(void) ft_column(0, 1, &isnull);
	return isnull ? NULL : ft_column_text(0, 1);
}

/* The active stripe with the fewest sats that nobody else has locked. */
static FtStatement pick_emptiest = {
	"SELECT s.stripe, s.balance_sats, s.head_seq, s.head_hash"
	" FROM freetier.pools p JOIN freetier.pool_stripes s ON s.pool OPERATOR(pg_catalog.=) p.pool"
	" WHERE p.pool OPERATOR(pg_catalog.=) $1 AND s.stripe OPERATOR(pg_catalog.<) p.stripes"
	" ORDER BY s.balance_sats, s.stripe LIMIT 1 FOR NO KEY UPDATE OF s SKIP LOCKED",
	1, {TEXTOID}, NULL
};

/*
 * Lock the stripe of `pool` that money coming in goes to: the active one
 * with the fewest sats that nobody else has locked, else stripe 0, waiting
 * (42704 when there is no such pool).
 */
void
ft_stripe_lock_emptiest(const char *pool, FtStripe *s)
{
	Datum		args[1] = {CStringGetTextDatum(pool)};

	if (ft_execute(&pick_emptiest, args, NULL) == 1)
		stripe_from_row(pool, 0, s);
	else
		ft_stripe_lock(pool, 0, FT_LAYOUT_STRIPES, s);
}

static FtStatement others_sum = {
	"SELECT coalesce(pg_catalog.sum(balance_sats), 0)::bigint FROM freetier.pool_stripes"
	" WHERE pool OPERATOR(pg_catalog.=) $1 AND stripe OPERATOR(pg_catalog.<>) $2",
	2, {TEXTOID, INT4OID}, NULL
};

/* The sum of the stripes of `pool` other than `stripe`, as last committed. */
int64
ft_stripes_others_sum(const char *pool, int stripe)
{
	Datum		args[2] = {CStringGetTextDatum(pool), Int32GetDatum(stripe)};

	ft_execute(&others_sum, args, NULL);
	return ft_column_int64(0, 1);
}

static FtStatement pool_room = {
	"SELECT " FT_SATURATED("(SELECT pg_catalog.sum(s.balance_sats) FROM freetier.pool_stripes s"
						   " WHERE s.pool OPERATOR(pg_catalog.=) $1)") ","
	" " FT_SATURATED("(SELECT pg_catalog.sum(h.held_sats) FROM freetier.holds h"
					 " WHERE h.pool OPERATOR(pg_catalog.=) $1"
					 "   AND h.state OPERATOR(pg_catalog.=) 'held')"),
	1, {TEXTOID}, NULL
};

/*
 * 22003 unless `pool`'s balance, with every sat on its live holds back and
 * `adding` more, fits in a bigint: for money coming in (a credit, a
 * top-up).  A hold's sats may come back to any stripe
 * (ft_stripe_lock_for_return), and no stripe holds more than the pool, so
 * a return then fits whichever stripe takes it.  The stripes the caller
 * has not locked are read as last committed.
 */
void
ft_pool_check_room(const char *pool, int64 adding)
{
	Datum		args[1] = {CStringGetTextDatum(pool)};

	ft_execute(&pool_room, args, NULL);
	(void) ft_add_sats(ft_add_sats(ft_column_int64(0, 1), ft_column_int64(0, 2), "pool balance"),
					   adding, "pool balance");
}

/*
 * Lock the stripe of `pool` that a hold on stripe `stripe` gives back to:
 * its own when nobody else has it locked, else the active stripe with the
 * fewest sats that nobody has locked, else its own, waiting.  A return is
 * money coming in, so any stripe may take it; not waiting for the hold's
 * own stripe keeps a settle from queueing behind the decide that locked it
 * (the pool's balance, the sum of its stripes, is the same either way).
 */
void
ft_stripe_lock_for_return(const char *pool, int stripe, FtLayout layout, FtStripe *s)
{
	Datum		args[1] = {CStringGetTextDatum(pool)};

	if (layout == FT_LAYOUT_POOL_ROW)
		ft_stripe_lock(pool, stripe, layout, s);
	else if (ft_stripe_try_lock(pool, stripe, layout, s))
		return;
	else if (ft_execute(&pick_emptiest, args, NULL) == 1)
		stripe_from_row(pool, 0, s);
	else
		ft_stripe_lock(pool, stripe, layout, s);
}

static FtStatement insert_pool[2] = {
	{"INSERT INTO freetier.pools (pool, balance_sats, credit_pct, hold_ttl)"
		" VALUES ($1, 0, $2, $3) ON CONFLICT (pool) DO NOTHING RETURNING 1",
	3, {TEXTOID, NUMERICOID, INTERVALOID}, NULL},
	{"WITH p AS (INSERT INTO freetier.pools (pool, credit_pct, hold_ttl, stripes)"
		" VALUES ($1, $2, $3, $4) ON CONFLICT (pool) DO NOTHING RETURNING pool)"
		" INSERT INTO freetier.pool_stripes (pool, stripe, balance_sats)"
		" SELECT p.pool, s, 0 FROM p, pg_catalog.generate_series(0, $4 OPERATOR(pg_catalog.-) 1) s"
		" RETURNING 1",
	4, {TEXTOID, NUMERICOID, INTERVALOID, INT4OID}, NULL}
};

/* The same from 0.4 on, with max_hold_ttl ($5) and low_water_sats ($6). */
static FtStatement insert_pool_v4 = {
	"WITH p AS (INSERT INTO freetier.pools (pool, credit_pct, hold_ttl, stripes, max_hold_ttl,"
	"  low_water_sats)"
	" VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (pool) DO NOTHING RETURNING pool)"
	" INSERT INTO freetier.pool_stripes (pool, stripe, balance_sats)"
	" SELECT p.pool, s, 0 FROM p, pg_catalog.generate_series(0, $4 OPERATOR(pg_catalog.-) 1) s"
	" RETURNING 1",
	6, {TEXTOID, NUMERICOID, INTERVALOID, INT4OID, INTERVALOID, INT8OID}, NULL
};

/*
 * freetier_create_pool(pool text, initial_sats bigint DEFAULT 0,
 *		credit_pct numeric DEFAULT 10, hold_ttl interval DEFAULT '15 minutes'
 *		[, stripes int DEFAULT 16 [, max_hold_ttl interval DEFAULT '30 days',
 *		low_water_sats bigint DEFAULT 0]])
 *	 RETURNS void
 *
 * A new pool's stripes each start their chain with a 'seed' entry, the
 * initial sats split evenly (stripe 0 takes what does not divide).  A pool
 * created by the extension's own script is dated -infinity: those entries
 * are then the same in every install, so pg_dump leaves them out and a
 * restored chain continues from the ones CREATE EXTENSION makes again.
 * From 0.4's SQL on, settings other than the defaults are chained: a
 * 'settings' entry on stripe 0 follows the seeds.
 */
static void
create_pool(FunctionCallInfo fcinfo, FtLayout layout)
{
	char	   *name = ft_text_arg(fcinfo, 0, "pool", true);
	int64		initial;
	Datum		pct;
	Interval   *ttl;
	int			stripes = 1;
	Interval   *max_ttl = NULL;
	int64		low_water = 0;
	Datum		args[6];
	FtStripe   *all;
	int			n;
	TimestampTz at = creating_extension ? DT_NOBEGIN : ft_now();

	ft_check_not_null(fcinfo, 1, "initial_sats");
	initial = PG_GETARG_INT64(1);
	ft_check_sats("initial_sats", initial);
	ft_check_not_null(fcinfo, 2, "credit_pct");
	pct = PG_GETARG_DATUM(2);
	ft_check_not_null(fcinfo, 3, "hold_ttl");
	ttl = PG_GETARG_INTERVAL_P(3);
	if (layout == FT_LAYOUT_STRIPES)
	{
		ft_check_not_null(fcinfo, 4, "stripes");
		stripes = PG_GETARG_INT32(4);
		ft_check_stripes(stripes);
	}
	/* 0.4's SQL passes max_hold_ttl; 0.3's pools have no such column */
	if (PG_NARGS() > 5)
	{
		ft_check_not_null(fcinfo, 5, "max_hold_ttl");
		max_ttl = PG_GETARG_INTERVAL_P(5);
		ft_check_ttl_arg(max_ttl, "max_hold_ttl");
	}
	if (PG_NARGS() > 6)
	{
		ft_check_not_null(fcinfo, 6, "low_water_sats");
		low_water = PG_GETARG_INT64(6);
		ft_check_low_water(low_water);
	}

	if (name[0] == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("pool must not be empty")));
	ft_check_credit_pct(pct);
	ft_check_hold_ttl(ttl);

	ft_connect(FT_LOCKING);
	args[0] = CStringGetTextDatum(name);
	args[1] = pct;
	args[2] = IntervalPGetDatum(ttl);
	args[3] = Int32GetDatum(stripes);
	args[4] = max_ttl ? IntervalPGetDatum(max_ttl) : (Datum) 0;
	args[5] = Int64GetDatum(low_water);
	if (ft_execute(max_ttl ? &insert_pool_v4 : &insert_pool[layout], args, NULL) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_DUPLICATE_OBJECT),
				 errmsg("pool \"%s\" already exists", name)));
	n = ft_stripes_lock_all(name, layout, &all);
	for (int i = 0; i < n; i++)
		ft_stripe_append(&all[i], layout, "seed",
						 initial / n + (i == 0 ? initial % n : 0), NULL, NULL, at);
	/* 0.4's SQL: the settings are chained (0.3's verification knows no such entry) */
	if (max_ttl)
		ft_pool_settings_chain(&all[0], at);
	SPI_finish();
}

PG_FUNCTION_INFO_V1(freetier_create_pool);

/* freetier_create_pool of 0.1 to 0.2.1: one chain in the pools row. */
Datum
freetier_create_pool(PG_FUNCTION_ARGS)
{
	create_pool(fcinfo, FT_LAYOUT_POOL_ROW);
	PG_RETURN_VOID();
}

PG_FUNCTION_INFO_V1(freetier_create_pool_v3);

/* freetier_create_pool from 0.3 on: striped. */
Datum
freetier_create_pool_v3(PG_FUNCTION_ARGS)
{
	create_pool(fcinfo, FT_LAYOUT_STRIPES);
	PG_RETURN_VOID();
}

/*
 * Even out a pool's n locked stripes (all of them), the first `active` of
 * them active: when an active stripe holds less than half its fair share,
 * or an inactive one holds anything, and a fair share would cover a
 * request of `need` sats, move sats so that every active stripe holds its
 * fair share (stripe 0 what does not divide) and no inactive one holds any:
 * a 'move' entry on each side of each transfer.  A decide that had to lock
 * every stripe calls it, so that the next ones find a stripe with enough.
 */
void
ft_stripes_even_out(FtStripe *stripes, int n, int active, int64 need, TimestampTz now)
{
	int64		total = 0;
	int64		fair;
	bool		uneven = false;
	int64	   *target = palloc(sizeof(int64) * n);
	int			give = 0;
	int			take = 0;

	for (int i = 0; i < n; i++)
		total = ft_add_sats(total, stripes[i].balance_sats, "pool balance");
	fair = total / active;
	if (fair == 0 || fair < need)
		return;
	for (int i = 0; i < n; i++)
	{
		target[i] = i >= active ? 0 : fair + (i == 0 ? total % active : 0);
		if (i >= active ? stripes[i].balance_sats > 0 : stripes[i].balance_sats < fair / 2)
			uneven = true;
	}
	if (!uneven)
		return;

	/* from each stripe above its target to each below it, in stripe order */
	for (;;)
	{
		int64		amount;

		while (give < n && stripes[give].balance_sats <= target[give])
			give++;
		while (take < n && stripes[take].balance_sats >= target[take])
			take++;
		if (give == n || take == n)
			break;
		amount = Min(stripes[give].balance_sats - target[give],
					 target[take] - stripes[take].balance_sats);
		ft_stripe_append(&stripes[give], FT_LAYOUT_STRIPES, "move", -amount, NULL, NULL, now);
		ft_stripe_append(&stripes[take], FT_LAYOUT_STRIPES, "move", amount, NULL, NULL, now);
	}
}

/*
 * 0.3's, and from 0.4 on with max_hold_ttl ($5) and low_water_sats ($6).
 * From 0.4 on a chained setting that the call does not change is taken
 * from the chain, never from the row: an edit made outside the functions
 * is put back, not chained.
 */
#define CHAINED_SETTING(name) \
	FT_POOL_CHAINED_JSONB("$1") \
	" OPERATOR(pg_catalog.->>) '" name "'"
static FtStatement configure_pool[2] = {
	{"UPDATE freetier.pools SET credit_pct = coalesce($2, credit_pct),"
		" hold_ttl = coalesce($3, hold_ttl), stripes = coalesce($4, stripes)"
		" WHERE pool OPERATOR(pg_catalog.=) $1",
	4, {TEXTOID, NUMERICOID, INTERVALOID, INT4OID}, NULL},
	{"UPDATE freetier.pools SET"
		" credit_pct = coalesce($2, (" CHAINED_SETTING("credit_pct") ")::numeric),"
		" hold_ttl = coalesce($3, (" CHAINED_SETTING("hold_ttl") ")::interval),"
		" stripes = coalesce($4, stripes),"
		" max_hold_ttl = coalesce($5, (" CHAINED_SETTING("max_hold_ttl") ")::interval),"
		" low_water_sats = coalesce($6, low_water_sats)"
		" WHERE pool OPERATOR(pg_catalog.=) $1",
	6, {TEXTOID, NUMERICOID, INTERVALOID, INT4OID, INTERVALOID, INT8OID}, NULL}
};

static FtStatement add_stripes = {
	"INSERT INTO freetier.pool_stripes (pool, stripe, balance_sats)"
	" SELECT $1, s, 0 FROM pg_catalog.generate_series(0, $2 OPERATOR(pg_catalog.-) 1) s"
	" ON CONFLICT (pool, stripe) DO NOTHING",
	2, {TEXTOID, INT4OID}, NULL
};

PG_FUNCTION_INFO_V1(freetier_configure_pool);

/*
 * freetier_configure_pool(pool text, credit_pct numeric DEFAULT NULL,
 *		hold_ttl interval DEFAULT NULL, stripes int DEFAULT NULL
 *		[, max_hold_ttl interval DEFAULT NULL, low_water_sats bigint DEFAULT NULL])
 *	 RETURNS void
 *
 * Change a pool's settings; NULL keeps a value.  Every stripe is locked
 * first, in ascending order, so that a concurrent decide or credit waits
 * and then works with the new settings.  More stripes start empty; fewer
 * leave the ones past the number inactive; the next decide that locks
 * every stripe evens them out.  A new low-water mark logs nothing: only a
 * decide that crosses it does.  A change of credit_pct, hold_ttl or
 * max_hold_ttl (0.4's SQL) appends a 'settings' entry to stripe 0.
 */
Datum
freetier_configure_pool(PG_FUNCTION_ARGS)
{
	char	   *pool = ft_text_arg(fcinfo, 0, "pool", true);
	Datum		args[6];
	char		nulls[6] = {' ', ' ', ' ', ' ', 'n', 'n'};
	FtStripe   *all;

	args[0] = CStringGetTextDatum(pool);
	args[4] = args[5] = (Datum) 0;
	for (int i = 1; i < Min(PG_NARGS(), 6); i++)
	{
		nulls[i] = PG_ARGISNULL(i) ? 'n' : ' ';
		args[i] = PG_ARGISNULL(i) ? (Datum) 0 : PG_GETARG_DATUM(i);
	}
	if (!PG_ARGISNULL(1))
		ft_check_credit_pct(args[1]);
	if (!PG_ARGISNULL(2))
		ft_check_hold_ttl(PG_GETARG_INTERVAL_P(2));
	if (!PG_ARGISNULL(3))
		ft_check_stripes(PG_GETARG_INT32(3));
	if (PG_NARGS() > 4 && !PG_ARGISNULL(4))
		ft_check_ttl_arg(PG_GETARG_INTERVAL_P(4), "max_hold_ttl");
	if (PG_NARGS() > 5 && !PG_ARGISNULL(5))
		ft_check_low_water(PG_GETARG_INT64(5));

	ft_connect(FT_LOCKING);
	if (ft_stripes_lock_all(pool, FT_LAYOUT_STRIPES, &all) == 0)
		ft_report_unknown_pool(pool);
	/* 0.4's SQL passes max_hold_ttl and low_water_sats; 0.3's pools have neither */
	ft_execute(&configure_pool[PG_NARGS() > 4], args, nulls);
	if (!PG_ARGISNULL(3))
		ft_execute(&add_stripes, (Datum[]) {args[0], args[3]}, NULL);
	/* 0.4's SQL: a change of a setting that moves money is chained */
	if (PG_NARGS() > 4)
		ft_pool_settings_chain(&all[0], ft_now());
	SPI_finish();
	PG_RETURN_VOID();
}
