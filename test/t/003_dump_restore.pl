
# Copyright: freetier authors.
#
# 003_dump_restore.pl: pg_dump and restore carry freetier's whole state, and
# the restored database keeps working.
#
# Database src gets varied state: a changed default tier budget and a new
# tier, subjects of every tier, settled grants (one with a request_hash), live
# holds on two pools, a released hold, holds expired by freetier_expire_holds
# (freetier.test_now moves the clock past their TTL), credits with and without
# a payment_ref, a second pool with its own credit_pct and TTL, and a changed
# credit_pct on the default pool.  src is dumped in plain format (restored
# with psql into dst) and in custom format (restored with pg_restore into
# dst2).  For each restored database this test proves that:
#   - every row of every freetier table (pools, tiers, subjects, holds,
#     grants, credits, ledger) and the grants sequence (freetier.grant_ids,
#     which the dump does not carry: the restored stripe rows set it forward)
#     are exactly as in src,
#     and the extension still registers the same config tables;
#   - freetier_verify_ledger is ok for every pool, and each pool's balance is
#     the sum of its ledger deltas; freetier_verify_settings_ledger is ok for
#     every plan and tier (a changed install plan or tier too: its head comes
#     with it) and the credit settings;
#   - the grants sequence continues: new grants get grant_ids above every
#     restored one, with no duplicate key;
#   - a live hold from src can be settled with freetier_record_grant (and the
#     settle replays), a replayed payment_ref credit returns its first result
#     and adds nothing, a new payment_ref is credited at the restored
#     credit_pct, new decides see the restored budgets, windows and live
#     holds, holds still expire, a new pool can be created, the ledger and
#     grants are still append-only, and every chain still verifies after all
#     these new entries;
#   - the restored database can itself be dumped and restored again.
# It also proves that:
#   - loading the same dump twice into one database doubles nothing: the
#     second load (plain with psql, custom with pg_restore) fails loudly with
#     duplicate keys on every table that is not upserted, and the state is
#     still exactly src's;
#   - a dump of a database that never changed freetier's defaults (a fresh
#     CREATE EXTENSION) restores to the same rows, verifies, and works; and
#     the restored copy, once it has one grant (grant_id 1), restores again
#     to a database whose next grant is grant_id 2;
#   - a dump of a 0.2 database with a hold_ttl past 0.2.1's bound cannot
#     bring it back: the restore into 0.2.1 refuses that row;
#   - loading an older dump into a database that has moved on since is
#     refused table by table, pools and tiers included (their restore
#     triggers replace only rows still exactly as installed), so every chain
#     still verifies and decide still works; and it leaves the grants
#     sequence where it was, so the next settle there gets a new grant_id;
#     also a dump taken by 0.3, whose setval names the sequence's old name.
# The custom dump is also restored with pg_restore -j 4 (dst2j), which
# loads the tables' data in parallel, in any order.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('dump');
$node->init;
$node->start;

my $tmp = PostgreSQL::Test::Utils::tempdir;

# Run SQL in a database; it must succeed.  Returns its output.
sub sql
{
	my ($db, $query) = @_;
	return $node->safe_psql($db, $query);
}

# The same, with freetier's clock at $at.
sub sql_at
{
	my ($db, $at, $query) = @_;
	return $node->safe_psql($db, "SET freetier.test_now = '$at';\n$query");
}

# Every freetier table, in an order that reads well in failures.
my @tables = qw(pools pool_stripes tiers subjects holds grants credits ledger
  plans credit_settings accounts account_backend_use credit_holds
  credit_additions trials trial_networks account_ledger settings_ledger);

# One line per table: its row count and the md5 of all its rows as text, in
# text order; then the grants sequence.
sub fingerprint
{
	my ($db) = @_;
	my $query = join("\nUNION ALL ",
		map {
			"SELECT '$_', count(*)::text, md5(coalesce(string_agg(t::text, E'\\n' ORDER BY t::text), '')) FROM freetier.$_ t"
		} @tables)
	  . "\nUNION ALL SELECT 'grant_ids', last_value::text, is_called::text FROM freetier.grant_ids";
	my %fp = map { my ($name, $rest) = split(/\|/, $_, 2); ($name => $rest) }
	  split(/\n/, sql($db, $query));
	return \%fp;
}

sub fingerprint_is
{
	my ($db, $expected, $what) = @_;
	local $Test::Builder::Level = $Test::Builder::Level + 1;
	my $got = fingerprint($db);
	foreach my $name (@tables, 'grant_ids')
	{
		is($got->{$name}, $expected->{$name}, "$db: $name $what");
	}
	return;
}

my $verify_sql = q{SELECT pool, entries, ok, first_bad_entry
                     FROM freetier_verify_ledger() ORDER BY pool};

# true when every pool has a ledger, every chain verifies, and every pool's
# balance is the sum of its ledger deltas
my $all_ok_sql = q{
SELECT (SELECT bool_and(ok) AND count(*) = (SELECT count(*) FROM freetier.pools)
          FROM freetier_verify_ledger())
   AND (SELECT bool_and(s.balance_sats = coalesce(l.total, 0))
          FROM freetier.pool_stripes s
          LEFT JOIN (SELECT pool, stripe, sum(delta_sats) AS total FROM freetier.ledger GROUP BY 1, 2) l
            USING (pool, stripe))
};

my $extconfig_sql = q{
SELECT extconfig::regclass[]::text, extcondition::text FROM pg_extension WHERE extname = 'freetier'
};

# freetier's clock for the state built in src, and after restore.
my $t0 = '2031-03-01 12:00:00+00';    # settles, a release, credits
my $t_sweep = '2031-03-01 14:00:00+00';    # past every hold placed at t0
my $t1 = '2031-03-01 14:01:00+00';    # the holds left live
my $t2 = '2031-03-01 14:05:00+00';    # work in the restored databases
my $t3 = '2031-03-01 18:00:00+00';    # past every hold placed at t1 or t2

### State in database src.

$node->safe_psql('postgres', 'CREATE DATABASE src');
sql('src', q{CREATE EXTENSION freetier});
sql('src', q{SELECT freetier_set_tier_budget('established', 77)});
sql('src', q{SELECT freetier_set_tier_budget('premium', 500)});
# one stripe each, so that the numbers below read as one chain per pool
sql('src', q{SELECT freetier_configure_pool('default', 20, stripes => 1)});
sql('src', q{SELECT freetier_create_pool('side', 500, 12.5, '1 hour', 1)});
sql('src', q{SELECT freetier_set_tier('alice', 'trusted')});    # 200 a day
sql('src', q{SELECT freetier_set_tier('bob', 'established')});  # now 77
sql('src', q{SELECT freetier_set_tier('carol', 'premium')});    # 500
sql('src', q{SELECT freetier_set_tier('dave', 'new')});         # 0
sql('src', q{SELECT freetier_set_tier('erin', 'elite')});       # 1000

# settled grants
is( sql_at(
		'src', $t0,
		q{SELECT grant_id, absorbed_sats, returned_sats, charge_sats, pool_balance_after
            FROM freetier_record_grant((SELECT hold_id FROM freetier_decide('alice', 30)), 20)}
	),
	'1|20|10|0|9980',
	'src: alice settles 20 of 30 on pool default');
is( sql_at(
		'src', $t0,
		q{SELECT grant_id, absorbed_sats, returned_sats, charge_sats, pool_balance_after
            FROM freetier_record_grant((SELECT hold_id FROM freetier_decide('bob', 40)), 50, 'req-b1')}
	),
	'2|40|0|10|9940',
	'src: bob settles 50 of 40 held (request_hash req-b1), 10 charged');
is( sql_at(
		'src', $t0,
		q{SELECT grant_id, absorbed_sats, returned_sats, charge_sats, pool_balance_after
            FROM freetier_record_grant((SELECT hold_id FROM freetier_decide('carol', 100, 'side')), 60)}
	),
	'3|60|40|0|440',
	'src: carol settles 60 of 100 on pool side');

# a released hold
is( sql_at(
		'src', $t0,
		q{SELECT freetier_release((SELECT hold_id FROM freetier_decide('alice', 10)), 'cancelled')}
	),
	'10',
	'src: alice\'s 10 sat hold is released');

# holds that will expire
my $h_erin_expiring =
  sql_at('src', $t0, q{SELECT hold_id FROM freetier_decide('erin', 25)});
my $h_carol_expiring = sql_at('src', $t0,
	q{SELECT hold_id FROM freetier_decide('carol', 45, 'side')});
like($h_erin_expiring, qr/^[0-9a-f-]{36}$/, 'src: erin holds 25 on default');
like($h_carol_expiring, qr/^[0-9a-f-]{36}$/, 'src: carol holds 45 on side');

# credits
is( sql_at(
		'src', $t0,
		q{SELECT freetier_credit(1000, 'default', 'inv-1'),
                 freetier_credit(333, 'side', 'inv-2'),
                 freetier_credit(50, 'default')}),
	'200|41|10',
	'src: credits at 20 % (default) and 12.5 % (side), with and without payment_ref');

# the sweep
is(sql_at('src', $t_sweep, q{SELECT freetier_expire_holds()}),
	'2', 'src: freetier_expire_holds past the TTLs expires both holds');
is( sql(
		'src',
		qq{SELECT string_agg(state || '/' || end_reason, ',' ORDER BY hold_id)
             FROM freetier.holds WHERE hold_id IN ('$h_erin_expiring', '$h_carol_expiring')}
	),
	'expired/ttl,expired/ttl',
	'src: both holds are expired by their TTL');

# holds left live, another settled grant, a gate
my $h_alice_live =
  sql_at('src', $t1, q{SELECT hold_id FROM freetier_decide('alice', 50)});
my $h_bob_live =
  sql_at('src', $t1, q{SELECT hold_id FROM freetier_decide('bob', 20, 'side')});
like($h_alice_live, qr/^[0-9a-f-]{36}$/, 'src: alice holds 50 on default, left live');
like($h_bob_live, qr/^[0-9a-f-]{36}$/, 'src: bob holds 20 on side, left live');
is( sql_at(
		'src', $t1,
		q{SELECT grant_id, absorbed_sats, pool_balance_after
            FROM freetier_record_grant((SELECT hold_id FROM freetier_decide('erin', 100)), 100)}
	),
	'4|100|10000',
	'src: erin settles 100');
is( sql_at(
		'src', $t1,
		q{SELECT serve, hold_id IS NULL, reason FROM freetier_decide('dave', 10)}),
	'gate|t|no_budget',
	'src: dave (tier new) is gated');

is( sql('src', $verify_sql),
	"default|15|t|\nside|8|t|",
	'src: both chains verify');
is(sql('src', $all_ok_sql), 't', 'src: balances equal the sum of ledger deltas');
is( sql(
		'src',
		q{SELECT string_agg(pool || '=' || balance_sats || '/' || credit_pct || '/' || hold_ttl, ' ' ORDER BY pool)
            FROM freetier.pools JOIN (SELECT pool, sum(balance_sats) AS balance_sats
                                        FROM freetier.pool_stripes GROUP BY pool) s USING (pool)}),
	'default=10000/20/00:15:00 side=461/12.5/01:00:00',
	'src: pools as built');
is( sql(
		'src',
		q{SELECT string_agg(state || '=' || n, ' ' ORDER BY state)
            FROM (SELECT state, count(*) AS n FROM freetier.holds GROUP BY state) s}),
	'expired=2 held=2 released=1 settled=4',
	'src: holds in every state');

# Credit accounts (0.2): a changed default plan and a new one, accounts with
# spends through a capped backend, a purchase, a live and a settled credit
# hold, a trial minted and claimed.
sql_at('src', $t0, q{
SELECT freetier_define_plan('pro', 'monthly', 1200);
SELECT freetier_define_plan('team', 'weekly', 500, '{"gemini": 100}');
SELECT freetier_configure_credits(trial_credits => 6);
SELECT freetier_open_account('acme', 'team');
SELECT freetier_spend_credits('acme', 40, 'gemini');
SELECT freetier_add_credits('acme', 30, 'order-1');
SELECT freetier_settle_credits(hold_id, 5) FROM freetier_reserve_credits('acme', 9, 'hardware');
SELECT freetier_reserve_credits('acme', 7, 'hardware');
SELECT freetier_claim_trial(subject, 'acme') FROM freetier_mint_trial('2001:db8:5:6::1');
});
is(sql('src', q{SELECT bool_and(ok) FROM freetier_verify_account_ledger()}), 't',
	'src: the account chains verify');
# A changed install plan, a new plan, the credit settings, and the changed
# install tier and the new tier above are chained (0.4); the restore must
# bring each head with its plan or tier.
my $settings_verify_sql = q{SELECT string_agg(chain || ':' || entries || ':' || ok, ' ' ORDER BY chain)
                              FROM freetier_verify_settings_ledger()};
is( sql('src', $settings_verify_sql),
	'credit_settings:1:true plan:core:0:true plan:max:0:true plan:pro:1:true plan:team:1:true plan:trial:0:true'
	  . ' tier:elite:0:true tier:established:1:true tier:new:0:true tier:premium:1:true tier:trusted:0:true',
	'src: the settings chains verify');

my $src_fp = fingerprint('src');
my $src_verify = sql('src', $verify_sql);
my $src_extconfig = sql('src', $extconfig_sql);
my $src_max_grant = sql('src', q{SELECT max(grant_id) FROM freetier.grants});
like($src_fp->{ledger}, qr/^23\|/,
	'src: 23 ledger rows (the install-time seed and two settings entries included)');

### Dump src, plain and custom.

my $plain = "$tmp/src.sql";
my $custom = "$tmp/src.dump";
$node->command_ok([ 'pg_dump', '-f', $plain, 'src' ], 'pg_dump (plain) of src');
$node->command_ok([ 'pg_dump', '-Fc', '-f', $custom, 'src' ],
	'pg_dump -Fc of src');

my $dump_text = slurp_file($plain);
unlike($dump_text, qr/-infinity/,
	'the plain dump leaves out the install-time seed entry (dated -infinity)');
unlike($dump_text, qr/setval/,
	'the plain dump sets no sequence: loaded anywhere, it cannot wind one back');
like($dump_text, qr/^COPY freetier\.pool_stripes \(.*max_grant_id.*\n(?:.*\n)*?default\t0\t.*\t4\n/m,
	'the plain dump carries the highest grant_id in the stripe it was settled from');

### Restore: plain with psql into dst, custom with pg_restore into dst2.

$node->safe_psql('postgres', 'CREATE DATABASE dst');
$node->command_ok(
	[ 'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', 'dst', '-f', $plain ],
	'psql restores the plain dump into dst without error');
$node->safe_psql('postgres', 'CREATE DATABASE dst2');
$node->command_ok([ 'pg_restore', '-d', 'dst2', $custom ],
	'pg_restore restores the custom dump into dst2 without error');
# In parallel, the tables' data load in any order: no foreign key between
# them may refuse a row whose parent is not loaded yet (0.4 dropped them).
$node->safe_psql('postgres', 'CREATE DATABASE dst2j');
$node->command_ok([ 'pg_restore', '-j', '4', '-e', '-d', 'dst2j', $custom ],
	'pg_restore -j 4 restores the custom dump into dst2j without error');

# The checks and the new work, the same for both restored databases.
sub check_restored
{
	my ($db) = @_;

	fingerprint_is($db, $src_fp, 'is exactly as in src');
	is(sql($db, $extconfig_sql), $src_extconfig,
		"$db: the same config tables are registered for pg_dump");
	is(sql($db, $verify_sql), $src_verify,
		"$db: freetier_verify_ledger is ok for every pool, as in src");
	is(sql($db, $all_ok_sql), 't',
		"$db: balances equal the sum of ledger deltas");
	is(sql($db, q{SELECT bool_and(ok) FROM freetier_verify_account_ledger()}), 't',
		"$db: every account chain verifies");
	is(sql($db, $settings_verify_sql), sql('src', $settings_verify_sql),
		"$db: every settings chain verifies, as in src");
	is(sql_at($db, $t2, q{SELECT ok FROM freetier_spend_credits('acme', 1, 'api')}), 't',
		"$db: a restored account spends");

	# The same answers as in src before any write.
	is( sql_at(
			$db, $t2,
			q{SELECT string_agg(s.subject || '=' || e.serve || '/' || e.absorb_sats, ' ' ORDER BY s.subject)
                FROM (VALUES ('alice'), ('bob'), ('carol'), ('dave'), ('erin')) s(subject),
                     freetier_estimate(s.subject, 1000) e}),
		sql_at(
			'src', $t2,
			q{SELECT string_agg(s.subject || '=' || e.serve || '/' || e.absorb_sats, ' ' ORDER BY s.subject)
                FROM (VALUES ('alice'), ('bob'), ('carol'), ('dave'), ('erin')) s(subject),
                     freetier_estimate(s.subject, 1000) e}),
		"$db: freetier_estimate answers every subject as src does");

	# A live hold from src settles, above every restored grant_id.
	my $settle = qq{SELECT grant_id > $src_max_grant, absorbed_sats, returned_sats,
                           charge_sats, pool_balance_after
                      FROM freetier_record_grant('$h_alice_live', 35)};
	is(sql_at($db, $t2, $settle), 't|35|15|0|10015',
		"$db: alice's live hold from src settles at 35 of 50, grant_id above every old one"
	);
	is(sql_at($db, $t2, $settle), 't|35|15|0|10015',
		"$db: settling it again replays the first result");
	is( sql($db, qq{SELECT state FROM freetier.holds WHERE hold_id = '$h_alice_live'}),
		'settled', "$db: the hold is settled");

	# A replayed payment_ref returns its first result and adds nothing.
	my $before = sql($db,
		q{SELECT sum(balance_sats), sum(head_seq) FROM freetier.pool_stripes WHERE pool = 'default'});
	my $ledger_count = sql($db, q{SELECT count(*) FROM freetier.ledger});
	is(sql_at($db, $t2, q{SELECT freetier_credit(1000, 'default', 'inv-1')}),
		'200', "$db: replaying payment_ref inv-1 returns its first result");
	is(sql_at($db, $t2, q{SELECT freetier_credit(333, 'side', 'inv-2')}),
		'41', "$db: replaying payment_ref inv-2 returns its first result");
	is( sql($db,
			q{SELECT sum(balance_sats), sum(head_seq) FROM freetier.pool_stripes WHERE pool = 'default'}),
		$before,
		"$db: the replay did not move pool default");
	is(sql($db, q{SELECT count(*) FROM freetier.ledger}),
		$ledger_count, "$db: the replays added no ledger entry");
	is(sql($db, q{SELECT count(*) FROM freetier.credits}),
		'2', "$db: the replays added no credit row");

	# New decides see the restored budgets, windows and live holds.
	# bob: budget 77, 40 settled, 20 live on side: 17 left.
	my $bob = sql_at($db, $t2,
		q{SELECT serve, absorb_sats, charge_sats, hold_id FROM freetier_decide('bob', 30)});
	my ($bob_serve, $bob_absorb, $bob_charge, $h_bob_new) = split(/\|/, $bob);
	is("$bob_serve|$bob_absorb|$bob_charge", 'partial|17|13',
		"$db: bob's decide sees budget 77 and his live hold: 17 free, 13 charged");
	is( sql_at(
			$db, $t2,
			qq{SELECT grant_id > $src_max_grant + 1, absorbed_sats, returned_sats, charge_sats
                 FROM freetier_record_grant('$h_bob_new', 17)}),
		't|17|0|0',
		"$db: bob's new hold settles with the next grant_id");
	is( sql($db,
			q{SELECT count(*) = count(DISTINCT grant_id) AND count(*) = 6 FROM freetier.grants}),
		't', "$db: six grants, no duplicate grant_id");

	# carol: tier premium (500), 60 settled on side.
	is( sql_at(
			$db, $t2,
			q{SELECT serve, absorb_sats, charge_sats FROM freetier_decide('carol', 100, 'side')}),
		'free|100|0',
		"$db: carol's decide on pool side is free (tier premium restored)");
	is( sql_at(
			$db, $t2,
			q{SELECT serve, absorb_sats, reason FROM freetier_decide('dave', 5)}),
		'gate|0|no_budget',
		"$db: dave is still gated");

	# A new payment_ref is credited at the restored credit_pct.
	is(sql_at($db, $t2, q{SELECT freetier_credit(100, 'default', 'inv-3')}),
		'20', "$db: a new payment_ref is credited at 20 %");
	is(sql_at($db, $t2, q{SELECT freetier_credit(100, 'side', 'inv-4')}),
		'12', "$db: pool side credits at 12.5 %");

	# A new pool and a new subject.
	sql_at($db, $t2, q{SELECT freetier_create_pool('third', 300, 50, '5 minutes', 1)});
	sql($db, q{SELECT freetier_set_tier('frank', 'premium')});
	is( sql_at(
			$db, $t2,
			q{SELECT serve, absorb_sats FROM freetier_decide('frank', 400, 'third')}),
		'partial|300',
		"$db: a new subject on a new pool gets what the pool holds");

	is( sql($db, $verify_sql),
		"default|19|t|\nside|10|t|\nthird|3|t|",
		"$db: every chain verifies after the new entries");
	is(sql($db, $all_ok_sql), 't',
		"$db: balances still equal the sum of ledger deltas");

	# Holds still expire: bob's from src, carol's and frank's new ones, and
	# acme's credit hold.
	is(sql_at($db, $t3, q{SELECT freetier_expire_holds()}),
		'4', "$db: freetier_expire_holds expires the four live holds");
	is(sql($db, q{SELECT count(*) FROM freetier.holds WHERE state = 'held'}),
		'0', "$db: no hold is left live");
	is( sql($db, $verify_sql),
		"default|19|t|\nside|12|t|\nthird|4|t|",
		"$db: every chain verifies after the expiries");
	is(sql($db, $all_ok_sql), 't',
		"$db: balances equal the sum of ledger deltas after the expiries");

	# The append-only triggers came back with the extension.
	my ($ret, $out, $err) = $node->psql($db,
		"\\set VERBOSITY verbose\nDELETE FROM freetier.ledger WHERE pool = 'third'");
	like($err, qr/ERROR:\s+55000: freetier\.ledger is append-only/,
		"$db: the ledger is still append-only");
	($ret, $out, $err) = $node->psql($db,
		"\\set VERBOSITY verbose\nUPDATE freetier.grants SET charge_sats = 0");
	like($err, qr/ERROR:\s+55000: freetier\.grants is append-only/,
		"$db: the grants are still append-only");
	return;
}

check_restored('dst');
check_restored('dst2');
check_restored('dst2j');

### The restored database, with its new work, can be dumped and restored again.

my $custom2 = "$tmp/dst2.dump";
$node->command_ok([ 'pg_dump', '-Fc', '-f', $custom2, 'dst2' ],
	'pg_dump -Fc of dst2 after its new work');
$node->safe_psql('postgres', 'CREATE DATABASE dst2b');
$node->command_ok([ 'pg_restore', '-d', 'dst2b', $custom2 ],
	'pg_restore of it into dst2b');
fingerprint_is('dst2b', fingerprint('dst2'), 'is exactly as in dst2');
is(sql('dst2b', $verify_sql), sql('dst2', $verify_sql),
	'dst2b: every chain verifies, as in dst2');
is( sql_at(
		'dst2b', $t3,
		q{SELECT serve, absorb_sats FROM freetier_decide('carol', 10, 'side')}),
	'free|10',
	'dst2b: a decide works');
is(sql('dst2b', $all_ok_sql), 't', 'dst2b: everything verifies after it');

### The same dump loaded twice doubles nothing, and says so.

$node->safe_psql('postgres', 'CREATE DATABASE dst3');
$node->command_ok(
	[ 'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', 'dst3', '-f', $plain ],
	'dst3: first load of the plain dump');
$node->command_checks_all(
	[ 'psql', '-X', '-q', '-d', 'dst3', '-f', $plain ],
	0,
	[],
	[
		qr/duplicate key value violates unique constraint "credits_pkey"/,
		qr/duplicate key value violates unique constraint "subjects_pkey"/,
		qr/duplicate key value violates unique constraint "holds_pkey"/,
		qr/duplicate key value violates unique constraint "grants_pkey"/,
		qr/duplicate key value violates unique constraint "ledger_pkey"/,
		qr/duplicate key value violates unique constraint "pools_pkey"/,
		qr/duplicate key value violates unique constraint "tiers_pkey"/,
	],
	'dst3: second load of the plain dump is refused table by table');
$node->command_checks_all(
	[ 'pg_restore', '-d', 'dst3', $custom ],
	1,
	[],
	[
		qr/duplicate key value violates unique constraint "ledger_pkey"/,
		qr/errors ignored on restore: \d+/,
	],
	'dst3: loading the custom dump on top fails loudly too');
fingerprint_is('dst3', $src_fp, 'after three loads is exactly as in src');
is(sql('dst3', $verify_sql), $src_verify,
	'dst3: every chain verifies, as in src');
is(sql('dst3', $all_ok_sql), 't', 'dst3: balances equal the sum of ledger deltas');
is( sql_at(
		'dst3', $t2,
		qq{SELECT grant_id > $src_max_grant, absorbed_sats, pool_balance_after
             FROM freetier_record_grant('$h_alice_live', 35)}),
	't|35|10015',
	'dst3: a live hold from src settles with a new grant_id');
is(sql('dst3', $all_ok_sql), 't', 'dst3: everything verifies after it');

# dst3 has moved on (one more grant, a changed tier budget); load the old
# dump into it again.  The rows that already exist are refused, loudly ...
sql('dst3', q{SELECT freetier_set_tier_budget('premium', 600)});
my $moved_on = fingerprint('dst3');
my (undef, undef, $reload_err) =
  $node->psql('dst3', slurp_file($plain), on_error_stop => 0);
like($reload_err, qr/duplicate key value violates unique constraint "ledger_pkey"/,
	'dst3: loading an older dump reports its duplicate ledger entries');
my $reloaded = fingerprint('dst3');
foreach my $name (qw(subjects holds grants credits ledger))
{
	is($reloaded->{$name}, $moved_on->{$name},
		"dst3: $name is unchanged by loading an older dump");
}

# ... nor are the pools, their stripes and tiers: their restore triggers replace only rows
# still exactly as CREATE EXTENSION made them.
is( sql('dst3',
		q{SELECT string_agg(pool || '=' || b || '/' || s, ' ' ORDER BY pool)
            FROM (SELECT pool, sum(balance_sats) AS b, sum(head_seq) AS s
                    FROM freetier.pool_stripes GROUP BY pool) x}
	),
	'default=10015/16 side=461/8',
	'dst3: loading an older dump does not rewind the pool rows');
is(sql('dst3', q{SELECT daily_budget_sats FROM freetier.tiers WHERE tier = 'premium'}),
	'600', 'dst3: loading an older dump does not rewind a tier budget');
is(sql('dst3', $all_ok_sql), 't',
	'dst3: every chain still verifies after loading an older dump');
my (undef, undef, $decide_err) = $node->psql('dst3',
	qq{SET freetier.test_now = '$t2';
SELECT serve FROM freetier_decide('carol', 10)});
is($decide_err, '', 'dst3: a decide still works after loading an older dump');

# ... nor is the grants sequence: the dump sets none, and the restored
# stripe rows only ever move it forward.  The next settle gets a new id.
is(sql('dst3', q{SELECT last_value FROM freetier.grant_ids}),
	'5', 'dst3: loading an older dump does not rewind the grants sequence');
is( sql_at(
		'dst3', $t2,
		q{SELECT grant_id, absorbed_sats
            FROM freetier_record_grant((SELECT hold_id FROM freetier_decide('erin', 7)), 7)}),
	'6|7',
	'dst3: the next settle after loading an older dump gets grant_id 6');

# A dump taken by 0.3 carries setval('freetier.grants_grant_id_seq', ...).
# Loaded onto the same database after its update to 0.4 and one more
# grant, that line finds no such sequence (0.4 renamed it): the sequence
# stays, and the next settle gets a new grant_id.
$node->safe_psql('postgres', 'CREATE DATABASE old03');
sql('old03', q{CREATE EXTENSION freetier VERSION '0.3'});
sql('old03', q{SELECT freetier_set_tier('olga', 'established')});
my $settle_olga = q{SELECT grant_id
  FROM freetier_record_grant((SELECT hold_id FROM freetier_decide('olga', 5)), 5)};
is(sql_at('old03', $t0, $settle_olga), '1', 'old03: a grant in 0.3');
$node->command_ok([ 'pg_dump', '-f', "$tmp/old03.sql", 'old03' ],
	'pg_dump (plain) of a 0.3 database');
like(slurp_file("$tmp/old03.sql"),
	qr/setval\('freetier\.grants_grant_id_seq', 1, true\)/,
	'the 0.3 dump sets the grants sequence');
sql('old03', q{ALTER EXTENSION freetier UPDATE});
is(sql_at('old03', $t0, $settle_olga), '2', 'old03: a grant after the update to 0.4');
my (undef, undef, $old03_err) =
  $node->psql('old03', slurp_file("$tmp/old03.sql"), on_error_stop => 0);
like($old03_err,
	qr/relation "freetier\.grants_grant_id_seq" does not exist/,
	'old03: the 0.3 dump\'s setval finds no sequence');
is(sql('old03', q{SELECT last_value FROM freetier.grant_ids}),
	'2', 'old03: loading the 0.3 dump does not rewind the grants sequence');
is(sql_at('old03', $t0, $settle_olga), '3', 'old03: the next grant is grant_id 3');

### A database that never changed freetier's defaults.

$node->safe_psql('postgres', 'CREATE DATABASE fresh');
sql('fresh', q{CREATE EXTENSION freetier});
my $fresh_fp = fingerprint('fresh');
like($fresh_fp->{ledger}, qr/^1\|/,
	'fresh: one ledger entry, the install-time seed');
$node->command_ok([ 'pg_dump', '-f', "$tmp/fresh.sql", 'fresh' ],
	'pg_dump (plain) of fresh');
$node->command_ok([ 'pg_dump', '-Fc', '-f', "$tmp/fresh.dump", 'fresh' ],
	'pg_dump -Fc of fresh');
$node->safe_psql('postgres', 'CREATE DATABASE fresh_plain');
$node->command_ok(
	[
		'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', 'fresh_plain', '-f',
		"$tmp/fresh.sql"
	],
	'psql restores the plain dump of fresh');
$node->safe_psql('postgres', 'CREATE DATABASE fresh_custom');
$node->command_ok([ 'pg_restore', '-d', 'fresh_custom', "$tmp/fresh.dump" ],
	'pg_restore restores the custom dump of fresh');

foreach my $db ('fresh_plain', 'fresh_custom')
{
	is(sql($db, q{SELECT count(*) FROM freetier.plans}), '4',
		"$db: the four default plans, once");
	fingerprint_is($db, $fresh_fp, 'is exactly as in fresh');
	is(sql($db, $verify_sql), "default|1|t|",
		"$db: the default pool's chain verifies");
	is( sql($db,
			q{SELECT pool, balance_sats, credit_pct, hold_ttl FROM freetier_pool_status('default')}),
		'default|10000|10|00:15:00',
		"$db: pool default has its defaults");
	sql($db, q{SELECT freetier_set_tier('zoe', 'established')});
	is( sql_at(
			$db, $t0,
			q{SELECT grant_id, absorbed_sats, returned_sats, pool_balance_after
                FROM freetier_record_grant((SELECT hold_id FROM freetier_decide('zoe', 60)), 40)}
		),
		'1|40|10|9960',
		"$db: decide and settle work, the first grant is grant_id 1");
	is(sql_at($db, $t0, q{SELECT freetier_credit(500, 'default', 'inv-z')}),
		'50', "$db: a credit works at the default 10 %");
	is(sql($db, $verify_sql), "default|4|t|",
		"$db: the chain verifies after the new entries");
	is(sql($db, $all_ok_sql), 't', "$db: the balance is the sum of ledger deltas");
}

# One grant, grant_id 1, restored: the sequence, never called in the new
# database, is moved past it too.
$node->command_ok([ 'pg_dump', '-Fc', '-f', "$tmp/one.dump", 'fresh_plain' ],
	'pg_dump -Fc of fresh_plain, with its one grant');
$node->safe_psql('postgres', 'CREATE DATABASE one_grant');
$node->command_ok([ 'pg_restore', '-d', 'one_grant', "$tmp/one.dump" ],
	'pg_restore of it into one_grant');
sql('one_grant', q{SELECT freetier_set_tier('yann', 'established')});
my (undef, $one_out, $one_err) = $node->psql('one_grant',
	qq{SET freetier.test_now = '$t0';
SELECT grant_id FROM freetier_record_grant((SELECT hold_id FROM freetier_decide('yann', 5)), 5)});
is($one_out, '2', 'one_grant: the next grant is grant_id 2');
is($one_err, '', 'one_grant: no duplicate key');

### A dump of a 0.2 database with a setting past 0.2.1's bounds.

# A dump's rows load into tables of the version they came from (pg_dump
# writes CREATE EXTENSION IF NOT EXISTS without a version, so 0.2.1 is made
# first here; 0.3 moved the pools' balances, and ALTER EXTENSION UPDATE
# follows the restore).  0.2.1's tables refuse a hold_ttl past 30 days: the
# pool's row is refused loudly, never carried into a database where every
# decide on that pool would fail.
$node->safe_psql('postgres', 'CREATE DATABASE old02');
sql('old02', q{CREATE EXTENSION freetier VERSION '0.2'});
sql('old02', q{SELECT freetier_create_pool('slow', 100)});
sql('old02', q{SELECT freetier_configure_pool('slow', hold_ttl => '45 days')});   # 0.2's SQL took it
$node->command_ok([ 'pg_dump', '-f', "$tmp/old02.sql", 'old02' ],
	'pg_dump (plain) of a 0.2 database');
$node->safe_psql('postgres', 'CREATE DATABASE new021');
sql('new021', q{CREATE EXTENSION freetier VERSION '0.2.1'});
my ($rc, $out, $err) = $node->psql('new021', undef,
	extra_params => [ '-X', '-q', '-f', "$tmp/old02.sql" ]);
like($err, qr/violates check constraint "pools_hold_ttl_check"/,
	'the restore refuses the 45-day hold_ttl');
is(sql('new021', q{SELECT extversion FROM pg_extension WHERE extname = 'freetier'}),
	'0.2.1', 'new021: the dump loaded into 0.2.1');
is(sql('new021', q{SELECT count(*) FROM freetier.pools WHERE hold_ttl > interval '30 days'}),
	'0', 'new021: no pool past the bound');

### The server log.

$node->stop;
my @bad = grep { /PANIC|TRAP:|terminated by signal|segmentation fault/i }
  split /\n/, slurp_file($node->logfile);
is(join("\n", @bad), '', 'no PANIC, TRAP or crashed backend in the server log');

done_testing();
