
# Copyright: freetier authors.
#
# 006_corrections_restore.pl: the corrections (issue 9) survive pg_dump and
# restore.  Database src gets a top-up and a write-down of pool default,
# a refund, and a reversal the pool cannot cover, so that its stripe 0 (the
# one CREATE EXTENSION makes, whose restore trigger replaces the installed
# row) owes sats.  After a plain dump restored with psql, every row of the
# stripes, the ledger and freetier.corrections is as in src, the ledgers
# verify, a repeated correction still returns its first result and moves
# nothing, and the next credit repays what is owed.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('corrections');
$node->init;
$node->start;

my $tmp = PostgreSQL::Test::Utils::tempdir;

sub sql
{
	my ($db, $query) = @_;
	return $node->safe_psql($db,
		"SET freetier.test_now = '2031-05-01 12:00:00+00';\n$query");
}

# The rows that carry the corrections, as text, in a fixed order.
sub state_of
{
	my ($db) = @_;
	return sql(
		$db, q{
SELECT string_agg(t::text, E'\n' ORDER BY t::text) FROM freetier.pool_stripes t
UNION ALL
SELECT string_agg(t::text, E'\n' ORDER BY t::text) FROM freetier.ledger t
UNION ALL
SELECT string_agg(t::text, E'\n' ORDER BY t::text) FROM freetier.corrections t
UNION ALL
SELECT string_agg(t::text, E'\n' ORDER BY t::text) FROM freetier.account_ledger t});
}

$node->safe_psql('postgres', 'CREATE DATABASE src');
sql('src', q{CREATE EXTENSION freetier});
sql('src', q{SELECT freetier_configure_pool('default', stripes => 1)});
is(sql('src', q{SELECT freetier_credit(20000, 'default', 'pay-1')}),
	'2000', 'src: pay-1 credits 2000');
is(sql('src', q{SELECT freetier_adjust_pool('default', 500, 'gift', 'adj-1')}),
	'12500', 'src: a top-up');
is(sql('src', q{SELECT freetier_adjust_pool('default', -11000, 'audit', 'adj-2')}),
	'1500', 'src: a write-down');
is(sql('src', q{SELECT freetier_reverse_credit('pay-1', 'chargeback')}),
	'1500', 'src: the reversal takes the 1500 left');
is(sql('src', q{SELECT owed_sats FROM freetier.pool_stripes WHERE pool = 'default' AND stripe = 0}),
	'500', 'src: and the pool owes 500');
sql('src', q{SELECT freetier_add_credits('ann', 100, 'buy-1')});
is(sql('src', q{SELECT freetier_refund_credits('ann', 'buy-1', 'asked')}),
	'100', 'src: a refund');
my $src_state = state_of('src');

my $plain = "$tmp/src.sql";
$node->command_ok([ 'pg_dump', '-f', $plain, 'src' ], 'pg_dump of src');
$node->safe_psql('postgres', 'CREATE DATABASE dst');
$node->command_ok(
	[ 'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', 'dst', '-f', $plain ],
	'psql restores the dump into dst');

is(state_of('dst'), $src_state,
	'dst: stripes (what the pool owes too), ledgers and corrections as in src');
is(sql('dst', q{SELECT bool_and(ok) FROM freetier_verify_ledger()}),
	't', 'dst: every pool verifies');
is(sql('dst', q{SELECT bool_and(ok) FROM freetier_verify_account_ledger()}),
	't', 'dst: every account verifies');
is( sql(
		'dst', q{SELECT freetier_adjust_pool('default', -11000, 'audit', 'adj-2'),
                        freetier_reverse_credit('pay-1', 'chargeback'),
                        freetier_refund_credits('ann', 'buy-1', 'asked')}),
	'1500|1500|100',
	'dst: repeated corrections return their first results');
is(state_of('dst'), $src_state, 'dst: ... and move nothing');
is(sql('dst', q{SELECT freetier_credit(7000, 'default', 'pay-2')}),
	'700', 'dst: a new credit');
is( sql(
		'dst', q{SELECT string_agg(kind || ' ' || delta_sats, ', ' ORDER BY seq)
                   FROM freetier.ledger WHERE payment_ref = 'pay-2'}),
	'repay -500, credit 200',
	'dst: it repays the 500 owed first');
is(sql('dst', q{SELECT bool_and(ok) FROM freetier_verify_ledger()}),
	't', 'dst: every pool still verifies');

$node->stop;
done_testing();
