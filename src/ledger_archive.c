/*-------------------------------------------------------------------------
 *
 * ledger_archive.c
 *	  The chains' retention: checkpoints, the move of the entries before
 *	  a checkpoint to an archive (freetier.ledger_archive for the pools'
 *	  stripes, freetier.account_ledger_archive for the accounts), and
 *	  dropping the archive.
 *
 * A checkpoint is an entry of kind 'checkpoint' on one stripe's chain: it
 * moves nothing (delta 0), and like every entry it hashes its seq (the
 * number of entries before it, plus one), the stripe's balance after it and
 * the previous entry's hash.  A stripe's other figure, what it owes
 * (0.4's corrections), must be 0 then.  On stripe 0 a checkpoint also
 * carries the pool's chained settings on (pool.c), so that archiving the
 * 'settings' entries before it loses nothing verification compares.
 * freetier_checkpoint_ledger writes one on each stripe of a pool that owes
 * nothing and that no other transaction has locked (SKIP LOCKED: it
 * never waits, and it holds the stripes it wrote until its caller commits,
 * as a credit does).
 *
 * An account's checkpoint (account.c's ft_account_checkpoint, the only
 * writer of an account) is one entry on its chain that carries the
 * account's figures; freetier_checkpoint_account_ledger writes one on the
 * account named, or on every account, each taken with SKIP LOCKED too.
 * An account that does not verify against its chain stops the call
 * (55000, nothing written), rather than being skipped as a locked one is:
 * an operator must look at a tampered account.
 *
 * freetier_archive_ledger moves each stripe's entries before its latest
 * checkpoint to freetier.ledger_archive, in one statement;
 * freetier_archive_account_ledger does the same for accounts.  The chain
 * then starts at that checkpoint, and verification starts from it
 * (verify.c).  The same statement records where the chain now starts
 * (freetier.ledger_chain_starts, freetier.account_chain_starts: the seq of
 * the last entry archived), and verification requires the chain to start
 * exactly there, so that entries deleted behind freetier's back from a
 * chain's start down to a checkpoint do not pass for archived ones.
 * freetier_drop_ledger_archive and freetier_drop_account_ledger_archive
 * delete archived entries once the operator has exported them.  None of
 * them takes a stripe's or an account's lock: they touch only entries that
 * no request reads or writes again, and chain starts no request reads.
 *
 * Both ledgers and both archives are append-only (freetier.guard_entries,
 * the trigger on all four): the statements here are the only deletes it
 * lets through, and only while this file runs them.  UPDATE and TRUNCATE
 * are refused always.
 *
 *-------------------------------------------------------------------------
 */
#include "freetier.h"

#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/rel.h"

/* True only while this file's own DELETE statements run. */
static bool moving_entries = false;

static FtStatement pool_stripes = {
	"SELECT stripe FROM freetier.pool_stripes WHERE pool OPERATOR(pg_catalog.=) $1"
	" ORDER BY stripe",
	1, {TEXTOID}, NULL
};

/*
 * Whether locked stripe $2 of pool $1 owes sats (0.4's corrections): a
 * checkpoint commits to one balance, so it is written only on a stripe
 * that owes nothing.
 */
static FtStatement stripe_owes = {
	"SELECT owed_sats OPERATOR(pg_catalog.<>) 0 FROM freetier.pool_stripes"
	" WHERE pool OPERATOR(pg_catalog.=) $1 AND stripe OPERATOR(pg_catalog.=) $2",
	2, {TEXTOID, INT4OID}, NULL
};

/*
 * An archive move's CTE `started`: where each chain moved (cp: its latest
 * checkpoint's seq) now starts, recorded in `table` (`columns`, from
 * `values`; `match` picks a chain's rows as c) as the seq of the last
 * entry archived, once: only past what was recorded before, and a
 * concurrent move that recorded it first waits for nothing more.
 */
#define STARTED_CTE(table, columns, values, match) \
	" started AS (INSERT INTO " table " (" columns ", archived_seq)" \
	"   SELECT " values ", cp.seq OPERATOR(pg_catalog.-) 1 FROM cp" \
	"    WHERE cp.seq OPERATOR(pg_catalog.-) 1 OPERATOR(pg_catalog.>) coalesce(" \
	"      (SELECT pg_catalog.max(c.archived_seq) FROM " table " c WHERE " match "), 0)" \
	"   ON CONFLICT DO NOTHING)"

/*
 * Pool $1's entries before each stripe's latest checkpoint, moved to the
 * archive, and where the chain now starts when that moved (once: a
 * concurrent move that recorded it first waits for nothing more):
 * stripe, the checkpoint's seq, how many entries moved.  An
 * install-time seed entry (seq 1, dated -infinity) stays: pg_dump leaves
 * it out and CREATE EXTENSION makes it again, so a restored chain has it
 * (verify.c reads it first in the chain and in the archive).
 */
static FtStatement archive_entries = {
	"WITH cp AS (SELECT stripe, pg_catalog.max(seq) AS seq FROM freetier.ledger"
	"   WHERE pool OPERATOR(pg_catalog.=) $1 AND kind OPERATOR(pg_catalog.=) 'checkpoint'"
	"   GROUP BY stripe),"
	" moved AS (DELETE FROM freetier.ledger l USING cp"
	"   WHERE l.pool OPERATOR(pg_catalog.=) $1 AND l.stripe OPERATOR(pg_catalog.=) cp.stripe"
	"     AND l.seq OPERATOR(pg_catalog.<) cp.seq"
	"     AND NOT " FT_INSTALL_SEED("l.")
	"   RETURNING l.pool, l.stripe, l.seq, l.kind, l.delta_sats, l.balance_after, l.hold_id,"
	"     l.payment_ref, l.created_at, l.prev_hash, l.hash),"
	" kept AS (INSERT INTO freetier.ledger_archive (pool, stripe, seq, kind, delta_sats,"
	"     balance_after, hold_id, payment_ref, created_at, prev_hash, hash)"
	"   SELECT * FROM moved RETURNING stripe),"
	STARTED_CTE("freetier.ledger_chain_starts", "pool, stripe", "$1, cp.stripe",
				"c.pool OPERATOR(pg_catalog.=) $1 AND c.stripe OPERATOR(pg_catalog.=) cp.stripe")
	" SELECT cp.stripe, cp.seq, (SELECT pg_catalog.count(*) FROM kept"
	"   WHERE kept.stripe OPERATOR(pg_catalog.=) cp.stripe)"
	" FROM cp ORDER BY cp.stripe",
	1, {TEXTOID}, NULL
};

static FtStatement drop_archive = {
	"DELETE FROM freetier.ledger_archive WHERE pool OPERATOR(pg_catalog.=) $1",
	1, {TEXTOID}, NULL
};

/* The accounts named by $1 (NULL: every one), in subject order. */
static FtStatement accounts_named = {
	"SELECT subject FROM freetier.accounts"
	" WHERE $1 IS NULL OR subject OPERATOR(pg_catalog.=) $1 ORDER BY subject",
	1, {TEXTOID}, NULL
};

/* As archive_entries, for the accounts named by $1 (NULL: every one). */
static FtStatement archive_account_entries = {
	"WITH cp AS (SELECT subject, pg_catalog.max(seq) AS seq FROM freetier.account_ledger"
	"   WHERE ($1 IS NULL OR subject OPERATOR(pg_catalog.=) $1)"
	"     AND kind OPERATOR(pg_catalog.=) 'checkpoint'"
	"   GROUP BY subject),"
	" moved AS (DELETE FROM freetier.account_ledger l USING cp"
	"   WHERE l.subject OPERATOR(pg_catalog.=) cp.subject AND l.seq OPERATOR(pg_catalog.<) cp.seq"
	"   RETURNING l.subject, l.seq, l.kind, l.bucket, l.delta, l.balance_after, l.backend,"
	"     l.hold_id, l.ref, l.created_at, l.prev_hash, l.hash),"
	" kept AS (INSERT INTO freetier.account_ledger_archive (subject, seq, kind, bucket, delta,"
	"     balance_after, backend, hold_id, ref, created_at, prev_hash, hash)"
	"   SELECT * FROM moved RETURNING subject),"
	STARTED_CTE("freetier.account_chain_starts", "subject", "cp.subject",
				"c.subject OPERATOR(pg_catalog.=) cp.subject")
	" SELECT cp.subject, cp.seq, coalesce(k.n, 0) FROM cp LEFT JOIN"
	"   (SELECT subject, pg_catalog.count(*) AS n FROM kept GROUP BY subject) k"
	"   ON k.subject OPERATOR(pg_catalog.=) cp.subject"
	" ORDER BY cp.subject",
	1, {TEXTOID}, NULL
};

static FtStatement drop_account_archive = {
	"DELETE FROM freetier.account_ledger_archive"
	" WHERE $1 IS NULL OR subject OPERATOR(pg_catalog.=) $1",
	1, {TEXTOID}, NULL
};

/*
 * Run one of this file's deletes, the guard letting it through, planned on
 * the tables' costs: they read whole ledgers.
 */
static int
execute_move(FtStatement *stmt, Datum *args, const char *nulls)
{
	volatile int n = 0;

	moving_entries = true;
	PG_TRY();
	{
		n = ft_execute_whole(stmt, args, nulls);
	}
	PG_FINALLY();
	{
		moving_entries = false;
	}
	PG_END_TRY();
	return n;
}

PG_FUNCTION_INFO_V1(freetier_guard_entries);

/*
 * The trigger BEFORE UPDATE OR DELETE on both ledgers and both archives:
 * 55000 for every row, but a delete run by this file.
 */
Datum
freetier_guard_entries(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;
	const char *table;

	if (!CALLED_AS_TRIGGER(fcinfo))
		elog(ERROR, "freetier_guard_entries: not called as a trigger");
	if (moving_entries && TRIGGER_FIRED_BY_DELETE(trigdata->tg_event))
		return PointerGetDatum(trigdata->tg_trigtuple);
	table = RelationGetRelationName(trigdata->tg_relation);
	ereport(ERROR,
			(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
			 errmsg("freetier.%s is append-only", table),
			 errdetail("%s on freetier.%s is refused; corrections are made by new entries.",
					   TRIGGER_FIRED_BY_DELETE(trigdata->tg_event) ? "DELETE" : "UPDATE",
					   table)));
	return (Datum) 0;
}

/* Whether locked stripe `stripe` of `pool` owes sats. */
static bool
owes(const char *pool, int stripe)
{
	Datum		args[2] = {CStringGetTextDatum(pool), Int32GetDatum(stripe)};
	bool		isnull;

	ft_execute(&stripe_owes, args, NULL);
	return DatumGetBool(ft_column(0, 1, &isnull));
}

PG_FUNCTION_INFO_V1(freetier_checkpoint_ledger);

/*
 * freetier_checkpoint_ledger(pool text)
 *	 RETURNS TABLE (stripe int, seq bigint, balance_sats bigint)
 *
 * A checkpoint on every stripe of the pool, one row each: the checkpoint's
 * seq and the stripe's balance, or both NULL for a stripe that another
 * transaction has locked (call again to checkpoint it) or that owes sats.
 */
Datum
freetier_checkpoint_ledger(PG_FUNCTION_ARGS)
{
	char	   *pool = ft_text_arg(fcinfo, 0, "pool", true);
	TimestampTz now = ft_now();
	Datum		args[1];
	FtPoolSettings ps;
	int			n;
	int		   *stripes;

	ft_result_begin(fcinfo);
	ft_connect(FT_LOCKING);
	ft_pool_settings(pool, FT_LAYOUT_STRIPES, true, &ps);
	args[0] = CStringGetTextDatum(pool);
	n = ft_execute(&pool_stripes, args, NULL);
	stripes = palloc(sizeof(int) * Max(n, 1));
	for (int i = 0; i < n; i++)
	{
		bool		isnull;

		stripes[i] = DatumGetInt32(ft_column(i, 1, &isnull));
	}

	for (int i = 0; i < n; i++)
	{
		FtStripe	s;
		Datum		values[3];
		bool		isnull[3] = {false, true, true};

		values[0] = Int32GetDatum(stripes[i]);
		if (ft_stripe_try_lock(pool, stripes[i], FT_LAYOUT_STRIPES, &s) && !owes(pool, stripes[i]))
		{
			ft_stripe_append(&s, FT_LAYOUT_STRIPES, "checkpoint", 0, NULL,
							 stripes[i] == 0 ? ft_pool_chained_settings(pool) : NULL, now);
			values[1] = Int64GetDatum(s.head.seq);
			values[2] = Int64GetDatum(s.balance_sats);
			isnull[1] = isnull[2] = false;
		}
		ft_result_row(fcinfo, values, isnull);
	}
	SPI_finish();
	return (Datum) 0;
}

/*
 * Run an archive move and return its rows (the chain, the checkpoint's
 * seq, how many entries moved); SPI is finished after.
 */
static void
archive_move(FunctionCallInfo fcinfo, FtStatement *stmt, Datum *args, const char *nulls)
{
	int			n = execute_move(stmt, args, nulls);

	for (int i = 0; i < n; i++)
	{
		Datum		values[3];
		bool		isnull[3] = {false, false, false};

		values[0] = ft_column(i, 1, &isnull[0]);
		values[1] = ft_column(i, 2, &isnull[1]);
		values[2] = ft_column(i, 3, &isnull[2]);
		ft_result_row(fcinfo, values, isnull);
	}
	SPI_finish();
}

PG_FUNCTION_INFO_V1(freetier_archive_ledger);

/*
 * freetier_archive_ledger(pool text)
 *	 RETURNS TABLE (stripe int, checkpoint_seq bigint, archived bigint)
 *
 * Every stripe that has a checkpoint: its latest, and how many entries
 * before it moved to the archive now.
 */
Datum
freetier_archive_ledger(PG_FUNCTION_ARGS)
{
	char	   *pool = ft_text_arg(fcinfo, 0, "pool", true);
	Datum		args[1];
	FtPoolSettings ps;

	ft_result_begin(fcinfo);
	ft_connect(FT_LOCKING);
	ft_pool_settings(pool, FT_LAYOUT_STRIPES, true, &ps);
	args[0] = CStringGetTextDatum(pool);
	archive_move(fcinfo, &archive_entries, args, NULL);
	return (Datum) 0;
}

PG_FUNCTION_INFO_V1(freetier_drop_ledger_archive);

/* freetier_drop_ledger_archive(pool text) RETURNS bigint: entries deleted. */
Datum
freetier_drop_ledger_archive(PG_FUNCTION_ARGS)
{
	char	   *pool = ft_text_arg(fcinfo, 0, "pool", true);
	Datum		args[1];
	FtPoolSettings ps;
	int			n;

	ft_connect(FT_LOCKING);
	ft_pool_settings(pool, FT_LAYOUT_STRIPES, true, &ps);
	args[0] = CStringGetTextDatum(pool);
	n = execute_move(&drop_archive, args, NULL);
	SPI_finish();
	PG_RETURN_INT64(n);
}

/*
 * Argument 0, a subject or NULL (every account), as statement parameter
 * args[0], nulls[0]; 42704 for a subject that has no account.
 */
static void
account_arg(FunctionCallInfo fcinfo, Datum *args, char *nulls)
{
	char	   *subject = ft_text_arg(fcinfo, 0, "subject", false);

	args[0] = subject ? CStringGetTextDatum(subject) : (Datum) 0;
	nulls[0] = subject ? ' ' : 'n';
	if (subject && ft_execute(&accounts_named, args, nulls) == 0)
		ft_report_unknown_account(subject);
}

PG_FUNCTION_INFO_V1(freetier_checkpoint_account_ledger);

/*
 * freetier_checkpoint_account_ledger(subject text DEFAULT NULL)
 *	 RETURNS TABLE (subject text, seq bigint)
 *
 * A checkpoint on the account's chain (NULL: on every account's), one row
 * each: the checkpoint's seq, or NULL for an account that another
 * transaction has locked (call again to checkpoint it).  55000 for an
 * account that does not verify against its chain (account.c).
 */
Datum
freetier_checkpoint_account_ledger(PG_FUNCTION_ARGS)
{
	TimestampTz now = ft_now();
	Datum		args[1];
	char		nulls[1];
	int			n;
	char	  **subjects;

	ft_result_begin(fcinfo);
	ft_connect(FT_LOCKING);
	account_arg(fcinfo, args, nulls);
	n = ft_execute(&accounts_named, args, nulls);
	subjects = palloc(sizeof(char *) * Max(n, 1));
	for (int i = 0; i < n; i++)
		subjects[i] = ft_column_text(i, 1);

	for (int i = 0; i < n; i++)
	{
		Datum		values[2];
		bool		isnull[2] = {false, true};
		int64		seq;

		values[0] = CStringGetTextDatum(subjects[i]);
		if (ft_account_checkpoint(subjects[i], now, &seq))
		{
			values[1] = Int64GetDatum(seq);
			isnull[1] = false;
		}
		ft_result_row(fcinfo, values, isnull);
	}
	SPI_finish();
	return (Datum) 0;
}

PG_FUNCTION_INFO_V1(freetier_archive_account_ledger);

/*
 * freetier_archive_account_ledger(subject text DEFAULT NULL)
 *	 RETURNS TABLE (subject text, checkpoint_seq bigint, archived bigint)
 *
 * Every account named (NULL: every account) that has a checkpoint: its
 * latest, and how many entries before it moved to the archive now.
 */
Datum
freetier_archive_account_ledger(PG_FUNCTION_ARGS)
{
	Datum		args[1];
	char		nulls[1];

	ft_result_begin(fcinfo);
	ft_connect(FT_LOCKING);
	account_arg(fcinfo, args, nulls);
	archive_move(fcinfo, &archive_account_entries, args, nulls);
	return (Datum) 0;
}

PG_FUNCTION_INFO_V1(freetier_drop_account_ledger_archive);

/*
 * freetier_drop_account_ledger_archive(subject text DEFAULT NULL)
 *	 RETURNS bigint: entries deleted.
 */
Datum
freetier_drop_account_ledger_archive(PG_FUNCTION_ARGS)
{
	Datum		args[1];
	char		nulls[1];
	int			n;

	ft_connect(FT_LOCKING);
	account_arg(fcinfo, args, nulls);
	n = execute_move(&drop_account_archive, args, nulls);
	SPI_finish();
	PG_RETURN_INT64(n);
}
