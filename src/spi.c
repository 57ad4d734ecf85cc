/*-------------------------------------------------------------------------
 *
 * spi.c
 *	  Prepared statements, kept for the life of the backend.
 *
 * Every statement freetier runs is a static FtStatement: fixed SQL text with
 * schema-qualified names and $n parameters.  It is prepared on first use and
 * kept with SPI_keepplan; the plan cache re-plans it if the tables change.
 * A statement run by ft_execute finds rows by key, and is planned with
 * sequential scans off (plan_by_key): planned on tables of one page, as
 * a new pool's stripes are, a lookup by key would be a scan of the whole
 * table for as long as the backend keeps the plan, while traffic spreads
 * the table's row versions over ever more pages.  The archive moves,
 * which read whole ledgers, run with ft_execute_whole and are planned on
 * the tables' costs: a ledger walked in index order reads its heap at
 * random.
 *
 * Which snapshot a statement reads is decided here, once per call, never by
 * the statement's caller.  A call opens SPI with ft_connect and says what it
 * is:
 *
 *	 FT_LOCKING    it locks rows (and writes).  Every statement takes a new
 *				   snapshot, so a read made after waiting for a row lock sees
 *				   everything the previous lock holder committed.  The
 *				   statement that took the lock was planned with the older
 *				   snapshot; only a later statement can see the newer rows.
 *	 FT_READING    it locks nothing and writes nothing (estimate, status,
 *				   route, verification).  Every statement reads the caller's
 *				   snapshot, so the call sees one consistent state; under
 *				   SPI's read-only mode a statement that would lock or write
 *				   is refused.
 *
 * Under REPEATABLE READ both read the transaction's snapshot; a lock on a
 * row changed since then fails with a serialization error instead.
 *
 *-------------------------------------------------------------------------
 */
#include "freetier.h"

#include "access/xact.h"
#include "optimizer/planner.h"
#include "tcop/dest.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"

/* What the call that opened SPI does; see the header. */
static FtAccess current_access = FT_LOCKING;

/* The access of the call around this one, to restore when this one ends. */
typedef struct AccessRestore
{
	MemoryContextCallback callback;
	FtAccess	previous;
} AccessRestore;

static void
restore_access(void *arg)
{
	current_access = ((AccessRestore *) arg)->previous;
}

/*
 * Open SPI for a call that locks (FT_LOCKING) or only reads (FT_READING).
 * A freetier call may run inside another's statement (a trigger someone put
 * on freetier's tables): the outer call's access comes back when the inner
 * one's SPI procedure context goes, at SPI_finish or at the end of its
 * (sub)transaction.
 */
void
ft_connect(FtAccess access)
{
	AccessRestore *restore;

	SPI_connect();
	/* CurrentMemoryContext is now the new connection's procedure context */
	restore = palloc(sizeof(AccessRestore));
	restore->previous = current_access;
	restore->callback.func = restore_access;
	restore->callback.arg = restore;
	MemoryContextRegisterResetCallback(CurrentMemoryContext, &restore->callback);
	current_access = access;
}

/* Whether statements of the current call read the caller's snapshot. */
bool
ft_reads_one_snapshot(void)
{
	return current_access == FT_READING;
}

/*
 * For reads without SPI (index_read.c) in the middle of a call: make the
 * snapshot the call's next statement would read the active one, until
 * ft_pop_read_snapshot.  FT_LOCKING: a new one, as SPI takes for each
 * statement, so that it sees what the previous holder of a lock just taken
 * committed (and, as a statement would, what the call wrote before it);
 * FT_READING: the caller's.
 */
void
ft_push_read_snapshot(void)
{
	if (ft_reads_one_snapshot())
		PushActiveSnapshot(GetActiveSnapshot());
	else
	{
		PushActiveSnapshot(GetTransactionSnapshot());
		CommandCounterIncrement();
		UpdateActiveSnapshotCommandId();
	}
}

void
ft_pop_read_snapshot(void)
{
	PopActiveSnapshot();
}

/* The SQL of the statement ft_execute runs, while it runs. */
static const char *running_by_key = NULL;

static planner_hook_type previous_planner_hook = NULL;

/*
 * The planner, with enable_seqscan off while it plans the statement that
 * ft_execute runs (not the statements of triggers it fires, nor the walks
 * of ft_execute_each): where an index serves, the plan uses it, whatever
 * the size of the table when the plan is made.  And with jit off: a scan
 * that no index serves (a one-row settings table) then costs more than
 * jit_above_cost until PostgreSQL 18, and compiling it took milliseconds
 * on every call.
 */
static PlannedStmt *
plan_by_key(Query *parse, const char *query_string, int cursor_options,
			ParamListInfo params)
{
	bool		by_key = running_by_key != NULL && query_string != NULL &&
		strcmp(query_string, running_by_key) == 0;
	int			nest_level = 0;
	PlannedStmt *planned;

	if (by_key)
	{
		nest_level = NewGUCNestLevel();
		(void) set_config_option("enable_seqscan", "off", PGC_USERSET, PGC_S_SESSION,
								 GUC_ACTION_SAVE, true, 0, false);
		(void) set_config_option("jit", "off", PGC_USERSET, PGC_S_SESSION,
								 GUC_ACTION_SAVE, true, 0, false);
	}
	planned = previous_planner_hook ?
		previous_planner_hook(parse, query_string, cursor_options, params) :
		standard_planner(parse, query_string, cursor_options, params);
	if (by_key)
		AtEOXact_GUC(true, nest_level);
	return planned;
}

/* At load (_PG_init): plan ft_execute's statements with plan_by_key. */
void
ft_spi_init(void)
{
	previous_planner_hook = planner_hook;
	planner_hook = plan_by_key;
}

/* The statement's kept plan, prepared on first use with these cursor options. */
static SPIPlanPtr
prepare(FtStatement *stmt, int cursor_options)
{
	if (stmt->plan == NULL)
	{
		/*
		 * A generic plan, planned once: every statement is a short lookup by
		 * key, whose best plan does not depend on the values, and a custom
		 * plan would be planned anew on every call.
		 */
		SPIPlanPtr	plan = SPI_prepare_cursor(stmt->sql, stmt->nargs, stmt->argtypes,
											  CURSOR_OPT_GENERIC_PLAN | cursor_options);

		if (plan == NULL)
			elog(ERROR, "freetier: SPI_prepare failed (%s): %s",
				 SPI_result_code_string(SPI_result), stmt->sql);
		if (SPI_keepplan(plan) != 0)
			elog(ERROR, "freetier: SPI_keepplan failed");
		stmt->plan = plan;
	}
	return stmt->plan;
}

/* The statement's kept plan. */
SPIPlanPtr
ft_prepare(FtStatement *stmt)
{
	return prepare(stmt, 0);
}

/* stmt run with its parameters, planned by plan_by_key when by_key; SPI_processed. */
static int
execute(FtStatement *stmt, Datum *values, const char *nulls, bool by_key)
{
	const char *outer = running_by_key;
	int			rc;

	running_by_key = by_key ? stmt->sql : NULL;
	rc = SPI_execute_plan(ft_prepare(stmt), values, nulls, ft_reads_one_snapshot(), 0);
	running_by_key = outer;
	if (rc < 0)
		elog(ERROR, "freetier: SPI_execute_plan failed (%s): %s",
			 SPI_result_code_string(rc), stmt->sql);
	return (int) SPI_processed;
}

/* Runs stmt, a lookup by key (plan_by_key); returns SPI_processed. */
int
ft_execute(FtStatement *stmt, Datum *values, const char *nulls)
{
	return execute(stmt, values, nulls, true);
}

/* Runs stmt, which reads whole ledgers, planned on the tables' costs. */
int
ft_execute_whole(FtStatement *stmt, Datum *values, const char *nulls)
{
	return execute(stmt, values, nulls, false);
}

/* A receiver that hands each result row to a function, as it is produced. */
typedef struct EachRowReceiver
{
	DestReceiver pub;
	FtRowFunc	each_row;
	void	   *arg;
	MemoryContext row_context;	/* reset after every row */
} EachRowReceiver;

static bool
each_row_receive(TupleTableSlot *slot, DestReceiver *self)
{
	EachRowReceiver *r = (EachRowReceiver *) self;
	MemoryContext outer = MemoryContextSwitchTo(r->row_context);

	r->each_row(slot, r->arg);
	MemoryContextSwitchTo(outer);
	MemoryContextReset(r->row_context);
	return true;
}

static void
each_row_startup(DestReceiver *self, int operation, TupleDesc typeinfo)
{
}

static void
each_row_nothing(DestReceiver *self)
{
}

/*
 * Runs stmt and hands every row it returns to each_row, in the order the
 * statement returns them, without keeping them: for results too long to
 * hold (a whole ledger).  Whatever each_row allocates is freed after the row.
 * Such a statement is planned as a cursor's would be, for rows that start
 * coming at once: walking an index in its order, rather than collecting and
 * sorting every row first, which takes a third more time.
 */
void
ft_execute_each(FtStatement *stmt, Datum *values, const char *nulls,
				FtRowFunc each_row, void *arg)
{
	EachRowReceiver receiver;
	SPIExecuteOptions options;
	ParamListInfo params = makeParamList(stmt->nargs);
	int			rc;

	for (int i = 0; i < stmt->nargs; i++)
	{
		params->params[i].value = values[i];
		params->params[i].isnull = nulls != NULL && nulls[i] == 'n';
		params->params[i].pflags = PARAM_FLAG_CONST;
		params->params[i].ptype = stmt->argtypes[i];
	}
	memset(&receiver, 0, sizeof(receiver));
	receiver.pub.receiveSlot = each_row_receive;
	receiver.pub.rStartup = each_row_startup;
	receiver.pub.rShutdown = each_row_nothing;
	receiver.pub.rDestroy = each_row_nothing;
	receiver.pub.mydest = DestNone;
	receiver.each_row = each_row;
	receiver.arg = arg;
	receiver.row_context = AllocSetContextCreate(CurrentMemoryContext,
												 "freetier row",
												 ALLOCSET_SMALL_SIZES);
	memset(&options, 0, sizeof(options));
	options.params = params;
	options.read_only = ft_reads_one_snapshot();
	options.dest = &receiver.pub;

	rc = SPI_execute_plan_extended(prepare(stmt, CURSOR_OPT_FAST_PLAN), &options);
	if (rc < 0)
		elog(ERROR, "freetier: SPI_execute_plan_extended failed (%s): %s",
			 SPI_result_code_string(rc), stmt->sql);
	MemoryContextDelete(receiver.row_context);
}

/* Column col (1-based) of result row `row`. */
Datum
ft_column(int row, int col, bool *isnull)
{
	if (SPI_tuptable == NULL || (uint64) row >= SPI_processed)
		elog(ERROR, "freetier: a statement returned no row %d (is a freetier table missing its rows?)",
			 row + 1);
	return SPI_getbinval(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, col,
						 isnull);
}

/* A bigint column that is never NULL (sums are coalesced in SQL). */
int64
ft_column_int64(int row, int col)
{
	bool		isnull;
	Datum		d = ft_column(row, col, &isnull);

	if (isnull)
		elog(ERROR, "freetier: unexpected NULL in column %d", col);
	return DatumGetInt64(d);
}

/* A text column as a C string in the caller's (upper) memory context, or NULL. */
char *
ft_column_text(int row, int col)
{
	bool		isnull;
	Datum		d = ft_column(row, col, &isnull);
	text	   *t;
	int			len;
	char	   *s;

	if (isnull)
		return NULL;
	t = DatumGetTextPP(d);
	len = VARSIZE_ANY_EXHDR(t);
	s = SPI_palloc(len + 1);
	memcpy(s, VARDATA_ANY(t), len);
	s[len] = '\0';
	return s;
}
