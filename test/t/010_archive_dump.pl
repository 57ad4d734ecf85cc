# Copyright: freetier authors.
#
# 010_archive_dump.pl: a database whose ledgers were checkpointed and
# archived dumps and restores with every chain and the archive verifying.
# Both ledgers: the pools' stripes and an account's chain (acc), whose
# checkpoint carries its counters, totals and plan; and where each chain
# starts (freetier.ledger_chain_starts, freetier.account_chain_starts).
#
# Pool default's stripe 0 starts with the install-time seed entry (dated
# -infinity), which pg_dump leaves out and CREATE EXTENSION makes again;
# the archive move leaves it in the ledger, so the restored chain is the
# dumped one.  Pool p, created later, is archived entirely before its
# checkpoints.  Two dumps: one with the archive, one after it was dropped.
# Each is restored (plain, with psql) into a fresh database, where every
# row of the ledger and the archive is as in the source, both ledgers and
# the archive verify, and the restored pools take new work, checkpoints and
# archive moves that still verify.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('archive_dump');
$node->init;
$node->start;
my $tmp = PostgreSQL::Test::Utils::tempdir;

sub sql
{
	my ($db, $query) = @_;
	return $node->safe_psql($db, "SET freetier.test_now = '2026-05-01 00:00:00+00';\n$query");
}

# Every chain and the archive, as 'kind pool ok' lines.
sub verified
{
	my ($db) = @_;
	return sql($db,
		"SELECT string_agg(k || ' ' || pool || ' ' || ok, ', ' ORDER BY k, pool) FROM ("
		  . " SELECT 'ledger' AS k, pool, ok FROM freetier_verify_ledger()"
		  . " UNION ALL SELECT 'archive', pool, ok FROM freetier_verify_ledger_archive()"
		  . " UNION ALL SELECT 'account', subject, ok FROM freetier_verify_account_ledger()"
		  . " UNION ALL SELECT 'account archive', subject, ok"
		  . "   FROM freetier_verify_account_ledger_archive()) v");
}

my $all_ok = 'account acc true, account archive acc true, archive default true, archive p true, '
  . 'ledger default true, ledger p true';
my $rows =
    "SELECT md5(string_agg(x::text, ',' ORDER BY x::text)) FROM ("
  . " SELECT 'l', pool, stripe, seq, kind, delta_sats, balance_after, hold_id, payment_ref,"
  . "        created_at, prev_hash, hash FROM freetier.ledger"
  . " UNION ALL SELECT 'a', pool, stripe, seq, kind, delta_sats, balance_after, hold_id,"
  . "        payment_ref, created_at, prev_hash, hash FROM freetier.ledger_archive"
  . " UNION ALL SELECT 'al', subject, 0, seq, kind, delta, balance_after, hold_id, ref,"
  . "        created_at, prev_hash, hash FROM freetier.account_ledger"
  . " UNION ALL SELECT 'aa', subject, 0, seq, kind, delta, balance_after, hold_id, ref,"
  . "        created_at, prev_hash, hash FROM freetier.account_ledger_archive"
  . " UNION ALL SELECT 'ls', pool, stripe, archived_seq, NULL, NULL, NULL, NULL, NULL, NULL, NULL,"
  . "        NULL FROM freetier.ledger_chain_starts"
  . " UNION ALL SELECT 'as', subject, 0, archived_seq, NULL, NULL, NULL, NULL, NULL, NULL, NULL,"
  . "        NULL FROM freetier.account_chain_starts) x";

$node->safe_psql('postgres', 'CREATE DATABASE src');
sql('src', q{
	CREATE EXTENSION freetier;
	SELECT freetier_set_tier('alice', 'trusted');
	SELECT freetier_create_pool('p', 500, 10, '15 minutes', 2);
	SELECT freetier_release(hold_id) FROM freetier_decide('alice', 10, 'default');
	SELECT freetier_record_grant(hold_id, 5) FROM freetier_decide('alice', 20, 'p');
	SELECT freetier_credit(100, 'default', 'pay-1');
	SELECT count(*) FROM freetier_checkpoint_ledger('default');
	SELECT count(*) FROM freetier_checkpoint_ledger('p');
	SELECT freetier_record_grant(hold_id, 7) FROM freetier_decide('alice', 7, 'default');
	SELECT count(*) FROM freetier_archive_ledger('default');
	SELECT count(*) FROM freetier_archive_ledger('p');
	SELECT count(*) FROM freetier_open_account('acc', 'pro');
	SELECT freetier_add_credits('acc', 50, 'order-acc');
	SELECT count(*) FROM freetier_spend_credits('acc', 60, 'api');
	SELECT count(*) FROM freetier_checkpoint_account_ledger('acc');
	SELECT count(*) FROM freetier_spend_credits('acc', 3, 'api');
	SELECT count(*) FROM freetier_archive_account_ledger('acc');
});
is(sql('src', "SELECT count(*) FROM freetier_account_ledger_archive('acc')"), '3',
	'acc\'s entries before its checkpoint are archived');
is(sql('src', "SELECT kind FROM freetier.ledger WHERE pool = 'default' AND stripe = 0 ORDER BY seq LIMIT 1"),
	'seed', 'the install seed stays in the ledger');
is(verified('src'), $all_ok, 'src verifies');

# the source's rows at each dump
my %source;
my $with_archive = "$tmp/with_archive.sql";
$source{with_archive} = sql('src', $rows);
$node->command_ok([ 'pg_dump', '-f', $with_archive, 'src' ], 'pg_dump with the archive');
sql('src', q{
	SELECT freetier_drop_ledger_archive('default');
	SELECT freetier_drop_ledger_archive('p');
	SELECT freetier_drop_account_ledger_archive('acc');
});
my $dropped = "$tmp/dropped.sql";
$source{dropped} = sql('src', $rows);
$node->command_ok([ 'pg_dump', '-f', $dropped, 'src' ], 'pg_dump after the drop');

foreach my $case ([ 'with_archive', $with_archive ], [ 'dropped', $dropped ])
{
	my ($name, $file) = @$case;
	my $db = "dst_$name";

	$node->safe_psql('postgres', "CREATE DATABASE $db");
	$node->command_ok([ 'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', $db, '-f', $file ],
		"$name: restores without error");
	is(sql($db, $rows), $source{$name}, "$name: every ledger and archive row as dumped");
	is(verified($db), $all_ok, "$name: every chain and the archive verify");
	sql($db, q{
		SELECT freetier_record_grant(hold_id, 3) FROM freetier_decide('alice', 4, 'default');
		SELECT count(*) FROM freetier_checkpoint_ledger('default');
		SELECT count(*) FROM freetier_archive_ledger('default');
		SELECT count(*) FROM freetier_archive_ledger('p');
		SELECT count(*) FROM freetier_spend_credits('acc', 2, 'api');
		SELECT count(*) FROM freetier_checkpoint_account_ledger();
		SELECT count(*) FROM freetier_spend_credits('acc', 1, 'api');
		SELECT count(*) FROM freetier_archive_account_ledger();
	});
	is(verified($db), $all_ok, "$name: new work, checkpoints and moves still verify");
}

$node->stop;
done_testing();
