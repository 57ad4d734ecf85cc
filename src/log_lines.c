/*-------------------------------------------------------------------------
 *
 * log_lines.c
 *	  The lines freetier writes to the server log for an operator to grep
 *	  for, every one starting "freetier: " (README, "Operations"):
 *
 *	   pool "P" ran dry ...                 a decide took a pool's last sat
 *	   pool "P" reached its low-water mark  a decide took a pool from above
 *	                                        its low_water_sats to at or below
 *	   expire_holds expired ...             one line per sweep that expired
 *	                                        anything, per pool, and credit holds
 *	   ledger of pool "P" failed verification ...
 *	   account ledger of "S" failed verification ...
 *	   settings ledger "plan:P" failed verification ...
 *	                                        (or "tier:T", "credit_settings")
 *	   anchor {"chain": ..., "seq": ..., "head_hash": ...}
 *	                                        one line per chain, per call of
 *	                                        freetier_log_anchors
 *	   chain "pool:0:P" not sealed ...      freetier_seal_chains skipped a
 *	                                        chain that failed verification
 *
 * A line about a move (the first three) is written when the transaction
 * that made the move commits (or is prepared): a move rolled back, with its
 * transaction or its subtransaction, logs nothing.  A verification failure
 * is written at once, and so are an anchor and a chain not sealed.  Lines are LOG_SERVER_ONLY:
 * never sent to a client, whatever its client_min_messages, so an
 * application role learns nothing of a pool's state from them.  Nothing here is called per request at the
 * default level: a decide logs only when it crosses a line.
 *
 * Subjects are shortened to their first 8 characters, as the seed's service
 * logged them, with control characters shown as '?', so that no subject can
 * forge a line.
 *
 *-------------------------------------------------------------------------
 */
#include "freetier.h"

#include "access/xact.h"
#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"
#include "utils/json.h"
#include "utils/memutils.h"

/* Lines waiting for their transaction's commit, in TopTransactionContext. */
typedef struct PendingLine
{
	SubTransactionId subid;
	char	   *text;
} PendingLine;

static PendingLine *pending = NULL;
static int	n_pending = 0;
static int	max_pending = 0;

/* Write a line now. */
static void
write_line(const char *text)
{
	ereport(LOG_SERVER_ONLY,
			(errmsg_internal("%s", text),
			 errhidestmt(true),
			 errhidecontext(true)));
}

/* Keep a line (palloc'd anywhere) for the commit of the current transaction. */
static void
write_at_commit(const char *text)
{
	if (n_pending == max_pending)
	{
		max_pending = Max(4, max_pending * 2);
		pending = pending == NULL ?
			MemoryContextAlloc(TopTransactionContext, max_pending * sizeof(PendingLine)) :
			repalloc(pending, max_pending * sizeof(PendingLine));
	}
	pending[n_pending].subid = GetCurrentSubTransactionId();
	pending[n_pending].text = MemoryContextStrdup(TopTransactionContext, text);
	n_pending++;
}

static void
at_xact_end(XactEvent event, void *arg)
{
	switch (event)
	{
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_PREPARE:
			for (int i = 0; i < n_pending; i++)
				write_line(pending[i].text);
			/* FALLTHROUGH */
		case XACT_EVENT_ABORT:
			pending = NULL;		/* freed with TopTransactionContext */
			n_pending = max_pending = 0;
			break;
		default:
			break;
	}
}

/* A subtransaction's lines become its parent's, or are dropped with it. */
static void
at_subxact_end(SubXactEvent event, SubTransactionId subid, SubTransactionId parent,
			   void *arg)
{
	int			kept = 0;

	if (event != SUBXACT_EVENT_COMMIT_SUB && event != SUBXACT_EVENT_ABORT_SUB)
		return;
	for (int i = 0; i < n_pending; i++)
	{
		if (pending[i].subid == subid)
		{
			if (event == SUBXACT_EVENT_ABORT_SUB)
				continue;
			pending[i].subid = parent;
		}
		pending[kept++] = pending[i];
	}
	n_pending = kept;
}

/* From _PG_init. */
void
ft_log_lines_init(void)
{
	RegisterXactCallback(at_xact_end, NULL);
	RegisterSubXactCallback(at_subxact_end, NULL);
}

/* A subject as log lines show it: its first 8 characters, control characters as '?'. */
static char *
short_subject(const char *subject)
{
	char	   *s = pnstrdup(subject, pg_mbcharcliplen(subject, strlen(subject), 8));

	for (char *c = s; *c; c++)
		if ((unsigned char) *c < 0x20 || *c == 0x7f)
			*c = '?';
	return s;
}

/*
 * A decide for `subject` took `taken` sats from `pool`, whose balance went
 * from `before` to `after`: the lines for each line it crossed.
 */
void
ft_log_pool_crossings(const char *pool, int64 low_water_sats, int64 before, int64 after,
					  const char *subject, int64 taken)
{
	if (low_water_sats > 0 && before > low_water_sats && after <= low_water_sats)
		write_at_commit(psprintf("freetier: pool \"%s\" reached its low-water mark: "
								 INT64_FORMAT " sats left, mark " INT64_FORMAT
								 " (a decide for \"%s\" took " INT64_FORMAT ")",
								 pool, after, low_water_sats, short_subject(subject),
								 taken));
	if (before > 0 && after == 0)
		write_at_commit(psprintf("freetier: pool \"%s\" ran dry (a decide for \"%s\" took "
								 "the last " INT64_FORMAT " sats)",
								 pool, short_subject(subject), taken));
}

/*
 * One freetier_expire_holds call: holds[i] gate holds of pools[i] expired,
 * returning sats[i], and credit_holds credit holds with `credits`.  Nothing
 * when nothing expired.
 */
void
ft_log_sweep(int npools, char *const *pools, const int64 *holds, const int64 *sats,
			 int64 credit_holds, int64 credits)
{
	StringInfoData line;
	const char *sep = "";

	initStringInfo(&line);
	appendStringInfoString(&line, "freetier: expire_holds expired");
	for (int i = 0; i < npools; i++)
	{
		if (holds[i] == 0)
			continue;
		appendStringInfo(&line, "%s pool \"%s\" " INT64_FORMAT " holds " INT64_FORMAT " sats",
						 sep, pools[i], holds[i], sats[i]);
		sep = ",";
	}
	if (credit_holds > 0)
		appendStringInfo(&line, "%s credit holds " INT64_FORMAT " holds " INT64_FORMAT
						 " credits", sep, credit_holds, credits);
	else if (*sep == '\0')
		return;
	write_at_commit(line.data);
}

/*
 * A chain failed verification: stripe `chain` of pool `key`, the account
 * of subject `key`, or the settings chain named `key` (as a JSON string, so
 * that no plan's name can break the line); first_bad_entry 0 when every
 * entry matches but its owning row does not match the chain's end.
 */
void
ft_log_bad_chain(FtChainFamily family, const char *key, int chain, int64 first_bad_entry)
{
	StringInfoData line;
	bool		account = family == FT_CHAINS_ACCOUNTS;

	initStringInfo(&line);
	if (account)
		appendStringInfo(&line, "freetier: account ledger of \"%s\" failed verification",
						 short_subject(key));
	else if (family == FT_CHAINS_SETTINGS)
	{
		appendStringInfoString(&line, "freetier: settings ledger ");
		escape_json(&line, key);
		appendStringInfoString(&line, " failed verification");
	}
	else
		appendStringInfo(&line, "freetier: ledger of pool \"%s\" failed verification: "
						 "stripe %d", key, chain);
	if (first_bad_entry > 0)
		appendStringInfo(&line, ", first bad entry " INT64_FORMAT, first_bad_entry);
	else
		appendStringInfoString(&line, account ? ": the account row does not match its chain"
							   : ", its row does not match its chain");
	write_line(line.data);
}

/*
 * freetier_seal_chains skipped a chain that failed verification (anchor.c),
 * named as anchors name it, a JSON string, so that no pool or subject can
 * break the line; first_bad_entry as ft_log_bad_chain's.
 */
void
ft_log_not_sealed(const char *chain, int64 first_bad_entry)
{
	StringInfoData line;

	initStringInfo(&line);
	appendStringInfoString(&line, "freetier: chain ");
	escape_json(&line, chain);
	appendStringInfoString(&line, " not sealed: it failed verification");
	if (first_bad_entry > 0)
		appendStringInfo(&line, ", first bad entry " INT64_FORMAT, first_bad_entry);
	else
		appendStringInfoString(&line, ", its row does not match its chain");
	write_line(line.data);
}

/*
 * A chain's anchor (freetier_log_anchors): its name and head's seq as JSON,
 * the name a JSON string so that no pool or subject can break the line,
 * and the head's hash in hex.
 */
void
ft_log_anchor(const char *chain, int64 seq, const uint8 *hash)
{
	StringInfoData line;

	initStringInfo(&line);
	appendStringInfoString(&line, "freetier: anchor {\"chain\": ");
	escape_json(&line, chain);
	appendStringInfo(&line, ", \"seq\": " INT64_FORMAT ", \"head_hash\": \"", seq);
	for (int i = 0; i < FT_HASH_BYTES; i++)
		appendStringInfo(&line, "%02x", hash[i]);
	appendStringInfoString(&line, "\"}");
	write_line(line.data);
}
