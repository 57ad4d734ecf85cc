/*-------------------------------------------------------------------------
 *
 * ledger.c
 *	  The ledger's hash chain: computing an entry's hash, and
 *	  freetier_verify_ledger, which recomputes every chain.
 *
 * An entry's hash is BLAKE2b-256 (libsodium crypto_generichash, unkeyed) over
 * a domain tag and the entry's fields, each integer as 8 big-endian bytes and
 * each string length-prefixed, ending with the previous entry's hash (32 zero
 * bytes for a pool's first entry).  Changing any stored field of any entry,
 * or removing or reordering entries, breaks the chain from that entry on.
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

static const char ledger_domain[] = "freetier ledger v1";

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
	if (e->hold_id)
	{
		hash_int64(&st, UUID_LEN);
		crypto_generichash_update(&st, e->hold_id->data, UUID_LEN);
	}
	else
		hash_int64(&st, -1);
	hash_string(&st, e->payment_ref);
	hash_int64(&st, e->created_at);
	crypto_generichash_update(&st, e->prev_hash, FT_HASH_BYTES);
	crypto_generichash_final(&st, out, FT_HASH_BYTES);
}

static FtStatement list_pools = {
	"SELECT pool, balance_sats, head_seq, head_hash FROM freetier.pools"
	" WHERE $1 IS NULL OR pool OPERATOR(pg_catalog.=) $1 ORDER BY pool",
	1, {TEXTOID}
};

static FtStatement pool_entries = {
	"SELECT seq, kind, delta_sats, balance_after, hold_id, payment_ref,"
	" created_at, prev_hash, hash FROM freetier.ledger"
	" WHERE pool OPERATOR(pg_catalog.=) $1 ORDER BY seq",
	1, {TEXTOID}
};

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
	int64		balance;
	uint8		head[FT_HASH_BYTES];
} ChainCheck;

/* Check one fetched entry against the chain so far. */
static bool
entry_matches(ChainCheck *c, const char *pool, HeapTuple tup, TupleDesc desc)
{
	FtLedgerEntry e;
	uint8		hash[FT_HASH_BYTES];
	bool		isnull;
	bool		hold_null;
	bool		ref_null;
	Datum		hold;
	Datum		ref;
	int64		expected_balance;

	e.pool = pool;
	e.seq = DatumGetInt64(SPI_getbinval(tup, desc, 1, &isnull));
	e.kind = TextDatumGetCString(SPI_getbinval(tup, desc, 2, &isnull));
	e.delta_sats = DatumGetInt64(SPI_getbinval(tup, desc, 3, &isnull));
	e.balance_after = DatumGetInt64(SPI_getbinval(tup, desc, 4, &isnull));
	hold = SPI_getbinval(tup, desc, 5, &hold_null);
	e.hold_id = hold_null ? NULL : DatumGetUUIDP(hold);
	ref = SPI_getbinval(tup, desc, 6, &ref_null);
	e.payment_ref = ref_null ? NULL : TextDatumGetCString(ref);
	e.created_at = DatumGetTimestampTz(SPI_getbinval(tup, desc, 7, &isnull));
	e.prev_hash = c->head;

	if (e.seq != c->entries + 1)
		return false;
	if (!bytea_is_hash(DatumGetByteaPP(SPI_getbinval(tup, desc, 8, &isnull)), c->head))
		return false;
	if (pg_add_s64_overflow(c->balance, e.delta_sats, &expected_balance) ||
		expected_balance != e.balance_after || expected_balance < 0)
		return false;
	ft_ledger_hash(&e, hash);
	if (!bytea_is_hash(DatumGetByteaPP(SPI_getbinval(tup, desc, 9, &isnull)), hash))
		return false;

	c->entries = e.seq;
	c->balance = expected_balance;
	memcpy(c->head, hash, FT_HASH_BYTES);
	return true;
}

/* Walk a pool's chain through a cursor, so a long ledger is not held in memory. */
static void
check_chain(const char *pool, ChainCheck *c)
{
	Datum		args[1] = {CStringGetTextDatum(pool)};
	Portal		portal;

	portal = SPI_cursor_open(NULL, ft_prepare(&pool_entries), args, NULL, true);

	memset(c, 0, sizeof(*c));
	c->ok = true;
	for (;;)
	{
		SPI_cursor_fetch(portal, true, 1000);
		if (SPI_processed == 0)
			break;
		for (uint64 i = 0; i < SPI_processed; i++)
		{
			c->rows++;
			if (c->ok &&
				!entry_matches(c, pool, SPI_tuptable->vals[i], SPI_tuptable->tupdesc))
			{
				c->ok = false;
				c->first_bad_entry = c->entries + 1;
			}
		}
		SPI_freetuptable(SPI_tuptable);
	}
	SPI_cursor_close(portal);
}

PG_FUNCTION_INFO_V1(freetier_verify_ledger);

/*
 * freetier_verify_ledger(pool text DEFAULT NULL)
 *	 RETURNS TABLE (pool text, entries bigint, ok boolean, first_bad_entry bigint)
 *
 * For each pool (or the one named): recompute the chain.  first_bad_entry is
 * the seq of the first entry that does not match.  ok is false with
 * first_bad_entry NULL when every entry matches but the pool row does not
 * match the chain's end (its balance or head was changed directly).
 */
Datum
freetier_verify_ledger(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	char	   *only = ft_text_arg(fcinfo, 0, "pool", false);
	Datum		args[1];
	char		nulls[1];
	int			npools;
	char	  **names;
	int64	   *balances;
	int64	   *head_seqs;
	uint8	   *heads;
	MemoryContext outer = CurrentMemoryContext;

	InitMaterializedSRF(fcinfo, 0);
	SPI_connect();

	args[0] = only ? CStringGetTextDatum(only) : (Datum) 0;
	nulls[0] = only ? ' ' : 'n';
	npools = ft_execute(&list_pools, args, nulls, true);
	if (only && npools == 0)
		ft_report_unknown_pool(only);

	names = MemoryContextAlloc(outer, sizeof(char *) * Max(npools, 1));
	balances = MemoryContextAlloc(outer, sizeof(int64) * Max(npools, 1));
	head_seqs = MemoryContextAlloc(outer, sizeof(int64) * Max(npools, 1));
	heads = MemoryContextAlloc(outer, FT_HASH_BYTES * Max(npools, 1));
	for (int i = 0; i < npools; i++)
	{
		bool		isnull;
		bytea	   *head;

		names[i] = ft_column_text(i, 1);
		balances[i] = ft_column_int64(i, 2);
		head_seqs[i] = ft_column_int64(i, 3);
		head = DatumGetByteaPP(ft_column(i, 4, &isnull));
		memset(heads + i * FT_HASH_BYTES, 0, FT_HASH_BYTES);
		if (VARSIZE_ANY_EXHDR(head) == FT_HASH_BYTES)
			memcpy(heads + i * FT_HASH_BYTES, VARDATA_ANY(head), FT_HASH_BYTES);
	}

	for (int i = 0; i < npools; i++)
	{
		ChainCheck	c;
		Datum		values[4];
		bool		isnull[4] = {false, false, false, false};

		check_chain(names[i], &c);
		if (c.ok && (c.entries != head_seqs[i] || c.balance != balances[i] ||
					 memcmp(c.head, heads + i * FT_HASH_BYTES, FT_HASH_BYTES) != 0))
		{
			c.ok = false;
			/* entries missing from the end: name the first missing one */
			if (c.entries < head_seqs[i])
				c.first_bad_entry = c.entries + 1;
		}

		values[0] = CStringGetTextDatum(names[i]);
		values[1] = Int64GetDatum(c.rows);
		values[2] = BoolGetDatum(c.ok);
		values[3] = Int64GetDatum(c.first_bad_entry);
		isnull[3] = c.first_bad_entry == 0;
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, isnull);
	}

	SPI_finish();
	return (Datum) 0;
}
