/*-------------------------------------------------------------------------
 *
 * ledger.c
 *	  The hash chains: a pool's ledger and an account's ledger, computing
 *	  an entry's hash, and the verification of every chain.
 *
 * An entry's hash is BLAKE2b-256 (libsodium crypto_generichash, unkeyed) over
 * a domain tag and the entry's fields, each integer as 8 big-endian bytes and
 * each string length-prefixed, ending with the previous entry's hash (32 zero
 * bytes for a chain's first entry).  Changing any stored field of any entry,
 * or removing or reordering entries, breaks the chain from that entry on.
 *
 * A chain has one running balance per bucket (a pool has one; an account
 * has four: the allowance used in its period, in its lifetime plan, in
 * periods settled late, and its purchased balance): each entry's
 * balance_after is its bucket's previous balance plus its delta, and the
 * owning row must match the chain's end.  For an account the row's totals
 * (lifetime_spent, lifetime_added) and plan must also match the chain.
 *
 *-------------------------------------------------------------------------
 */
#include "freetier.h"

#include <sodium.h>

#include "catalog/pg_type.h"
#include "common/int.h"
#include "fmgr.h"
#include "funcapi.h"
#include "utils/builtins.h"
#include "utils/memutils.h"

static const char ledger_domain[] = "freetier ledger v1";
static const char account_domain[] = "freetier account ledger v1";

static void
hash_int64(crypto_generichash_state *st, int64 v)
{
	uint8		buf[8];

	for (int i = 7; i >= 0; i--)
	{
		buf[i] = (uint8) (v & 0xFF);
		v = (int64) ((uint64) v >> 8);
	}
	crypto_generichash_update(st, buf, sizeof(buf));
}

/* A string as its length then its bytes; NULL as length -1. */
static void
hash_string(crypto_generichash_state *st, const char *s)
{
	if (s == NULL)
	{
		hash_int64(st, -1);
		return;
	}
	hash_int64(st, (int64) strlen(s));
	crypto_generichash_update(st, (const uint8 *) s, strlen(s));
}

static void
hash_uuid(crypto_generichash_state *st, const pg_uuid_t *id)
{
	if (id == NULL)
	{
		hash_int64(st, -1);
		return;
	}
	hash_int64(st, UUID_LEN);
	crypto_generichash_update(st, id->data, UUID_LEN);
}

/* A hash as a bytea Datum's value, for the statements that store it. */
bytea *
ft_hash_bytea(const uint8 *hash)
{
	bytea	   *b = palloc(VARHDRSZ + FT_HASH_BYTES);

	SET_VARSIZE(b, VARHDRSZ + FT_HASH_BYTES);
	memcpy(VARDATA(b), hash, FT_HASH_BYTES);
	return b;
}

void
ft_ledger_hash(const FtLedgerEntry *e, uint8 *out)
{
	crypto_generichash_state st;

	crypto_generichash_init(&st, NULL, 0, FT_HASH_BYTES);
	hash_string(&st, ledger_domain);
	hash_string(&st, e->pool);
	hash_int64(&st, e->seq);
	hash_string(&st, e->kind);
	hash_int64(&st, e->delta_sats);
	hash_int64(&st, e->balance_after);
	hash_uuid(&st, e->hold_id);
	hash_string(&st, e->payment_ref);
	hash_int64(&st, e->created_at);
	crypto_generichash_update(&st, e->prev_hash, FT_HASH_BYTES);
	crypto_generichash_final(&st, out, FT_HASH_BYTES);
}

void
ft_account_ledger_hash(const FtAccountEntry *e, uint8 *out)
{
	crypto_generichash_state st;

	crypto_generichash_init(&st, NULL, 0, FT_HASH_BYTES);
	hash_string(&st, account_domain);
	hash_string(&st, e->subject);
	hash_int64(&st, e->seq);
	hash_string(&st, e->kind);
	hash_string(&st, e->bucket);
	hash_int64(&st, e->delta);
	hash_int64(&st, e->balance_after);
	hash_string(&st, e->backend);
	hash_uuid(&st, e->hold_id);
	hash_string(&st, e->ref);
	hash_int64(&st, e->created_at);
	crypto_generichash_update(&st, e->prev_hash, FT_HASH_BYTES);
	crypto_generichash_final(&st, out, FT_HASH_BYTES);
}

#define FT_MAX_BUCKETS 4

/*
 * What differs between the pool chains and the account chains.  Every
 * entries statement returns seq, bucket (0 to FT_MAX_BUCKETS - 1), delta,
 * balance_after, prev_hash, hash, then what hash_row needs; every owners
 * statement returns key, head_seq, head_hash, the balance of each bucket,
 * and whether the row's other figures agree with its chain.
 */
typedef struct ChainKind
{
	FtStatement *owners;
	FtStatement *entries;
	void		(*hash_row) (const char *key, HeapTuple tup, TupleDesc desc,
							 int64 seq, const uint8 *prev, uint8 *out);
	void		(*report_unknown) (const char *key);
} ChainKind;

static char *
text_or_null(HeapTuple tup, TupleDesc desc, int col)
{
	bool		isnull;
	Datum		d = SPI_getbinval(tup, desc, col, &isnull);

	return isnull ? NULL : TextDatumGetCString(d);
}

static pg_uuid_t *
uuid_or_null(HeapTuple tup, TupleDesc desc, int col)
{
	bool		isnull;
	Datum		d = SPI_getbinval(tup, desc, col, &isnull);

	return isnull ? NULL : DatumGetUUIDP(d);
}

static TimestampTz
timestamp_at(HeapTuple tup, TupleDesc desc, int col)
{
	bool		isnull;

	return DatumGetTimestampTz(SPI_getbinval(tup, desc, col, &isnull));
}

static int64
int64_at(HeapTuple tup, TupleDesc desc, int col)
{
	bool		isnull;

	return DatumGetInt64(SPI_getbinval(tup, desc, col, &isnull));
}

static void
hash_pool_row(const char *key, HeapTuple tup, TupleDesc desc, int64 seq,
			  const uint8 *prev, uint8 *out)
{
	FtLedgerEntry e;

	e.pool = key;
	e.seq = seq;
	e.delta_sats = int64_at(tup, desc, 3);
	e.balance_after = int64_at(tup, desc, 4);
	e.kind = text_or_null(tup, desc, 7);
	e.hold_id = uuid_or_null(tup, desc, 8);
	e.payment_ref = text_or_null(tup, desc, 9);
	e.created_at = timestamp_at(tup, desc, 10);
	e.prev_hash = prev;
	ft_ledger_hash(&e, out);
}

static void
hash_account_row(const char *key, HeapTuple tup, TupleDesc desc, int64 seq,
				 const uint8 *prev, uint8 *out)
{
	FtAccountEntry e;

	e.subject = key;
	e.seq = seq;
	e.delta = int64_at(tup, desc, 3);
	e.balance_after = int64_at(tup, desc, 4);
	e.kind = text_or_null(tup, desc, 7);
	e.bucket = text_or_null(tup, desc, 8);
	e.backend = text_or_null(tup, desc, 9);
	e.hold_id = uuid_or_null(tup, desc, 10);
	e.ref = text_or_null(tup, desc, 11);
	e.created_at = timestamp_at(tup, desc, 12);
	e.prev_hash = prev;
	ft_account_ledger_hash(&e, out);
}

static FtStatement pool_owners = {
	"SELECT pool, head_seq, head_hash, balance_sats, 0::bigint, 0::bigint, 0::bigint, true"
	" FROM freetier.pools"
	" WHERE $1 IS NULL OR pool OPERATOR(pg_catalog.=) $1 ORDER BY pool",
	1, {TEXTOID}, NULL
};

static FtStatement pool_entries = {
	"SELECT seq, 0, delta_sats, balance_after, prev_hash, hash,"
	" kind, hold_id, payment_ref, created_at FROM freetier.ledger"
	" WHERE pool OPERATOR(pg_catalog.=) $1 ORDER BY seq",
	1, {TEXTOID}, NULL
};

/*
 * An account's four counters; and its totals and plan, which the chain also
 * carries: every spend entry is spent credits (purchased ones as negative
 * deltas), every purchase, grant, trial or carry-in entry is credits added,
 * and the last open or plan_change entry names the plan.
 */
static FtStatement account_owners = {
	"SELECT a.subject, a.head_seq, a.head_hash, a.period_used, a.lifetime_plan_used,"
	" a.late_period_used, a.purchased_balance,"
	" a.lifetime_spent OPERATOR(pg_catalog.=) coalesce((SELECT pg_catalog.sum("
	"     CASE WHEN l.bucket OPERATOR(pg_catalog.=) 'purchased'"
	"          THEN OPERATOR(pg_catalog.-) l.delta ELSE l.delta END)"
	"   FROM freetier.account_ledger l WHERE l.subject OPERATOR(pg_catalog.=) a.subject"
	"     AND l.kind OPERATOR(pg_catalog.=) 'spend'), 0)"
	" AND a.lifetime_added OPERATOR(pg_catalog.=) coalesce((SELECT pg_catalog.sum(l.delta)"
	"   FROM freetier.account_ledger l WHERE l.subject OPERATOR(pg_catalog.=) a.subject"
	"     AND l.kind OPERATOR(pg_catalog.=) ANY ('{purchase,grant,trial,carry_in}')), 0)"
	" AND a.plan IS NOT DISTINCT FROM (SELECT l.ref FROM freetier.account_ledger l"
	"   WHERE l.subject OPERATOR(pg_catalog.=) a.subject"
	"     AND l.kind OPERATOR(pg_catalog.=) ANY ('{open,plan_change}')"
	"   ORDER BY l.seq DESC LIMIT 1)"
	" FROM freetier.accounts a"
	" WHERE $1 IS NULL OR a.subject OPERATOR(pg_catalog.=) $1 ORDER BY a.subject",
	1, {TEXTOID}, NULL
};

static FtStatement account_entries = {
	"SELECT seq, CASE bucket WHEN 'period' THEN 0 WHEN 'lifetime' THEN 1"
	"  WHEN 'late' THEN 2 ELSE 3 END,"
	" delta, balance_after, prev_hash, hash,"
	" kind, bucket, backend, hold_id, ref, created_at FROM freetier.account_ledger"
	" WHERE subject OPERATOR(pg_catalog.=) $1 ORDER BY seq",
	1, {TEXTOID}, NULL
};

static const ChainKind pool_chains = {&pool_owners, &pool_entries, hash_pool_row,
ft_report_unknown_pool};
static const ChainKind account_chains = {&account_owners, &account_entries,
hash_account_row, ft_report_unknown_account};

static bool
bytea_is_hash(bytea *b, const uint8 *hash)
{
	return VARSIZE_ANY_EXHDR(b) == FT_HASH_BYTES &&
		memcmp(VARDATA_ANY(b), hash, FT_HASH_BYTES) == 0;
}

typedef struct ChainCheck
{
	int64		rows;			/* entries stored */
	int64		entries;		/* entries that matched, in order */
	bool		ok;
	int64		first_bad_entry;	/* 0 when none */
	int64		balance[FT_MAX_BUCKETS];
	uint8		head[FT_HASH_BYTES];
} ChainCheck;

/* Check one fetched entry against the chain so far. */
static bool
entry_matches(const ChainKind *kind, ChainCheck *c, const char *key,
			  HeapTuple tup, TupleDesc desc)
{
	bool		isnull;
	int64		seq = int64_at(tup, desc, 1);
	int			bucket = DatumGetInt32(SPI_getbinval(tup, desc, 2, &isnull));
	int64		delta = int64_at(tup, desc, 3);
	int64		balance_after = int64_at(tup, desc, 4);
	int64		expected;
	uint8		hash[FT_HASH_BYTES];

	if (seq != c->entries + 1 || bucket < 0 || bucket >= FT_MAX_BUCKETS)
		return false;
	if (!bytea_is_hash(DatumGetByteaPP(SPI_getbinval(tup, desc, 5, &isnull)), c->head))
		return false;
	if (pg_add_s64_overflow(c->balance[bucket], delta, &expected) ||
		expected != balance_after || expected < 0)
		return false;
	kind->hash_row(key, tup, desc, seq, c->head, hash);
	if (!bytea_is_hash(DatumGetByteaPP(SPI_getbinval(tup, desc, 6, &isnull)), hash))
		return false;

	c->entries = seq;
	c->balance[bucket] = expected;
	memcpy(c->head, hash, FT_HASH_BYTES);
	return true;
}

/*
 * Walk one chain through a cursor, a batch at a time, so that neither the
 * rows nor what checking them allocates grow with the ledger.
 */
static void
check_chain(const ChainKind *kind, const char *key, ChainCheck *c)
{
	Datum		args[1] = {CStringGetTextDatum(key)};
	Portal		portal = SPI_cursor_open(NULL, ft_prepare(kind->entries), args,
										 NULL, ft_reads_one_snapshot());
	MemoryContext batch = AllocSetContextCreate(CurrentMemoryContext,
												"freetier ledger batch",
												ALLOCSET_DEFAULT_SIZES);
	MemoryContext outer;

	memset(c, 0, sizeof(*c));
	c->ok = true;
	for (;;)
	{
		SPI_cursor_fetch(portal, true, 1000);
		if (SPI_processed == 0)
			break;
		outer = MemoryContextSwitchTo(batch);
		for (uint64 i = 0; i < SPI_processed; i++)
		{
			c->rows++;
			if (c->ok && !entry_matches(kind, c, key, SPI_tuptable->vals[i],
										SPI_tuptable->tupdesc))
			{
				c->ok = false;
				c->first_bad_entry = c->entries + 1;
			}
		}
		MemoryContextSwitchTo(outer);
		MemoryContextReset(batch);
		SPI_freetuptable(SPI_tuptable);
	}
	SPI_cursor_close(portal);
	MemoryContextDelete(batch);
}

typedef struct ChainOwner
{
	char	   *key;
	int64		head_seq;
	uint8		head[FT_HASH_BYTES];
	int64		balance[FT_MAX_BUCKETS];
	bool		figures_ok;		/* the row's other figures agree with the chain */
} ChainOwner;

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
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	char	   *only = ft_text_arg(fcinfo, 0, argname, false);
	Datum		args[1];
	char		nulls[1];
	int			n;
	ChainOwner *owners;

	InitMaterializedSRF(fcinfo, 0);
	ft_connect(FT_READING);

	args[0] = only ? CStringGetTextDatum(only) : (Datum) 0;
	nulls[0] = only ? ' ' : 'n';
	n = ft_execute(kind->owners, args, nulls);
	if (only && n == 0)
		kind->report_unknown(only);

	owners = SPI_palloc(sizeof(ChainOwner) * Max(n, 1));
	for (int i = 0; i < n; i++)
	{
		bool		isnull;
		bytea	   *head = DatumGetByteaPP(ft_column(i, 3, &isnull));

		owners[i].key = ft_column_text(i, 1);
		owners[i].head_seq = ft_column_int64(i, 2);
		memset(owners[i].head, 0, FT_HASH_BYTES);
		if (VARSIZE_ANY_EXHDR(head) == FT_HASH_BYTES)
			memcpy(owners[i].head, VARDATA_ANY(head), FT_HASH_BYTES);
		for (int b = 0; b < FT_MAX_BUCKETS; b++)
			owners[i].balance[b] = ft_column_int64(i, 4 + b);
		owners[i].figures_ok = DatumGetBool(ft_column(i, 4 + FT_MAX_BUCKETS, &isnull));
	}

	for (int i = 0; i < n; i++)
	{
		ChainCheck	c;
		Datum		values[4];
		bool		isnull[4] = {false, false, false, false};

		check_chain(kind, owners[i].key, &c);
		if (c.ok && (c.entries != owners[i].head_seq || !owners[i].figures_ok ||
					 memcmp(c.balance, owners[i].balance, sizeof(c.balance)) != 0 ||
					 memcmp(c.head, owners[i].head, FT_HASH_BYTES) != 0))
		{
			c.ok = false;
			if (c.entries < owners[i].head_seq)
				c.first_bad_entry = c.entries + 1;
		}

		values[0] = CStringGetTextDatum(owners[i].key);
		values[1] = Int64GetDatum(c.rows);
		values[2] = BoolGetDatum(c.ok);
		values[3] = Int64GetDatum(c.first_bad_entry);
		isnull[3] = c.first_bad_entry == 0;
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, isnull);
	}
	SPI_finish();
}

PG_FUNCTION_INFO_V1(freetier_verify_ledger);

/* freetier_verify_ledger(pool text DEFAULT NULL): the pools' chains. */
Datum
freetier_verify_ledger(PG_FUNCTION_ARGS)
{
	verify_chains(fcinfo, &pool_chains, "pool");
	return (Datum) 0;
}

PG_FUNCTION_INFO_V1(freetier_verify_account_ledger);

/* freetier_verify_account_ledger(subject text DEFAULT NULL): the accounts' chains. */
Datum
freetier_verify_account_ledger(PG_FUNCTION_ARGS)
{
	verify_chains(fcinfo, &account_chains, "subject");
	return (Datum) 0;
}
