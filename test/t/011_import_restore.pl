
# Copyright: freetier authors.
#
# 011_import_restore.pl: an imported state (issue 9) survives pg_dump and
# restore.  Database src imports pool default's balance (its stripes are the
# ones CREATE EXTENSION makes, whose restore trigger replaces the installed
# rows), a subject with its window and an account with its period use per
# backend and its purchased balance.  After a custom-format dump restored
# with pg_restore -j 2, every row of the stripes, the subjects, the
# ledgers, the accounts and freetier.imports is as in src, the ledgers
# verify, a repeated import still returns its first result and moves
# nothing, and a second import of the pool is refused.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('import');
$node->init;
$node->start;

my $tmp = PostgreSQL::Test::Utils::tempdir;

sub sql
{
	my ($db, $query) = @_;
	return $node->safe_psql($db,
		"SET freetier.test_now = '2031-05-01 12:00:00+00';\n$query");
}

# The rows that carry the imports, as text, in a fixed order.
sub state_of
{
	my ($db) = @_;
	return sql(
		$db, q{
SELECT string_agg(t::text, E'\n' ORDER BY t::text) FROM freetier.pool_stripes t
UNION ALL
SELECT string_agg(t::text, E'\n' ORDER BY t::text) FROM freetier.ledger t
UNION ALL
SELECT string_agg(t::text, E'\n' ORDER BY t::text) FROM freetier.subjects t
UNION ALL
SELECT string_agg(t::text, E'\n' ORDER BY t::text) FROM freetier.accounts t
UNION ALL
SELECT string_agg(t::text, E'\n' ORDER BY t::text) FROM freetier.account_backend_use t
UNION ALL
SELECT string_agg(t::text, E'\n' ORDER BY t::text) FROM freetier.account_ledger t
UNION ALL
SELECT string_agg(t::text, E'\n' ORDER BY t::text) FROM freetier.imports t});
}

$node->safe_psql('postgres', 'CREATE DATABASE src');
sql('src', q{CREATE EXTENSION freetier});
is(sql('src', q{SELECT freetier_import_pool('default', 4321, 'imp-pool')}),
	'4321', 'src: the pool balance imported');
is( sql(
		'src', q{SELECT freetier_import_subject('npub-ann', 'established',
                 '2031-05-01 02:00+00', 30, 'imp-ann')}),
	'30',
	'src: a subject with 30 sats used in its window');
is( sql(
		'src', q{SELECT freetier_import_account('inst-pro', 'pro', '2031-04-17+00',
                 '2031-04-17+00', 990, 25, 'imp-pro', '{"gemini": 300}')}),
	'25',
	'src: an account with its period use and purchased balance');
my $src_state = state_of('src');

my $dump = "$tmp/src.dump";
$node->command_ok([ 'pg_dump', '-Fc', '-f', $dump, 'src' ], 'pg_dump of src');
$node->safe_psql('postgres', 'CREATE DATABASE dst');
$node->command_ok(
	[ 'pg_restore', '-j', '2', '--exit-on-error', '-d', 'dst', $dump ],
	'pg_restore -j 2 restores the dump into dst');

is(state_of('dst'), $src_state,
	'dst: stripes, subjects, accounts, ledgers and imports as in src');
is(sql('dst', q{SELECT bool_and(ok) FROM freetier_verify_ledger()}),
	't', 'dst: every pool verifies');
is(sql('dst', q{SELECT bool_and(ok) FROM freetier_verify_account_ledger()}),
	't', 'dst: every account verifies');
is(sql('dst', q{SELECT freetier_import_pool('default', 4321, 'imp-pool')}),
	'4321', 'dst: the pool import repeated returns its first result');
is( sql(
		'dst', q{SELECT freetier_import_account('inst-pro', 'pro', '2031-04-17+00',
                 '2031-04-17+00', 990, 25, 'imp-pro', '{"gemini": 300}')}),
	'25',
	'dst: so does the account import');
is(state_of('dst'), $src_state, 'dst: and they moved nothing');
my ($rc, $out, $err) = $node->psql('dst',
	q{SELECT freetier_import_pool('default', 1000, 'imp-again')});
like($err, qr/pool "default" was imported already/,
	'dst: a second import of the pool is refused');
is(sql('dst', q{SELECT serve || ' ' || absorb_sats FROM freetier_decide('npub-ann', 30)}),
	'partial 20', 'dst: decide counts the imported window');

$node->stop;
done_testing();
