
# Copyright: freetier authors.
#
# 009_prometheus.pl: Debian 12's prometheus-postgres-exporter, given
# ops/prometheus-postgres-exporter.yaml, exposes freetier's metrics.
#
# A throw-away cluster with freetier preloaded (the counters); known
# traffic after a counter reset: decides served free, partial, gated
# (anonymous, unknown subject), a settle, a release, a credit and its
# replay, a hold left past its TTL and swept, a credit account's spend and a
# live reservation.  Then the real exporter is started against the cluster
# and its /metrics on localhost scraped, connected first as a role that is
# only a freetier monitor (freetier_grant_monitor), then as one that is
# only a member of pg_monitor.  Each time:
#   - the scrape had no error, and the queries file loaded;
#   - the series the traffic fixes have the values it gives;
#   - every row of freetier_pools(), freetier_accounts_summary(),
#     freetier_pool_counters() and freetier_account_counters() is a series
#     with the value the function gives, and there is no other freetier
#     series.
# Where the exporter is not installed (test/install-deps installs it for
# PostgreSQL 15 only: not in the 17 and 18 chroots) the test is skipped.

use strict;
use warnings;

use HTTP::Tiny;
use IPC::Run;
use Time::HiRes qw(usleep);
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $exporter = '/usr/bin/prometheus-postgres-exporter';
plan skip_all => "$exporter is not installed (test/install-deps: PostgreSQL 15 only)"
  unless -x $exporter;

my $node = PostgreSQL::Test::Cluster->new('prometheus');
$node->init;
$node->append_conf('postgresql.conf', "shared_preload_libraries = 'freetier'");
$node->start;

sub sql
{
	my ($query) = @_;
	return $node->safe_psql('postgres', $query);
}

sql(q{CREATE EXTENSION freetier});
sql(q{CREATE ROLE grafana LOGIN});
sql(q{SELECT freetier_grant_monitor('grafana')});
sql(q{CREATE ROLE watcher LOGIN IN ROLE pg_monitor});
sql(q{SELECT freetier_create_pool('side', 1000, 10, '5 minutes', 2, low_water_sats => 200)});
sql(q{SELECT freetier_set_tier('ann', 'trusted')});        # 200 a day
sql(q{SELECT freetier_set_tier('bob', 'established')});    # 50 a day
sql(q{SELECT freetier_open_account('acct-1', 'pro')});
sql(q{SELECT freetier_reset_counters()});

# The known traffic, at the server's clock: what the exporter reads then.
sql(q{SELECT freetier_record_grant((SELECT hold_id FROM freetier_decide('ann', 30)), 20)});
sql(q{SELECT freetier_release((SELECT hold_id FROM freetier_decide('bob', 80)))});
sql(q{SELECT freetier_decide(NULL, 10)});
sql(q{SELECT freetier_decide('nobody', 10)});
sql(q{SELECT freetier_credit(1000, 'side', 'inv-1')});
sql(q{SELECT freetier_credit(1000, 'side', 'inv-1')});      # a replay
# a hold placed an hour ago, long past its TTL, then swept
sql(q{SELECT set_config('freetier.test_now', (now() - interval '1 hour')::text, false);
      SELECT freetier_decide('ann', 40, 'side')});
is(sql(q{SELECT freetier_expire_holds()}), '1', 'the sweep expired the old hold');
sql(q{SELECT freetier_spend_credits('acct-1', 3, 'api')});
sql(q{SELECT freetier_reserve_credits('acct-1', 2, 'api')});

# Scrape the exporter connected as $role: { "name{labels}" => value }.
sub scrape
{
	my ($role) = @_;
	my $port = PostgreSQL::Test::Cluster::get_free_port();
	my $dsn = sprintf('host=%s port=%d user=%s dbname=postgres sslmode=disable',
		$node->host, $node->port, $role);
	my ($out, $err) = ('', '');
	local $ENV{DATA_SOURCE_NAME} = $dsn;
	my $h = IPC::Run::start(
		[
			$exporter, "--web.listen-address=127.0.0.1:$port",
			'--extend.query-path=ops/prometheus-postgres-exporter.yaml',
			'--log.level=warn'
		],
		'>', \$out, '2>', \$err);
	my $http = HTTP::Tiny->new(timeout => 10);
	my $res;
	for (1 .. 10 * $PostgreSQL::Test::Utils::timeout_default)
	{
		$res = $http->get("http://127.0.0.1:$port/metrics");
		last if $res->{success};
		usleep(100_000);
	}
	$h->kill_kill;
	die "no answer from the exporter on port $port: $res->{status} $res->{content}\n$err"
	  unless $res->{success};
	note "exporter's log: $err" if $err ne '';
	my %m;
	for (split /\n/, $res->{content})
	{
		next if /^#/;
		my ($series, $value) = /^(\S+) (\S+)$/ or next;
		$series =~ s/,?server="[^"]*"//;    # the exporter's own label
		$series =~ s/\{\}$//;
		$m{$series} = $value;
	}
	return \%m;
}

# What a function returns, as the series the queries file makes of it.
sub expected
{
	my ($prefix, $query, @labels) = @_;
	my %e;
	my $rows = sql(qq{SELECT row_to_json(r) FROM ($query) r});
	for my $json (split /\n/, $rows)
	{
		my %row = $json =~ /"([^"]+)":("[^"]*"|[^,}]+)/g;
		s/^"(.*)"$/$1/ for values %row;
		my $l = join(',', map { qq{$_="$row{$_}"} } @labels);
		for my $col (keys %row)
		{
			next if grep { $_ eq $col } @labels;
			$e{"${prefix}_$col\{$l\}"} = $row{$col};
		}
	}
	return %e;
}

for my $role ('grafana', 'watcher')
{
	my $m = scrape($role);
	is($m->{pg_up}, '1', "$role: the exporter reached the cluster");
	is($m->{pg_exporter_last_scrape_error}, '0', "$role: the scrape had no error");
	my ($load) = grep { /^pg_exporter_user_queries_load_error/ } keys %$m;
	is($m->{$load // ''}, '0', "$role: the queries file loaded");

	# what the traffic fixes
	is($m->{'freetier_pool_balance_sats{pool="default"}'}, '9980', "$role: default's balance");
	is($m->{'freetier_pool_balance_sats{pool="side"}'}, '1100', "$role: side's balance");
	is($m->{'freetier_pool_low_water_sats{pool="side"}'}, '200', "$role: side's low-water mark");
	is($m->{'freetier_pool_hold_ttl_seconds{pool="side"}'}, '300', "$role: side's hold TTL");
	is($m->{'freetier_pool_counters_decides_free{pool="default"}'}, '1', "$role: decides free");
	is($m->{'freetier_pool_counters_decides_partial{pool="default"}'}, '1', "$role: decides partial");
	is($m->{'freetier_pool_counters_gated_anonymous{pool="default"}'}, '1', "$role: gated anonymous");
	is($m->{'freetier_pool_counters_gated_unknown_subject{pool="default"}'}, '1',
		"$role: gated unknown subject");
	is($m->{'freetier_pool_counters_sats_absorbed{pool="default"}'}, '20', "$role: sats absorbed");
	is($m->{'freetier_pool_counters_sats_returned{pool="default"}'}, '10', "$role: sats returned");
	is($m->{'freetier_pool_counters_sats_released{pool="default"}'}, '50', "$role: sats released");
	is($m->{'freetier_pool_counters_credits{pool="side"}'}, '1', "$role: credits, the replay not counted");
	is($m->{'freetier_pool_counters_sats_credited{pool="side"}'}, '100', "$role: sats credited");
	is($m->{'freetier_pool_counters_sats_expired{pool="side"}'}, '40', "$role: sats expired");
	is($m->{'freetier_accounts_held_credits{plan="pro"}'}, '2', "$role: credits on hold");
	is($m->{'freetier_account_counters_allowance_credits{call="spend",outcome="ok"}'}, '3',
		"$role: credits spent");

	# every row of every function, and nothing else
	my %want = (
		expected('freetier_pool',
			q{SELECT pool, balance_sats, available_sats, held_sats, live_holds, expired_holds,
			         expired_sats, credit_pct, extract(epoch FROM hold_ttl) AS hold_ttl_seconds,
			         stripes, low_water_sats FROM freetier_pools()}, 'pool'),
		expected('freetier_accounts', q{SELECT * FROM freetier_accounts_summary()}, 'plan'),
		expected('freetier_pool_counters',
			q{SELECT coalesce(pool, '') AS pool, c.*, extract(epoch FROM since) AS since_seconds
			    FROM freetier_pool_counters() c}, 'pool'),
		expected('freetier_account_counters',
			q{SELECT call, outcome, calls, allowance_credits, purchased_credits
			    FROM freetier_account_counters()}, 'call', 'outcome'));
	delete $want{$_} for grep { /_since\{/ } keys %want;    # a timestamptz: since_seconds
	my %got = map { $_ => $m->{$_} } grep { /^freetier_/ } keys %$m;
	for my $k (keys %want, keys %got)
	{
		next unless defined $want{$k} && defined $got{$k};
		# the exporter prints floats: 1e+06, 1.7e+09
		($want{$k}, $got{$k}) = ($want{$k} + 0, $got{$k} + 0);
	}
	cmp_ok(scalar(keys %want), '>', 50, "$role: the functions give many series");
	is_deeply(\%got, \%want, "$role: every freetier series, with its function's value");
}

$node->stop;
done_testing();
