/*-------------------------------------------------------------------------
 *
 * freetier.h
 *	  Declarations shared by the freetier source files.
 *
 * Lock order, everywhere: hold -> subject -> pool.  Row locks are taken with
 * FOR NO KEY UPDATE (the strength an UPDATE takes), so the foreign-key checks
 * of other transactions never wait on them.  Nothing locks a pool and then a
 * subject; hold rows are only ever locked after a subject or pool with
 * SKIP LOCKED, which never waits and so can never close a deadlock cycle.
 *
 *-------------------------------------------------------------------------
 */
#ifndef FREETIER_H
#define FREETIER_H

#include "postgres.h"

#include "compat.h"

#include "access/stratnum.h"
#include "executor/spi.h"
#include "utils/timestamp.h"
#include "utils/uuid.h"

/*
 * SQL for "the hold (or credit hold) in this row is live at `now`": held
 * and within its TTL; and for "held, but past its TTL" (it counts as
 * returned, and any decide or sweep may end it).  `alias` is "" or "h.".
 * The literal state = 'held' lets the planner use the partial indexes.
 */
#define FT_LIVE_HOLD(alias, now) \
	alias "state OPERATOR(pg_catalog.=) 'held' AND " alias "expires_at OPERATOR(pg_catalog.>) " now
#define FT_EXPIRED_HOLD(alias, now) \
	alias "state OPERATOR(pg_catalog.=) 'held' AND " alias "expires_at OPERATOR(pg_catalog.<=) " now
/*
 * A pool's install-time seed entry: seq 1, kind seed, dated -infinity, the
 * same bytes in every install; pg_dump leaves it out and it is never
 * archived (verify.c's is_install_seed is the same rule in C).
 */
#define FT_INSTALL_SEED(alias) \
	"(" alias "seq OPERATOR(pg_catalog.=) 1 AND " alias "kind OPERATOR(pg_catalog.=) 'seed'" \
	" AND " alias "created_at OPERATOR(pg_catalog.=) '-infinity')"

/*
 * A pool's chained settings (0.4): the payment_ref of the latest 'settings'
 * or 'checkpoint' entry on its stripe 0, a jsonb text of credit_pct,
 * hold_ttl and max_hold_ttl (a checkpoint carries the settings before it,
 * so that archiving keeps them).  NULL (no such entry, or a checkpoint that
 * carries none) is the settings every pool has until a setter changes
 * them, FT_POOL_DEFAULT_SETTINGS.  `pool` is SQL for the pool's name.
 * FT_POOL_CHAINED_JSONB(pool) is the settings its chain gives, the
 * defaults when it gives none, as jsonb.
 * FT_POOL_SETTINGS_MATCH(settings, p) is whether pools row `p` has the
 * settings a jsonb `settings` gives: intervals compared field by field
 * (as text), so that '1 day' is not '24 hours'.
 */
#define FT_CHAINED_POOL_SETTINGS(pool) \
	"(SELECT l.payment_ref FROM freetier.ledger l WHERE l.pool OPERATOR(pg_catalog.=) " pool \
	" AND l.stripe OPERATOR(pg_catalog.=) 0" \
	" AND l.kind OPERATOR(pg_catalog.=) ANY ('{settings,checkpoint}')" \
	" ORDER BY l.seq DESC LIMIT 1)"
#define FT_POOL_DEFAULT_SETTINGS \
	"'{\"credit_pct\": 10, \"hold_ttl\": \"0 days 900 seconds\"," \
	" \"max_hold_ttl\": \"30 days 0 seconds\"}'"
#define FT_POOL_CHAINED_JSONB(pool) \
	"coalesce(" FT_CHAINED_POOL_SETTINGS(pool) ", " FT_POOL_DEFAULT_SETTINGS ")::jsonb"
#define FT_POOL_SETTINGS_JSON(p) \
	"pg_catalog.jsonb_build_object('credit_pct', " p "credit_pct," \
	" 'hold_ttl', " FT_DURATION_TEXT(p "hold_ttl") "," \
	" 'max_hold_ttl', " FT_DURATION_TEXT(p "max_hold_ttl") ")::text"
/* A duration (no months) as text whatever IntervalStyle is, keeping days apart. */
#define FT_DURATION_TEXT(i) \
	"pg_catalog.format('%s days %s seconds', pg_catalog.extract('day', " i ")," \
	" pg_catalog.trim_scale(pg_catalog.extract('epoch', " i ")" \
	"   OPERATOR(pg_catalog.-) (pg_catalog.extract('day', " i ") OPERATOR(pg_catalog.*) 86400)))"
#define FT_POOL_SETTINGS_MATCH(settings, p) \
	"((" settings " OPERATOR(pg_catalog.->>) 'credit_pct')::numeric OPERATOR(pg_catalog.=) " p "credit_pct" \
	" AND (" settings " OPERATOR(pg_catalog.->>) 'hold_ttl')::interval::text" \
	"   OPERATOR(pg_catalog.=) " p "hold_ttl::text" \
	" AND (" settings " OPERATOR(pg_catalog.->>) 'max_hold_ttl')::interval::text" \
	"   OPERATOR(pg_catalog.=) " p "max_hold_ttl::text)"

/*
 * An account's chained anniversary and period start (0.4): its latest
 * 'open' entry (both are that entry's instant), 'settings' entry (both in
 * its ref, a jsonb text) or 'checkpoint' (both in its ref, which carries
 * them so that archiving keeps them: FT_CHECKPOINT_INSTANT); a FROM item
 * with columns seq, anniversary and period_start.  `subject` is SQL for
 * the account's subject.
 */
#define FT_CHAINED_ACCOUNT_SETTINGS(subject) \
	"(SELECT l.seq," \
	"   CASE l.kind WHEN 'open' THEN l.created_at" \
	"     WHEN 'checkpoint' THEN " FT_CHECKPOINT_INSTANT("l.ref", "anniversary") \
	"     ELSE (l.ref::jsonb OPERATOR(pg_catalog.->>) 'anniversary')::timestamptz END AS anniversary," \
	"   CASE l.kind WHEN 'open' THEN l.created_at" \
	"     WHEN 'checkpoint' THEN " FT_CHECKPOINT_INSTANT("l.ref", "period_start") \
	"     ELSE (l.ref::jsonb OPERATOR(pg_catalog.->>) 'period_start')::timestamptz END AS period_start" \
	"  FROM freetier.account_ledger l WHERE l.subject OPERATOR(pg_catalog.=) " subject \
	"   AND l.kind OPERATOR(pg_catalog.=) ANY ('{open,settings,checkpoint}')" \
	"  ORDER BY l.seq DESC LIMIT 1)"

/*
 * Whether the anniversary and period start of accounts row `a` are the
 * ones its chain gives (0.4; verify.c, and set_plan before it chains new
 * ones).  The anniversary must be the chained one.  The period start must
 * be the chained one or, rolled over since with no entry (nothing was
 * used), a later start of a period of the plan, not after now or the
 * account's latest write (whose clock may be ahead of ours); and no
 * rollover or spend of the period's allowance since the chained one may be
 * dated in a period after it (a period start moved back would give that
 * allowance again).
 */
#define FT_ACCOUNT_DATES_CHAINED \
	"coalesce((SELECT a.anniversary OPERATOR(pg_catalog.=) c.anniversary" \
	"   AND (a.period_start OPERATOR(pg_catalog.=) c.period_start" \
	"        OR a.period_start OPERATOR(pg_catalog.>) c.period_start" \
	"           AND a.period_start OPERATOR(pg_catalog.<=) GREATEST(freetier.clock(), a.updated_at)" \
	"           AND freetier.period_start(p.period, a.anniversary, a.period_start)" \
	"               OPERATOR(pg_catalog.=) a.period_start)" \
	"   AND NOT EXISTS (SELECT FROM freetier.account_ledger l" \
	"     WHERE l.subject OPERATOR(pg_catalog.=) a.subject AND l.seq OPERATOR(pg_catalog.>) c.seq" \
	"       AND (l.kind OPERATOR(pg_catalog.=) 'rollover' OR l.kind OPERATOR(pg_catalog.=) 'spend'" \
	"            AND l.bucket OPERATOR(pg_catalog.=) 'period')" \
	"       AND freetier.period_start(p.period, a.anniversary, l.created_at)" \
	"           OPERATOR(pg_catalog.>) a.period_start)" \
	"  FROM freetier.plans p, " FT_CHAINED_ACCOUNT_SETTINGS("a.subject") " c" \
	"  WHERE p.plan OPERATOR(pg_catalog.=) a.plan), false)"

/*
 * A plan's, a tier's and the credit settings' chained settings (0.4,
 * settings_ledger.c): the settings text of the latest entry of chain
 * `chain` (SQL for its name, 'plan:<plan>', 'tier:<tier>' or
 * 'credit_settings') in freetier.settings_ledger, a jsonb text; NULL (no
 * entry) is the settings the install made, FT_PLAN_INSTALL_SETTINGS,
 * FT_TIER_INSTALL_SETTINGS (NULL for a plan or tier the install did not
 * make: it has none) and FT_CREDIT_INSTALL_SETTINGS.
 * FT_PLAN_SETTINGS_JSON(p), FT_TIER_SETTINGS_JSON(t) and
 * FT_CREDIT_SETTINGS_JSON(s) are a plans, tiers or credit_settings row's as
 * jsonb; FT_SETTINGS_CHAINED(row_json, chain, install) whether they are the
 * chained ones (jsonb equality: the same builder made both).
 */
#define FT_PLAN_CHAIN_PREFIX "plan:"
#define FT_TIER_CHAIN_PREFIX "tier:"
#define FT_CHAINED_SETTINGS(chain) \
	"(SELECT l.settings FROM freetier.settings_ledger l" \
	" WHERE l.chain OPERATOR(pg_catalog.=) " chain " ORDER BY l.seq DESC LIMIT 1)"
#define FT_PLAN_INSTALL_SETTINGS(plan) \
	"(SELECT d.settings FROM (VALUES" \
	" ('core', '{\"period\": \"lifetime\", \"allowance\": 100, \"backend_caps\": {\"gemini\": 25}}')," \
	" ('pro', '{\"period\": \"monthly\", \"allowance\": 1000, \"backend_caps\": {}}')," \
	" ('max', '{\"period\": \"monthly\", \"allowance\": null, \"backend_caps\": {\"gemini\": 2000}}')," \
	" ('trial', '{\"period\": \"lifetime\", \"allowance\": 0, \"backend_caps\": {}}')" \
	") d (plan, settings) WHERE d.plan OPERATOR(pg_catalog.=) " plan ")"
#define FT_TIER_INSTALL_SETTINGS(tier) \
	"(SELECT d.settings FROM (VALUES" \
	" ('new', '{\"daily_budget_sats\": 0}'), ('established', '{\"daily_budget_sats\": 50}')," \
	" ('trusted', '{\"daily_budget_sats\": 200}'), ('elite', '{\"daily_budget_sats\": 1000}')" \
	") d (tier, settings) WHERE d.tier OPERATOR(pg_catalog.=) " tier ")"
#define FT_CREDIT_INSTALL_SETTINGS \
	"'{\"default_plan\": \"core\", \"hold_ttl\": \"0 days 900 seconds\", \"trial_plan\": \"trial\"," \
	" \"trial_credits\": 5, \"trials_per_network\": 3, \"trial_window\": \"1 days 0 seconds\"," \
	" \"max_hold_ttl\": \"30 days 0 seconds\"}'"
#define FT_PLAN_SETTINGS_JSON(p) \
	"pg_catalog.jsonb_build_object('period', " p "period, 'allowance', " p "allowance," \
	" 'backend_caps', " p "backend_caps)"
#define FT_TIER_SETTINGS_JSON(t) \
	"pg_catalog.jsonb_build_object('daily_budget_sats', " t "daily_budget_sats)"
#define FT_CREDIT_SETTINGS_JSON(s) \
	"pg_catalog.jsonb_build_object('default_plan', " s "default_plan," \
	" 'hold_ttl', " FT_DURATION_TEXT(s "hold_ttl") ", 'trial_plan', " s "trial_plan," \
	" 'trial_credits', " s "trial_credits, 'trials_per_network', " s "trials_per_network," \
	" 'trial_window', " FT_DURATION_TEXT(s "trial_window") "," \
	" 'max_hold_ttl', " FT_DURATION_TEXT(s "max_hold_ttl") ")"
#define FT_SETTINGS_CHAINED(row_json, chain, install) \
	"coalesce(" row_json " OPERATOR(pg_catalog.=) coalesce(" FT_CHAINED_SETTINGS(chain) "," \
	" " install ")::jsonb, false)"

/*
 * An account's checkpoint entry (account.c) carries in its ref what the
 * account's chain commits to besides its purchased balance (the entry's
 * balance_after): "period=N lifetime=N late=N spent=N added=N
 * anniversary=T period_start=T plan=NAME", its three other counters,
 * lifetime_spent, lifetime_added, its dates (FT_CHECKPOINT_INSTANT) and its
 * plan.
 * These read one figure back in SQL (verify.c): NULL when it is not there,
 * never an error.  A figure has up to 19 digits, as a bigint (10^18, the
 * most a credit counter reaches, has 19); FT_CHECKPOINT_BIGINT casts the
 * digits `pattern` captures only when they fit (NULL else).
 */
#define FT_CHECKPOINT_DIGITS(ref, name, pattern) \
	"pg_catalog.substring(" ref ", '(?:^| )" name "=(" pattern ")(?: |$)')"
#define FT_CHECKPOINT_BIGINT(ref, name, pattern) \
	"(CASE WHEN " FT_CHECKPOINT_DIGITS(ref, name, pattern) "::numeric" \
	"   BETWEEN -9223372036854775808 AND 9223372036854775807" \
	" THEN " FT_CHECKPOINT_DIGITS(ref, name, pattern) "::bigint END)"
#define FT_CHECKPOINT_FIGURE(ref, name) FT_CHECKPOINT_BIGINT(ref, name, "[0-9]{1,19}")
#define FT_CHECKPOINT_PLAN(ref) \
	"pg_catalog.substring(" ref ", ' plan=(.*)$')"
/* An instant a checkpoint carries: microseconds since 2000-01-01 UTC, exact. */
#define FT_CHECKPOINT_INSTANT(ref, name) \
	"('2000-01-01 00:00:00+00'::timestamptz OPERATOR(pg_catalog.+) (" \
	FT_CHECKPOINT_BIGINT(ref, name, "-?[0-9]{1,19}") " OPERATOR(pg_catalog.*) interval '1 microsecond'))"

/*
 * SQL for a sum of credits as a bigint: 0 when there is nothing to sum, and
 * never past FT_UNLIMITED (a sum of bigints is numeric and may not fit).
 */
#define FT_SATURATED(sum) \
	"LEAST(coalesce(" sum ", 0), 9223372036854775807)::bigint"

/* Longest subject, pool, tier, payment reference, request hash or reason. */
#define FT_MAX_TEXT_BYTES	256

/* BLAKE2b-256 */
#define FT_HASH_BYTES		32

/* The longest hold TTL a pool or the credit settings may have. */
#define FT_MAX_HOLD_TTL_DAYS 30

/* The rolling window of a subject's daily budget. */
#define FT_WINDOW_USECS		(INT64CONST(24) * USECS_PER_HOUR)

/* ---- decision.c: the pure arithmetic shared by decide and estimate ---- */

typedef enum FtServe
{
	FT_SERVE_FREE,
	FT_SERVE_PARTIAL,
	FT_SERVE_GATE
} FtServe;

typedef struct FtDecision
{
	FtServe		serve;
	int64		absorb_sats;
	int64		charge_sats;
	const char *reason;			/* gate reason, NULL when not gated */
} FtDecision;

/* What decide and estimate know of a subject before looking at the pool. */
typedef struct FtSubjectState
{
	bool		known;			/* has a tier */
	int64		daily_budget_sats;
	bool		has_window;
	TimestampTz window_start;
	int64		window_settled_sats;	/* absorbed by settled grants */
	int64		window_held_sats;	/* on live holds charged to this window */
} FtSubjectState;

extern bool ft_window_is_current(bool has_window, TimestampTz window_start,
								 TimestampTz now);
extern bool ft_request_gate(const char *subject, int64 estimated_sats,
							FtDecision *d);
extern bool ft_subject_gate(const FtSubjectState *s, int64 estimated_sats,
							TimestampTz now, FtDecision *d,
							int64 *remaining_sats);
extern void ft_against_pool(int64 estimated_sats, int64 remaining_sats,
							int64 pool_available_sats, FtDecision *d);
extern const char *ft_serve_name(FtServe serve);

/* ---- spi.c: prepared statements kept for the backend's life ---- */

#define FT_MAX_ARGS 20

/*
 * SQL for ts + d and ts - d, computed in UTC whatever the caller's
 * TimeZone: a day is 24 hours, also across a change to or from daylight
 * saving time.  ts is a timestamptz expression, d an interval.
 */
#define FT_PLUS_DURATION(ts, d) \
	"pg_catalog.timezone('UTC', pg_catalog.timezone('UTC', " ts ") OPERATOR(pg_catalog.+) " d ")"
#define FT_MINUS_DURATION(ts, d) \
	"pg_catalog.timezone('UTC', pg_catalog.timezone('UTC', " ts ") OPERATOR(pg_catalog.-) " d ")"

typedef struct FtStatement
{
	const char *sql;
	int			nargs;
	Oid			argtypes[FT_MAX_ARGS];
	SPIPlanPtr	plan;			/* prepared on first use, then kept */
} FtStatement;

typedef enum FtAccess
{
	FT_LOCKING,					/* locks and writes: a new snapshot per statement */
	FT_READING					/* only reads: the caller's snapshot throughout */
} FtAccess;

extern void ft_connect(FtAccess access);
extern bool ft_reads_one_snapshot(void);
extern void ft_push_read_snapshot(void);
extern void ft_pop_read_snapshot(void);
extern void ft_spi_init(void);
extern SPIPlanPtr ft_prepare(FtStatement *stmt);
extern int	ft_execute(FtStatement *stmt, Datum *values, const char *nulls);
extern int	ft_execute_whole(FtStatement *stmt, Datum *values, const char *nulls);
typedef void (*FtRowFunc) (TupleTableSlot *row, void *arg);
extern void ft_execute_each(FtStatement *stmt, Datum *values, const char *nulls,
							FtRowFunc each_row, void *arg);
extern Datum ft_column(int row, int col, bool *isnull);
extern int64 ft_column_int64(int row, int col);
extern char *ft_column_text(int row, int col);

/* ---- index_read.c: reads through an index without SPI ---- */

/* freetier.<name>, a table or an index; oid is found on first use. */
typedef struct FtRelation
{
	const char *name;
	Oid			oid;
} FtRelation;

#define FT_RELATION(name) {(name), InvalidOid}

/* index column attno compared with value by proc (a btree strategy's function) */
typedef struct FtIndexKey
{
	AttrNumber	attno;
	StrategyNumber strategy;
	RegProcedure proc;
	Datum		value;
} FtIndexKey;

#define FT_MAX_INDEX_KEYS 3
#define FT_MAX_READ_COLUMNS 4

/* One row's columns, as ft_index_read was asked for them; false stops the read. */
typedef bool (*FtValuesFunc) (const Datum *values, const bool *isnull, void *arg);

extern FtRelation ft_pools, ft_pools_pkey, ft_pool_stripes, ft_pool_stripes_pkey,
			ft_holds, ft_holds_held_by_expiry, ft_holds_held_by_subject,
			ft_subjects, ft_subjects_pkey, ft_tiers, ft_tiers_pkey;

extern void ft_index_read(FtRelation *table, FtRelation *index,
						  const FtIndexKey *keys, int nkeys,
						  const char *const *columns, int ncolumns,
						  FtValuesFunc each_row, void *arg);
extern bool ft_index_has_row(FtRelation *table, FtRelation *index,
							 const FtIndexKey *keys, int nkeys);

/* ---- args.c: argument checks with the messages users read ---- */

extern void ft_result_begin(FunctionCallInfo fcinfo);
extern void ft_result_row(FunctionCallInfo fcinfo, Datum *values, bool *isnull);
extern void ft_check_sats(const char *argname, int64 value);
extern void ft_check_not_null(FunctionCallInfo fcinfo, int argno, const char *argname);
extern char *ft_text_arg(FunctionCallInfo fcinfo, int argno, const char *argname,
						 bool required);
extern char *ft_nonempty_text_arg(FunctionCallInfo fcinfo, int argno, const char *argname,
								  const char *whose);
extern int64 ft_add_sats(int64 a, int64 b, const char *what);
extern void ft_check_subject(const char *subject);
extern bool ft_is_duration(const Interval *i);
extern void ft_check_hold_ttl(const Interval *ttl);
extern void ft_check_ttl_arg(const Interval *ttl, const char *argname);
extern void ft_check_hold_ttl_bound(const Interval *ttl, const char *argname,
									const Interval *max, const char *bound);
extern void ft_check_credit_pct(Datum pct);
extern void ft_check_stripes(int stripes);
extern void ft_check_low_water(int64 low_water_sats);
extern char *ft_uuid_string(const pg_uuid_t *id);

/* ---- counters.c: outcome counters in shared memory ---- */

/* A pool's counters, in the order freetier_pool_counters shows them. */
typedef enum FtPoolCounter
{
	FT_DECIDES_FREE,
	FT_DECIDES_PARTIAL,
	FT_GATED_ANONYMOUS,			/* the gate reasons, as ft_count_decision lists them */
	FT_GATED_ZERO_COST,
	FT_GATED_UNKNOWN_SUBJECT,
	FT_GATED_NO_BUDGET,
	FT_GATED_DAILY_BUDGET_EXHAUSTED,
	FT_GATED_POOL_EMPTY,
	FT_SATS_HELD,				/* by decides */
	FT_SATS_ABSORBED,			/* by settles (record_grant) */
	FT_SATS_CHARGED,
	FT_SATS_RETURNED,
	FT_SATS_RELEASED,
	FT_SATS_EXPIRED,
	FT_HOLDS_EXPIRED,
	FT_CREDITS,
	FT_SATS_CREDITED,
	FT_POOL_COUNTERS
} FtPoolCounter;

/* The credit account calls counted, in the order their names are listed. */
typedef enum FtAccountCall
{
	FT_CALL_SPEND,
	FT_CALL_RESERVE,
	FT_CALL_SETTLE,
	FT_CALL_RELEASE,
	FT_CALL_EXPIRE,
	FT_CALL_MINT_TRIAL,
	FT_ACCOUNT_CALLS
} FtAccountCall;

extern void ft_counters_init(void);
extern void ft_count(const char *pool, FtPoolCounter c, int64 n);
extern void ft_count_decision(const char *pool, const FtDecision *d);
extern void ft_count_account(FtAccountCall call, const char *reason, int64 calls,
							 int64 allowance_credits, int64 purchased_credits);

/*
 * The families of hash chains: pools' stripes (freetier.ledger), accounts
 * (freetier.account_ledger), and plans, tiers and the credit settings
 * (freetier.settings_ledger, 0.4).
 */
typedef enum FtChainFamily
{
	FT_CHAINS_POOLS,
	FT_CHAINS_ACCOUNTS,
	FT_CHAINS_SETTINGS
} FtChainFamily;

/* ---- log_lines.c: the lines an operator greps the server log for ---- */

extern void ft_log_lines_init(void);
extern void ft_log_pool_crossings(const char *pool, int64 low_water_sats, int64 before,
								  int64 after, const char *subject, int64 taken);
extern void ft_log_sweep(int npools, char *const *pools, const int64 *holds,
						 const int64 *sats, int64 credit_holds, int64 credits);
extern void ft_log_bad_chain(FtChainFamily family, const char *key, int chain,
							 int64 first_bad_entry);
extern void ft_log_anchor(const char *chain, int64 seq, const uint8 *hash);
extern void ft_log_not_sealed(const char *chain, int64 first_bad_entry);

/* ---- clock.c ---- */

extern TimestampTz ft_now(void);
extern TimestampTz ft_plus_duration(TimestampTz ts, const Interval *d);
extern void ft_define_clock_guc(void);

/* ---- chain.c: the hash chains, write side ---- */

typedef enum FtFieldType
{
	FT_FIELD_INT64,				/* integers, and timestamps as microseconds */
	FT_FIELD_TEXT,
	FT_FIELD_UUID
} FtFieldType;

/*
 * One hashed field of a chain entry; a NULL text or uuid is a NULL pointer.
 * A text is len bytes at s, not necessarily NUL-terminated.
 */
typedef struct FtField
{
	FtFieldType type;
	int64		i;
	const char *s;
	int			len;
	const pg_uuid_t *u;
} FtField;

static inline FtField
ft_int64_field(int64 i)
{
	FtField		f = {FT_FIELD_INT64, i, NULL, 0, NULL};

	return f;
}

static inline FtField
ft_text_bytes_field(const char *s, int len)
{
	FtField		f = {FT_FIELD_TEXT, 0, s, len, NULL};

	return f;
}

static inline FtField
ft_text_field(const char *s)
{
	return ft_text_bytes_field(s, s ? strlen(s) : 0);
}

static inline FtField
ft_uuid_field(const pg_uuid_t *u)
{
	FtField		f = {FT_FIELD_UUID, 0, NULL, 0, u};

	return f;
}

/* The end of a chain, as its owning row stores it. */
typedef struct FtChainHead
{
	int64		seq;
	uint8		hash[FT_HASH_BYTES];
} FtChainHead;

/*
 * The domain tags of the kinds of chain: a pool's stripe 0 (a pool's only
 * chain up to 0.2.1), its other stripes (whose entries hash their stripe
 * number too), an account, a plan's, a tier's or the credit settings' (0.4).
 */
#define FT_POOL_CHAIN		"freetier ledger v1"
#define FT_STRIPE_CHAIN		"freetier stripe ledger v1"
#define FT_ACCOUNT_CHAIN	"freetier account ledger v1"
#define FT_SETTINGS_CHAIN	"freetier settings ledger v1"

/*
 * A keyed entry's hash: these bytes, then a keyed BLAKE2b of the rest of
 * FT_HASH_BYTES, with a key of FT_CHAIN_KEY_BYTES (chain_key.c).
 */
#define FT_KEYED_TAG		"ftk1"
#define FT_KEYED_TAG_BYTES	4
#define FT_CHAIN_KEY_BYTES	32

extern void ft_chain_hash(const char *domain, const FtField *fields, int nfields,
						  const uint8 *prev, uint8 *out);
extern void ft_chain_hash_keyed(const char *domain, const FtField *fields, int nfields,
								const uint8 *prev, uint8 *out);
extern bool ft_hash_is_keyed(const uint8 *hash);

/* The domain tag of a seal (anchor.c): a chain's head, keyed. */
#define FT_SEAL_DOMAIN		"freetier chain seal v1"
extern void ft_chain_seal(const char *chain, int64 seq, const uint8 *head, uint8 *out);
extern Datum ft_hash_datum(const uint8 *hash);
extern void ft_chain_head_read(FtChainHead *head, int64 seq, Datum hash);
extern void ft_chain_next(const FtChainHead *head, const char *domain,
						  FtField *fields, int nfields, FtChainHead *next);
extern void ft_field_arg(const FtField *f, Datum *arg, char *null);
extern void ft_chain_append(FtChainHead *head, const char *domain,
							FtStatement *insert, FtField *fields, int nfields);

/* ---- chain_key.c: the chain key, read at server start ---- */

extern void ft_chain_key_init(void);
extern const uint8 *ft_chain_key(void);
extern const uint8 *ft_chain_key_required(const char *detail);

/* ---- anchor.c: anchors and seals ---- */

extern char *ft_chain_name(FtChainFamily family, const char *key, int stripe);

/* ---- verify.c: the hash chains, read side ---- */

extern void ft_report_unknown_chain(const char *chain);

extern bool ft_verify_anchor(FtChainFamily family, const char *key, int chain, int64 seq,
							 const uint8 *hash, bool *exists);
extern bool ft_account_verifies(const char *subject);

/* What freetier_seal_chains may do with a chain (ft_check_for_seal). */
typedef enum FtSealCheck
{
	FT_SEAL_YES,				/* no keyed entry, and it verifies: seal it */
	FT_SEAL_KEYED,				/* a keyed entry, and it verifies: no seal needed */
	FT_SEAL_BAD,				/* it does not verify: not sealed */
	FT_SEAL_GONE				/* no such chain (any more) */
} FtSealCheck;

extern FtSealCheck ft_check_for_seal(FtChainFamily family, const char *key, int chain,
									 int64 *seq, uint8 *head, int64 *first_bad_entry);

/* ---- period.c: calendar arithmetic, pure ---- */

typedef enum FtPeriod
{
	FT_PERIOD_LIFETIME,
	FT_PERIOD_DAILY,
	FT_PERIOD_WEEKLY,
	FT_PERIOD_MONTHLY
} FtPeriod;

extern int	ft_day_of_month(TimestampTz ts);
extern TimestampTz ft_add_months_anchored(TimestampTz ts, int64 months, int anchor_day);
extern TimestampTz ft_next_renewal(TimestampTz ts, int anchor_day);
extern FtPeriod ft_period_from_name(const char *name);
extern TimestampTz ft_period_start(FtPeriod period, TimestampTz anniversary,
								   TimestampTz now);
extern TimestampTz ft_period_end(FtPeriod period, TimestampTz anniversary,
								 TimestampTz start);

/* ---- pool.c: the only code that moves a pool's balance ---- */

/*
 * Where a pool's balance and chain are kept, as the SQL that called knows
 * it: in its pools row, one chain (0.1 to 0.2.1), or in its stripes (0.3).
 * Each SQL entry point that touches pools says which; the statements that
 * differ come in pairs indexed by it.
 */
typedef enum FtLayout
{
	FT_LAYOUT_POOL_ROW,
	FT_LAYOUT_STRIPES
} FtLayout;

#define FT_DEFAULT_STRIPES	16
#define FT_MAX_STRIPES		64

/* A locked stripe of a pool: its balance and the end of its chain. */
typedef struct FtStripe
{
	char	   *pool;
	int			stripe;
	int64		balance_sats;
	FtChainHead head;
} FtStripe;

/* A pool's settings, as decide and credit need them. */
typedef struct FtPoolSettings
{
	int			stripes;		/* active stripes */
	Interval	hold_ttl;
	int64		low_water_sats; /* 0: none (and before 0.4) */
} FtPoolSettings;

/* The highest low-water mark a pool may have (10^18). */
#define FT_MAX_LOW_WATER_SATS INT64CONST(1000000000000000000)

/*
 * The SQL that writes one ledger entry of stripe $9 of pool $1 and moves the
 * stripe to it, as a data-modifying WITH list: $1 pool, $2 seq, $3 kind,
 * $4 delta_sats, $5 balance_after, $6 hold_id, $7 payment_ref, $8
 * created_at, $9 stripe, $10 prev_hash, $11 hash (ft_stripe_entry_args).
 * Callers that write more in the same statement add their own parts;
 * FT_STRIPE_APPEND_CTES_SETTING also sets `more` (", col = ...") on the stripe.
 */
#define FT_STRIPE_APPEND_CTES_SETTING(more) \
	"entry AS (INSERT INTO freetier.ledger (pool, seq, kind, delta_sats, balance_after," \
	"  hold_id, payment_ref, created_at, stripe, prev_hash, hash)" \
	"  VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11))," \
	" moved AS (UPDATE freetier.pool_stripes SET balance_sats = $5, head_seq = $2," \
	"  head_hash = $11" more " WHERE pool OPERATOR(pg_catalog.=) $1" \
	"  AND stripe OPERATOR(pg_catalog.=) $9)"
#define FT_STRIPE_APPEND_CTES FT_STRIPE_APPEND_CTES_SETTING("")
#define FT_STRIPE_APPEND_ARGS 11
#define FT_STRIPE_APPEND_TYPES \
	TEXTOID, INT8OID, TEXTOID, INT8OID, INT8OID, UUIDOID, TEXTOID, \
	TIMESTAMPTZOID, INT4OID, BYTEAOID, BYTEAOID

extern void ft_pool_settings(const char *pool, FtLayout layout, bool marks,
							 FtPoolSettings *ps);
extern bool ft_stripe_pick(const char *pool, int64 need, int start, TimestampTz now,
						   bool marks, FtStripe *s, FtPoolSettings *ps, bool *has_expired,
						   int64 *others);
extern int	ft_stripes_lock_all(const char *pool, FtLayout layout, FtStripe **stripes);
extern void ft_stripe_lock(const char *pool, int stripe, FtLayout layout, FtStripe *s);
extern bool ft_stripe_try_lock(const char *pool, int stripe, FtLayout layout,
							   FtStripe *s);
extern int64 ft_stripes_others_sum(const char *pool, int stripe);
extern void ft_pool_check_room(const char *pool, int64 adding);
extern void ft_stripe_lock_for_return(const char *pool, int stripe, FtLayout layout,
									  FtStripe *s);
extern void ft_stripe_entry_args(const FtStripe *s, const char *kind, int64 delta_sats,
								 const pg_uuid_t *hold_id, const char *payment_ref,
								 TimestampTz at, Datum *args, char *nulls,
								 FtStripe *after);
extern void ft_stripe_append(FtStripe *s, FtLayout layout, const char *kind,
							 int64 delta_sats, const pg_uuid_t *hold_id,
							 const char *payment_ref, TimestampTz at);
extern int	ft_stripe_start(const char *subject);
extern void ft_stripe_lock_emptiest(const char *pool, FtStripe *s);
extern void ft_pool_settings_chain(FtStripe *stripe0, TimestampTz at);
extern char *ft_pool_chained_settings(const char *pool);
extern int64 ft_pool_owed(const char *pool);
extern void ft_pool_owed_append(FtStripe *s, const char *kind, int64 delta_sats,
								const char *payment_ref, TimestampTz at);
extern void ft_stripes_even_out(FtStripe *stripes, int n, int active, int64 need,
								TimestampTz now);
extern void ft_report_unknown_pool(const char *pool);
extern void ft_pool_check_hold_ttl(const char *pool, const Interval *ttl,
								   const char *argname);

/* ---- gate_hold.c: a gate hold's life ---- */

extern pg_uuid_t *ft_gate_hold_place(const char *subject, int64 estimated_sats,
									 int64 absorb_sats, const FtSubjectState *s,
									 FtStripe *stripes, int n, int home,
									 const FtPoolSettings *ps, FtLayout layout,
									 TimestampTz now);
extern bool ft_gate_hold_release(const pg_uuid_t *id, const char *reason,
								 FtLayout layout, TimestampTz now, int64 *returned);
extern int64 ft_gate_holds_expire(FtStripe *stripes, int n, bool all, FtLayout layout,
								  TimestampTz now);
extern bool ft_gate_hold_extend(const pg_uuid_t *id, const Interval *ttl,
								TimestampTz now, TimestampTz *expires_at);
extern void ft_report_unknown_hold(const pg_uuid_t *id);

/* ---- holds.c: both kinds of hold ---- */

extern void ft_report_hold_not_extendable(const pg_uuid_t *id, const char *state);

/* ---- request_key.c: idempotency keys ---- */

/* What the call that recorded a key made. */
typedef struct FtKeyedResult
{
	bool		has_hold;		/* decide, reserve */
	pg_uuid_t	hold;
	int64		estimated;		/* decide: the hold's estimated_sats and held_sats */
	int64		held;
	char	   *subject;		/* a trial's subject, or NULL */
	int64		allowance_credits;	/* reserve, spend */
	int64		purchased_credits;	/* reserve, spend; a trial's credits */
} FtKeyedResult;

extern void ft_define_request_key_guc(void);
extern char *ft_request_key_arg(FunctionCallInfo fcinfo, int argno);
extern void ft_request_key_fingerprint(const char *call, const FtField *args, int nargs,
									   uint8 *fingerprint);
extern bool ft_request_key_find(const char *key, const char *call,
								const uint8 *fingerprint, FtKeyedResult *replay);
extern void ft_request_key_record(const char *key, const char *call,
								  const uint8 *fingerprint, const FtKeyedResult *made,
								  bool with_credits, TimestampTz now);

/* ---- account.c: the only code that writes a credit account ---- */

#define FT_UNLIMITED PG_INT64_MAX

/*
 * No credit counter of an account passes this (10^18; a bigint holds
 * 9.2 * 10^18), so that sums of counters and a request never overflow.
 */
#define FT_MAX_CREDIT_COUNTER INT64CONST(1000000000000000000)

typedef struct FtAccount
{
	char	   *subject;
	char	   *plan;
	FtPeriod	period;
	bool		unlimited;
	int64		allowance;		/* per period (or lifetime); unused when unlimited */
	TimestampTz anniversary;
	TimestampTz period_start;	/* as stored: the period period_used counts */
	int64		period_used;
	int64		lifetime_plan_used;
	int64		late_period_used;	/* settled after their period ended */
	int64		purchased_balance;
	int64		lifetime_spent;
	int64		lifetime_added;
	FtChainHead head;			/* the end of the account's ledger chain */
	TimestampTz updated_at;		/* the instant of the latest write */
	/* derived at the instant of the call */
	TimestampTz now;
	TimestampTz current_start;	/* the period containing now */
	TimestampTz scope_start;	/* current_start, or -infinity for lifetime plans */
	int64		held_allowance; /* on live holds in this scope */
	int64		held_purchased; /* on all live holds */
	int64		held_total;		/* allowance and purchased, on all live holds */
	bool		changed;		/* anything to save */
} FtAccount;

extern bool ft_account_load(const char *subject, TimestampTz now, bool lock,
							FtAccount *a);
extern void ft_account_require(const char *subject, TimestampTz now, FtAccount *a);
extern void ft_report_unknown_account(const char *subject);
extern void ft_account_open(const char *subject, const char *plan, TimestampTz now,
							bool *opened);
extern int64 ft_account_backend_left(const FtAccount *a, const char *backend);
extern void ft_account_check_spend_room(const FtAccount *a, int64 credits);
extern void ft_account_roll_over(FtAccount *a);
extern void ft_account_append(FtAccount *a, const char *kind, const char *bucket,
							  int64 delta, int64 balance_after, const char *backend,
							  const pg_uuid_t *hold_id, const char *ref);
extern void ft_account_spend(FtAccount *a, const char *backend, TimestampTz scope_start,
							 int64 allowance_credits, int64 purchased_credits,
							 const pg_uuid_t *hold_id);
extern void ft_account_add_purchased(FtAccount *a, const char *kind, int64 credits,
									 const char *ref);
extern void ft_account_take_purchased(FtAccount *a, const char *kind, int64 credits,
									  const char *ref);
extern void ft_account_settings_chain(FtAccount *a);
extern void ft_account_save(FtAccount *a);
extern bool ft_account_checkpoint(const char *subject, TimestampTz now, int64 *seq);

/* ---- credit_hold.c: a credit hold's life ---- */

extern pg_uuid_t *ft_credit_hold_place(const char *subject, const char *backend,
									   int64 allowance_credits, int64 purchased_credits,
									   TimestampTz scope_start, TimestampTz now);
extern bool ft_credit_hold_release(const pg_uuid_t *id, const char *reason,
								   TimestampTz now, int64 *released);
extern int64 ft_credit_holds_expire(TimestampTz now, int64 *credits);
extern bool ft_credit_hold_extend(const pg_uuid_t *id, const Interval *ttl,
								  TimestampTz now, TimestampTz *expires_at);

/* ---- allowance.c: the credit arithmetic, pure ---- */

typedef struct FtSplit
{
	bool		ok;
	int64		allowance_credits;
	int64		purchased_credits;
	const char *reason;			/* out_of_credits, backend_cap_exceeded */
} FtSplit;

extern int64 ft_add_saturating(int64 a, int64 b);
extern void ft_split_credits(int64 credits, int64 backend_left, int64 allowance_left,
							 int64 purchased_left, FtSplit *split);
extern bool ft_account_scope_begun(const FtAccount *a);
extern int64 ft_account_used(const FtAccount *a);
extern int64 ft_account_allowance_left(const FtAccount *a);
extern int64 ft_account_purchased_left(const FtAccount *a);
extern int64 ft_backend_left(int64 allowance_left, int64 cap, int64 used, int64 held);

#endif							/* FREETIER_H */
