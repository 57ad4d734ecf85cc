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

#include "executor/spi.h"
#include "utils/timestamp.h"
#include "utils/uuid.h"

/* Longest subject, pool, tier, payment reference, request hash or reason. */
#define FT_MAX_TEXT_BYTES	256

/* BLAKE2b-256 */
#define FT_HASH_BYTES		32

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

#define FT_MAX_ARGS 10

typedef struct FtStatement
{
	const char *sql;
	int			nargs;
	Oid			argtypes[FT_MAX_ARGS];
	SPIPlanPtr	plan;			/* prepared on first use, then kept */
} FtStatement;

extern SPIPlanPtr ft_prepare(FtStatement *stmt);
extern int	ft_execute(FtStatement *stmt, Datum *values, const char *nulls,
					   bool read_only);
extern Datum ft_column(int row, int col, bool *isnull);
extern int64 ft_column_int64(int row, int col);
extern char *ft_column_text(int row, int col);

/* ---- args.c: argument checks with the messages users read ---- */

extern void ft_check_sats(const char *argname, int64 value);
extern void ft_check_not_null(FunctionCallInfo fcinfo, int argno, const char *argname);
extern char *ft_text_arg(FunctionCallInfo fcinfo, int argno, const char *argname,
						 bool required);
extern int64 ft_add_sats(int64 a, int64 b, const char *what);

/* ---- clock.c ---- */

extern TimestampTz ft_now(void);
extern void ft_define_clock_guc(void);

/* ---- ledger.c: hash chain ---- */

typedef struct FtLedgerEntry
{
	const char *pool;
	int64		seq;
	const char *kind;
	int64		delta_sats;
	int64		balance_after;
	const pg_uuid_t *hold_id;	/* may be NULL */
	const char *payment_ref;	/* may be NULL */
	TimestampTz created_at;
	const uint8 *prev_hash;		/* FT_HASH_BYTES */
} FtLedgerEntry;

extern void ft_ledger_hash(const FtLedgerEntry *e, uint8 *out);

/* ---- renewal.c ---- */

extern TimestampTz ft_next_renewal(TimestampTz ts, int anchor_day);

/* ---- pool.c: the only code that moves a pool's balance ---- */

typedef struct FtPool
{
	char	   *name;
	int64		balance_sats;
	int64		head_seq;
	uint8		head_hash[FT_HASH_BYTES];
} FtPool;

extern void ft_pool_lock(const char *pool, FtPool *p);
extern void ft_pool_append(FtPool *p, const char *kind, int64 delta_sats,
						   const pg_uuid_t *hold_id, const char *payment_ref,
						   TimestampTz at);
extern int64 ft_pool_reclaim_expired(FtPool *p, TimestampTz now);
extern void ft_report_unknown_pool(const char *pool);

#endif							/* FREETIER_H */
