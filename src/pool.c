/*-------------------------------------------------------------------------
 *
 * pool.c
 *	  The only code that moves a pool's balance.
 *
 * A caller locks the pool row (ft_pool_lock), then appends movements
 * (ft_pool_append).  Each append writes one ledger entry and the pool row's
 * new balance and chain head in a single statement, so at every commit the
 * balance equals the sum of the pool's ledger entries.  The pool row lock
 * serialises appends to a chain.
 *
 * Striping a pool over several rows, or letting returns skip the pool row
 * lock, would change this file and no caller.
 *
 *-------------------------------------------------------------------------
 */
#include "freetier.h"

#include "catalog/pg_type.h"
#include "commands/extension.h"
#include "fmgr.h"
#include "utils/builtins.h"

#define LOCK_POOL \
	"SELECT balance_sats, head_seq, head_hash FROM freetier.pools" \
	" WHERE pool OPERATOR(pg_catalog.=) $1 FOR NO KEY UPDATE"

static FtStatement lock_pool = {LOCK_POOL, 1, {TEXTOID}, NULL};
static FtStatement try_lock_pool = {LOCK_POOL " SKIP LOCKED", 1, {TEXTOID}, NULL};

static FtStatement append_entry = {
	"WITH entry AS ("
	" INSERT INTO freetier.ledger (pool, seq, kind, delta_sats, balance_after,"
	"  hold_id, payment_ref, created_at, prev_hash, hash)"
	" VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10))"
	" UPDATE freetier.pools SET balance_sats = $5, head_seq = $2, head_hash = $10"
	" WHERE pool OPERATOR(pg_catalog.=) $1",
	10, {TEXTOID, INT8OID, TEXTOID, INT8OID, INT8OID, UUIDOID, TEXTOID,
	TIMESTAMPTZOID, BYTEAOID, BYTEAOID}, NULL
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

/* Read the locked pool row of the last result into p. */
static void
pool_from_row(const char *pool, FtPool *p)
{
	bool		isnull;

	p->name = pstrdup(pool);
	p->balance_sats = ft_column_int64(0, 1);
	ft_chain_head_read(&p->head, ft_column_int64(0, 2), ft_column(0, 3, &isnull));
}

/* Lock the pool row and read its balance and chain head. */
void
ft_pool_lock(const char *pool, FtPool *p)
{
	Datum		args[1] = {CStringGetTextDatum(pool)};

	if (ft_execute(&lock_pool, args, NULL) == 0)
		ft_report_unknown_pool(pool);
	pool_from_row(pool, p);
}

/* Lock the pool row unless another transaction has it; false then. */
bool
ft_pool_try_lock(const char *pool, FtPool *p)
{
	Datum		args[1] = {CStringGetTextDatum(pool)};

	if (ft_execute(&try_lock_pool, args, NULL) == 0)
		return false;
	pool_from_row(pool, p);
	return true;
}

/*
 * Move a locked pool's balance by delta_sats and append the ledger entry.
 * A balance below zero is a bug in the caller, never a user error.
 */
void
ft_pool_append(FtPool *p, const char *kind, int64 delta_sats,
			   const pg_uuid_t *hold_id, const char *payment_ref, TimestampTz at)
{
	int64		balance_after = ft_add_sats(p->balance_sats, delta_sats, "pool balance");
	FtField		fields[8];

	if (balance_after < 0)
		elog(ERROR, "freetier: pool \"%s\" would go negative (" INT64_FORMAT
			 " + " INT64_FORMAT ")", p->name, p->balance_sats, delta_sats);

	fields[0] = ft_text_field(p->name);
	/* fields[1], the seq, is set by ft_chain_append */
	fields[2] = ft_text_field(kind);
	fields[3] = ft_int64_field(delta_sats);
	fields[4] = ft_int64_field(balance_after);
	fields[5] = ft_uuid_field(hold_id);
	fields[6] = ft_text_field(payment_ref);
	fields[7] = ft_int64_field(at);
	ft_chain_append(&p->head, FT_POOL_CHAIN, &append_entry, fields, 8);
	p->balance_sats = balance_after;
}

static FtStatement insert_pool = {
	"INSERT INTO freetier.pools (pool, balance_sats, credit_pct, hold_ttl)"
	" VALUES ($1, 0, $2, $3) ON CONFLICT (pool) DO NOTHING RETURNING 1",
	3, {TEXTOID, NUMERICOID, INTERVALOID}, NULL
};

PG_FUNCTION_INFO_V1(freetier_create_pool);

/*
 * freetier_create_pool(pool text, initial_sats bigint DEFAULT 0,
 *		credit_pct numeric DEFAULT 10, hold_ttl interval DEFAULT '15 minutes')
 *	 RETURNS void
 *
 * A new pool starts its ledger chain with a 'seed' entry of initial_sats.
 * A pool created by the extension's own script is dated -infinity: that
 * entry is then the same in every install, so pg_dump leaves it out and a
 * restored chain continues from the one CREATE EXTENSION makes again.
 */
Datum
freetier_create_pool(PG_FUNCTION_ARGS)
{
	char	   *name = ft_text_arg(fcinfo, 0, "pool", true);
	int64		initial;
	Datum		pct;
	Interval   *ttl;
	Datum		args[3];
	FtPool		pool;

	ft_check_not_null(fcinfo, 1, "initial_sats");
	initial = PG_GETARG_INT64(1);
	ft_check_sats("initial_sats", initial);
	ft_check_not_null(fcinfo, 2, "credit_pct");
	pct = PG_GETARG_DATUM(2);
	ft_check_not_null(fcinfo, 3, "hold_ttl");
	ttl = PG_GETARG_INTERVAL_P(3);

	if (name[0] == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("pool must not be empty")));
	if (DatumGetInt32(DirectFunctionCall2(numeric_cmp, pct,
										  DirectFunctionCall1(int4_numeric, Int32GetDatum(0)))) < 0 ||
		DatumGetInt32(DirectFunctionCall2(numeric_cmp, pct,
										  DirectFunctionCall1(int4_numeric, Int32GetDatum(100)))) > 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("credit_pct must be between 0 and 100"),
				 errdetail("credit_pct was %s.",
						   DatumGetCString(DirectFunctionCall1(numeric_out, pct)))));
	ft_check_hold_ttl(ttl);

	ft_connect(FT_LOCKING);
	args[0] = CStringGetTextDatum(name);
	args[1] = pct;
	args[2] = IntervalPGetDatum(ttl);
	if (ft_execute(&insert_pool, args, NULL) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_DUPLICATE_OBJECT),
				 errmsg("pool \"%s\" already exists", name)));
	ft_pool_lock(name, &pool);
	ft_pool_append(&pool, "seed", initial, NULL, NULL,
				   creating_extension ? DT_NOBEGIN : ft_now());
	SPI_finish();
	PG_RETURN_VOID();
}
