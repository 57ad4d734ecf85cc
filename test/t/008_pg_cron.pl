
# Copyright: freetier authors.
#
# 008_pg_cron.pl: the README's pg_cron recipe sweeps.
#
# A throw-away cluster with pg_cron preloaded, set up as README
# "Operations" says; a hold placed an hour ago, past its TTL; the operator
# role (freetier_grant_operator, and USAGE on schema cron) runs
# ops/pg_cron.sql, the recipe as the README shows it: freetier_expire_holds()
# every minute.  Within the next minute pg_cron runs it as the operator, and
# it expires the hold: the hold is returned to its stripe (an 'expiry'
# ledger entry), the run succeeded as the operator, and the sweep's line is
# in the server log.
#
# pg_cron 1.4 (Debian 12) has no seconds schedule: the test waits for the
# next whole minute.  test/install-deps installs postgresql-15-cron for
# PostgreSQL 15; where pg_cron is not installed (the 17 and 18 chroots) the
# test is skipped.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $pkglibdir = `pg_config --pkglibdir`;
chomp $pkglibdir;
plan skip_all => "pg_cron is not installed in $pkglibdir (test/install-deps: PostgreSQL 15 only)"
  unless -e "$pkglibdir/pg_cron.so";

my $node = PostgreSQL::Test::Cluster->new('cron');
$node->init;
$node->append_conf('postgresql.conf', q{
shared_preload_libraries = 'pg_cron'
cron.database_name = 'postgres'
cron.use_background_workers = on
max_worker_processes = 16
});
$node->start;

sub sql
{
	my ($query) = @_;
	return $node->safe_psql('postgres', $query);
}

sql(q{CREATE EXTENSION freetier});
sql(q{CREATE EXTENSION pg_cron});
sql(q{CREATE ROLE operator LOGIN});
sql(q{SELECT freetier_grant_operator('operator')});
sql(q{GRANT USAGE ON SCHEMA cron TO operator});

# A hold placed an hour ago (freetier.test_now, a superuser's setting), its
# TTL of 15 minutes long past.
my $hold = sql(q{SELECT set_config('freetier.test_now', (now() - interval '1 hour')::text, false);
                 SELECT freetier_set_tier('npub1sweepme', 'trusted');
                 SELECT hold_id FROM freetier_decide('npub1sweepme', 30)});
$hold = (split /\n/, $hold)[-1];
is(sql(q{SELECT expired_holds || ' ' || expired_sats FROM freetier_pools() WHERE pool = 'default'}),
	'1 30', 'a hold past its TTL, not yet returned');
my $offset = -s $node->logfile;

# The recipe, as the operator.
$node->command_ok(
	[ 'psql', '-X', '-v', 'ON_ERROR_STOP=1', '-d', $node->connstr('postgres'), '-U', 'operator',
	  '-f', 'ops/pg_cron.sql' ],
	'the operator schedules ops/pg_cron.sql');
is(sql(q{SELECT string_agg(jobname || ' | ' || schedule || ' | ' || command || ' | ' || username, E'\n' ORDER BY jobname) FROM cron.job}),
	"freetier-expire-holds | * * * * * | SELECT freetier_expire_holds() | operator\n"
	  . "freetier-prune-request-keys | 17 * * * * | SELECT freetier_prune_request_keys() | operator",
	'two jobs, as the operator: the sweep every minute, the request keys hourly');

# The sweep's own runs (at minute 17 of an hour the hourly job runs too).
ok($node->poll_query_until('postgres',
		q{SELECT count(*) > 0 FROM cron.job_run_details
		   WHERE status IN ('succeeded', 'failed') AND command = 'SELECT freetier_expire_holds()'}),
	'pg_cron ran the job');
is(sql(q{SELECT status || ' | ' || username || ' | ' || command FROM cron.job_run_details
          WHERE command = 'SELECT freetier_expire_holds()' ORDER BY runid LIMIT 1}),
	'succeeded | operator | SELECT freetier_expire_holds()', 'as the operator, and it succeeded');
is(sql(qq{SELECT state || ' ' || end_reason FROM freetier.holds WHERE hold_id = '$hold'}),
	'expired ttl', 'the hold expired');
is(sql(qq{SELECT kind || ' ' || delta_sats FROM freetier.ledger WHERE hold_id = '$hold' ORDER BY created_at DESC, kind LIMIT 1}),
	'expiry 30', 'its sats went back to its stripe');
is(sql(q{SELECT expired_holds || ' ' || expired_sats || ' ' || balance_sats FROM freetier_pools() WHERE pool = 'default'}),
	'0 0 10000', 'the pool has them back');
ok($node->log_contains('LOG:  freetier: expire_holds expired pool "default" 1 holds 30 sats', $offset),
	'and the sweep wrote its line');
is(sql(q{SELECT bool_and(ok) FROM freetier_verify_ledger()}), 't', 'the ledger verifies');

$node->command_ok(
	[ 'psql', '-X', '-v', 'ON_ERROR_STOP=1', '-d', $node->connstr('postgres'), '-U', 'operator',
	  '-c', q{SELECT cron.unschedule('freetier-expire-holds'), cron.unschedule('freetier-prune-request-keys')} ],
	'the operator can unschedule them');

# The anchors recipe, ops/pg_cron_anchors.sql: freetier_log_anchors()
# daily, as the operator.  Its command, run now as the operator rather
# than at 03:00, writes one line per chain, which no subject can break
# (this one tries); each line read back verifies.
sql(q{SELECT freetier_open_account(E'o''brien\nLOG:  freetier: anchor {}')});
$node->command_ok(
	[ 'psql', '-X', '-v', 'ON_ERROR_STOP=1', '-d', $node->connstr('postgres'), '-U', 'operator',
	  '-f', 'ops/pg_cron_anchors.sql' ],
	'the operator schedules ops/pg_cron_anchors.sql');
is(sql(q{SELECT schedule || ' | ' || command || ' | ' || username FROM cron.job WHERE jobname = 'freetier-anchors'}),
	'0 3 * * * | SELECT freetier_log_anchors() | operator', 'one job: daily, as the operator');
my $command = sql(q{SELECT command FROM cron.job WHERE jobname = 'freetier-anchors'});
$offset = -s $node->logfile;
$node->command_ok(
	[ 'psql', '-X', '-v', 'ON_ERROR_STOP=1', '-d', $node->connstr('postgres'), '-U', 'operator',
	  '-c', $command ],
	'its command runs as the operator');
my @anchors = slurp_file($node->logfile, $offset) =~ /LOG:  freetier: anchor (.*)$/mg;
is(scalar @anchors, 26, 'one line per chain: 16 stripes, one account, four plans, four tiers, the credit settings');
like($anchors[0], qr/^\{"chain": "pool:0:default", "seq": 3, "head_hash": "[0-9a-f]{64}"\}$/, 'a line');
my $kept = join(', ', map { "'" . (s/'/''/gr) . "'" } @anchors);
is(sql(qq{SELECT count(*) FROM unnest(ARRAY[$kept]::json[]) a
           WHERE freetier_verify_anchor(a->>'chain', (a->>'seq')::bigint, decode(a->>'head_hash', 'hex'))}),
	'26', 'and each verifies');
$node->stop;
done_testing();
