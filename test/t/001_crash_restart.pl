
# Copyright: freetier authors.
#
# 001_crash_restart.pl: freetier's state survives a crash exactly as committed.
#
# A subject does some committed decides and settles them, keeps one committed
# hold that is never settled, and opens one more decide in a transaction that
# is still running when the server is stopped with "immediate" (no shutdown
# checkpoint, crash recovery on the next start).  A checkpoint taken while that
# transaction is open puts its uncommitted rows on disk, and committed work on
# another pool after the checkpoint exists only in the WAL, so recovery has to
# both replay and discard.  After the restart this test proves that:
#   - the uncommitted decide left no trace: no hold, no ledger entry, no change
#     to the subject's window or to the pool's balance, its xid aborted;
#   - every committed row (holds, grants, ledger, subject, pool) is unchanged,
#     and the work done after the checkpoint was replayed;
#   - the ledger's hash chains verify and each pool's balance equals the sum
#     of its ledger deltas;
#   - the committed-but-unsettled hold is not lost: it stays held until its
#     TTL, then freetier_expire_holds returns it, and the pool is back to its
#     seed minus what the settled grants absorbed;
#   - the server log shows no PANIC, failed assertion or crashed backend.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('crash');
$node->init;
$node->start;

# Run SQL that must succeed and return its output.
sub sql
{
	my ($query) = @_;
	return $node->safe_psql('postgres', $query);
}

# Everything committed that concerns subject alice and pool default, as text,
# so that "intact" can be checked by one comparison.
my $snapshot_sql = q{
SELECT concat_ws(E'\n',
  (SELECT string_agg(p::text, E'\n') FROM freetier.pools p WHERE pool = 'default'),
  (SELECT string_agg(s::text, E'\n' ORDER BY stripe) FROM freetier.pool_stripes s WHERE pool = 'default'),
  (SELECT string_agg(s::text, E'\n') FROM freetier.subjects s WHERE subject = 'alice'),
  (SELECT string_agg(h::text, E'\n' ORDER BY created_at, hold_id)
     FROM freetier.holds h WHERE pool = 'default'),
  (SELECT string_agg(g::text, E'\n' ORDER BY grant_id)
     FROM freetier.grants g WHERE pool = 'default'),
  (SELECT string_agg(l::text, E'\n' ORDER BY stripe, seq)
     FROM freetier.ledger l WHERE pool = 'default'))
};

# Every stripe's balance equals the sum of its ledger deltas.
my $balances_match_ledger_sql = q{
SELECT bool_and(s.balance_sats = coalesce(l.total, 0))
  FROM freetier.pool_stripes s
  LEFT JOIN (SELECT pool, stripe, sum(delta_sats) AS total FROM freetier.ledger GROUP BY 1, 2) l
    USING (pool, stripe)
};

my $pool_balance_sql =
  q{SELECT sum(balance_sats) FROM freetier.pool_stripes WHERE pool = 'default'};

### Setup: extension, subjects, a second pool.

sql(q{CREATE EXTENSION freetier});
# one stripe each, so that the ledger below reads as one chain per pool
sql(q{SELECT freetier_configure_pool('default', stripes => 1)});
sql(q{SELECT freetier_set_tier('alice', 'trusted')});    # 200 sats a day
sql(q{SELECT freetier_set_tier('bob', 'established')});  # 50 sats a day
sql(q{SELECT freetier_create_pool('side', 1000, stripes => 1)});
is(sql($pool_balance_sql), '10000', 'pool default starts at its 10000 sat seed');

### Committed work on pool default.

# decide 30, settle at 20: absorbs 20, returns 10
my $h1 = sql(q{SELECT hold_id FROM freetier_decide('alice', 30)});
like($h1, qr/^[0-9a-f-]{36}$/, 'first decide places a hold');
is( sql(qq{SELECT absorbed_sats, returned_sats, charge_sats, pool_balance_after
             FROM freetier_record_grant('$h1', 20)}),
	'20|10|0|9980',
	'first hold settled at 20: 20 absorbed, 10 returned');

# decide 40, settle at 50: absorbs all 40, charges 10
my $h2 = sql(q{SELECT hold_id FROM freetier_decide('alice', 40)});
is( sql(qq{SELECT absorbed_sats, returned_sats, charge_sats, pool_balance_after
             FROM freetier_record_grant('$h2', 50)}),
	'40|0|10|9940',
	'second hold settled at 50: 40 absorbed, 10 charged');

# decide 25, committed and never settled
my $h3 = sql(q{SELECT hold_id FROM freetier_decide('alice', 25)});
is(sql(qq{SELECT state, held_sats FROM freetier.holds WHERE hold_id = '$h3'}),
	'held|25', 'third hold committed and left unsettled');
is(sql($pool_balance_sql), '9915', 'pool default is 10000 - 20 - 40 - 25');

my $snapshot_before = sql($snapshot_sql);
my $holds_before = sql(q{SELECT count(*) FROM freetier.holds});
my $ledger_before = sql(q{SELECT count(*) FROM freetier.ledger});

### A decide left open in a transaction that never commits.

my $open = $node->background_psql('postgres');
$open->query_safe('BEGIN');
my $lost_hold = $open->query_safe(
	q{SELECT hold_id FROM freetier_decide('alice', 50) WHERE serve = 'free'});
like($lost_hold, qr/^[0-9a-f-]{36}$/,
	'open transaction: decide 50 placed a hold');
my $lost_xid = $open->query_safe(q{SELECT pg_current_xact_id()});
is($open->query_safe($pool_balance_sql),
	'9865', 'open transaction: sees the pool debited to 9865');
is(sql(qq{SELECT count(*) FROM freetier.holds WHERE hold_id = '$lost_hold'}),
	'0', 'other sessions do not see the uncommitted hold');

# Put the uncommitted rows on disk, then commit more work (on another pool and
# subject, so it does not wait for the open transaction's row locks) that only
# the WAL holds.
sql('CHECKPOINT');
my $h_bob = sql(q{SELECT hold_id FROM freetier_decide('bob', 20, 'side')});
is( sql(qq{SELECT absorbed_sats, returned_sats, pool_balance_after
             FROM freetier_record_grant('$h_bob', 15)}),
	'15|5|985',
	'after the checkpoint: bob settles 15 of 20 on pool side');
my $side_before = sql(
	q{SELECT string_agg(l::text, E'\n' ORDER BY stripe, seq) FROM freetier.ledger l WHERE pool = 'side'});

### Crash and restart.

$node->stop('immediate');
eval { $open->quit };    # its server process is gone; just reap psql
$node->start;

### The uncommitted decide left no trace.

is(sql(qq{SELECT pg_xact_status('$lost_xid')}),
	'aborted', 'the open transaction is aborted after recovery');
is(sql(qq{SELECT count(*) FROM freetier.holds WHERE hold_id = '$lost_hold'}),
	'0', 'no hold row for the uncommitted decide');
is(sql(qq{SELECT count(*) FROM freetier.ledger WHERE hold_id = '$lost_hold'}),
	'0', 'no ledger entry for the uncommitted decide');
is(sql($pool_balance_sql), '9915',
	'pool default balance is what it was before the uncommitted decide');
is( sql(q{SELECT count(*) FROM freetier.holds WHERE pool = 'default'}),
	'3', 'pool default has exactly the three committed holds');

### The committed state is intact.

is(sql($snapshot_sql), $snapshot_before,
	'pool default, subject alice, their holds, grants and ledger are unchanged');
is(sql(q{SELECT count(*) FROM freetier.holds}),
	$holds_before + 1, 'holds: the committed ones plus bob\'s');
is(sql(q{SELECT count(*) FROM freetier.ledger}),
	$ledger_before + 2, 'ledger: the committed entries plus bob\'s hold and return');
is( sql(
		q{SELECT string_agg(l::text, E'\n' ORDER BY stripe, seq) FROM freetier.ledger l WHERE pool = 'side'}
	),
	$side_before,
	'work committed after the checkpoint was replayed (ledger of pool side)');
is( sql(
		qq{SELECT h.state, g.absorbed_sats FROM freetier.holds h JOIN freetier.grants g USING (hold_id)
            WHERE hold_id = '$h_bob'}),
	'settled|15',
	'bob\'s hold and grant were replayed');
is(sql(qq{SELECT state FROM freetier.holds WHERE hold_id = '$h3'}),
	'held', 'the committed unsettled hold is still held');

# alice used 60 (settled) + 25 (held) of 200: 115 left; the lost decide's 50
# must not count.
is(sql(q{SELECT serve, absorb_sats, charge_sats FROM freetier_estimate('alice', 500)}),
	'partial|115|385',
	'alice\'s window counts the committed holds only');

### The ledger is consistent.

is(sql(q{SELECT bool_and(ok) FROM freetier_verify_ledger()}),
	't', 'freetier_verify_ledger: every chain verifies after recovery');
is(sql(q{SELECT count(*) FROM freetier_verify_ledger()}),
	'2', 'freetier_verify_ledger covers both pools');
is(sql($balances_match_ledger_sql),
	't', 'each pool balance equals the sum of its ledger deltas');

### The committed-but-unsettled hold comes back after its TTL.

is(sql(q{SELECT freetier_expire_holds()}),
	'0', 'nothing expires before the TTL');

my $after_ttl = sql(
	qq{SELECT (expires_at + interval '1 second')::text FROM freetier.holds WHERE hold_id = '$h3'}
);
is( sql(
		qq{SET freetier.test_now = '$after_ttl';
           SELECT balance_sats, held_sats FROM freetier_pool_status('default')}),
	'9940|0',
	'past the TTL, pool_status already counts the hold as returned');
is( sql(
		qq{SET freetier.test_now = '$after_ttl';
           SELECT freetier_expire_holds()}),
	'1',
	'freetier_expire_holds past the TTL expires exactly one hold');
is(sql(qq{SELECT state, end_reason FROM freetier.holds WHERE hold_id = '$h3'}),
	'expired|ttl', 'the unsettled hold is expired by its TTL');
is( sql(
		q{SELECT kind, delta_sats, hold_id FROM freetier.ledger
           WHERE pool = 'default' ORDER BY seq DESC LIMIT 1}),
	"expiry|25|$h3",
	'the last ledger entry of pool default returns its 25 sats');

is(sql($pool_balance_sql), '9940',
	'pool default is back to 10000 - 60 absorbed by settled grants');
is(sql(q{SELECT serve, absorb_sats, charge_sats FROM freetier_estimate('alice', 500)}),
	'partial|140|360',
	'alice\'s window no longer counts the expired hold (60 of 200 used)');
is( sql(
		q{SELECT (SELECT delta_sats FROM freetier.ledger WHERE pool = 'default' AND kind = 'seed')
               - (SELECT sum(absorbed_sats) FROM freetier.grants WHERE pool = 'default')
               = (SELECT sum(balance_sats) FROM freetier.pool_stripes WHERE pool = 'default')}),
	't',
	'pool default = seed - sum(absorbed_sats) of its grants');
is(sql(q{SELECT bool_and(ok) FROM freetier_verify_ledger()}),
	't', 'freetier_verify_ledger: every chain still verifies after the expiry');
is(sql($balances_match_ledger_sql),
	't', 'each pool balance still equals the sum of its ledger deltas');

### The server log: nothing but the immediate stop.

$node->stop;
my $log = slurp_file($node->logfile);
like($log, qr/received immediate shutdown request/,
	'the log records the immediate stop');
like(
	$log,
	qr/database system was not properly shut down; automatic recovery in progress/,
	'the restart ran crash recovery');
my @bad = grep {
	/PANIC|TRAP:|terminated by signal|segmentation fault|server process .* exited with exit code [^0]/i
} split /\n/, $log;
is(join("\n", @bad), '', 'no PANIC, TRAP or crashed backend in the server log');

done_testing();
