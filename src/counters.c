/*-------------------------------------------------------------------------
 *
 * counters.c
 *	  Outcome counters in shared memory: per pool, what decide answered and
 *	  what moved the pool's sats; for the credit accounts, each call's
 *	  outcomes.  freetier_pool_counters, freetier_account_counters and
 *	  freetier_reset_counters read and reset them.
 *
 * They need freetier in shared_preload_libraries (shared memory is set up
 * at server start, as pg_stat_statements does); without it counting does
 * nothing, and the functions that read the counters refuse with a hint,
 * rather than show zeros that look real.
 *
 * A call counts into its transaction, not into shared memory: what a
 * transaction counted reaches the shared counters when it commits (or is
 * prepared), and what a rolled-back transaction or subtransaction counted
 * is dropped, so the counters agree with the rows that committed.  No
 * table is written, so the gate path stays free of writes and the request
 * path of hot rows.  The counters start at zero at server start and at
 * freetier_reset_counters.
 *
 * A pool is counted in its own entry while there are fewer than
 * freetier.max_pools; pools past that share one entry, shown with pool NULL.
 *
 *-------------------------------------------------------------------------
 */
#include "freetier.h"

#include "access/xact.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "storage/spin.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

/* The credit accounts' outcomes, by name (FT_ACCOUNT_OUTCOMES of them). */
static const char *const account_outcomes[] = {
	"ok", "no_account", "out_of_credits", "backend_cap_exceeded", "trial_limit"
};
#define FT_ACCOUNT_OUTCOMES ((int) lengthof(account_outcomes))

static const char *const account_calls[FT_ACCOUNT_CALLS] = {
	"spend", "reserve", "settle", "release", "expire", "mint_trial"
};

/* An account outcome's figures: calls, and the credits they moved. */
typedef struct AccountFigures
{
	int64		calls;
	int64		allowance_credits;
	int64		purchased_credits;
} AccountFigures;

typedef AccountFigures AccountCounts[FT_ACCOUNT_CALLS][FT_ACCOUNT_OUTCOMES];

/* A pool's entry in shared memory. */
typedef struct PoolEntry
{
	char		pool[FT_MAX_TEXT_BYTES + 1];	/* the hash key */
	slock_t		mutex;			/* guards counts */
	int64		counts[FT_POOL_COUNTERS];
} PoolEntry;

typedef struct SharedCounters
{
	LWLock	   *lock;			/* the pool table; exclusive to add or remove */
	slock_t		mutex;			/* guards what follows */
	TimestampTz since;			/* server start or the last reset */
	int64		other_pools[FT_POOL_COUNTERS];	/* past max_pools */
	AccountCounts accounts;
} SharedCounters;

static int	max_pools = 1000;
static SharedCounters *shared = NULL;
static HTAB *pool_table = NULL;
static bool counting = false;	/* preloaded: counts are kept */

static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

/*
 * What the current transaction has counted, per subtransaction, in
 * TopTransactionContext: added to the shared counters at commit.
 */
typedef struct PendingPool
{
	SubTransactionId subid;
	char		pool[FT_MAX_TEXT_BYTES + 1];
	int64		counts[FT_POOL_COUNTERS];
} PendingPool;

typedef struct PendingAccounts
{
	SubTransactionId subid;
	AccountCounts counts;
} PendingAccounts;

static PendingPool *pending_pools = NULL;
static int	n_pending_pools = 0;
static int	max_pending_pools = 0;
static PendingAccounts *pending_accounts = NULL;
static int	n_pending_accounts = 0;
static int	max_pending_accounts = 0;

static Size
shared_size(void)
{
	return add_size(MAXALIGN(sizeof(SharedCounters)),
					hash_estimate_size(max_pools, sizeof(PoolEntry)));
}

static void
request_shmem(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(shared_size());
	RequestNamedLWLockTranche("freetier", 1);
}

static void
startup_shmem(void)
{
	bool		found;
	HASHCTL		info;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();

	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	shared = ShmemInitStruct("freetier counters", sizeof(SharedCounters), &found);
	if (!found)
	{
		memset(shared, 0, sizeof(SharedCounters));
		shared->lock = &(GetNamedLWLockTranche("freetier"))->lock;
		SpinLockInit(&shared->mutex);
		shared->since = GetCurrentTimestamp();
	}
	info.keysize = FT_MAX_TEXT_BYTES + 1;
	info.entrysize = sizeof(PoolEntry);
	pool_table = ShmemInitHash("freetier pool counters", max_pools, max_pools,
							   &info, HASH_ELEM | HASH_STRINGS);
	LWLockRelease(AddinShmemInitLock);
}

/* The pending counts of this subtransaction for `pool`, made if new. */
static PendingPool *
pending_pool(const char *pool)
{
	SubTransactionId subid = GetCurrentSubTransactionId();
	PendingPool *p;

	for (int i = 0; i < n_pending_pools; i++)
		if (pending_pools[i].subid == subid && strcmp(pending_pools[i].pool, pool) == 0)
			return &pending_pools[i];
	if (n_pending_pools == max_pending_pools)
	{
		max_pending_pools = Max(4, max_pending_pools * 2);
		pending_pools = pending_pools == NULL ?
			MemoryContextAlloc(TopTransactionContext, max_pending_pools * sizeof(PendingPool)) :
			repalloc(pending_pools, max_pending_pools * sizeof(PendingPool));
	}
	p = &pending_pools[n_pending_pools++];
	memset(p, 0, sizeof(*p));
	p->subid = subid;
	strlcpy(p->pool, pool, sizeof(p->pool));
	return p;
}

static PendingAccounts *
pending_account_counts(void)
{
	SubTransactionId subid = GetCurrentSubTransactionId();
	PendingAccounts *p;

	for (int i = 0; i < n_pending_accounts; i++)
		if (pending_accounts[i].subid == subid)
			return &pending_accounts[i];
	if (n_pending_accounts == max_pending_accounts)
	{
		max_pending_accounts = Max(2, max_pending_accounts * 2);
		pending_accounts = pending_accounts == NULL ?
			MemoryContextAlloc(TopTransactionContext,
							   max_pending_accounts * sizeof(PendingAccounts)) :
			repalloc(pending_accounts, max_pending_accounts * sizeof(PendingAccounts));
	}
	p = &pending_accounts[n_pending_accounts++];
	memset(p, 0, sizeof(*p));
	p->subid = subid;
	return p;
}

/* Count n of counter c for pool. */
void
ft_count(const char *pool, FtPoolCounter c, int64 n)
{
	int64	   *count;

	if (!counting)
		return;
	count = &pending_pool(pool)->counts[c];
	*count = ft_add_saturating(*count, n);
}

/* Count a decide's answer: served (and the sats it held) or gated, by reason. */
void
ft_count_decision(const char *pool, const FtDecision *d)
{
	static const char *const gate_reasons[] = {
		"anonymous", "zero_cost", "unknown_subject", "no_budget",
		"daily_budget_exhausted", "pool_empty"
	};

	if (!counting)
		return;
	if (d->serve != FT_SERVE_GATE)
	{
		ft_count(pool, d->serve == FT_SERVE_FREE ? FT_DECIDES_FREE : FT_DECIDES_PARTIAL, 1);
		ft_count(pool, FT_SATS_HELD, d->absorb_sats);
		return;
	}
	for (int i = 0; i < (int) lengthof(gate_reasons); i++)
		if (strcmp(d->reason, gate_reasons[i]) == 0)
		{
			ft_count(pool, FT_GATED_ANONYMOUS + i, 1);
			return;
		}
	elog(ERROR, "freetier: no counter for gate reason \"%s\"", d->reason);
}

/*
 * Count `calls` credit account calls (or holds, for expiry) with this
 * outcome (reason NULL: ok), and the credits they moved.
 */
void
ft_count_account(FtAccountCall call, const char *reason, int64 calls,
				 int64 allowance_credits, int64 purchased_credits)
{
	const char *outcome = reason ? reason : "ok";
	AccountFigures *f = NULL;

	if (!counting)
		return;
	for (int i = 0; i < FT_ACCOUNT_OUTCOMES; i++)
		if (strcmp(outcome, account_outcomes[i]) == 0)
			f = &pending_account_counts()->counts[call][i];
	if (f == NULL)
		elog(ERROR, "freetier: no counter for outcome \"%s\"", outcome);
	f->calls = ft_add_saturating(f->calls, calls);
	f->allowance_credits = ft_add_saturating(f->allowance_credits, allowance_credits);
	f->purchased_credits = ft_add_saturating(f->purchased_credits, purchased_credits);
}

/* Add counts, stopping at the largest bigint (the figures are never negative). */
static void
add_counts(int64 *to, const int64 *from, int n)
{
	for (int i = 0; i < n; i++)
		to[i] = ft_add_saturating(to[i], from[i]);
}

/*
 * Add what the committed transaction counted to the shared counters.  Runs
 * after the commit, where an error is not allowed: a pool that finds no
 * room is counted with the others past max_pools.
 */
static void
flush_pending(void)
{
	for (int i = 0; i < n_pending_pools; i++)
	{
		PendingPool *p = &pending_pools[i];
		PoolEntry  *e;

		LWLockAcquire(shared->lock, LW_SHARED);
		e = hash_search(pool_table, p->pool, HASH_FIND, NULL);
		if (e == NULL)
		{
			bool		found;

			LWLockRelease(shared->lock);
			LWLockAcquire(shared->lock, LW_EXCLUSIVE);
			e = hash_get_num_entries(pool_table) < max_pools ?
				hash_search(pool_table, p->pool, HASH_ENTER_NULL, &found) : NULL;
			if (e != NULL && !found)
			{
				SpinLockInit(&e->mutex);
				memset(e->counts, 0, sizeof(e->counts));
			}
		}
		if (e != NULL)
		{
			SpinLockAcquire(&e->mutex);
			add_counts(e->counts, p->counts, FT_POOL_COUNTERS);
			SpinLockRelease(&e->mutex);
		}
		else
		{
			SpinLockAcquire(&shared->mutex);
			add_counts(shared->other_pools, p->counts, FT_POOL_COUNTERS);
			SpinLockRelease(&shared->mutex);
		}
		LWLockRelease(shared->lock);
	}
	if (n_pending_accounts > 0)
	{
		SpinLockAcquire(&shared->mutex);
		for (int i = 0; i < n_pending_accounts; i++)
			add_counts((int64 *) shared->accounts, (int64 *) pending_accounts[i].counts,
					   sizeof(AccountCounts) / sizeof(int64));
		SpinLockRelease(&shared->mutex);
	}
}

static void
forget_pending(void)
{
	pending_pools = NULL;		/* freed with TopTransactionContext */
	n_pending_pools = max_pending_pools = 0;
	pending_accounts = NULL;
	n_pending_accounts = max_pending_accounts = 0;
}

static void
at_xact_end(XactEvent event, void *arg)
{
	switch (event)
	{
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_PREPARE:
			flush_pending();
			forget_pending();
			break;
		case XACT_EVENT_ABORT:
			forget_pending();
			break;
		default:
			break;
	}
}

/*
 * A subtransaction's counts become its parent's when it commits, and are
 * dropped when it aborts.  A pool may then have two pending entries of one
 * subid; both are added at commit.
 */
static void
at_subxact_end(SubXactEvent event, SubTransactionId subid, SubTransactionId parent,
			   void *arg)
{
	int			kept;

	if (event != SUBXACT_EVENT_COMMIT_SUB && event != SUBXACT_EVENT_ABORT_SUB)
		return;
	kept = 0;
	for (int i = 0; i < n_pending_pools; i++)
	{
		PendingPool *p = &pending_pools[i];

		if (p->subid == subid)
		{
			if (event == SUBXACT_EVENT_ABORT_SUB)
				continue;
			p->subid = parent;
		}
		pending_pools[kept++] = *p;
	}
	n_pending_pools = kept;
	kept = 0;
	for (int i = 0; i < n_pending_accounts; i++)
	{
		PendingAccounts *p = &pending_accounts[i];

		if (p->subid == subid)
		{
			if (event == SUBXACT_EVENT_ABORT_SUB)
				continue;
			p->subid = parent;
		}
		pending_accounts[kept++] = *p;
	}
	n_pending_accounts = kept;
}

/*
 * From _PG_init: when freetier is being preloaded, the setting, the shared
 * memory and the transaction callbacks.
 */
void
ft_counters_init(void)
{
	if (!process_shared_preload_libraries_in_progress)
		return;
	DefineCustomIntVariable("freetier.max_pools",
							"Pools counted one by one; pools past it share one counter row.",
							NULL, &max_pools, 1000, 1, 1000000, PGC_POSTMASTER, 0,
							NULL, NULL, NULL);
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = request_shmem;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = startup_shmem;
	RegisterXactCallback(at_xact_end, NULL);
	RegisterSubXactCallback(at_subxact_end, NULL);
	counting = true;
}

/* 55000 unless the counters exist. */
static void
require_counters(void)
{
	if (shared == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("freetier's counters are not kept"),
				 errdetail("They live in shared memory, which freetier sets up only when the server loads it at start."),
				 errhint("Add freetier to shared_preload_libraries and restart the server.")));
}

/* One result row: the pool (NULL: those past max_pools), its counts, since. */
static void
pool_row(FunctionCallInfo fcinfo, const char *pool, const int64 *counts,
		 TimestampTz since)
{
	Datum		values[FT_POOL_COUNTERS + 2];
	bool		isnull[FT_POOL_COUNTERS + 2] = {0};

	values[0] = pool ? CStringGetTextDatum(pool) : (Datum) 0;
	isnull[0] = pool == NULL;
	for (int i = 0; i < FT_POOL_COUNTERS; i++)
		values[1 + i] = Int64GetDatum(counts[i]);
	values[FT_POOL_COUNTERS + 1] = TimestampTzGetDatum(since);
	ft_result_row(fcinfo, values, isnull);
}

PG_FUNCTION_INFO_V1(freetier_pool_counters);

/*
 * freetier_pool_counters() RETURNS TABLE (pool text, decides_free bigint, ...,
 *	 since timestamptz): one row per pool counted since `since`, in pool order
 *	 as the table keeps them, then the pools past max_pools if any counted.
 */
Datum
freetier_pool_counters(PG_FUNCTION_ARGS)
{
	HASH_SEQ_STATUS scan;
	PoolEntry  *e;
	int64		other[FT_POOL_COUNTERS];
	TimestampTz since;
	bool		any_other = false;

	require_counters();
	ft_result_begin(fcinfo);
	LWLockAcquire(shared->lock, LW_SHARED);
	SpinLockAcquire(&shared->mutex);
	since = shared->since;
	memcpy(other, shared->other_pools, sizeof(other));
	SpinLockRelease(&shared->mutex);
	hash_seq_init(&scan, pool_table);
	while ((e = hash_seq_search(&scan)) != NULL)
	{
		int64		counts[FT_POOL_COUNTERS];

		SpinLockAcquire(&e->mutex);
		memcpy(counts, e->counts, sizeof(counts));
		SpinLockRelease(&e->mutex);
		pool_row(fcinfo, e->pool, counts, since);
	}
	LWLockRelease(shared->lock);
	for (int i = 0; i < FT_POOL_COUNTERS; i++)
		any_other |= other[i] != 0;
	if (any_other)
		pool_row(fcinfo, NULL, other, since);
	return (Datum) 0;
}

PG_FUNCTION_INFO_V1(freetier_account_counters);

/*
 * freetier_account_counters() RETURNS TABLE (call text, outcome text,
 *	 calls bigint, allowance_credits bigint, purchased_credits bigint,
 *	 since timestamptz): every call and outcome that happened.
 */
Datum
freetier_account_counters(PG_FUNCTION_ARGS)
{
	AccountCounts counts;
	TimestampTz since;

	require_counters();
	ft_result_begin(fcinfo);
	SpinLockAcquire(&shared->mutex);
	memcpy(counts, shared->accounts, sizeof(counts));
	since = shared->since;
	SpinLockRelease(&shared->mutex);
	for (int c = 0; c < FT_ACCOUNT_CALLS; c++)
		for (int o = 0; o < FT_ACCOUNT_OUTCOMES; o++)
		{
			Datum		values[6];
			bool		isnull[6] = {0};

			if (counts[c][o].calls == 0)
				continue;
			values[0] = CStringGetTextDatum(account_calls[c]);
			values[1] = CStringGetTextDatum(account_outcomes[o]);
			values[2] = Int64GetDatum(counts[c][o].calls);
			values[3] = Int64GetDatum(counts[c][o].allowance_credits);
			values[4] = Int64GetDatum(counts[c][o].purchased_credits);
			values[5] = TimestampTzGetDatum(since);
			ft_result_row(fcinfo, values, isnull);
		}
	return (Datum) 0;
}

PG_FUNCTION_INFO_V1(freetier_reset_counters);

/* freetier_reset_counters() RETURNS timestamptz: every counter to zero, from now. */
Datum
freetier_reset_counters(PG_FUNCTION_ARGS)
{
	HASH_SEQ_STATUS scan;
	PoolEntry  *e;
	TimestampTz now = GetCurrentTimestamp();

	require_counters();
	LWLockAcquire(shared->lock, LW_EXCLUSIVE);
	hash_seq_init(&scan, pool_table);
	while ((e = hash_seq_search(&scan)) != NULL)
		hash_search(pool_table, e->pool, HASH_REMOVE, NULL);
	SpinLockAcquire(&shared->mutex);
	memset(shared->other_pools, 0, sizeof(shared->other_pools));
	memset(shared->accounts, 0, sizeof(shared->accounts));
	shared->since = now;
	SpinLockRelease(&shared->mutex);
	LWLockRelease(shared->lock);
	PG_RETURN_TIMESTAMPTZ(now);
}
