# freetier: a free-tier and credit gate for a metered service, in PostgreSQL.

EXTENSION = freetier
MODULE_big = freetier
OBJS = \
	src/freetier.o \
	src/account.o \
	src/allowance.o \
	src/anchor.o \
	src/args.o \
	src/chain.o \
	src/chain_key.o \
	src/clock.o \
	src/correction.o \
	src/counters.o \
	src/credit_hold.o \
	src/decision.o \
	src/gate.o \
	src/gate_hold.o \
	src/holds.o \
	src/import.o \
	src/index_read.o \
	src/log_lines.o \
	src/ledger_archive.o \
	src/period.o \
	src/pool.o \
	src/pool_credit.o \
	src/request_key.o \
	src/settings_ledger.o \
	src/spend.o \
	src/spi.o \
	src/trial.o \
	src/verify.o

# Released install scripts and upgrade scripts are kept as they shipped; the
# current version's install script is built from the previous install script
# and the upgrade to it, so a fresh install and an upgrade run the same SQL.
# Every script is named here, not found by a wildcard: a wildcard is expanded
# in the build directory, which in an out-of-tree build (pg_buildext) has no
# sql/, and would ship no upgrade script at all.  A script in sql/ that is
# not listed stops the build (below).
DATA = \
	sql/freetier--0.1.sql \
	sql/freetier--0.1--0.2.sql \
	sql/freetier--0.2--0.2.1.sql \
	sql/freetier--0.2.1--0.3.sql \
	sql/freetier--0.3--0.4.sql
DATA_built = sql/freetier--0.2.sql sql/freetier--0.2.1.sql sql/freetier--0.3.sql \
	sql/freetier--0.4.sql
EXTRA_CLEAN = $(DATA_built)

# -Wno-unused-parameter: PostgreSQL's own headers trip it (ilist.h, bufpage.h,
# fmgr.h on 15, 17 and 18; bufmgr.h too from 17 on).  No -Werror here: a
# newer compiler's new warning must not stop a user's build.  CI adds it
# (COPT=-Werror, see .ci/run).
PG_CFLAGS = -Wall -Wextra -Wno-unused-parameter
SHLIB_LINK += -lsodium

# pg_regress: test/sql/*.sql against test/expected/*.out
REGRESS = setup decide estimate settle credit ledger chains retention errors privileges renewal accounts trials account_guards stripes lookups limits timezones schema invariants listings counters corrections keys low_water import anchors settings_chain settings_ledger keyed upgrade
# $(srcdir): the source tree, also in an out-of-tree build
REGRESS_OPTS = --inputdir=$(srcdir)/test --load-extension=freetier

# isolation specs: test/specs/*.spec against test/expected/*.out
ISOLATION = decide-subject decide-pool settle-vs-release settle-twice credit-twice decide-rollback credits-last credits-rollover trials-network expiry-skew tier-change sweep-deadlock credit-hold-skew backend-cap reads-after-lock stripes-race reversal-vs-decide corrections-twice decide-key credit-key dry-exact retention-traffic import-traffic anchors-traffic busy-stripes grant-ids settings-race estimate-traffic
ISOLATION_OPTS = --inputdir=$(srcdir)/test --load-extension=freetier
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

# An out-of-tree build (make -f SRC/Makefile VPATH=SRC, as pg_buildext runs
# it) starts in an empty directory: the objects and the built scripts need
# their src/ and sql/ there.  In the source tree both exist already.
$(shell mkdir -p src sql)

# Every script in sql/ is listed in DATA or DATA_built ('make clean' still
# works when one is not).
unlisted_sql := $(filter-out $(notdir $(DATA) $(DATA_built)),$(notdir $(wildcard $(srcdir)/sql/*.sql)))
ifneq ($(unlisted_sql),)
ifneq ($(filter-out clean distclean,$(or $(MAKECMDGOALS),all)),)
$(error sql/ has scripts that the Makefile lists in neither DATA nor DATA_built: $(unlisted_sql))
endif
endif

# The current install script: the previous one, then the upgrade without its
# \echo guard.  $^ are the prerequisites as found, in the source tree or
# (the previous built script) in the build directory.
sql/freetier--0.2.sql: sql/freetier--0.1.sql sql/freetier--0.1--0.2.sql
	( cat $(word 1,$^); grep -v '^\\echo Use' $(word 2,$^) ) > $@

sql/freetier--0.2.1.sql: sql/freetier--0.2.sql sql/freetier--0.2--0.2.1.sql
	( cat $(word 1,$^); grep -v '^\\echo Use' $(word 2,$^) ) > $@

sql/freetier--0.3.sql: sql/freetier--0.2.1.sql sql/freetier--0.2.1--0.3.sql
	( cat $(word 1,$^); grep -v '^\\echo Use' $(word 2,$^) ) > $@

sql/freetier--0.4.sql: sql/freetier--0.3.sql sql/freetier--0.3--0.4.sql
	( cat $(word 1,$^); grep -v '^\\echo Use' $(word 2,$^) ) > $@

# pg_regress and isolation only (installcheck also runs TAP)
installcheck-regress:
	$(pg_regress_installcheck) $(REGRESS_OPTS) $(REGRESS)
	$(pg_isolation_regress_installcheck) $(ISOLATION_OPTS) $(ISOLATION)

installcheck-tap:
	$(prove_installcheck)

.PHONY: installcheck-regress installcheck-tap
