/*-------------------------------------------------------------------------
 *
 * verify.c
 *	  The hash chains' read side: freetier_verify_ledger (the pools' chains),
 *	  freetier_verify_account_ledger (the accounts' chains),
 *	  freetier_verify_settings_ledger (the plans' and the credit settings'
 *	  chains, 0.4), and the check behind freetier_verify_anchor.
 *
 * Every entry is checked in seq order against the chain so far: its seq is
 * the next one, its stored prev_hash is the previous entry's hash, its
 * balance_after is its bucket's previous balance plus its delta and not
 * negative, and its stored hash is the hash chain.c computes over its
 * fields.  Then the owning row must match the chain's end: the head, the
 * balance of every bucket (a pool's stripe has one, two from 0.4 on: its
 * balance and the sats its pool owes; an account has four: the allowance
 * used in its period, in its lifetime plan, in periods settled late, and
 * its purchased balance; a settings chain has none), and for an account
 * its totals (lifetime_spent, lifetime_added) and its plan, for a pool, an
 * account, a plan and the credit settings their chained settings.
 *
 * A chain starts at its first stored entry: seq 1, after a hash of zeros,
 * or a checkpoint once the entries before it were archived (ledger_archive.c),
 * after what that checkpoint says it follows.  An account's checkpoint met
 * inside its chain must carry the counters the chain has there.  A pool's archive is checked
 * the same way, each stripe's archived entries ending right before the
 * checkpoint its chain now starts at.
 *
 * An anchor (anchor.c) is checked the same way, one chain whole, looking
 * on the way for the anchored entry and its hash (ft_verify_anchor).
 *
 * With a chain key loaded (chain_key.c) a chain must also be vouched for
 * by the key up to its head.  Once a chain has a keyed entry, every later
 * entry must be keyed: an unkeyed one after it is one that anyone could
 * have written, and is the chain's first bad entry whatever follows it (a
 * keyed entry appended on top, by a server that extends whatever head it
 * finds, does not make it good).  A chain that starts at a checkpoint
 * whose prev_hash has the keyed form follows a keyed entry.  The unkeyed
 * entries before a chain's first keyed entry (an install from before the
 * key) are vouched for by that entry, which commits to every entry before
 * it; a chain with no keyed entry, by a seal (anchor.c) of its head, or
 * by its last entry being an install seed (the same bytes in every
 * install); else its first unkeyed entry is its first bad one.  Without
 * the key, a keyed entry cannot be checked: 55000, never ok (a seal is
 * not read: the entries it vouches for are unkeyed, and checked as such).
 * An archive is vouched for by the checkpoint its chain starts at, and
 * keeps the rule of unkeyed after keyed.
 *
 * A pool has one chain per stripe; an account, a plan and the credit
 * settings have one each.  Verification only
 * reads, with one snapshot for the whole call
 * (FT_READING), so that a chain and its owning row are seen at one instant.
 * Every chain that fails writes a line to the server log (log_lines.c).
 *
 *-------------------------------------------------------------------------
 */
#include "freetier.h"

#include "catalog/pg_type.h"
#include "common/int.h"
#include "fmgr.h"
#include "executor/tuptable.h"
#include "funcapi.h"
#include "utils/builtins.h"

#define FT_MAX_BUCKETS 4
#define FT_MAX_FIELDS 10

/*
 * What differs between the pool chains and the account chains.  Every
 * entries statement returns bucket (0 to FT_MAX_BUCKETS - 1), prev_hash and
 * hash, then the hashed fields in the order they are hashed (the key, the
 * seq, ...).  Every owners statement returns key, head_seq, head_hash, the
 * balance of each bucket, and whether the row's other figures agree with
 * its chain.
 */
typedef struct ChainKind
{
	FtStatement *owners;
	FtStatement *entries;
	const char *domain;			/* of chain 0 of a key */
	int			nfields;		/* hashed fields of chain 0 */
	const char *later_domain;	/* of its other chains (a pool's stripes) */
	int			delta_field;	/* which field is the delta */
	int			balance_field;	/* and which the balance after it */
	FtChainFamily family;
} ChainKind;

/*
 * A pool's chains: its stripes (up to 0.2.1, its one row as chain 0).  A
 * stripe's entries end with the stripe number, which only stripes other
 * than 0 hash.
 */
static FtStatement pool_owners[2] = {
	{"SELECT pool, 0, head_seq, head_hash, balance_sats, 0::bigint, 0::bigint, 0::bigint, true"
		" FROM freetier.pools"
		" WHERE $1 IS NULL OR pool OPERATOR(pg_catalog.=) $1 ORDER BY pool",
	1, {TEXTOID}, NULL},
	{"SELECT pool, stripe, head_seq, head_hash, balance_sats, 0::bigint, 0::bigint, 0::bigint, true"
		" FROM freetier.pool_stripes"
		" WHERE $1 IS NULL OR pool OPERATOR(pg_catalog.=) $1 ORDER BY pool, stripe",
	1, {TEXTOID}, NULL}
};

static FtStatement pool_entries[2] = {
	{"SELECT 0, prev_hash, hash,"
		" pool, seq, kind, delta_sats, balance_after, hold_id, payment_ref, created_at"
		" FROM freetier.ledger WHERE pool OPERATOR(pg_catalog.=) $1 ORDER BY seq",
	1, {TEXTOID}, NULL},
	{"SELECT 0, prev_hash, hash,"
		" pool, seq, kind, delta_sats, balance_after, hold_id, payment_ref, created_at, stripe"
		" FROM freetier.ledger WHERE pool OPERATOR(pg_catalog.=) $1"
		" AND stripe OPERATOR(pg_catalog.=) $2 ORDER BY seq",
	2, {TEXTOID, INT4OID}, NULL}
};

/*
 * From 0.4 on a pool's stripes also keep what it owes (only stripe 0 owes
 * anything; on any other, the owed entries are none and their sum 0):
 * entries of kind 'owed' and 'repay' move that, bucket 1.  A chain starts
 * where its latest archive move left it (ledger_archive.c): its first
 * stored entry but an install seed is the one after the last archived, or,
 * when none was, the one after the install seed or seq 1.  (A pool's
 * settings are checked against its stripe 0 after the walk: check_chain.)
 */
static FtStatement pool_owners_owed = {
	"SELECT s.pool, s.stripe, s.head_seq, s.head_hash, s.balance_sats, s.owed_sats,"
	" 0::bigint, 0::bigint, coalesce(st.first_seq, st.expected) OPERATOR(pg_catalog.=) st.expected"
	" FROM freetier.pool_stripes s CROSS JOIN LATERAL (SELECT"
	"   (SELECT pg_catalog.min(l.seq) FROM freetier.ledger l"
	"     WHERE l.pool OPERATOR(pg_catalog.=) s.pool AND l.stripe OPERATOR(pg_catalog.=) s.stripe"
	"       AND NOT " FT_INSTALL_SEED("l.") ") AS first_seq,"
	"   GREATEST((SELECT pg_catalog.max(c.archived_seq) FROM freetier.ledger_chain_starts c"
	"              WHERE c.pool OPERATOR(pg_catalog.=) s.pool"
	"                AND c.stripe OPERATOR(pg_catalog.=) s.stripe),"
	"            (SELECT 1 FROM freetier.ledger l"
	"              WHERE l.pool OPERATOR(pg_catalog.=) s.pool AND l.stripe OPERATOR(pg_catalog.=) s.stripe"
	"                AND " FT_INSTALL_SEED("l.") "), 0) OPERATOR(pg_catalog.+) 1 AS expected) st"
	" WHERE $1 IS NULL OR s.pool OPERATOR(pg_catalog.=) $1 ORDER BY s.pool, s.stripe",
	1, {TEXTOID}, NULL
};

static FtStatement pool_entries_owed = {
	"SELECT CASE WHEN kind OPERATOR(pg_catalog.=) ANY ('{owed,repay}') THEN 1 ELSE 0 END,"
	" prev_hash, hash,"
	" pool, seq, kind, delta_sats, balance_after, hold_id, payment_ref, created_at, stripe"
	" FROM freetier.ledger WHERE pool OPERATOR(pg_catalog.=) $1"
	" AND stripe OPERATOR(pg_catalog.=) $2 ORDER BY seq",
	2, {TEXTOID, INT4OID}, NULL
};

/*
 * An account's four counters; and its totals and plan, which the chain also
 * carries: every spend entry is spent credits (purchased ones as negative
 * deltas), and so is an import of allowance use; every purchase, grant,
 * trial or carry-in entry is credits added, and so is an import of a
 * purchased balance, and the last open or plan_change entry names the
 * plan.  A chain (in table `tbl`) that starts at a checkpoint `start`
 * (its ref; NULL for a chain from seq 1) counts from what that carries.
 */
#define ACCOUNT_TOTALS_MATCH(tbl, start, spent, added, plan) \
	"(" spent ") OPERATOR(pg_catalog.=) (coalesce(" FT_CHECKPOINT_FIGURE(start, "spent") ", 0)" \
	" OPERATOR(pg_catalog.+) coalesce((SELECT pg_catalog.sum(" \
	"     CASE WHEN l.bucket OPERATOR(pg_catalog.=) 'purchased'" \
	"          THEN OPERATOR(pg_catalog.-) l.delta ELSE l.delta END)" \
	"   FROM " tbl " l WHERE l.subject OPERATOR(pg_catalog.=) a.subject" \
	"     AND (l.kind OPERATOR(pg_catalog.=) 'spend' OR l.kind OPERATOR(pg_catalog.=) 'import'" \
	"          AND l.bucket OPERATOR(pg_catalog.<>) 'purchased')), 0))" \
	" AND (" added ") OPERATOR(pg_catalog.=) (coalesce(" FT_CHECKPOINT_FIGURE(start, "added") ", 0)" \
	" OPERATOR(pg_catalog.+) coalesce((SELECT pg_catalog.sum(l.delta)" \
	"   FROM " tbl " l WHERE l.subject OPERATOR(pg_catalog.=) a.subject" \
	"     AND (l.kind OPERATOR(pg_catalog.=) ANY ('{purchase,grant,trial,carry_in}')" \
	"          OR l.kind OPERATOR(pg_catalog.=) 'import'" \
	"          AND l.bucket OPERATOR(pg_catalog.=) 'purchased')), 0))" \
	" AND (" plan ") IS NOT DISTINCT FROM coalesce((SELECT l.ref FROM " tbl " l" \
	"   WHERE l.subject OPERATOR(pg_catalog.=) a.subject" \
	"     AND l.kind OPERATOR(pg_catalog.=) ANY ('{open,plan_change}')" \
	"   ORDER BY l.seq DESC LIMIT 1), " FT_CHECKPOINT_PLAN(start) ")"

/*
 * The first entry of account a's chain in table `tbl` (its seq, and its
 * ref when it is a checkpoint), as lateral `alias`.
 */
#define ACCOUNT_CHAIN_START(tbl, alias) \
	" LEFT JOIN LATERAL (SELECT l.seq, CASE WHEN l.kind OPERATOR(pg_catalog.=) 'checkpoint' THEN l.ref END AS ref" \
	"   FROM " tbl " l WHERE l.subject OPERATOR(pg_catalog.=) a.subject" \
	"   ORDER BY l.seq LIMIT 1) " alias " ON true"

/* Up to 0.3 (0.2's SQL on this library): no checkpoints, no archive. */
static FtStatement account_owners_v2 = {
	"SELECT a.subject, 0, a.head_seq, a.head_hash, a.period_used, a.lifetime_plan_used,"
	" a.late_period_used, a.purchased_balance,"
	" " ACCOUNT_TOTALS_MATCH("freetier.account_ledger", "NULL", "a.lifetime_spent",
							 "a.lifetime_added", "a.plan")
	" FROM freetier.accounts a"
	" WHERE $1 IS NULL OR a.subject OPERATOR(pg_catalog.=) $1 ORDER BY a.subject",
	1, {TEXTOID}, NULL
};

/*
 * From 0.4 on a chain also starts where its latest archive move left it
 * (ledger_archive.c): at the entry after the last archived, else at seq 1;
 * and the account's anniversary and period start are the ones its chain
 * gives (FT_ACCOUNT_DATES_CHAINED, account.c).
 */
static FtStatement account_owners = {
	"SELECT a.subject, 0, a.head_seq, a.head_hash, a.period_used, a.lifetime_plan_used,"
	" a.late_period_used, a.purchased_balance,"
	" " ACCOUNT_TOTALS_MATCH("freetier.account_ledger", "st.ref", "a.lifetime_spent",
							 "a.lifetime_added", "a.plan")
	" AND coalesce(st.seq, 1) OPERATOR(pg_catalog.=) (coalesce((SELECT"
	"   pg_catalog.max(c.archived_seq) FROM freetier.account_chain_starts c"
	"   WHERE c.subject OPERATOR(pg_catalog.=) a.subject), 0) OPERATOR(pg_catalog.+) 1)"
	" AND " FT_ACCOUNT_DATES_CHAINED
	" FROM freetier.accounts a" ACCOUNT_CHAIN_START("freetier.account_ledger", "st")
	" WHERE $1 IS NULL OR a.subject OPERATOR(pg_catalog.=) $1 ORDER BY a.subject",
	1, {TEXTOID}, NULL
};

/*
 * An account's entries, and after the hashed fields what a checkpoint
 * carries of buckets 0 to 2 (its balance_after is bucket 3's): a chain
 * that starts at a checkpoint starts from those.
 */
#define ACCOUNT_CARRIED_BUCKETS 3
#define ACCOUNT_CHECKPOINT_REF "CASE WHEN kind OPERATOR(pg_catalog.=) 'checkpoint' THEN ref END"
#define ACCOUNT_ENTRIES(tbl) \
	"SELECT CASE bucket WHEN 'period' THEN 0 WHEN 'lifetime' THEN 1" \
	"  WHEN 'late' THEN 2 ELSE 3 END, prev_hash, hash," \
	" subject, seq, kind, bucket, delta, balance_after, backend, hold_id, ref, created_at," \
	" " FT_CHECKPOINT_FIGURE(ACCOUNT_CHECKPOINT_REF, "period") "," \
	" " FT_CHECKPOINT_FIGURE(ACCOUNT_CHECKPOINT_REF, "lifetime") "," \
	" " FT_CHECKPOINT_FIGURE(ACCOUNT_CHECKPOINT_REF, "late") \
	" FROM " tbl " WHERE subject OPERATOR(pg_catalog.=) $1 ORDER BY seq"

static FtStatement account_entries = {
	ACCOUNT_ENTRIES("freetier.account_ledger"), 1, {TEXTOID}, NULL
};

/*
 * A pool's archive (ledger_archive.c): the entries moved out of each
 * stripe's chain, which end where the chain now starts, right before a
 * checkpoint.  Its owner is that checkpoint: the archive must end at the
 * entry before it, with the hash and the balance the checkpoint follows.
 * What a stripe owes (bucket 1, as in pool_entries_owed) is 0 at every
 * checkpoint (ledger_archive.c writes none on a stripe that owes).
 * A stripe with nothing archived has an empty archive, which is ok.  A
 * chain's install-time seed stays in the ledger (is_install_seed): it is
 * read as the archive's first entry, and the owner is the entry after it.
 */
static FtStatement archive_owners = {
	"SELECT s.pool, s.stripe, coalesce(l.seq OPERATOR(pg_catalog.-) 1, 0),"
	" coalesce(l.prev_hash, pg_catalog.decode(pg_catalog.repeat('00', 32), 'hex')),"
	" coalesce(l.balance_after OPERATOR(pg_catalog.-) l.delta_sats, 0),"
	" 0::bigint, 0::bigint, 0::bigint,"
	" l.seq IS NULL OR l.kind OPERATOR(pg_catalog.=) 'checkpoint'"
	" FROM freetier.pool_stripes s LEFT JOIN LATERAL ("
	"   SELECT l.seq, l.prev_hash, l.balance_after, l.delta_sats, l.kind FROM freetier.ledger l"
	"    WHERE l.pool OPERATOR(pg_catalog.=) s.pool AND l.stripe OPERATOR(pg_catalog.=) s.stripe"
	"      AND NOT " FT_INSTALL_SEED("l.")
	"      AND EXISTS (SELECT FROM freetier.ledger_archive a"
	"                   WHERE a.pool OPERATOR(pg_catalog.=) s.pool"
	"                     AND a.stripe OPERATOR(pg_catalog.=) s.stripe)"
	"    ORDER BY l.seq LIMIT 1) l ON true"
	" WHERE $1 IS NULL OR s.pool OPERATOR(pg_catalog.=) $1 ORDER BY s.pool, s.stripe",
	1, {TEXTOID}, NULL
};

#define ARCHIVE_COLUMNS \
	"SELECT CASE WHEN kind OPERATOR(pg_catalog.=) ANY ('{owed,repay}') THEN 1 ELSE 0 END," \
	" prev_hash, hash," \
	" pool, seq, kind, delta_sats, balance_after, hold_id, payment_ref, created_at, stripe"
static FtStatement archive_entries = {
	ARCHIVE_COLUMNS " FROM freetier.ledger_archive WHERE pool OPERATOR(pg_catalog.=) $1"
	" AND stripe OPERATOR(pg_catalog.=) $2"
	" UNION ALL " ARCHIVE_COLUMNS " FROM freetier.ledger l WHERE pool OPERATOR(pg_catalog.=) $1"
	" AND stripe OPERATOR(pg_catalog.=) $2 AND " FT_INSTALL_SEED("")
	" AND EXISTS (SELECT FROM freetier.ledger_archive a WHERE a.pool OPERATOR(pg_catalog.=) $1"
	"   AND a.stripe OPERATOR(pg_catalog.=) $2)"
	" ORDER BY 5",
	2, {TEXTOID, INT4OID}, NULL
};

/*
 * An account's archive, as a pool's: its owner is the checkpoint the
 * account's chain starts at, which carries the four counters, the totals
 * and the plan that the archived entries must end at.
 */
static FtStatement account_archive_owners = {
	"SELECT a.subject, 0, coalesce(f.seq OPERATOR(pg_catalog.-) 1, 0),"
	" coalesce(f.prev_hash, pg_catalog.decode(pg_catalog.repeat('00', 32), 'hex')),"
	" coalesce(" FT_CHECKPOINT_FIGURE("f.ref", "period") ", 0),"
	" coalesce(" FT_CHECKPOINT_FIGURE("f.ref", "lifetime") ", 0),"
	" coalesce(" FT_CHECKPOINT_FIGURE("f.ref", "late") ", 0),"
	" coalesce(f.balance_after OPERATOR(pg_catalog.-) f.delta, 0),"
	" f.seq IS NULL OR coalesce(f.kind OPERATOR(pg_catalog.=) 'checkpoint' AND "
	ACCOUNT_TOTALS_MATCH("freetier.account_ledger_archive", "st.ref",
						 FT_CHECKPOINT_FIGURE("f.ref", "spent"),
						 FT_CHECKPOINT_FIGURE("f.ref", "added"),
						 FT_CHECKPOINT_PLAN("f.ref")) ", false)"
	" FROM freetier.accounts a"
	" LEFT JOIN LATERAL (SELECT l.seq, l.kind, l.ref, l.prev_hash, l.balance_after, l.delta"
	"   FROM freetier.account_ledger l WHERE l.subject OPERATOR(pg_catalog.=) a.subject"
	"     AND EXISTS (SELECT FROM freetier.account_ledger_archive x"
	"                  WHERE x.subject OPERATOR(pg_catalog.=) a.subject)"
	"   ORDER BY l.seq LIMIT 1) f ON true"
	ACCOUNT_CHAIN_START("freetier.account_ledger_archive", "st")
	" WHERE $1 IS NULL OR a.subject OPERATOR(pg_catalog.=) $1 ORDER BY a.subject",
	1, {TEXTOID}, NULL
};

static FtStatement account_archive_entries = {
	ACCOUNT_ENTRIES("freetier.account_ledger_archive"), 1, {TEXTOID}, NULL
};

static const ChainKind archive_chains = {&archive_owners, &archive_entries,
FT_POOL_CHAIN, 8, FT_STRIPE_CHAIN, 3, 4, FT_CHAINS_POOLS};
static const ChainKind account_archive_chains = {&account_archive_owners,
&account_archive_entries, FT_ACCOUNT_CHAIN, 10, NULL, 4, 5, FT_CHAINS_ACCOUNTS};

static const ChainKind pool_chains[2] = {
	{&pool_owners[0], &pool_entries[0], FT_POOL_CHAIN, 8, NULL, 3, 4, FT_CHAINS_POOLS},
	{&pool_owners[1], &pool_entries[1], FT_POOL_CHAIN, 8, FT_STRIPE_CHAIN, 3, 4, FT_CHAINS_POOLS}
};
static const ChainKind pool_chains_owed = {&pool_owners_owed, &pool_entries_owed,
FT_POOL_CHAIN, 8, FT_STRIPE_CHAIN, 3, 4, FT_CHAINS_POOLS};
static const ChainKind account_chains[2] = {
	{&account_owners_v2, &account_entries, FT_ACCOUNT_CHAIN, 10, NULL, 4, 5, FT_CHAINS_ACCOUNTS},
	{&account_owners, &account_entries, FT_ACCOUNT_CHAIN, 10, NULL, 4, 5, FT_CHAINS_ACCOUNTS}
};

/*
 * The settings chains (settings_ledger.c): a plan's, keyed 'plan:<plan>',
 * a tier's, keyed 'tier:<tier>', and the credit settings', keyed
 * 'credit_settings', as anchors name them.
 * Their entries move no balance; the owning row's values must be the
 * latest entry's (those the install gave the row when there is none).
 */
static FtStatement settings_owners = {
	"SELECT o.chain, 0, o.head_seq, o.head_hash, 0::bigint, 0::bigint, 0::bigint, 0::bigint,"
	" " FT_SETTINGS_CHAINED("o.settings", "o.chain", "o.install")
	" FROM (SELECT '" FT_PLAN_CHAIN_PREFIX "' OPERATOR(pg_catalog.||) p.plan AS chain, p.head_seq, p.head_hash,"
	"   " FT_PLAN_SETTINGS_JSON("p.") " AS settings, " FT_PLAN_INSTALL_SETTINGS("p.plan") " AS install"
	"   FROM freetier.plans p"
	"  UNION ALL SELECT '" FT_TIER_CHAIN_PREFIX "' OPERATOR(pg_catalog.||) t.tier, t.head_seq, t.head_hash,"
	"   " FT_TIER_SETTINGS_JSON("t.") ", " FT_TIER_INSTALL_SETTINGS("t.tier")
	"   FROM freetier.tiers t"
	"  UNION ALL SELECT 'credit_settings', s.head_seq, s.head_hash,"
	"   " FT_CREDIT_SETTINGS_JSON("s.") ", " FT_CREDIT_INSTALL_SETTINGS
	"   FROM freetier.credit_settings s) o"
	" WHERE $1 IS NULL OR o.chain OPERATOR(pg_catalog.=) $1 ORDER BY o.chain",
	1, {TEXTOID}, NULL
};

static FtStatement settings_entries = {
	"SELECT 0, prev_hash, hash, chain, seq, kind, settings, created_at"
	" FROM freetier.settings_ledger WHERE chain OPERATOR(pg_catalog.=) $1 ORDER BY seq",
	1, {TEXTOID}, NULL
};

static const ChainKind settings_chains = {&settings_owners, &settings_entries,
FT_SETTINGS_CHAIN, 5, NULL, -1, -1, FT_CHAINS_SETTINGS};

/* Where an entries row's hashed fields start (0-based: its fourth column). */
#define FIRST_FIELD 3

/* Whether a stored bytea is exactly this hash. */
static bool
bytea_is_hash(Datum d, const uint8 *hash)
{
	bytea	   *b = DatumGetByteaPP(d);

	return VARSIZE_ANY_EXHDR(b) == FT_HASH_BYTES &&
		memcmp(VARDATA_ANY(b), hash, FT_HASH_BYTES) == 0;
}

/* The hashed fields of an entries row, by their columns' types. */
static void
fields_of_row(TupleTableSlot *row, int nfields, FtField *fields)
{
	for (int i = 0; i < nfields; i++)
	{
		int			col = FIRST_FIELD + i;
		Datum		d = row->tts_values[col];
		bool		isnull = row->tts_isnull[col];

		switch (TupleDescAttr(row->tts_tupleDescriptor, col)->atttypid)
		{
			case TEXTOID:
				if (isnull)
					fields[i] = ft_text_field(NULL);
				else
				{
					text	   *t = DatumGetTextPP(d);

					fields[i] = ft_text_bytes_field(VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t));
				}
				break;
			case UUIDOID:
				fields[i] = ft_uuid_field(isnull ? NULL : DatumGetUUIDP(d));
				break;
			default:			/* bigint, timestamptz */
				fields[i] = ft_int64_field(DatumGetInt64(d));
				break;
		}
	}
}

/* One chain being checked, entry by entry. */
typedef struct ChainCheck
{
	const ChainKind *kind;
	int			chain;			/* its number among its key's chains */
	int64		rows;			/* entries stored */
	int64		entries;		/* entries that matched, in order */
	bool		ok;
	int64		first_bad_entry;	/* 0 when none */
	bool		install_seed_only;	/* the one entry so far is an install seed */
	int64		balance[FT_MAX_BUCKETS];
	uint8		head[FT_HASH_BYTES];
	const char *key;			/* the pool or subject */
	int64		unvouched_from; /* the first unkeyed entry when none is keyed
								 * (0: none, or a keyed one since) */
	bool		keyed_seen;		/* a keyed entry is in the chain so far */
	bool		sealing;		/* for freetier_seal_chains: no seal asked for */
	int64		anchor_seq;		/* an anchored entry's seq (0: none) ... */
	const uint8 *anchor_hash;	/* ... and its hash */
	bool		anchor_found;	/* that entry matched, with that hash */
	const char *settings;		/* a pool's stripe 0: the payment_ref of its
								 * latest settings or checkpoint entry so far
								 * (NULL: the install's settings) */
} ChainCheck;

/*
 * Whether pools row `pool` has the settings that move money which its
 * stripe 0 chains: `settings` is the payment_ref of that chain's latest
 * 'settings' or 'checkpoint' entry (a checkpoint carries them on, so that
 * archiving keeps them), NULL for the install's (FT_POOL_DEFAULT_SETTINGS).
 * An edit of the pools row made outside the setters makes stripe 0 not
 * match.  The walk over the chain finds that entry, so this reads the row
 * only.
 */
static FtStatement pool_settings_chained = {
	"SELECT " FT_POOL_SETTINGS_MATCH("c.settings", "p.") " FROM freetier.pools p,"
	" (SELECT coalesce($2, " FT_POOL_DEFAULT_SETTINGS ")::jsonb AS settings) c"
	" WHERE p.pool OPERATOR(pg_catalog.=) $1",
	2, {TEXTOID, TEXTOID}, NULL
};

static bool
pool_settings_match(const char *pool, const char *settings)
{
	Datum		args[2];
	char		nulls[2] = {' ', settings ? ' ' : 'n'};
	bool		isnull;
	Datum		match;

	args[0] = CStringGetTextDatum(pool);
	args[1] = settings ? CStringGetTextDatum(settings) : (Datum) 0;
	if (ft_execute(&pool_settings_chained, args, nulls) == 0)
		return false;
	match = ft_column(0, 1, &isnull);
	return !isnull && DatumGetBool(match);
}

/* Whether an entry's kind (its field 2) is `name`. */
static bool
is_kind(const FtField *kind, const char *name)
{
	return kind->s != NULL && kind->len == (int) strlen(name) &&
		memcmp(kind->s, name, kind->len) == 0;
}

/* Whether an entry's kind (its field 2) is 'checkpoint'. */
static bool
is_checkpoint(const FtField *kind)
{
	return is_kind(kind, "checkpoint");
}

/*
 * Whether an account's checkpoint met in its chain carries the chain's
 * counters there (buckets 0 to ACCOUNT_CARRIED_BUCKETS - 1): a chain that
 * starts at it counts from them, so figures that disagree with the entries
 * before it are a bad entry even when its hash matches.  Any other entry
 * passes.
 */
static bool
carries_chain_counters(const ChainCheck *c, TupleTableSlot *row, const FtField *fields)
{
	int			first_carried = FIRST_FIELD + c->kind->nfields;

	if (c->kind->family != FT_CHAINS_ACCOUNTS || !is_checkpoint(&fields[2]))
		return true;
	for (int b = 0; b < ACCOUNT_CARRIED_BUCKETS; b++)
		if (row->tts_isnull[first_carried + b] ||
			DatumGetInt64(row->tts_values[first_carried + b]) != c->balance[b])
			return false;
	return true;
}

/*
 * A chain whose entries before a checkpoint were archived starts at that
 * checkpoint: the chain so far is what the checkpoint says it follows (its
 * prev_hash, the entries before it, its balance, which it does not move,
 * and an account's other counters, which it carries).  The checkpoint's
 * own hash is then checked as every entry's is.
 */
static bool
start_at_checkpoint(ChainCheck *c, TupleTableSlot *row, const FtField *fields, int bucket)
{
	const FtField *kind = &fields[2];
	bytea	   *prev = DatumGetByteaPP(row->tts_values[1]);
	int			carried = c->kind->family == FT_CHAINS_ACCOUNTS ? ACCOUNT_CARRIED_BUCKETS : 0;
	int			first_carried = FIRST_FIELD + c->kind->nfields;
	bool		carries = true;

	for (int b = 0; b < carried; b++)
		carries &= !row->tts_isnull[first_carried + b];
	if (!carries || c->kind->delta_field < 0 ||	/* no balances: no checkpoints */
		!is_checkpoint(kind) ||
		fields[c->kind->delta_field].i != 0 ||
		VARSIZE_ANY_EXHDR(prev) != FT_HASH_BYTES)
	{
		if (c->entries == 0)
			c->entries = fields[1].i - 1;	/* the first entry stored is the bad one */
		return false;			/* else the first one missing */
	}
	c->entries = fields[1].i - 1;
	/* what the checkpoint follows was keyed: so must it be, and all after it */
	c->keyed_seen = ft_chain_key() != NULL && ft_hash_is_keyed((const uint8 *) VARDATA_ANY(prev));
	for (int b = 0; b < carried; b++)
		c->balance[b] = DatumGetInt64(row->tts_values[first_carried + b]);
	c->balance[bucket] = fields[c->kind->balance_field].i;
	memcpy(c->head, VARDATA_ANY(prev), FT_HASH_BYTES);
	return true;
}

/*
 * A pool's install-time seed entry: seq 1, dated -infinity, the same bytes
 * in every install.  pg_dump leaves it out and CREATE EXTENSION makes it
 * again, so it is never archived: a chain may go on from it straight to a
 * checkpoint, the entries between them being in the archive.
 */
static bool
is_install_seed(const FtField *fields)
{
	return fields[1].i == 1 && fields[7].i == DT_NOBEGIN &&
		fields[2].len == strlen("seed") && memcmp(fields[2].s, "seed", fields[2].len) == 0;
}

/*
 * Whether an entry's stored hash is its hash after the chain so far, keyed
 * or unkeyed as the stored one's form says (an unkeyed hash may start as a
 * keyed one does: it is tried unkeyed too); *keyed says which matched.
 */
static bool
entry_hash_matches(ChainCheck *c, const FtField *fields, int nfields, Datum stored,
				   uint8 *hash, bool *keyed)
{
	const char *domain = c->chain == 0 ? c->kind->domain : c->kind->later_domain;
	bytea	   *b = DatumGetByteaPP(stored);
	bool		tagged = VARSIZE_ANY_EXHDR(b) == FT_HASH_BYTES &&
		ft_hash_is_keyed((const uint8 *) VARDATA_ANY(b));

	*keyed = tagged && ft_chain_key() != NULL;
	if (*keyed)
	{
		ft_chain_hash_keyed(domain, fields, nfields, c->head, hash);
		if (bytea_is_hash(stored, hash))
			return true;
		*keyed = false;
	}
	ft_chain_hash(domain, fields, nfields, c->head, hash);
	if (bytea_is_hash(stored, hash))
		return true;
	if (tagged && ft_chain_key() == NULL)
		ft_chain_key_required(psprintf("Chain \"%s\" has keyed entries (entry %lld).",
									   ft_chain_name(c->kind->family, c->key, c->chain),
									   (long long) fields[1].i));
	return false;
}

/* Check one entry against the chain so far. */
static bool
entry_matches(ChainCheck *c, TupleTableSlot *row)
{
	const ChainKind *kind = c->kind;
	FtField		fields[FT_MAX_FIELDS];
	int			nfields = c->chain == 0 ? kind->nfields : kind->nfields + 1;
	int			bucket;
	int64		expected = 0;
	uint8		hash[FT_HASH_BYTES];
	bool		keyed;

	slot_getallattrs(row);
	bucket = DatumGetInt32(row->tts_values[0]);
	fields_of_row(row, nfields, fields);
	if (bucket < 0 || bucket >= FT_MAX_BUCKETS)
		return false;
	if ((c->entries == 0 || c->install_seed_only) && fields[1].i > c->entries + 1 &&
		!start_at_checkpoint(c, row, fields, bucket))
		return false;
	if (fields[1].i != c->entries + 1)
		return false;
	if (!bytea_is_hash(row->tts_values[1], c->head))
		return false;
	if (!carries_chain_counters(c, row, fields))
		return false;
	if (kind->delta_field >= 0 &&
		(pg_add_s64_overflow(c->balance[bucket], fields[kind->delta_field].i, &expected) ||
		 expected != fields[kind->balance_field].i || expected < 0))
		return false;
	if (!entry_hash_matches(c, fields, nfields, row->tts_values[2], hash, &keyed))
		return false;
	if (!keyed && c->keyed_seen)
		return false;			/* unkeyed after keyed: anyone could have written it */

	c->entries++;
	c->balance[bucket] = expected;
	memcpy(c->head, hash, FT_HASH_BYTES);
	if (c->entries == c->anchor_seq)
		c->anchor_found = memcmp(hash, c->anchor_hash, FT_HASH_BYTES) == 0;
	c->install_seed_only = c->entries == 1 && c->kind->family == FT_CHAINS_POOLS &&
		is_install_seed(fields);
	if (c->kind == &pool_chains_owed && c->chain == 0 &&
		(is_checkpoint(&fields[2]) || is_kind(&fields[2], "settings")))
		c->settings = fields[6].s ? pnstrdup(fields[6].s, fields[6].len) : NULL;
	if (keyed)
	{
		c->keyed_seen = true;
		c->unvouched_from = 0;
	}
	else if (c->unvouched_from == 0 && !c->install_seed_only)
		c->unvouched_from = c->entries;
	return true;
}

/* An entries row, in seq order: checked until the first that does not match. */
static void
check_entry(TupleTableSlot *row, void *arg)
{
	ChainCheck *c = (ChainCheck *) arg;

	c->rows++;
	if (c->ok && !entry_matches(c, row))
	{
		c->ok = false;
		c->first_bad_entry = c->entries + 1;
	}
}

/* A chain's owning row: its key and chain number, head, bucket balances, other figures. */
typedef struct ChainOwner
{
	char	   *key;
	int			chain;
	int64		head_seq;
	uint8		head[FT_HASH_BYTES];
	int64		balance[FT_MAX_BUCKETS];
	bool		figures_ok;		/* the row's other figures agree with the chain */
} ChainOwner;

static FtStatement seal_of = {
	"SELECT seq, seal FROM freetier.chain_seals WHERE chain OPERATOR(pg_catalog.=) $1",
	1, {TEXTOID}, NULL
};

/*
 * Whether a chain that verified is vouched for by the key up to its head,
 * when a key is loaded (the header says how): one with no keyed entry and
 * an unkeyed one but an install seed (c->unvouched_from), only by a seal
 * of its head (an unkeyed entry after a keyed one never gets here).  An
 * archive (a pool's or the accounts') is vouched for by its owner, a
 * checkpoint in the ledger.  The
 * seal is read only then, so that nothing changes for unkeyed chains.
 */
static bool
chain_vouched(ChainCheck *c)
{
	char	   *name;
	Datum		args[1];
	bool		isnull;
	uint8		seal[FT_HASH_BYTES];

	if (c->unvouched_from == 0 || ft_chain_key() == NULL || c->kind == &archive_chains ||
		c->kind == &account_archive_chains)
		return true;
	name = ft_chain_name(c->kind->family, c->key, c->chain);
	args[0] = CStringGetTextDatum(name);
	if (ft_execute(&seal_of, args, NULL) == 0 || ft_column_int64(0, 1) != c->entries)
		return false;
	ft_chain_seal(name, c->entries, c->head, seal);
	return bytea_is_hash(ft_column(0, 2, &isnull), seal);
}

/*
 * Walk one chain, each entry as the statement produces it, so that neither
 * the rows nor what checking them allocates grow with the ledger; then
 * check its owning row against the chain's end.  The caller zeroes *c,
 * and may set an anchor to look for on the way.
 */
static void
check_chain(const ChainKind *kind, const ChainOwner *o, ChainCheck *c)
{
	Datum		args[2] = {CStringGetTextDatum(o->key), Int32GetDatum(o->chain)};

	c->kind = kind;
	c->chain = o->chain;
	c->key = o->key;
	c->ok = true;
	ft_execute_each(kind->entries, args, NULL, check_entry, c);
	if (c->ok && (c->entries != o->head_seq || !o->figures_ok ||
				  (kind == &pool_chains_owed && o->chain == 0 &&
				   !pool_settings_match(o->key, c->settings)) ||
				  memcmp(c->balance, o->balance, sizeof(c->balance)) != 0 ||
				  memcmp(c->head, o->head, FT_HASH_BYTES) != 0))
	{
		c->ok = false;
		if (c->entries < o->head_seq)
			c->first_bad_entry = c->entries + 1;
	}
	if (c->ok && !c->sealing && !chain_vouched(c))
	{
		c->ok = false;
		c->first_bad_entry = c->unvouched_from;
	}
}

/*
 * The owning rows of every chain of kind `kind` (only those of key `only`
 * when it is not NULL), ordered by key, then chain.
 */
static ChainOwner *
read_owners(const ChainKind *kind, const char *only, int *n)
{
	Datum		args[1];
	char		nulls[1];
	ChainOwner *owners;

	args[0] = only ? CStringGetTextDatum(only) : (Datum) 0;
	nulls[0] = only ? ' ' : 'n';
	*n = ft_execute(kind->owners, args, nulls);

	owners = SPI_palloc(sizeof(ChainOwner) * Max(*n, 1));
	for (int i = 0; i < *n; i++)
	{
		bool		isnull;
		bytea	   *head = DatumGetByteaPP(ft_column(i, 4, &isnull));

		owners[i].key = ft_column_text(i, 1);
		owners[i].chain = DatumGetInt32(ft_column(i, 2, &isnull));
		owners[i].head_seq = ft_column_int64(i, 3);
		memset(owners[i].head, 0, FT_HASH_BYTES);
		if (VARSIZE_ANY_EXHDR(head) == FT_HASH_BYTES)
			memcpy(owners[i].head, VARDATA_ANY(head), FT_HASH_BYTES);
		for (int b = 0; b < FT_MAX_BUCKETS; b++)
			owners[i].balance[b] = ft_column_int64(i, 5 + b);
		owners[i].figures_ok = DatumGetBool(ft_column(i, 5 + FT_MAX_BUCKETS, &isnull));
	}
	return owners;
}

/*
 * One row per chain (or for the one named): entries, ok, first_bad_entry.
 * first_bad_entry is the seq of the first entry that does not match, or the
 * first missing one when entries are gone from the end; ok is false with
 * first_bad_entry NULL when every entry matches but the owning row does not
 * match the chain's end.
 */
static void
verify_chains(FunctionCallInfo fcinfo, const ChainKind *kind, const char *argname)
{
	char	   *only = ft_text_arg(fcinfo, 0, argname, false);
	int			n;
	ChainOwner *owners;

	ft_result_begin(fcinfo);
	ft_connect(FT_READING);
	owners = read_owners(kind, only, &n);
	if (only && n == 0)
	{
		if (kind->family == FT_CHAINS_ACCOUNTS)
			ft_report_unknown_account(only);
		if (kind->family == FT_CHAINS_SETTINGS)
			ft_report_unknown_chain(only);
		ft_report_unknown_pool(only);
	}

	/* the owners come ordered by key, then chain: one result row per key */
	for (int i = 0; i < n;)
	{
		int64		entries = 0;
		bool		ok = true;
		int64		first_bad_entry = 0;
		int			k;
		Datum		values[4];
		bool		isnull[4] = {false, false, false, false};

		for (k = i; k < n && strcmp(owners[k].key, owners[i].key) == 0; k++)
		{
			ChainOwner *o = &owners[k];
			ChainCheck	c = {0};

			check_chain(kind, o, &c);
			entries += c.rows;
			if (!c.ok)
				ft_log_bad_chain(kind->family, o->key, o->chain, c.first_bad_entry);
			if (ok && !c.ok)
			{
				ok = false;
				first_bad_entry = c.first_bad_entry;
			}
		}

		values[0] = CStringGetTextDatum(owners[i].key);
		values[1] = Int64GetDatum(entries);
		values[2] = BoolGetDatum(ok);
		values[3] = Int64GetDatum(first_bad_entry);
		isnull[3] = first_bad_entry == 0;
		ft_result_row(fcinfo, values, isnull);
		i = k;
	}
	SPI_finish();
}

PG_FUNCTION_INFO_V1(freetier_verify_ledger);

/* freetier_verify_ledger(pool text DEFAULT NULL) of 0.1 to 0.2.1: the pools' chains. */
Datum
freetier_verify_ledger(PG_FUNCTION_ARGS)
{
	verify_chains(fcinfo, &pool_chains[FT_LAYOUT_POOL_ROW], "pool");
	return (Datum) 0;
}

PG_FUNCTION_INFO_V1(freetier_verify_ledger_v3);

/*
 * freetier_verify_ledger(pool text DEFAULT NULL) from 0.3 on: every stripe's
 * chain; a pool is ok when all are, and first_bad_entry is on its first bad
 * stripe.
 */
Datum
freetier_verify_ledger_v3(PG_FUNCTION_ARGS)
{
	verify_chains(fcinfo, &pool_chains[FT_LAYOUT_STRIPES], "pool");
	return (Datum) 0;
}

PG_FUNCTION_INFO_V1(freetier_verify_ledger_v4);

/*
 * freetier_verify_ledger(pool text DEFAULT NULL) from 0.4 on: as of 0.3,
 * and what each pool owes, on its stripe 0, against its 'owed' and 'repay'
 * entries.
 */
Datum
freetier_verify_ledger_v4(PG_FUNCTION_ARGS)
{
	verify_chains(fcinfo, &pool_chains_owed, "pool");
	return (Datum) 0;
}

PG_FUNCTION_INFO_V1(freetier_verify_account_ledger);

/* freetier_verify_account_ledger(subject text DEFAULT NULL) of 0.2 to 0.3: the accounts' chains. */
Datum
freetier_verify_account_ledger(PG_FUNCTION_ARGS)
{
	verify_chains(fcinfo, &account_chains[0], "subject");
	return (Datum) 0;
}

PG_FUNCTION_INFO_V1(freetier_verify_account_ledger_v4);

/*
 * freetier_verify_account_ledger(subject text DEFAULT NULL) from 0.4 on:
 * as of 0.2, a chain starting at a checkpoint once archived, where its
 * latest archive move left it; and each account's anniversary and period
 * start against its chain.
 */
Datum
freetier_verify_account_ledger_v4(PG_FUNCTION_ARGS)
{
	verify_chains(fcinfo, &account_chains[1], "subject");
	return (Datum) 0;
}

PG_FUNCTION_INFO_V1(freetier_verify_settings_ledger);

/*
 * freetier_verify_settings_ledger(chain text DEFAULT NULL) (0.4): the
 * settings chains, each plan's and the credit settings'.
 */
Datum
freetier_verify_settings_ledger(PG_FUNCTION_ARGS)
{
	verify_chains(fcinfo, &settings_chains, "chain");
	return (Datum) 0;
}

PG_FUNCTION_INFO_V1(freetier_verify_ledger_archive);

/*
 * freetier_verify_ledger_archive(pool text DEFAULT NULL): every stripe's
 * archived entries, up to the checkpoint the stripe's chain now starts at.
 */
Datum
freetier_verify_ledger_archive(PG_FUNCTION_ARGS)
{
	verify_chains(fcinfo, &archive_chains, "pool");
	return (Datum) 0;
}

PG_FUNCTION_INFO_V1(freetier_verify_account_ledger_archive);

/*
 * freetier_verify_account_ledger_archive(subject text DEFAULT NULL): every
 * account's archived entries, up to the checkpoint its chain now starts at.
 */
Datum
freetier_verify_account_ledger_archive(PG_FUNCTION_ARGS)
{
	verify_chains(fcinfo, &account_archive_chains, "subject");
	return (Datum) 0;
}

/* 42704: no chain of that name (anchor.c's names). */
void
ft_report_unknown_chain(const char *chain)
{
	ereport(ERROR,
			(errcode(ERRCODE_UNDEFINED_OBJECT),
			 errmsg("chain \"%s\" does not exist", chain),
			 errdetail("freetier_ledger_anchor lists every chain.")));
}

/* The hash a chain starts after. */
static const uint8 zero_hash[FT_HASH_BYTES] = {0};

/* The owning row of chain `chain` of `key`, or NULL when there is none. */
static ChainOwner *
find_owner(const ChainKind *kind, const char *key, int chain)
{
	int			n;
	ChainOwner *owners = read_owners(kind, key, &n);

	for (int i = 0; i < n; i++)
		if (owners[i].chain == chain)
			return &owners[i];
	return NULL;
}

/*
 * Whether account `subject`'s chain verifies, as
 * freetier_verify_account_ledger (0.4) checks it, the account row included
 * (false when there is no such account): an account's checkpoint
 * (account.c) is written only on one that does.
 */
bool
ft_account_verifies(const char *subject)
{
	ChainOwner *o = find_owner(&account_chains[1], subject, 0);
	ChainCheck	c = {0};

	if (o == NULL)
		return false;
	check_chain(&account_chains[1], o, &c);
	return c.ok;
}

/*
 * Whether entry `seq` of a chain still has hash `hash` and the chain
 * verifies (anchor.c): stripe `chain` of pool `key`, account `key`'s
 * chain, or the settings chain named `key` (chain 0 for both).  The chain
 * is checked whole, from its first stored
 * entry to its owning row, as freetier_verify_ledger and
 * freetier_verify_account_ledger check it, and the entry is looked for on
 * the way.  An entry archived before the checkpoint its chain starts at
 * is looked for in the archive (a pool's or the accounts'), which must then verify up to that
 * checkpoint; when it is not there (the archive was dropped) the answer is
 * false.  Seq 0 is a chain's start, before its first entry, whose hash is
 * 32 zero bytes (the head of a chain with no entry yet).  *exists is false
 * when there is no such chain.
 */
bool
ft_verify_anchor(FtChainFamily family, const char *key, int chain, int64 seq,
				 const uint8 *hash, bool *exists)
{
	bool		account = family == FT_CHAINS_ACCOUNTS;
	const ChainKind *kind = account ? &account_chains[1] :
		family == FT_CHAINS_SETTINGS ? &settings_chains : &pool_chains_owed;
	ChainOwner *o = find_owner(kind, key, chain);
	ChainCheck	c = {0};

	*exists = o != NULL;
	if (o == NULL || seq < 0 || seq > o->head_seq)
		return false;
	c.anchor_seq = seq;
	c.anchor_hash = hash;
	c.anchor_found = seq == 0 && memcmp(hash, zero_hash, FT_HASH_BYTES) == 0;
	check_chain(kind, o, &c);
	if (!c.ok || c.anchor_found || family == FT_CHAINS_SETTINGS)	/* no archive */
		return c.ok && c.anchor_found;

	kind = account ? &account_archive_chains : &archive_chains;
	o = find_owner(kind, key, chain);
	memset(&c, 0, sizeof(c));
	c.anchor_seq = seq;
	c.anchor_hash = hash;
	check_chain(kind, o, &c);
	return c.ok && c.anchor_found;
}

/*
 * For freetier_seal_chains (anchor.c): check stripe `chain` of pool `key`,
 * account `key`'s chain or the settings chain named `key` as verification
 * does, but for its being vouched for, and say whether it may be sealed:
 * FT_SEAL_YES when it has no keyed entry and verifies (*seq and head: its
 * head as checked), FT_SEAL_KEYED when it has a keyed entry and verifies
 * (its keyed entries vouch for it: no seal is needed, and none would do
 * for an unkeyed entry after them), FT_SEAL_BAD when it does not verify
 * (*first_bad_entry as freetier_verify_ledger gives it, 0 for none), and
 * FT_SEAL_GONE when there is no such chain.  Its archive is not read.
 */
FtSealCheck
ft_check_for_seal(FtChainFamily family, const char *key, int chain, int64 *seq,
				  uint8 *head, int64 *first_bad_entry)
{
	const ChainKind *kind = family == FT_CHAINS_ACCOUNTS ? &account_chains[1] :
		family == FT_CHAINS_SETTINGS ? &settings_chains : &pool_chains_owed;
	ChainOwner *o = find_owner(kind, key, chain);
	ChainCheck	c = {0};

	*first_bad_entry = 0;
	if (o == NULL)
		return FT_SEAL_GONE;
	c.sealing = true;
	check_chain(kind, o, &c);
	if (!c.ok)
	{
		*first_bad_entry = c.first_bad_entry;
		return FT_SEAL_BAD;
	}
	if (c.keyed_seen)
		return FT_SEAL_KEYED;
	*seq = c.entries;
	memcpy(head, c.head, FT_HASH_BYTES);
	return FT_SEAL_YES;
}
