/*-------------------------------------------------------------------------
 *
 * gate.c
 *	  freetier_decide and freetier_estimate.
 *
 * decide, in the caller's transaction:
 *	 1. lock the subject row (FOR NO KEY UPDATE);
 *	 2. with a new snapshot, so that it sees every hold committed by whoever
 *		held the lock before us (FT_LOCKING, spi.c), read the tier's budget
 *		and sum the subject's live holds in its window, through their
 *		indexes (read_budget_held, index_read.c);
 *	 3. lock a stripe of the pool that holds enough without waiting, else
 *		waiting for one stripe at a time in ascending order, else every
 *		stripe (decide_against_pool), and return the locked stripes'
 *		expired holds to them;
 *	 4. place the hold: hold row, the subject's window, the stripes' debit
 *		and their ledger entries (gate_hold.c).
 * Every decide that places a hold writes the subject row (last_hold_at),
 * so that under REPEATABLE READ a concurrent decide for the same subject
 * fails with a serialization error instead of missing the other's hold,
 * and so that a hold it counted as returned because its TTL had passed can
 * no longer be settled by a transaction with an earlier clock (gate_hold.c).
 *
 * With a request_key (request_key.c), decide looks the key up once the
 * subject is locked: a key that placed a hold gets that hold's answer
 * back and nothing moves; a hold placed under a new key is recorded with
 * it.  A gate answer records nothing.  Without a key none of this runs.
 *
 * estimate reads the same rows without locks, at the caller's snapshot and
 * without SQL (read_for_estimate), and counts holds past their TTL as
 * returned; it writes nothing and runs in read-only transactions and on
 * standbys.  Both read the budget and live holds with the same code and end
 * in the same decision.c arithmetic.
 *
 *-------------------------------------------------------------------------
 */
#include "freetier.h"

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "funcapi.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"

/*
 * The subject row alone: a join here would be rechecked after a lock wait
 * against the tier row of the old snapshot, and a subject whose tier just
 * changed would seem not to exist.
 */
static FtStatement lock_subject = {
	"SELECT window_start, window_settled_sats, tier FROM freetier.subjects"
	" WHERE subject OPERATOR(pg_catalog.=) $1 FOR NO KEY UPDATE",
	1, {TEXTOID}, NULL
};

/*
 * estimate's one read for the pool-row layout (a 0.1 to 0.2.1 install that
 * runs this library before its ALTER EXTENSION UPDATE): the pool's balance
 * with its holds past their TTL counted as returned; then subject $3's
 * columns as lock_subject reads them, its tier's budget, the sats on its
 * live holds in its window, and whether it exists.  No row: no such pool.
 * Striped pools are read through their indexes instead (read_for_estimate).
 */
static FtStatement read_estimate_pool_row = {
	"SELECT p.balance_sats OPERATOR(pg_catalog.+) coalesce((SELECT pg_catalog.sum(x.held_sats)"
	"   FROM freetier.holds x WHERE x.pool OPERATOR(pg_catalog.=) p.pool"
	"     AND " FT_EXPIRED_HOLD("x.", "$2") "), 0)::bigint,"
	" s.window_start, s.window_settled_sats, s.tier, t.daily_budget_sats,"
	" coalesce((SELECT pg_catalog.sum(h.held_sats) FROM freetier.holds h"
	"   WHERE h.subject OPERATOR(pg_catalog.=) s.subject"
	"     AND h.window_start OPERATOR(pg_catalog.=) s.window_start"
	"     AND " FT_LIVE_HOLD("h.", "$2") "), 0)::bigint,"
	" s.subject IS NOT NULL"
	" FROM freetier.pools p"
	" LEFT JOIN freetier.subjects s ON s.subject OPERATOR(pg_catalog.=) $3"
	" LEFT JOIN freetier.tiers t ON t.tier OPERATOR(pg_catalog.=) s.tier"
	" WHERE p.pool OPERATOR(pg_catalog.=) $1",
	3, {TEXTOID, TIMESTAMPTZOID, TEXTOID}, NULL
};

/* The request as the SQL functions received it, checked. */
typedef struct GateRequest
{
	char	   *subject;		/* NULL when anonymous */
	int64		estimated_sats;
	char	   *pool;
	char	   *request_key;	/* decide: NULL when none */
	Interval   *hold_ttl;		/* decide: NULL for the pool's hold_ttl */
} GateRequest;

/* subject (NULL when anonymous), estimated_sats, pool: checked. */
static void
read_request(FunctionCallInfo fcinfo, GateRequest *r)
{
	r->subject = ft_text_arg(fcinfo, 0, "subject", false);
	ft_check_not_null(fcinfo, 1, "estimated_sats");
	r->estimated_sats = PG_GETARG_INT64(1);
	ft_check_sats("estimated_sats", r->estimated_sats);
	r->pool = ft_text_arg(fcinfo, 2, "pool", true);
	r->request_key = ft_request_key_arg(fcinfo, 3);
	r->hold_ttl = NULL;
	if (PG_NARGS() > 4 && !PG_ARGISNULL(4))
	{
		r->hold_ttl = PG_GETARG_INTERVAL_P(4);
		ft_check_hold_ttl(r->hold_ttl);
	}
}

/* decide's arguments, as a request key's fingerprint covers them. */
static void
decide_fingerprint(const GateRequest *r, uint8 *fingerprint)
{
	FtField		args[6] = {
		ft_text_field(r->subject),
		ft_int64_field(r->estimated_sats),
		ft_text_field(r->pool),
		ft_int64_field(r->hold_ttl != NULL),
		ft_int64_field(r->hold_ttl ? r->hold_ttl->day : 0),
		ft_int64_field(r->hold_ttl ? r->hold_ttl->time : 0)
	};

	ft_request_key_fingerprint("decide", args, lengthof(args), fingerprint);
}

/*
 * Whether a decide with r's key was made already: then *d and *hold_id are
 * its answer.
 */
static bool
decide_replayed(const GateRequest *r, const uint8 *fingerprint, FtDecision *d,
				pg_uuid_t **hold_id)
{
	FtKeyedResult k;

	if (r->request_key == NULL ||
		!ft_request_key_find(r->request_key, "decide", fingerprint, &k))
		return false;
	if (!k.has_hold)
		elog(ERROR, "freetier: request_key %s names no hold", r->request_key);
	d->absorb_sats = k.held;
	d->charge_sats = k.estimated - k.held;
	d->serve = k.held == k.estimated ? FT_SERVE_FREE : FT_SERVE_PARTIAL;
	d->reason = NULL;
	*hold_id = SPI_palloc(sizeof(pg_uuid_t));
	**hold_id = k.hold;
	return true;
}

/*
 * Copy the subject columns of the last result (window_start, settled, tier,
 * from column `col` on) and return its tier.
 */
static char *
subject_from_row(FtSubjectState *s, int col)
{
	bool		isnull;
	Datum		ws = ft_column(0, col, &isnull);

	s->known = true;
	s->has_window = !isnull;
	s->window_start = isnull ? 0 : DatumGetTimestampTz(ws);
	s->window_settled_sats = ft_column_int64(0, col + 1);
	return ft_column_text(0, col + 2);
}

/* A sum of a bigint column over the rows a read finds, up to the largest bigint. */
typedef struct SatsSum
{
	bool		any;			/* no row: the sum is NULL */
	int64		sats;
} SatsSum;

static bool
add_sats(const Datum *values, const bool *isnull, void *arg)
{
	SatsSum    *sum = arg;

	sum->any = true;
	sum->sats = ft_add_saturating(sum->sats, DatumGetInt64(values[0]));
	return true;
}

/*
 * The sats of the holds a read finds that are live at `now` and in the
 * window that began at window_start (FT_LIVE_HOLD), or with !live past
 * their TTL (FT_EXPIRED_HOLD), up to the largest bigint.  The reads go
 * through the partial indexes of held holds, whose rows are all held: a
 * row that leaves that state is a new row version outside the index.
 */
typedef struct HeldSats
{
	TimestampTz now;
	bool		live;
	TimestampTz window_start;	/* live only */
	int64		sats;
} HeldSats;

static const char *const held_columns[] = {"held_sats", "expires_at", "window_start"};

static bool
add_held(const Datum *values, const bool *isnull, void *arg)
{
	HeldSats   *h = arg;
	TimestampTz expires_at = DatumGetTimestampTz(values[1]);

	if (h->live ?
		expires_at > h->now && DatumGetTimestampTz(values[2]) == h->window_start :
		expires_at <= h->now)
		h->sats = ft_add_saturating(h->sats, DatumGetInt64(values[0]));
	return true;
}

/* The subject's row: window_start, window_settled_sats (into *s) and tier. */
typedef struct SubjectRow
{
	FtSubjectState *s;
	char	   *tier;
} SubjectRow;

static bool
copy_subject(const Datum *values, const bool *isnull, void *arg)
{
	SubjectRow *row = arg;

	row->s->known = true;
	row->s->has_window = !isnull[0];
	row->s->window_start = isnull[0] ? 0 : DatumGetTimestampTz(values[0]);
	row->s->window_settled_sats = DatumGetInt64(values[1]);
	row->tier = TextDatumGetCString(values[2]);
	return false;
}

/* The tier's daily_budget_sats into *(SatsSum *) arg. */
static bool
copy_budget(const Datum *values, const bool *isnull, void *arg)
{
	SatsSum    *budget = arg;

	budget->any = true;
	budget->sats = DatumGetInt64(values[0]);
	return false;
}

/* Whether `pool` exists, at the active snapshot. */
static bool
pool_found(const char *pool)
{
	FtIndexKey	of_pool = {1, BTEqualStrategyNumber, F_TEXTEQ, CStringGetTextDatum(pool)};

	return ft_index_has_row(&ft_pools, &ft_pools_pkey, &of_pool, 1);
}

/*
 * A known subject's tier budget and the sats on its live holds in its
 * window (FT_LIVE_HOLD), at the active snapshot, into *s: what decide
 * reads once the subject is locked and estimate reads without a lock.
 */
static void
read_budget_held(const char *subject, const char *tier, TimestampTz now, FtSubjectState *s)
{
	static const char *const budget_column[] = {"daily_budget_sats"};
	FtIndexKey	of_tier = {1, BTEqualStrategyNumber, F_TEXTEQ, CStringGetTextDatum(tier)};
	FtIndexKey	of_subject = {1, BTEqualStrategyNumber, F_TEXTEQ, CStringGetTextDatum(subject)};
	SatsSum		budget = {0};
	HeldSats	live = {.now = now, .live = true, .window_start = s->window_start};

	ft_index_read(&ft_tiers, &ft_tiers_pkey, &of_tier, 1, budget_column, 1, copy_budget, &budget);
	if (!budget.any)
		elog(ERROR, "freetier: tier \"%s\" of subject \"%s\" does not exist", tier, subject);
	s->daily_budget_sats = budget.sats;
	if (s->has_window)
		ft_index_read(&ft_holds, &ft_holds_held_by_subject, &of_subject, 1, held_columns, 3,
					  add_held, &live);
	s->window_held_sats = live.sats;
}

/*
 * 42704 unless the pool exists (a gated decide still names a real pool);
 * 22023 when the hold_ttl asked for is past its max_hold_ttl.
 */
static void
require_pool(const GateRequest *r)
{
	bool		found;

	if (r->hold_ttl)
		ft_pool_check_hold_ttl(r->pool, r->hold_ttl, "hold_ttl");
	else
	{
		ft_push_read_snapshot();
		found = pool_found(r->pool);
		ft_pop_read_snapshot();
		if (!found)
			ft_report_unknown_pool(r->pool);
	}
}

/* decide's or estimate's row (estimate has no hold_id column). */
static void
emit_row(FunctionCallInfo fcinfo, const FtDecision *d, const pg_uuid_t *hold_id,
		 bool with_hold_column)
{
	Datum		values[5];
	bool		isnull[5] = {false, false, false, false, false};
	int			c = 0;

	values[c++] = CStringGetTextDatum(ft_serve_name(d->serve));
	values[c++] = Int64GetDatum(d->absorb_sats);
	values[c++] = Int64GetDatum(d->charge_sats);
	if (with_hold_column)
	{
		isnull[c] = hold_id == NULL;
		values[c++] = hold_id ? UUIDPGetDatum(hold_id) : (Datum) 0;
	}
	isnull[c] = d->reason == NULL;
	values[c++] = d->reason ? CStringGetTextDatum(d->reason) : (Datum) 0;
	ft_result_row(fcinfo, values, isnull);
}

/*
 * Lock, without waiting, a stripe of r's pool that holds enough for `need`
 * (ft_stripe_pick), and return its holds past their TTL to it; the same
 * outputs as wait_for_stripe.  False when every such stripe is locked.
 */
static bool
pick_stripe(const GateRequest *r, int64 need, bool marks, TimestampTz now,
			FtStripe *one, FtPoolSettings *ps, int64 *before, int64 *others)
{
	bool		has_expired;

	if (!ft_stripe_pick(r->pool, need, ft_stripe_start(r->subject), now, marks, one, ps,
						&has_expired, others))
		return false;
	*before = one->balance_sats;
	if (has_expired)
		ft_gate_holds_expire(one, 1, false, FT_LAYOUT_STRIPES, now);
	return true;
}

/*
 * Lock, waiting, the first stripe of r's pool in ascending order that holds
 * `need` sats once its holds past their TTL are back (more than `need` with
 * marks: 0.4's one-stripe decide keeps a sat), into *one, with the pool's
 * settings in *ps, the stripe's balance before those returns in *before,
 * and (as ft_stripe_pick gives it) the other stripes' committed sum in
 * *others when the stripe alone ends at or below the low-water mark, else
 * -1.  False when no active stripe does: the caller then locks every
 * stripe, and the sats this call returned to stripes 0 .. k on the way are
 * added to *returned, so that the caller can tell the pool's balance before
 * them.  A decide comes here when ft_stripe_pick found no stripe it could
 * lock without waiting; waiting for one stripe, not for all of them, keeps
 * such a decide from holding most of the pool while it waits (a convoy that
 * made every following pick fail too).  The stripes it holds are always
 * 0 .. k, so it waits in the same order as ft_stripes_lock_all.
 */
static bool
wait_for_stripe(const GateRequest *r, int64 need, bool marks, TimestampTz now,
				FtStripe *one, FtPoolSettings *ps, int64 *before, int64 *others,
				int64 *returned)
{
	ft_pool_settings(r->pool, FT_LAYOUT_STRIPES, marks, ps);
	for (int k = 0; k < ps->stripes; k++)
	{
		ft_stripe_lock(r->pool, k, FT_LAYOUT_STRIPES, one);
		*before = one->balance_sats;
		ft_gate_holds_expire(one, 1, false, FT_LAYOUT_STRIPES, now);
		*returned += one->balance_sats - *before;
		if (marks ? one->balance_sats > need : one->balance_sats >= need)
		{
			*others = marks && one->balance_sats - need <= ps->low_water_sats ?
				ft_stripes_others_sum(r->pool, k) : -1;
			return true;
		}
	}
	return false;
}

/*
 * Decide against the pool and place the hold.  The sats come from one
 * stripe when one that holds enough can be locked, first without waiting
 * (ft_stripe_pick), else waiting, in ascending order (wait_for_stripe): the
 * answer is then the whole request (up to what the subject may still
 * absorb), as from any pool that holds at least that much.  Otherwise every
 * stripe is locked, in ascending order, and the decision is taken against
 * their sum, so that it is the one an unstriped pool would give.  Either way
 * holds past their TTL on the locked stripes are returned first.  Returns
 * the hold, or NULL when gated (pool_empty).
 *
 * The hold's lines (log_lines.c) compare the pool's balance before this
 * call returned any expired hold with the balance after the hold: when
 * every stripe is locked, their exact sum; when one stripe is, that
 * stripe's balance and the other stripes' as last committed, read only
 * when the stripe alone ends at or below the low-water mark (otherwise the
 * pool stays above it).  A pool runs dry only under the lock of every
 * stripe: with marks, a one-stripe decide keeps a sat.
 */
static pg_uuid_t *
decide_against_pool(const GateRequest *r, const FtSubjectState *s, int64 remaining,
					FtLayout layout, bool marks, TimestampTz now, FtDecision *d)
{
	FtStripe	one;
	FtStripe   *all;
	FtPoolSettings ps;
	int64		need = Min(remaining, r->estimated_sats);
	int64		others;
	int			n;
	int			home;
	int64		before = 0;
	int64		returned = 0;	/* by wait_for_stripe, before it gave up */
	int64		total = 0;
	pg_uuid_t  *hold_id;

	if (layout == FT_LAYOUT_STRIPES &&
		(pick_stripe(r, need, marks, now, &one, &ps, &before, &others) ||
		 wait_for_stripe(r, need, marks, now, &one, &ps, &before, &others, &returned)))
	{
		if (r->hold_ttl)
			ps.hold_ttl = *r->hold_ttl;
		ft_against_pool(r->estimated_sats, remaining, one.balance_sats, d);
		hold_id = ft_gate_hold_place(r->subject, r->estimated_sats, d->absorb_sats, s,
									 &one, 1, 0, &ps, layout, now);
		if (others >= 0)
			ft_log_pool_crossings(r->pool, ps.low_water_sats,
								  ft_add_saturating(before, others),
								  ft_add_saturating(one.balance_sats, others),
								  r->subject, d->absorb_sats);
		return hold_id;
	}

	n = ft_stripes_lock_all(r->pool, layout, &all);
	if (n == 0)
		ft_report_unknown_pool(r->pool);
	ft_pool_settings(r->pool, layout, marks, &ps);
	if (r->hold_ttl)
		ps.hold_ttl = *r->hold_ttl;
	/* the balance before any return: wait_for_stripe's outputs are stale */
	before = 0;
	for (int i = 0; i < n; i++)
		before = ft_add_saturating(before, all[i].balance_sats);
	before -= returned;
	ft_gate_holds_expire(all, n, true, layout, now);
	if (layout == FT_LAYOUT_STRIPES)
		ft_stripes_even_out(all, n, Min(ps.stripes, n), need, now);
	for (int i = 0; i < n; i++)
		total = ft_add_saturating(total, all[i].balance_sats);
	ft_against_pool(r->estimated_sats, remaining, total, d);
	if (d->serve == FT_SERVE_GATE)
		return NULL;

	/* the hold's own stripe: from the subject's start on, one that has sats */
	home = ft_stripe_start(r->subject) % Min(ps.stripes, n);
	while (all[home].balance_sats == 0)
		home = (home + 1) % n;
	hold_id = ft_gate_hold_place(r->subject, r->estimated_sats, d->absorb_sats, s,
								 all, n, home, &ps, layout, now);
	ft_log_pool_crossings(r->pool, ps.low_water_sats, before, total - d->absorb_sats,
						  r->subject, d->absorb_sats);
	return hold_id;
}

/*
 * freetier_decide(subject text, estimated_sats bigint, pool text DEFAULT 'default'
 *		[, request_key text DEFAULT NULL, hold_ttl interval DEFAULT NULL])
 *	 RETURNS TABLE (serve text, absorb_sats bigint, charge_sats bigint,
 *					hold_id uuid, reason text)
 */
static void
decide(FunctionCallInfo fcinfo, FtLayout layout, bool marks)
{
	GateRequest r;
	FtDecision	d;
	FtSubjectState s;
	int64		remaining;
	pg_uuid_t  *hold_id = NULL;
	TimestampTz now = ft_now();
	uint8		fingerprint[FT_HASH_BYTES];
	bool		replayed = false;

	read_request(fcinfo, &r);
	if (r.request_key)
		decide_fingerprint(&r, fingerprint);
	ft_result_begin(fcinfo);
	ft_connect(FT_LOCKING);

	if (ft_request_gate(r.subject, r.estimated_sats, &d))
	{
		replayed = decide_replayed(&r, fingerprint, &d, &hold_id);
		if (!replayed)
			require_pool(&r);
	}
	else
	{
		Datum		args[1] = {CStringGetTextDatum(r.subject)};

		if (ft_execute(&lock_subject, args, NULL) == 0)
			s.known = false;
		else
		{
			char	   *tier = subject_from_row(&s, 1);

			/* a new snapshot: it sees holds committed by the previous lock holder */
			ft_push_read_snapshot();
			read_budget_held(r.subject, tier, now, &s);
			ft_pop_read_snapshot();
		}

		/* once the subject is locked: a repeat waited for the first call */
		if (decide_replayed(&r, fingerprint, &d, &hold_id))
			replayed = true;
		else if (ft_subject_gate(&s, r.estimated_sats, now, &d, &remaining))
			require_pool(&r);
		else
		{
			if (r.hold_ttl)
				ft_pool_check_hold_ttl(r.pool, r.hold_ttl, "hold_ttl");
			hold_id = decide_against_pool(&r, &s, remaining, layout, marks, now, &d);
			if (hold_id && r.request_key)
			{
				FtKeyedResult made = {.has_hold = true, .hold = *hold_id};

				ft_request_key_record(r.request_key, "decide", fingerprint, &made, false, now);
			}
		}
	}

	if (!replayed)
		ft_count_decision(r.pool, &d);
	SPI_finish();
	emit_row(fcinfo, &d, hold_id, true);
}

PG_FUNCTION_INFO_V1(freetier_decide);

/* freetier_decide of 0.1 to 0.2.1: the pool's one row. */
Datum
freetier_decide(PG_FUNCTION_ARGS)
{
	decide(fcinfo, FT_LAYOUT_POOL_ROW, false);
	return (Datum) 0;
}

PG_FUNCTION_INFO_V1(freetier_decide_v3);

/*
 * freetier_decide from 0.3 on: striped pools.  0.4's SQL (five arguments)
 * has the pools' low-water marks; 0.3's (three) has none.
 */
Datum
freetier_decide_v3(PG_FUNCTION_ARGS)
{
	decide(fcinfo, FT_LAYOUT_STRIPES, PG_NARGS() > 3);
	return (Datum) 0;
}

/*
 * estimate's reads of a striped pool, all at the caller's snapshot: what
 * the pool holds (its stripes' sum, its holds past their TTL counted as
 * returned; 42704 when there is no such pool) and, with `subject`, what
 * decide's lock_subject and subject_budget_held read, into *s.
 */
static int64
read_for_estimate(const GateRequest *r, TimestampTz now, bool subject, FtSubjectState *s)
{
	static const char *const balance[] = {"balance_sats"};
	static const char *const subject_columns[] = {"window_start", "window_settled_sats", "tier"};
	FtIndexKey	of_pool = {1, BTEqualStrategyNumber, F_TEXTEQ, CStringGetTextDatum(r->pool)};
	FtIndexKey	expired_in_pool[2] = {
		of_pool, {3, BTLessEqualStrategyNumber, F_TIMESTAMPTZ_LE, TimestampTzGetDatum(now)}
	};
	SatsSum		stripes = {0};
	HeldSats	expired = {.now = now, .live = false};
	SubjectRow	row = {.s = s};

	/* every pool has its stripes from create_pool on: no stripe, no pool */
	ft_index_read(&ft_pool_stripes, &ft_pool_stripes_pkey, &of_pool, 1, balance, 1, add_sats, &stripes);
	if (!stripes.any && !pool_found(r->pool))
		ft_report_unknown_pool(r->pool);
	ft_index_read(&ft_holds, &ft_holds_held_by_expiry, expired_in_pool, 2, held_columns, 3,
				  add_held, &expired);

	s->known = false;
	if (subject)
	{
		FtIndexKey	of_subject = {1, BTEqualStrategyNumber, F_TEXTEQ,
		CStringGetTextDatum(r->subject)};

		ft_index_read(&ft_subjects, &ft_subjects_pkey, &of_subject, 1, subject_columns, 3,
					  copy_subject, &row);
	}
	if (s->known)
		read_budget_held(r->subject, row.tier, now, s);
	return stripes.any ? ft_add_saturating(stripes.sats, expired.sats) : 0;
}

/* estimate's read of the pool-row layout, as read_for_estimate's. */
static int64
read_estimate_of_pool_row(const GateRequest *r, TimestampTz now, FtSubjectState *s)
{
	Datum		args[3];
	bool		isnull;
	int64		pool_available;

	ft_connect(FT_READING);
	args[0] = CStringGetTextDatum(r->pool);
	args[1] = TimestampTzGetDatum(now);
	args[2] = r->subject ? CStringGetTextDatum(r->subject) : (Datum) 0;
	if (ft_execute(&read_estimate_pool_row, args, r->subject ? NULL : "  n") == 0)
		ft_report_unknown_pool(r->pool);
	pool_available = ft_column_int64(0, 1);
	s->known = DatumGetBool(ft_column(0, 7, &isnull));
	if (s->known)
	{
		(void) subject_from_row(s, 2);
		s->daily_budget_sats = ft_column_int64(0, 5);
		s->window_held_sats = ft_column_int64(0, 6);
	}
	SPI_finish();
	return pool_available;
}

/*
 * freetier_estimate(subject text, estimated_sats bigint, pool text DEFAULT 'default')
 *	 RETURNS TABLE (serve text, absorb_sats bigint, charge_sats bigint, reason text)
 */
static void
estimate(FunctionCallInfo fcinfo, FtLayout layout)
{
	GateRequest r;
	FtDecision	d;
	FtSubjectState s;
	int64		remaining;
	int64		pool_available;
	TimestampTz now = ft_now();
	bool		gated;

	read_request(fcinfo, &r);
	ft_result_begin(fcinfo);
	gated = ft_request_gate(r.subject, r.estimated_sats, &d);
	if (layout == FT_LAYOUT_STRIPES)
		pool_available = read_for_estimate(&r, now, !gated, &s);
	else
		pool_available = read_estimate_of_pool_row(&r, now, &s);
	if (!gated && !ft_subject_gate(&s, r.estimated_sats, now, &d, &remaining))
		ft_against_pool(r.estimated_sats, remaining, pool_available, &d);
	emit_row(fcinfo, &d, NULL, false);
}

PG_FUNCTION_INFO_V1(freetier_estimate);

/* freetier_estimate of 0.1 to 0.2.1. */
Datum
freetier_estimate(PG_FUNCTION_ARGS)
{
	estimate(fcinfo, FT_LAYOUT_POOL_ROW);
	return (Datum) 0;
}

PG_FUNCTION_INFO_V1(freetier_estimate_v3);

/* freetier_estimate from 0.3 on. */
Datum
freetier_estimate_v3(PG_FUNCTION_ARGS)
{
	estimate(fcinfo, FT_LAYOUT_STRIPES);
	return (Datum) 0;
}
