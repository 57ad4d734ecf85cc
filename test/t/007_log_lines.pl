
# Copyright: freetier authors.
#
# 007_log_lines.pl: the lines freetier writes to the server log
# (src/log_lines.c, README "Operations"), read back from the log file.
#
#   - a busy run of ordinary requests (decides settled, released and left
#     open, estimates, credits, lazy expiries on the decide path) writes
#     none of them;
#   - "ran dry": written once, by the decide that takes a pool's last sat,
#     with the subject shortened; not by the requests gated after it, nor
#     by a decide rolled back (with its transaction or to a savepoint);
#     again after a credit refills the pool and a decide empties it;
#   - "reached its low-water mark": written once, by the decide that takes
#     the balance from above the mark to at or below it, both when that
#     decide locks one stripe and when it locks them all; not by one whose
#     pool was below the mark before the expired holds it returned on the
#     way (waiting for one stripe at a time, then locking them all);
#   - "expire_holds expired": one line per sweep that expired something,
#     with holds and sats per pool and the credit holds; none for a sweep
#     that expired nothing or was rolled back;
#   - "failed verification": one line per bad chain, with its first bad
#     entry or that its row does not match, for a pool's stripe, an account
#     and a plan's and a tier's settings chains; none when a ledger verifies.
# No line reaches the client, whatever its client_min_messages.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('log_lines');
$node->init;
$node->start;

sub sql
{
	my ($query) = @_;
	return $node->safe_psql('postgres', $query);
}

# The freetier lines written to the log since byte $offset.
sub lines_since
{
	my ($offset) = @_;
	my $log = slurp_file($node->logfile, $offset);
	return [ $log =~ m/LOG:  (freetier: .*)$/mg ];
}

sub log_offset { return -s $node->logfile; }

# $n decides of $sats for $subject from $pool, each in its own statement.
sub decides
{
	my ($n, $subject, $sats, $pool) = @_;
	sql(join('', map { "SELECT freetier_decide('$subject', $sats, '$pool');" } 1 .. $n));
}

sql(q{CREATE EXTENSION freetier});
sql(q{SELECT freetier_set_tier_budget('load', 1000000)});
sql(q{SELECT count(freetier_set_tier('busy-subject-' || i, 'load')) FROM generate_series(1, 50) i});
sql(q{SELECT freetier_create_pool('busy', 1000000, 10, '15 minutes', 4, low_water_sats => 1000)});

# Holds placed long ago, past their TTL: the busy run's decides return
# them lazily, on the stripes they lock.
sql(q{SET freetier.test_now = '2026-01-01 00:00:00+00';
      SELECT count(*) FROM generate_series(1, 50) i, freetier_decide('busy-subject-' || i, 7, 'busy')});

# --- a busy run of ordinary requests logs nothing ------------------------

my $offset = log_offset();
my $script = PostgreSQL::Test::Utils::tempdir() . '/busy.sql';
open(my $fh, '>', $script) or die "cannot write $script: $!";
print $fh <<'SCRIPT';
\set s random(1, 50)
\set r random(1, 4)
BEGIN;
SELECT hold_id AS h FROM freetier_decide('busy-subject-' || :s, 20, 'busy') \gset
SELECT * FROM freetier_estimate('busy-subject-' || :s, 20, 'busy');
COMMIT;
\if :r = 1
SELECT freetier_release(':h', 'busy');
\elif :r = 2
SELECT freetier_credit(100, 'busy');
\elif :r = 3
SELECT * FROM freetier_record_grant(':h', 15);
\endif
SCRIPT
close($fh);
$node->command_ok(
	[ 'pgbench', '-n', '-c', '4', '-t', '250', '-f', $script, 'postgres' ],
	'a busy run of ordinary requests');
is(sql(q{SELECT count(*) FROM freetier.holds WHERE pool = 'busy' AND state = 'expired'}),
	'50', 'the busy run returned the old holds lazily');
is(sql(q{SELECT count(*) FROM freetier.holds WHERE pool = 'busy' AND state = 'held'}) > 0,
	1, 'and left holds open');
is_deeply(lines_since($offset), [], 'and wrote no freetier line');

# --- ran dry --------------------------------------------------------------

sql(q{SELECT freetier_create_pool('dry', 100, 10, '15 minutes', 4)});
sql(q{SELECT freetier_set_tier('npub1dryrunner', 'elite')});
$offset = log_offset();
decides(3, 'npub1dryrunner', 25, 'dry');
# the last 25: rolled back, then rolled back to a savepoint, then committed
sql(q{BEGIN; SELECT freetier_decide('npub1dryrunner', 25, 'dry'); ROLLBACK;});
sql(q{BEGIN; SAVEPOINT a; SELECT freetier_decide('npub1dryrunner', 25, 'dry');
      ROLLBACK TO a; COMMIT;});
is_deeply(lines_since($offset), [], 'a pool emptied and rolled back logs nothing');
decides(6, 'npub1dryrunner', 25, 'dry');
is(sql(q{SELECT balance_sats FROM freetier_pools() WHERE pool = 'dry'}), '0', 'pool dry is empty');
is_deeply(lines_since($offset),
	[ 'freetier: pool "dry" ran dry (a decide for "npub1dry" took the last 25 sats)' ],
	'the decide that took the last sat logged it, once; the gated ones after it nothing');
$offset = log_offset();
sql(q{SELECT freetier_credit(400, 'dry')});
decides(5, 'npub1dryrunner', 10, 'dry');
is_deeply(lines_since($offset),
	[ 'freetier: pool "dry" ran dry (a decide for "npub1dry" took the last 10 sats)' ],
	'refilled and emptied again: logged again');

# --- the low-water mark ---------------------------------------------------

# 1000 sats over 4 stripes of 250, mark 600: decides of 100 take the pool
# to 900, 800, 700, 600 (crossed), 500, each from one stripe.
sql(q{SELECT freetier_create_pool('low', 1000, 10, '15 minutes', 4, low_water_sats => 600)});
sql(q{SELECT count(freetier_set_tier('low-water-' || i, 'elite')) FROM generate_series(1, 5) i});
$offset = log_offset();
sql(q{SELECT count(*) FROM generate_series(1, 5) i,
             freetier_decide('low-water-' || i, 100, 'low')});
is_deeply(lines_since($offset),
	[ 'freetier: pool "low" reached its low-water mark: 600 sats left, mark 600 (a decide for "low-wate" took 100)' ],
	'the decide (one stripe locked) that crossed the mark logged it, once');
is(sql(q{SELECT count(*) FROM freetier.ledger WHERE pool = 'low' AND kind = 'hold'}),
	'5', 'five holds placed');

# A decide that locks every stripe (no stripe holds enough) crossing both
# the mark and empty: both lines, the mark first.
sql(q{SELECT freetier_create_pool('low2', 400, 10, '15 minutes', 4, low_water_sats => 100)});
sql(q{SELECT freetier_set_tier(E'\x01evil\nsubject', 'elite')});
$offset = log_offset();
sql(q{SELECT freetier_decide(E'\x01evil\nsubject', 400, 'low2')});
is_deeply(lines_since($offset),
	[
		'freetier: pool "low2" reached its low-water mark: 0 sats left, mark 100 (a decide for "?evil?su" took 400)',
		'freetier: pool "low2" ran dry (a decide for "?evil?su" took the last 400 sats)'
	],
	'a decide that locked every stripe crossed the mark and ran the pool dry; control characters shown as ?');

# A decide that first waits for each stripe in turn (none holds enough),
# returning the expired holds on each, and then locks them all compares the
# balance before those returns: 250 sats (a hold of 150, past its TTL,
# from 400), below the mark of 290, so taking 260 of the 400 crosses
# nothing (nor does the balance wait_for_stripe saw last count twice).
sql(q{SELECT freetier_create_pool('low3', 400, 10, '15 minutes', 2, low_water_sats => 290)});
sql(q{SELECT count(freetier_set_tier('low3-' || i, 'elite')) FROM generate_series(1, 2) i});
sql(q{SET freetier.test_now = '2026-03-02 00:00:00+00'; SELECT freetier_decide('low3-1', 150, 'low3')});
$offset = log_offset();
is(sql(q{SET freetier.test_now = '2026-03-02 01:00:00+00';
         SELECT absorb_sats FROM freetier_decide('low3-2', 260, 'low3')}),
	'260', 'a decide past every stripe took 260 sats');
is(sql(q{SELECT sum(balance_sats) FROM freetier.pool_stripes WHERE pool = 'low3'}),
	'140', 'after the expired hold came back');
is_deeply(lines_since($offset), [],
	'and logged nothing: the pool was below its mark before the expired hold came back');

# --- sweeps ---------------------------------------------------------------

sql(q{SELECT freetier_create_pool('side', 1000, 10, '5 minutes', 2)});
sql(q{SELECT freetier_set_tier('sweeper', 'elite')});
sql(q{SELECT * FROM freetier_open_account('acct-sweep', 'pro')});
sql(q{SET freetier.test_now = '2026-03-01 00:00:00+00';
      SELECT freetier_decide('sweeper', 30);
      SELECT freetier_decide('sweeper', 12);
      SELECT freetier_decide('sweeper', 5, 'side');
      SELECT freetier_reserve_credits('acct-sweep', 3, 'api');});
$offset = log_offset();
is(sql(q{SET freetier.test_now = '2026-03-01 01:00:00+00';
         BEGIN; SELECT freetier_expire_holds(); ROLLBACK;}), '4',
	'a sweep rolled back');
is_deeply(lines_since($offset), [], 'logs nothing');
is(sql(q{SET freetier.test_now = '2026-03-01 01:00:00+00'; SELECT freetier_expire_holds()}),
	'4', 'a sweep expired four holds');
is(sql(q{SET freetier.test_now = '2026-03-01 01:00:00+00'; SELECT freetier_expire_holds()}),
	'0', 'the next expired none');
is_deeply(lines_since($offset),
	[ 'freetier: expire_holds expired pool "default" 2 holds 42 sats, pool "side" 1 holds 5 sats, credit holds 1 holds 3 credits' ],
	'one line for the sweep that expired something, per pool and for credit holds');

# --- verification failures -----------------------------------------------

$offset = log_offset();
is(sql(q{SELECT bool_and(ok) FROM freetier_verify_ledger()}), 't', 'the ledger verifies');
is(sql(q{SELECT bool_and(ok) FROM freetier_verify_account_ledger()}), 't', 'so do the accounts');
is_deeply(lines_since($offset), [], 'and nothing is logged');

my $stripe = sql(q{SELECT stripe FROM freetier.ledger WHERE pool = 'side' AND kind = 'hold'});
sql(qq{ALTER TABLE freetier.ledger DISABLE TRIGGER ALL;
       UPDATE freetier.ledger SET delta_sats = delta_sats - 1
        WHERE pool = 'side' AND stripe = $stripe AND seq = 2;
       UPDATE freetier.ledger SET created_at = created_at + interval '1 second'
        WHERE pool = 'low' AND stripe = 3 AND seq = 1;
       ALTER TABLE freetier.ledger ENABLE TRIGGER ALL;
       ALTER TABLE freetier.pool_stripes DISABLE TRIGGER ALL;
       UPDATE freetier.pool_stripes SET balance_sats = balance_sats + 1 WHERE pool = 'low' AND stripe = 1;
       ALTER TABLE freetier.pool_stripes ENABLE TRIGGER ALL;
       ALTER TABLE freetier.account_ledger DISABLE TRIGGER ALL;
       UPDATE freetier.account_ledger SET ref = 'max' WHERE subject = 'acct-sweep' AND seq = 1;
       ALTER TABLE freetier.account_ledger ENABLE TRIGGER ALL;
       UPDATE freetier.plans SET allowance = 5 WHERE plan = 'max';
       UPDATE freetier.tiers SET daily_budget_sats = 7 WHERE tier = 'elite';});
$offset = log_offset();
is(sql(q{SET client_min_messages = debug5;
         SELECT string_agg(pool || ':' || ok || ':' || coalesce(first_bad_entry::text, '-'), ' ' ORDER BY pool)
           FROM freetier_verify_ledger()}),
	'busy:true:- default:true:- dry:true:- low:false:- low2:true:- low3:true:- side:false:2',
	'verify_ledger finds the bad pools');
is(sql(q{SELECT first_bad_entry FROM freetier_verify_account_ledger('acct-sweep')}), '1',
	'verify_account_ledger the bad account');
is(sql(q{SELECT string_agg(chain, ' ') FROM freetier_verify_settings_ledger() WHERE NOT ok}),
	'plan:max tier:elite', 'verify_settings_ledger the edited plan and tier');
is_deeply(lines_since($offset),
	[
		'freetier: ledger of pool "low" failed verification: stripe 1, its row does not match its chain',
		'freetier: ledger of pool "low" failed verification: stripe 3, first bad entry 1',
		qq{freetier: ledger of pool "side" failed verification: stripe $stripe, first bad entry 2},
		'freetier: account ledger of "acct-swe" failed verification, first bad entry 1',
		'freetier: settings ledger "plan:max" failed verification, its row does not match its chain',
		'freetier: settings ledger "tier:elite" failed verification, its row does not match its chain'
	],
	'one line per bad chain, with its first bad entry');

# --- never to the client --------------------------------------------------

my ($stdout, $stderr);
$node->psql('postgres', q{SET client_min_messages = debug5; SELECT pool FROM freetier_verify_ledger('side')},
	stdout => \$stdout, stderr => \$stderr);
unlike($stderr, qr/freetier: /, 'a client that asks for every message gets no freetier line');

$node->stop;
ok(!$node->log_contains('TRAP|server process .* was terminated'), 'no crash');
done_testing();
