/*-------------------------------------------------------------------------
 *
 * freetier.c
 *	  Module initialisation: libsodium and the freetier.* settings.
 *
 * File map:
 *	 decision.c  the decision arithmetic shared by decide and estimate
 *	 gate.c      freetier_decide, freetier_estimate
 *	 holds.c     freetier_record_grant, freetier_release, freetier_expire_holds
 *	 credit.c    freetier_credit
 *	 pool.c      the only code that moves a pool's balance; freetier_create_pool
 *	 ledger.c    the hash chain and freetier_verify_ledger
 *	 renewal.c   next_renewal_after
 *	 clock.c     the instant freetier decides at (freetier.test_now)
 *	 args.c      argument checks and overflow-checked sums
 *	 spi.c       prepared statements kept per backend
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
	MarkGUCPrefixReserved("freetier");
}
