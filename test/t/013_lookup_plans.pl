
# Copyright: freetier authors.
#
# 013_lookup_plans.pl: how freetier's own statements are planned (spi.c,
# plan_by_key), seen through pg_stat_statements, which counts the
# statements a function runs (track = all):
#
#   - none is compiled by JIT, even with jit_above_cost = 0, while the
#     caller's statement around them is: a statement planned with sequential
#     scans off that still needs one (a one-row settings table) costs more
#     than jit_above_cost before PostgreSQL 18, and compiling it took
#     milliseconds on every call (the bench's setup of 100,000 accounts ran
#     for more than 18 minutes instead of seconds);
#   - none scans a table of freetier's whole in a request, in a backend that
#     planned them on one-page tables (test/sql/lookups.sql shows it per
#     table; here the same for the bench's traffic mix).

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('lookup_plans');
$node->init;
$node->append_conf(
	'postgresql.conf', q{
shared_preload_libraries = 'pg_stat_statements'
pg_stat_statements.track = all
jit = on
jit_above_cost = 0
});
$node->start;

sub sql
{
	my ($query) = @_;
	return $node->safe_psql('postgres', $query);
}

if (sql('SELECT pg_jit_available()') ne 't')
{
	plan skip_all => 'this server has no JIT';
}

sql(q{
CREATE EXTENSION pg_stat_statements;
CREATE EXTENSION freetier;
SELECT freetier_set_tier_budget('big', 100000);
SELECT freetier_set_tier('s' || i, 'big') FROM generate_series(1, 4) i;
SELECT freetier_create_pool('p', 100000, 10, '15 minutes', 4);
SELECT freetier_define_plan('monthly', 'monthly', 1000, '{"gemini": 1000}');
VACUUM ANALYZE;
SELECT pg_stat_statements_reset();
});

# The whole-table scans of freetier's tables so far (the setup's sessions
# have ended, so their counts are in).
my $scans = q{
SELECT string_agg(relname || ' ' || seq_scan, ', ' ORDER BY relname)
  FROM pg_stat_user_tables WHERE schemaname = 'freetier'};
my $scans_before = sql($scans);

# One session, so that its backend plans every statement now, on tables of
# a page or two: requests, settled and released, credits, estimates, an
# account opened and spent from.
sql(q{
SELECT freetier_record_grant(hold_id, 20) FROM freetier_decide('s1', 30, 'p');
SELECT freetier_release(hold_id) FROM freetier_decide('s2', 30, 'p');
SELECT freetier_credit(1000, 'p');
SELECT * FROM freetier_estimate('s3', 30, 'p');
SELECT freetier_open_account('a1', 'monthly');
SELECT * FROM freetier_spend_credits('a1', 5, 'gemini');
});

my ($ours, $ours_compiled) = split /\|/, sql(q{
SELECT count(*), coalesce(sum(jit_functions), 0) FROM pg_stat_statements
 WHERE NOT toplevel AND query LIKE '%freetier.%'});
cmp_ok($ours, '>', 10, "pg_stat_statements counted freetier's statements ($ours)");
is($ours_compiled, '0', 'none of them was compiled by JIT');
cmp_ok(
	sql(q{SELECT sum(jit_functions) FROM pg_stat_statements
	       WHERE toplevel AND query LIKE '%freetier_decide%'}),
	'>', 0, "the caller's own statement was (jit_above_cost = 0 is in force)");

is(sql($scans), $scans_before, 'the requests scanned no table of freetier whole');

$node->stop;
done_testing();
