
# Copyright: freetier authors.
#
# 004_striped_crash.pl: striped pools keep every sat through crashes under
# load.
#
# Eight pgbench clients decide, settle, release, leave holds to expire and
# credit payments on a pool of 16 stripes (and decide against the default
# pool, whose sats start on stripe 0 and get evened out).  Ten times, while
# they run, the server goes down hard: a backend killed with SIGKILL (the
# postmaster then resets every backend and recovers from the WAL) or an
# immediate stop.  After each restart:
#   - freetier_verify_ledger is ok for every pool: every stripe's chain and
#     its row agree;
#   - each pool's balance equals its seeds plus its credits, minus what
#     settled grants absorbed, minus what holds in state 'held' still hold,
#     all counted from committed rows;
#   - no stripe is below zero, and no row breaks a rule that the request
#     path's tables no longer enforce themselves (test/invariants.sql: no
#     hold, entry or grant names a row that is not there, ...);
#   - a decide, a settle and a sweep still work.
# At the end the server log shows no PANIC, no failed assertion and no
# backend that died of anything but the test's own SIGKILL.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use File::Basename qw(dirname);
use IPC::Run;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('striped');
$node->init;
$node->append_conf('postgresql.conf', 'restart_after_crash = on');
$node->start;

sub sql
{
	my ($query) = @_;
	return $node->safe_psql('postgres', $query);
}

sql(q{CREATE EXTENSION freetier});
sql(q{SELECT freetier_create_pool('striped', 10000000, 10, '2 seconds', 16)});
sql(q{SELECT freetier_configure_pool('default', hold_ttl => '2 seconds')});
sql(q{SELECT freetier_set_tier_budget('load', 1000000000000)});
sql(q{SELECT count(freetier_set_tier('u' || i, 'load')) FROM generate_series(1, 500) i});

# One pgbench transaction: a decide on one of the two pools, then a settle
# (six in ten), a release (two in ten), nothing (the hold expires), or a
# credit with a reference of its own (one in ten, instead).  A decide gated
# (pool default runs dry between credits) has no hold to settle.
my $script = PostgreSQL::Test::Utils::tempdir() . '/striped.sql';
open(my $fh, '>', $script) or die "cannot write $script: $!";
print $fh <<'EOF';
\set s random(1, 500)
\set n random(1, 60)
\set r random(1, 10)
\set p random(1, 4)
\if :r = 10
SELECT freetier_credit(:n * 10, CASE WHEN :p = 1 THEN 'default' ELSE 'striped' END,
                       'ref-' || :client_id || '-' || :s || '-' || random());
\else
SELECT hold_id FROM freetier_decide('u' || :s, :n, CASE WHEN :p = 1 THEN 'default' ELSE 'striped' END) \gset
\set a :n / 2 + :r
\if :r <= 6
SELECT count(g.grant_id) FROM (SELECT nullif(':hold_id', '')::uuid AS h) x,
       LATERAL freetier_record_grant(x.h, :a) g WHERE x.h IS NOT NULL;
\elif :r <= 8
SELECT count(freetier_release(x.h)) FROM (SELECT nullif(':hold_id', '')::uuid AS h) x
 WHERE x.h IS NOT NULL;
\endif
\endif
EOF
close($fh);

# every check is one query returning 't'
my %checks = (
	'every chain verifies' =>
	  q{SELECT bool_and(ok) AND count(*) = 2 FROM freetier_verify_ledger()},
	'each pool: seeds + credits - absorbed - held = its balance' => q{
		SELECT bool_and(b.balance = l.seeds_and_credits - coalesce(g.absorbed, 0) - coalesce(h.held, 0))
		  FROM (SELECT pool, sum(balance_sats) AS balance FROM freetier.pool_stripes GROUP BY pool) b
		  JOIN (SELECT pool, sum(delta_sats) AS seeds_and_credits FROM freetier.ledger
		         WHERE kind IN ('seed', 'credit') GROUP BY pool) l USING (pool)
		  LEFT JOIN (SELECT pool, sum(absorbed_sats) AS absorbed FROM freetier.grants GROUP BY pool) g USING (pool)
		  LEFT JOIN (SELECT pool, sum(held_sats) AS held FROM freetier.holds
		              WHERE state = 'held' GROUP BY pool) h USING (pool)},
	'each stripe is the sum of its entries, never below zero' => q{
		SELECT bool_and(s.balance_sats = coalesce(l.total, 0) AND s.balance_sats >= 0)
		  FROM freetier.pool_stripes s
		  LEFT JOIN (SELECT pool, stripe, sum(delta_sats) AS total FROM freetier.ledger GROUP BY 1, 2) l
		    USING (pool, stripe)},
	'no row breaks a rule of test/invariants.sql' =>
	  slurp_file(dirname(__FILE__) . '/../invariants.sql')
	  . q{SELECT NOT EXISTS (SELECT FROM broken_rules)});

sub start_load
{
	my ($out, $err) = ('', '');
	my $h = IPC::Run::start(
		[
			'pgbench', '-n', '-c', '8', '-j', '2', '-T', '60', '-f', $script,
			'-h', $node->host, '-p', $node->port, 'postgres'
		],
		'>', \$out, '2>', \$err);
	return $h;
}

# the pid of a backend that is running freetier right now, or of any client
sub busy_backend
{
	return sql(
		q{SELECT pid FROM pg_stat_activity
           WHERE application_name = 'pgbench' AND state = 'active'
           ORDER BY query LIKE '%freetier_decide%' DESC, random() LIMIT 1});
}

my $committed_before = 0;
for my $round (1 .. 10)
{
	my $load = start_load();
	# let the clients get going; a different moment each round
	select(undef, undef, undef, 0.8 + 0.15 * $round);
	my $requests = sql(q{SELECT count(*) FROM freetier.holds});
	cmp_ok($requests, '>', $committed_before, "round $round: the load committed holds");

	if ($round % 2)
	{
		my $pid = busy_backend();
		kill 'KILL', $pid if $pid;
		# the postmaster resets every backend and recovers; wait until it is back
		$node->poll_query_until('postgres', 'SELECT true')
		  or die "the server did not come back after a backend was killed";
	}
	else
	{
		$node->stop('immediate');
		$node->start;
	}
	$load->kill_kill;
	$load->finish;

	# every sweep and decide from here on sees the holds left by the crash
	foreach my $name (sort keys %checks)
	{
		is(sql($checks{$name}), 't', "round $round, after the crash: $name");
	}
	$committed_before = sql(q{SELECT count(*) FROM freetier.holds});
}

# the load did every kind of request (a client that errs stops, so a broken
# script would leave only decides)
is( sql(q{SELECT (SELECT count(*) FROM freetier.grants) > 100
             AND (SELECT count(*) FROM freetier.holds WHERE state = 'released') > 20
             AND (SELECT count(*) FROM freetier.credits) > 20}),
	't', 'the load settled, released and credited');

# after the last crash: the request path and the sweep still work
my $hold = sql(q{SELECT hold_id FROM freetier_decide('u1', 10, 'striped')});
like($hold, qr/^[0-9a-f-]{36}$/, 'a decide works after the crashes');
is(sql(qq{SELECT absorbed_sats FROM freetier_record_grant('$hold', 7)}),
	'7', 'its settle works');
sleep(3);    # past the 2 second TTL of every hold left by the load
cmp_ok(sql(q{SELECT freetier_expire_holds()}), '>=', 0, 'the sweep runs');
is(sql(q{SELECT count(*) FROM freetier.holds WHERE state = 'held'}),
	'0', 'the sweep returned every hold the crashes left');
foreach my $name (sort keys %checks)
{
	is(sql($checks{$name}), 't', "at the end: $name");
}

$node->stop;
my @bad = grep {
	/PANIC|TRAP:|segmentation fault|was terminated by signal (?!9: Killed)/i
} split /\n/, slurp_file($node->logfile);
is(join("\n", @bad), '', 'no PANIC, failed assertion or unexpected crash in the server log');

done_testing();
