/*-------------------------------------------------------------------------
 *
 * freetier.c
 *	  Module initialisation: libsodium, the freetier.* settings, and (when
 *	  preloaded) the counters' shared memory and the chain key.
 *
 * The map (test/run checks that it names every file in src/):
 *
 *	 the gate, for pools of sats
 *	   gate.c         freetier_decide, freetier_estimate: the decision
 *	   gate_hold.c    a gate hold's life: placed, settled (record_grant),
 *	                  released, expired
 *	   pool.c         the only code that moves a pool's balance; create_pool,
 *	                  configure_pool, the chained settings, the stripe a
 *	                  return goes to, the room money coming in needs
 *	   pool_credit.c  freetier_credit: a paid invoice grows a pool
 *	 credit accounts
 *	   spend.c        freetier_reserve_credits, _spend_credits, _route
 *	   credit_hold.c  a credit hold's life: placed, settled, released, expired
 *	   account.c      the only code that writes an account; open, set_plan,
 *	                  account_status, add_credits, its checkpoints and
 *	                  settings entries
 *	   trial.c        freetier_mint_trial, freetier_claim_trial
 *	 corrections
 *	   correction.c   freetier_adjust_pool, _reverse_credit, _refund_credits:
 *	                  an operator's corrections, once per ref
 *	 migration
 *	   import.c       freetier_import_pool, _import_subject,
 *	                  _import_account: a seed deployment's state, once per ref
 *	 shared by both
 *	   holds.c        freetier_release, freetier_expire_holds,
 *	                  freetier_extend_hold: both kinds
 *	   request_key.c  idempotency keys: a keyed call done once, replayed
 *	   chain.c        the hash chains, write side: hashing (keyed too),
 *	                  appending, seals
 *	   chain_key.c    the chain key: read at server start, kept read-only
 *	   settings_ledger.c  the settings chains, write side: a plan's, a
 *	                  tier's and the credit settings' changes (define_plan,
 *	                  set_tier_budget, configure_credits)
 *	   verify.c       the hash chains, read side: verify_ledger,
 *	                  verify_account_ledger, verify_settings_ledger and
 *	                  both archives' checks
 *	   ledger_archive.c  the chains' retention, pools' and accounts':
 *	                  checkpoints, the archive move and where a chain then
 *	                  starts, dropping the archive; the ledgers' guard trigger
 *	   anchor.c       anchors: every chain's head (ledger_anchor,
 *	                  log_anchors), and a kept one checked (verify_anchor);
 *	                  seals, keyed anchors kept in the database (seal_chains)
 *	 pure: inputs in, answers out, no SQL
 *	   decision.c     the gate's arithmetic, shared by decide and estimate
 *	   allowance.c    the credit arithmetic, shared by reserve, spend, route
 *	   period.c       calendar arithmetic; next_renewal_after,
 *	                  freetier.period_start
 *	 plumbing
 *	   freetier.c     this map; module initialisation
 *	   spi.c          prepared statements, planned as lookups by key; which
 *	                  snapshot a call reads
 *	   index_read.c   reads through an index without SPI (estimate's)
 *	   args.c         argument checks, messages, result rows
 *	   clock.c        the instant freetier decides at (freetier.test_now)
 *	   counters.c     outcome counters in shared memory (when preloaded)
 *	   log_lines.c    the lines an operator greps the server log for
 *	   compat.h       every difference between PostgreSQL versions
 *	   freetier.h     the declarations the files share, by file
 *
 *-------------------------------------------------------------------------
 */
#include "freetier.h"

#include <sodium.h>

#include "fmgr.h"
#include "utils/guc.h"

PG_MODULE_MAGIC;

void		_PG_init(void);

void
_PG_init(void)
{
	if (sodium_init() < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("freetier: libsodium could not be initialised")));
	ft_define_clock_guc();
	ft_define_request_key_guc();
	ft_chain_key_init();
	ft_counters_init();
	ft_log_lines_init();
	ft_spi_init();
	MarkGUCPrefixReserved("freetier");
}
