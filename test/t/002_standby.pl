
# Copyright: freetier authors.
#
# 002_standby.pl: freetier's read path works on a hot standby and in read-only
# transactions, and its write path refuses them cleanly.
#
# A primary with freetier and some state (settled, held and released holds,
# credits, an emptied pool) streams to a hot standby; part of the state is
# written before the base backup and part after, so the standby has to replay
# freetier's writes.  The test proves that:
#   - on the standby, freetier_estimate answers exactly as on the primary, for
#     every kind of answer (free, partial, each gate reason), both now and at
#     an instant past the holds' TTL (freetier.test_now on both nodes);
#   - on the standby, freetier_verify_ledger, freetier_pool_status, the
#     account reads and (0.4) freetier_verify_settings_ledger work and
#     agree with the primary;
#   - on the standby, freetier_decide (and every other function that writes)
#     fails with SQLSTATE 25006 (read_only_sql_transaction), and nothing else;
#   - on the primary, freetier_estimate works inside BEGIN READ ONLY and gives
#     the same answer as outside it, while freetier_decide there fails with
#     25006.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $primary = PostgreSQL::Test::Cluster->new('primary');
$primary->init(allows_streaming => 1);
$primary->start;

# Run SQL that must succeed on a node and return its output.
sub sql
{
	my ($node, $query) = @_;
	return $node->safe_psql('postgres', $query);
}

# The SQLSTATE that a statement fails with on a node, or a description of
# what happened instead.
sub sqlstate_of
{
	my ($node, $query) = @_;
	my ($ret, $stdout, $stderr) =
	  $node->psql('postgres', "\\set VERBOSITY verbose\n$query");
	return $1 if $stderr =~ /ERROR:\s+([0-9A-Z]{5}):/;
	return "no error (psql exit $ret, stdout '$stdout', stderr '$stderr')";
}

### State written before the base backup.

sql($primary, q{CREATE EXTENSION freetier});
sql($primary, q{SELECT freetier_configure_pool('default', stripes => 1)});   # one chain each
sql($primary, q{SELECT freetier_create_pool('side', 500, 20, stripes => 1)});
sql($primary, q{SELECT freetier_set_tier('alice', 'trusted')});    # 200 a day
sql($primary, q{SELECT freetier_set_tier('bob', 'elite')});        # 1000 a day
sql($primary, q{SELECT freetier_set_tier('carol', 'new')});        # 0 a day

my $a1 = sql($primary, q{SELECT hold_id FROM freetier_decide('alice', 30)});
sql($primary, qq{SELECT * FROM freetier_record_grant('$a1', 20)});
my $a2 = sql($primary, q{SELECT hold_id FROM freetier_decide('alice', 50)});
my $b1 =
  sql($primary, q{SELECT hold_id FROM freetier_decide('bob', 100, 'side')});
is(sql($primary, q{SELECT freetier_credit(1000, 'default', 'inv-1')}),
	'100', 'primary: a 1000 sat invoice credits 100 to pool default');

### A hot standby streaming from the primary.

$primary->backup('base');
my $standby = PostgreSQL::Test::Cluster->new('standby');
$standby->init_from_backup($primary, 'base', has_streaming => 1);
$standby->start;

### State written after the standby started: it arrives by streaming.

my $a3 = sql($primary, q{SELECT hold_id FROM freetier_decide('alice', 10)});
is(sql($primary, qq{SELECT freetier_release('$a3', 'cancelled')}),
	'10', 'primary: a released hold returns its 10 sats');
is(sql($primary, q{SELECT freetier_credit(500, 'side', 'inv-2')}),
	'100', 'primary: pool side credits 20 % of a 500 sat invoice');
is( sql(
		$primary,
		q{SELECT serve, absorb_sats, charge_sats FROM freetier_decide('bob', 700, 'side')}
	),
	'partial|500|200',
	'primary: bob\'s decide empties pool side');

$primary->wait_for_catchup($standby, 'replay', $primary->lsn('insert'));

is(sql($standby, q{SELECT pg_is_in_recovery()}),
	't', 'standby: is a hot standby in recovery');
is( sql($standby, q{SELECT count(*) FROM freetier.ledger WHERE pool = 'side'}),
	'5', 'standby: has replayed the ledger entries written after its backup');

### freetier_estimate: the same answers on both nodes.

# Two instants: now (every hold live), and one hour later (every hold past its
# 15 minute TTL, so counted as returned to its pool and window).
my $t0 = sql($primary, q{SELECT now()::text});
my $t1 = sql($primary, qq{SELECT ('$t0'::timestamptz + interval '1 hour')::text});

# [instant, subject, estimated_sats, pool, expected answer]
# alice: 20 settled + 50 held of 200; bob: 600 held of 1000; pool default
# 10030 with 50 held; pool side 0 with 600 held.
my @cases = (
	[ $t0, 'alice', 50,  'default', 'free|50|0|' ],
	[ $t0, 'alice', 500, 'default', 'partial|130|370|' ],
	[ $t0, 'bob',   10,  'default', 'free|10|0|' ],
	[ $t0, 'bob',   10,  'side',    'gate|0|10|pool_empty' ],
	[ $t0, 'carol', 10,  'default', 'gate|0|10|no_budget' ],
	[ $t0, 'dave',  10,  'default', 'gate|0|10|unknown_subject' ],
	[ $t0, '',      10,  'default', 'gate|0|10|anonymous' ],
	[ $t0, 'alice', 0,   'default', 'gate|0|0|zero_cost' ],
	[ $t1, 'alice', 500, 'default', 'partial|180|320|' ],
	[ $t1, 'bob', 2000, 'side', 'partial|600|1400|' ],);

foreach my $c (@cases)
{
	my ($at, $subject, $sats, $pool, $expected) = @$c;
	my $when = $at eq $t0 ? 'now' : 'after the TTL';
	my $query = qq{SET freetier.test_now = '$at';
SELECT serve, absorb_sats, charge_sats, reason
  FROM freetier_estimate('$subject', $sats, '$pool')};
	my $on_primary = sql($primary, $query);
	is($on_primary, $expected,
		"primary: estimate('$subject', $sats, '$pool') $when");
	is(sql($standby, $query), $on_primary,
		"standby: estimate('$subject', $sats, '$pool') $when is the same");
}

is( sql(
		$standby, q{SELECT serve, absorb_sats FROM freetier_estimate('alice', 50)}),
	'free|50',
	'standby: estimate works on the real clock too');

### freetier_verify_ledger and freetier_pool_status on the standby.

my $verify = q{SELECT pool, entries, ok, first_bad_entry
                 FROM freetier_verify_ledger() ORDER BY pool};
is(sql($standby, $verify), "default|7|t|\nside|5|t|",
	'standby: freetier_verify_ledger verifies both chains');
is(sql($standby, $verify), sql($primary, $verify),
	'standby: freetier_verify_ledger agrees with the primary');

# Anchors (0.4) read and check on the standby: the primary's, every one.
my $anchors = q{SELECT chain, seq, head_hash FROM freetier_ledger_anchor()};
is(sql($standby, $anchors), sql($primary, $anchors),
	'standby: freetier_ledger_anchor agrees with the primary');
is(sql($standby, q{SELECT bool_and(freetier_verify_anchor(chain, seq, head_hash)) FROM freetier_ledger_anchor()}),
	't', 'standby: freetier_verify_anchor holds for each');

foreach my $pool ('default', 'side')
{
	foreach my $at ($t0, $t1)
	{
		my $when = $at eq $t0 ? 'now' : 'after the TTL';
		my $status = qq{SET freetier.test_now = '$at';
SELECT * FROM freetier_pool_status('$pool')};
		is(sql($standby, $status), sql($primary, $status),
			"standby: freetier_pool_status('$pool') $when agrees with the primary");
	}
}
is( sql(
		$standby,
		qq{SET freetier.test_now = '$t0';
SELECT pool, balance_sats, held_sats, credit_pct, hold_ttl FROM freetier_pool_status('default')}
	),
	'default|10030|50|10|00:15:00',
	'standby: pool default as decide would see it');
is( sql(
		$standby,
		qq{SET freetier.test_now = '$t1';
SELECT balance_sats, held_sats FROM freetier_pool_status('side')}),
	'600|0',
	'standby: pool side counts its holds as returned after the TTL');

### Writes on the standby fail with 25006 read_only_sql_transaction.

is(sqlstate_of($standby, q{SELECT * FROM freetier_decide('alice', 10)}),
	'25006', 'standby: freetier_decide fails with 25006');
is(sqlstate_of($standby, q{SELECT * FROM freetier_decide('dave', 10)}),
	'25006', 'standby: freetier_decide for an unknown subject fails with 25006');
is(sqlstate_of($standby, qq{SELECT * FROM freetier_record_grant('$a2', 40)}),
	'25006', 'standby: freetier_record_grant fails with 25006');
is(sqlstate_of($standby, qq{SELECT freetier_release('$a2')}),
	'25006', 'standby: freetier_release fails with 25006');
is(sqlstate_of($standby, q{SELECT freetier_credit(100, 'default', 'inv-3')}),
	'25006', 'standby: freetier_credit fails with 25006');
is( sqlstate_of(
		$standby,
		qq{SET freetier.test_now = '$t1'; SELECT freetier_expire_holds()}),
	'25006',
	'standby: freetier_expire_holds fails with 25006');

### On the primary, estimate inside a read-only transaction.

my $estimate = q{SELECT serve, absorb_sats, charge_sats, reason
                   FROM freetier_estimate('alice', 500)};
my $read_write_answer = sql($primary, $estimate);
is( sql(
		$primary, qq{BEGIN READ ONLY;
SHOW transaction_read_only;
$estimate;
COMMIT;}),
	"on\n$read_write_answer",
	'primary: freetier_estimate works in BEGIN READ ONLY, same answer');
is( sqlstate_of(
		$primary, q{BEGIN READ ONLY;
SELECT * FROM freetier_decide('alice', 10);
COMMIT;}),
	'25006',
	'primary: freetier_decide in BEGIN READ ONLY fails with 25006');

### Credit accounts (0.2): the read-only functions work on the standby.

sql($primary, q{SELECT freetier_open_account('acme', 'core')});
is(sql($primary, q{SELECT ok FROM freetier_spend_credits('acme', 25, 'gemini')}),
	't', 'primary: acme spends its gemini cap');
sql($primary, q{SELECT freetier_add_credits('acme', 5, 'order-1')});
sql($primary, q{SELECT freetier_define_plan('team', 'weekly', 500)});
# archived up to a checkpoint (0.4): both its chain and its archive verify
sql($primary, q{SELECT count(*) FROM freetier_checkpoint_account_ledger('acme')});
sql($primary, q{SELECT count(*) FROM freetier_archive_account_ledger('acme')});
$primary->wait_for_catchup($standby, 'replay', $primary->lsn('insert'));
foreach my $query (
	q{SELECT plan, period, allowance_left, backend_left, purchased_balance FROM freetier_account_status('acme')},
	q{SELECT * FROM freetier_route('acme', ARRAY['gemini', 'hardware'])},
	q{SELECT * FROM freetier_route('acme', ARRAY['gemini'], 6)},
	q{SELECT * FROM freetier_verify_account_ledger()},
	q{SELECT * FROM freetier_verify_account_ledger_archive()},
	q{SELECT * FROM freetier_verify_settings_ledger()})
{
	is(sql($standby, $query), sql($primary, $query),
		"standby: the primary's answer to $query");
}
is(sql($standby, q{SELECT * FROM freetier_route('acme', ARRAY['gemini', 'hardware'])}),
	'hardware|', 'standby: routes past the spent gemini cap');
is(sqlstate_of($standby, q{SELECT * FROM freetier_spend_credits('acme', 1, 'api')}),
	'25006', 'standby: freetier_spend_credits fails with 25006');
is(sqlstate_of($standby, q{SELECT * FROM freetier_reserve_credits('acme', 1, 'api')}),
	'25006', 'standby: freetier_reserve_credits fails with 25006');

### Nothing above changed the primary's state.

is(sql($primary, $verify), "default|7|t|\nside|5|t|",
	'primary: ledger unchanged by the refused writes');

$standby->stop;
$primary->stop;

done_testing();
