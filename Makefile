# freetier: a free-tier and credit gate for a metered service, in PostgreSQL.

EXTENSION = freetier
MODULE_big = freetier
OBJS = \
	src/freetier.o \
	src/account.o \
	src/allowance.o \
	src/args.o \
	src/chain.o \
	src/clock.o \
	src/credit_hold.o \
	src/decision.o \
	src/gate.o \
	src/gate_hold.o \
	src/holds.o \
	src/period.o \
	src/pool.o \
	src/pool_credit.o \
	src/spend.o \
	src/spi.o \
	src/trial.o \
	src/verify.o

# Released install scripts and upgrade scripts are kept as they shipped; the
# current version's install script is built from the previous install script
# and the upgrade to it, so a fresh install and an upgrade run the same SQL.
DATA = sql/freetier--0.1.sql $(wildcard sql/freetier--*--*.sql)
DATA_built = sql/freetier--0.2.sql sql/freetier--0.2.1.sql sql/freetier--0.3.sql
EXTRA_CLEAN = $(DATA_built)


# -Wno-unused-parameter: PostgreSQL's own headers trip it (ilist.h, bufpage.h,
# fmgr.h on 15, 17 and 18; bufmgr.h too from 17 on)
PG_CFLAGS = -Wall -Wextra -Werror -Wno-unused-parameter
SHLIB_LINK += -lsodium

# pg_regress: test/sql/*.sql against test/expected/*.out
REGRESS = setup decide estimate settle credit ledger chains errors privileges renewal accounts trials account_guards stripes limits timezones invariants upgrade
REGRESS_OPTS = --inputdir=test --load-extension=freetier

# isolation specs: test/specs/*.spec against test/expected/*.out
ISOLATION = decide-subject decide-pool settle-vs-release settle-twice credit-twice decide-rollback credits-last credits-rollover trials-network expiry-skew tier-change sweep-deadlock credit-hold-skew backend-cap reads-after-lock stripes-race
ISOLATION_OPTS = --inputdir=test --load-extension=freetier
# A step still waiting after this many seconds is cancelled, which fails its
# spec at once instead of after isolationtester's default of 300 s.
export PGISOLATIONTIMEOUT ?= 30

# TAP: test/t/*.pl (server life cycle)
TAP_TESTS = 1
PROVE_TESTS = test/t/*.pl

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# after the include, so that PGXS's 'all' stays the default target

# every object depends on the shared headers (PGXS does not track them)
$(OBJS): src/freetier.h src/compat.h

sql/freetier--0.2.sql: sql/freetier--0.1.sql sql/freetier--0.1--0.2.sql
	( cat sql/freetier--0.1.sql; grep -v '^\\echo Use' sql/freetier--0.1--0.2.sql ) > $@

sql/freetier--0.2.1.sql: sql/freetier--0.2.sql sql/freetier--0.2--0.2.1.sql
	( cat sql/freetier--0.2.sql; grep -v '^\\echo Use' sql/freetier--0.2--0.2.1.sql ) > $@

sql/freetier--0.3.sql: sql/freetier--0.2.1.sql sql/freetier--0.2.1--0.3.sql
	( cat sql/freetier--0.2.1.sql; grep -v '^\\echo Use' sql/freetier--0.2.1--0.3.sql ) > $@

# pg_regress and isolation only (installcheck also runs TAP)
installcheck-regress:
	$(pg_regress_installcheck) $(REGRESS_OPTS) $(REGRESS)
	$(pg_isolation_regress_installcheck) $(ISOLATION_OPTS) $(ISOLATION)

installcheck-tap:
	$(prove_installcheck)

.PHONY: installcheck-regress installcheck-tap
