
# Copyright: freetier authors.
#
# 005_counters.pl: the outcome counters agree with the ledger.
#
# freetier is preloaded (shared_preload_libraries), the counters are reset,
# and four pgbench clients run a mix of every call that counts: decides
# settled, released, left to expire, rolled back, or rolled back to a
# savepoint, or repeated with a request_key (a replay counts nothing);
# credits (some references repeated); spends, reserves settled,
# released or left to expire; trial mints (some refused).  Then a sweep, and
# the counters are compared with what the committed rows say:
#   - per pool, the sats held, returned, released, expired and credited
#     equal the sums of the ledger entries of those kinds, and the sats
#     absorbed and charged the sums over the grants;
#   - decides served equal the holds placed; credits equal the payments
#     recorded;
#   - per account call, the calls and credits equal what the account ledgers
#     and the credit holds record.
# A restart starts the counters at zero again.  The server log shows no
# crash.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use IPC::Run;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('counters');
$node->init;
$node->append_conf('postgresql.conf', "shared_preload_libraries = 'freetier'");
$node->start;

sub sql
{
	my ($query) = @_;
	return $node->safe_psql('postgres', $query);
}

sql(q{CREATE EXTENSION freetier});
sql(q{SELECT freetier_create_pool('counted', 100000, 10, '1 second', 4)});
sql(q{SELECT freetier_configure_pool('default', hold_ttl => '1 second')});
sql(q{SELECT freetier_set_tier_budget('load', 1000000)});
sql(q{SELECT freetier_set_tier_budget('small', 60)});    # partial answers, then exhausted
sql(q{SELECT count(freetier_set_tier('u' || i, CASE WHEN i <= 20 THEN 'small' ELSE 'load' END))
        FROM generate_series(1, 200) i});
sql(q{SELECT freetier_define_plan('metered', 'monthly', 300, '{"api": 200}')});
sql(q{SELECT freetier_configure_credits(default_plan => 'metered', hold_ttl => '1 second',
                                        trial_credits => 5, trials_per_network => 2)});
sql(q{SELECT count(*) FROM generate_series(1, 100) i, freetier_open_account('c' || i)});
sql(q{SELECT count(freetier_add_credits('c' || i, 20, 'seed-' || i)) FROM generate_series(1, 100) i});
my $since = sql(q{SELECT freetier_reset_counters()});

# One pgbench transaction.  A decide that is gated has no hold to settle.
my $script = PostgreSQL::Test::Utils::tempdir() . '/mix.sql';
open(my $fh, '>', $script) or die "cannot write $script: $!";
print $fh <<'EOF';
\set s random(1, 200)
\set c random(1, 100)
\set n random(1, 40)
\set r random(1, 20)
\set p random(1, 3)
\if :r <= 6
SELECT hold_id FROM freetier_decide('u' || :s, :n, CASE WHEN :p = 1 THEN 'default' ELSE 'counted' END) \gset
SELECT count(g.grant_id) FROM (SELECT nullif(':hold_id', '')::uuid AS h) x,
       LATERAL freetier_record_grant(x.h, :n / 2 + :p) g WHERE x.h IS NOT NULL;
\elif :r = 7
SELECT hold_id FROM freetier_decide('u' || :s, :n, 'counted') \gset
SELECT count(freetier_release(x.h)) FROM (SELECT nullif(':hold_id', '')::uuid AS h) x
 WHERE x.h IS NOT NULL;
\elif :r = 8
SELECT serve FROM freetier_decide('u' || :s, :n, 'counted', 'key-' || :s || '-' || :n);
SELECT serve FROM freetier_decide('u' || :s, :n, 'counted', 'key-' || :s || '-' || :n);
\elif :r = 9
BEGIN;
SELECT serve FROM freetier_decide('u' || :s, :n, 'counted');
SELECT freetier_credit(:n, 'counted', 'rolled-back-' || random());
ROLLBACK;
\elif :r = 10
BEGIN;
SAVEPOINT a;
SELECT serve FROM freetier_decide('u' || :s, :n, 'counted');
SELECT * FROM freetier_spend_credits('c' || :c, 1, 'api');
ROLLBACK TO a;
SELECT serve FROM freetier_decide(NULL, :n, 'counted');
COMMIT;
\elif :r = 11
SELECT freetier_credit(:s * 10, CASE WHEN :p = 1 THEN 'default' ELSE 'counted' END,
                       'pay-' || :p || '-' || :s);
\elif :r <= 13
SELECT * FROM freetier_spend_credits('c' || :c, :p, CASE WHEN :p = 3 THEN 'batch' ELSE 'api' END);
\elif :r = 14
SELECT * FROM freetier_spend_credits('c' || :c, :p, 'api', 'spend-' || :c || '-' || :p);
SELECT * FROM freetier_spend_credits('c' || :c, :p, 'api', 'spend-' || :c || '-' || :p);
\elif :r <= 16
SELECT hold_id AS credit_hold FROM freetier_reserve_credits('c' || :c, :p, 'api') \gset
SELECT count(*) FROM (SELECT nullif(':credit_hold', '')::uuid AS h) x,
       LATERAL freetier_settle_credits(x.h, 1) s WHERE x.h IS NOT NULL;
\elif :r = 17
SELECT hold_id AS credit_hold FROM freetier_reserve_credits('c' || :c, :p, 'api') \gset
SELECT count(freetier_release(x.h)) FROM (SELECT nullif(':credit_hold', '')::uuid AS h) x
 WHERE x.h IS NOT NULL;
\elif :r = 18
SELECT * FROM freetier_reserve_credits('c' || :c, :p, 'api');
\else
SELECT * FROM freetier_mint_trial(('10.0.' || :p || '.' || :s % 20)::inet);
SELECT * FROM freetier_mint_trial(('10.9.' || :p || '.' || :s)::inet, 'mint-' || :p || '-' || :s);
SELECT * FROM freetier_mint_trial(('10.9.' || :p || '.' || :s)::inet, 'mint-' || :p || '-' || :s);
\endif
EOF
close($fh);

my ($stdout, $stderr);
my $ok = IPC::Run::run(
	[
		'pgbench', '-n', '-c', '4', '-j', '2', '-t', '400', '-f', $script,
		'-h', $node->host, '-p', $node->port, 'postgres'
	],
	'>', \$stdout, '2>', \$stderr);
ok($ok, 'the mixed workload ran') or diag($stdout . $stderr);

sleep(2);    # past every hold's TTL
cmp_ok(sql(q{SELECT freetier_expire_holds()}), '>', 0, 'a sweep expired holds');

# every check is one query returning 't'
my %checks = (
	'per pool: sats held, returned, released, expired, credited = the ledger' => q{
		SELECT bool_and(c.sats_held = coalesce(-l.held, 0)
		            AND c.sats_returned = coalesce(l.returned, 0)
		            AND c.sats_released = coalesce(l.released, 0)
		            AND c.sats_expired = coalesce(l.expired, 0)
		            AND c.holds_expired = coalesce(l.expiries, 0)
		            AND c.sats_credited = coalesce(l.credited, 0))
		   AND count(*) = 2
		  FROM freetier_pool_counters() c
		  LEFT JOIN (SELECT pool,
		                    sum(delta_sats) FILTER (WHERE kind = 'hold') AS held,
		                    sum(delta_sats) FILTER (WHERE kind = 'return') AS returned,
		                    sum(delta_sats) FILTER (WHERE kind = 'release') AS released,
		                    sum(delta_sats) FILTER (WHERE kind = 'expiry') AS expired,
		                    count(*) FILTER (WHERE kind = 'expiry') AS expiries,
		                    sum(delta_sats) FILTER (WHERE kind = 'credit') AS credited
		               FROM freetier.ledger GROUP BY pool) l USING (pool)},
	'per pool: absorbed and charged = the grants; decides served = the holds' => q{
		SELECT bool_and(c.sats_absorbed = coalesce(g.absorbed, 0)
		            AND c.sats_charged = coalesce(g.charged, 0)
		            AND c.decides_free + c.decides_partial = coalesce(h.holds, 0)
		            AND c.credits = coalesce(k.credits, 0))
		  FROM freetier_pool_counters() c
		  LEFT JOIN (SELECT pool, sum(absorbed_sats) AS absorbed, sum(charge_sats) AS charged
		               FROM freetier.grants GROUP BY pool) g USING (pool)
		  LEFT JOIN (SELECT pool, count(*) AS holds FROM freetier.holds GROUP BY pool) h USING (pool)
		  LEFT JOIN (SELECT pool, count(*) AS credits FROM freetier.credits GROUP BY pool) k USING (pool)},
	'every kind of answer was counted' => q{
		SELECT sum(decides_free) > 0 AND sum(decides_partial) > 0 AND sum(gated_anonymous) > 0
		   AND sum(gated_daily_budget_exhausted) > 0
		   AND sum(sats_released) > 0 AND sum(sats_expired) > 0 AND sum(credits) > 0
		  FROM freetier_pool_counters()},
	'spends: ok calls and credits = the account ledgers' => q{
		SELECT c.calls = l.spends AND c.allowance_credits = l.allowance
		   AND c.purchased_credits = l.purchased
		  FROM freetier_account_counters() c,
		       (SELECT count(DISTINCT (subject, created_at, backend)) AS spends,
		               coalesce(sum(delta) FILTER (WHERE bucket <> 'purchased'), 0) AS allowance,
		               coalesce(-sum(delta) FILTER (WHERE bucket = 'purchased'), 0) AS purchased
		          FROM freetier.account_ledger WHERE kind = 'spend' AND hold_id IS NULL) l
		 WHERE c.call = 'spend' AND c.outcome = 'ok'},
	'reserves, settles, releases, expiries = the credit holds' => q{
		SELECT (SELECT sum(calls) FROM freetier_account_counters()
		         WHERE call = 'reserve' AND outcome = 'ok') = (SELECT count(*) FROM freetier.credit_holds)
		   AND (SELECT calls FROM freetier_account_counters() WHERE call = 'settle')
		       = (SELECT count(*) FROM freetier.credit_holds WHERE state = 'settled')
		   AND (SELECT calls FROM freetier_account_counters() WHERE call = 'release')
		       = (SELECT count(*) FROM freetier.credit_holds WHERE state = 'released')
		   AND (SELECT calls FROM freetier_account_counters() WHERE call = 'expire')
		       = (SELECT count(*) FROM freetier.credit_holds WHERE state = 'expired')
		   AND (SELECT allowance_credits + purchased_credits FROM freetier_account_counters()
		         WHERE call = 'expire')
		       = (SELECT sum(allowance_credits + purchased_credits) FROM freetier.credit_holds
		           WHERE state = 'expired')},
	'trials: minted = the trials table, and refusals were counted' => q{
		SELECT (SELECT calls FROM freetier_account_counters()
		         WHERE call = 'mint_trial' AND outcome = 'ok') = (SELECT count(*) FROM freetier.trials)
		   AND (SELECT calls FROM freetier_account_counters()
		         WHERE call = 'mint_trial' AND outcome = 'trial_limit') > 0},
	'the counters count from the reset' => qq{
		SELECT bool_and(since = '$since') FROM freetier_pool_counters()});

foreach my $name (sort keys %checks)
{
	is(sql($checks{$name}), 't', $name);
}

$node->restart;
is(sql(q{SELECT (SELECT count(*) FROM freetier_pool_counters())
             + (SELECT count(*) FROM freetier_account_counters())}),
	'0', 'after a restart the counters start again from zero');

$node->stop;
my @bad = grep { /PANIC|TRAP:|segmentation fault|was terminated by signal/i }
  split /\n/, slurp_file($node->logfile);
is(join("\n", @bad), '', 'no PANIC, failed assertion or crash in the server log');

done_testing();
