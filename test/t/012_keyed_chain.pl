
# Copyright: freetier authors.
#
# 012_keyed_chain.pl: keyed chains (src/chain_key.c, README "Keyed chains").
#
#   - an unkeyed install (freetier preloaded, no key) verifies as before;
#   - after a restart with freetier.chain_key_file, its chains with unkeyed
#     traffic are reported until freetier_seal_chains seals them (each at
#     its head), then verify; every new entry is keyed, and verifies;
#   - restarted without the key, verification of keyed entries (a
#     ledger, an archive, an anchor) is 55000, never ok; a sealed chain's
#     unkeyed entries verify as before;
#   - an insider without the key, triggers disabled, rewrites a keyed
#     pool's tail and head, a keyed account's tail and head, a sealed
#     account's tail and head, a keyed account's whole chain, and a keyed
#     plan's and a keyed tier's settings chains, with freetier's own
#     unkeyed hashes: with the key loaded again each of those chains is
#     reported, at the first entry the key does not vouch for, and an
#     anchor of a rewritten chain no longer holds; so is a chain whose seal
#     was deleted;
#   - freetier_seal_chains then seals no chain with a keyed entry and none
#     that does not verify (a server log line names each), and those stay
#     reported;
#     it does seal a chain with no keyed entry that verifies, a rewritten
#     one too (only anchors catch that);
#   - a keyed entry appended on top of an unkeyed one that follows a keyed
#     one (the server extends whatever head it finds) leaves that unkeyed
#     entry reported, and so does moving a pool's to the archive (an
#     account's checkpoint refuses a chain that does not verify: 55000);
#   - sealing waits for no lock: an entry appended meanwhile is keyed;
#   - an archive of keyed and unkeyed entries verifies, and so does a keyed
#     install dumped and restored;
#   - a key file inside the data directory, of the wrong length, readable
#     by others, a directory, or missing stops the server at start, the
#     reason in the log; a key file set without preloading freetier
#     makes chain writes 55000;
#   - SHOW and pg_settings show the path only, and the key's bytes (raw or
#     hex) are nowhere in the server log.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $keydir = PostgreSQL::Test::Utils::tempdir();

# A key file; the key's bytes are letters, so that any text showing them is found.
sub write_key
{
	my ($path, $bytes, $mode) = @_;
	open(my $fh, '>', $path) or die "cannot write $path: $!";
	binmode $fh;
	print $fh $bytes;
	close $fh;
	chmod $mode, $path or die "cannot chmod $path: $!";
}

my $key = join '', map { ('a' .. 'z')[ int(rand(26)) ] } 1 .. 32;
my $key_file = "$keydir/chain.key";
write_key($key_file, $key, 0600);

my $node = PostgreSQL::Test::Cluster->new('keyed');
$node->init;
$node->append_conf('postgresql.conf', "shared_preload_libraries = 'freetier'\nmax_prepared_transactions = 2");
$node->start;

sub sql
{
	my ($query) = @_;
	return $node->safe_psql('postgres', $query);
}

# The error of a query that must fail: its SQLSTATE and message.
sub error_of
{
	my ($query) = @_;
	my ($out, $err);
	$node->psql('postgres', "\\set VERBOSITY verbose\n$query", stdout => \$out, stderr => \$err);
	return $err;
}

# A setting of postgresql.conf, replacing any earlier line of it.
sub set_conf
{
	my ($name, $value) = @_;
	$node->adjust_conf('postgresql.conf', $name, undef);
	$node->append_conf('postgresql.conf', "$name = '$value'");
}

sub restart_with_key
{
	my ($file) = @_;
	set_conf('freetier.chain_key_file', $file);
	$node->restart;
}

my $verify_pools = q{SELECT pool || ' ' || ok || ' ' || coalesce(first_bad_entry::text, '-')
  FROM freetier_verify_ledger() ORDER BY pool};
my $verify_accounts = q{SELECT subject || ' ' || ok || ' ' || coalesce(first_bad_entry::text, '-')
  FROM freetier_verify_account_ledger() ORDER BY subject};
my $verify_plan = q{SELECT chain || ' ' || ok || ' ' || coalesce(first_bad_entry::text, '-')
  FROM freetier_verify_settings_ledger('plan:kp')};
my $verify_tier = q{SELECT chain || ' ' || ok || ' ' || coalesce(first_bad_entry::text, '-')
  FROM freetier_verify_settings_ledger('tier:kt')};

# Entries not keyed, but the install-time seed.
my $unkeyed = q{SELECT (SELECT count(*) FROM freetier.ledger
                         WHERE substr(hash, 1, 4) <> '\x66746b31'::bytea
                           AND NOT (seq = 1 AND kind = 'seed' AND created_at = '-infinity'))
                     + (SELECT count(*) FROM freetier.account_ledger
                         WHERE substr(hash, 1, 4) <> '\x66746b31'::bytea)};

# An unkeyed install, with traffic on a pool of one stripe and an account.
sql(q{CREATE EXTENSION freetier});
sql(q{SELECT freetier_create_pool('old', 1000, 10, '15 minutes', 1)});
sql(q{SELECT freetier_credit(500, 'old', 'old-1')});
sql(q{SELECT freetier_open_account('quiet')});
sql(q{SELECT freetier_add_credits('quiet', 40, 'quiet-1')});
is(sql($verify_pools), "default true -\nold true -", 'unkeyed install: pools verify');
is(sql($verify_accounts), "quiet true -", 'unkeyed install: accounts verify');

# Keying it: until sealed, a chain whose head is unkeyed is not vouched for.
restart_with_key($key_file);
is(sql(q{SHOW freetier.chain_key_file}), $key_file, 'SHOW shows the path');
is(sql($verify_pools), "default true -\nold false 1",
	'with the key: an unkeyed chain is reported until sealed (the install seed is not)');
is(sql($verify_accounts), "quiet false 1", 'with the key: an unkeyed account is reported until sealed');
# Sealing takes no lock: a keyed entry appended meanwhile (its transaction
# prepared, its row locks held) vouches for its chain itself.
sql(q{BEGIN; SELECT freetier_credit(100, 'old', 'old-2'); PREPARE TRANSACTION 'during_seal'});
is(sql(q{SELECT freetier_seal_chains()}), '3', 'every chain with no keyed entry (that verifies) is sealed');
sql(q{COMMIT PREPARED 'during_seal'});
is(sql(q{SELECT string_agg(chain || ' ' || seq, ', ' ORDER BY chain) FROM freetier.chain_seals}),
	'account:quiet 2, pool:0:default 1, pool:0:old 2', 'each sealed at its head as it was when sealing read it');
is(sql($verify_pools), "default true -\nold true -", 'sealed: pools verify');
is(sql($verify_accounts), "quiet true -", 'sealed: accounts verify');
sql(q{DELETE FROM freetier.chain_seals WHERE chain = 'account:quiet'});
is(sql($verify_accounts), "quiet false 1", 'a seal deleted: its chain is reported');
is(sql(q{SELECT freetier_seal_chains()}), '2', 'sealing again seals every chain with no keyed entry (old has one now)');
is(sql($verify_accounts), "quiet true -", 'sealed again: accounts verify');

# New traffic is keyed.
sql(q{SELECT freetier_create_pool('p1', 1000, 10, '15 minutes', 1)});
sql(q{SELECT freetier_credit(200, 'p1', 'p1-1')});
sql(q{SELECT freetier_credit(300, 'p1', 'p1-2')});
sql(q{SELECT freetier_open_account('fresh')});
sql(q{SELECT freetier_add_credits('fresh', 70, 'fresh-1')});
sql(q{SELECT freetier_open_account('kept')});
sql(q{SELECT freetier_add_credits('kept', 10, 'kept-1')});
is(sql(q{SELECT count(*) FROM freetier.ledger WHERE pool = 'p1'
          AND substr(hash, 1, 4) = '\x66746b31'::bytea}), '3', 'new pool entries are keyed');
is(sql(q{SELECT count(*) FROM freetier.account_ledger WHERE subject = 'fresh'
          AND substr(hash, 1, 4) = '\x66746b31'::bytea}), '2', 'new account entries are keyed');
is(sql($verify_pools), "default true -\nold true -\np1 true -", 'keyed entries verify');
is(sql($verify_accounts), "fresh true -\nkept true -\nquiet true -", 'keyed accounts verify');
sql(q{SELECT freetier_define_plan('kp', 'monthly', 10)});
is(sql(q{SELECT count(*) FROM freetier.settings_ledger WHERE chain = 'plan:kp'
          AND substr(hash, 1, 4) = '\x66746b31'::bytea}), '1', 'a new plan\'s settings entry is keyed');
is(sql($verify_plan), "plan:kp true -", 'a keyed settings chain verifies');
sql(q{SELECT freetier_set_tier_budget('kt', 10)});
sql(q{SELECT freetier_set_tier_budget('kt', 20)});
is(sql(q{SELECT count(*) FROM freetier.settings_ledger WHERE chain = 'tier:kt'
          AND substr(hash, 1, 4) = '\x66746b31'::bytea}), '2', 'a tier\'s settings entries are keyed');
is(sql($verify_tier), "tier:kt true -", 'a keyed tier chain verifies');
# An archive: its keyed and unkeyed entries verify, vouched for by the
# keyed checkpoint the chain now starts at.
sql(q{SELECT count(*) FROM freetier_checkpoint_ledger('old')});
is(sql(q{SELECT archived FROM freetier_archive_ledger('old')}), '3', 'old: three entries archived');
is(sql(q{SELECT ok FROM freetier_verify_ledger_archive('old')}), 't', 'the archive verifies');
is(sql($verify_pools), "default true -\nold true -\np1 true -", 'after the archive move, too');
my $anchor = sql(q{SELECT seq || ',' || head_hash FROM freetier_ledger_anchor() WHERE chain = 'pool:0:p1'});
my ($anchor_seq, $anchor_hash) = split /,/, $anchor;
is(sql("SELECT freetier_verify_anchor('pool:0:p1', $anchor_seq, '$anchor_hash')"), 't',
	'an anchor of a keyed chain holds');

# A dump restored (CREATE EXTENSION, under the key, makes the install-time
# seed again, unkeyed as in every install; the seals are carried) verifies
# with the key.
my $dump = "$keydir/keyed.dump";
$node->command_ok([ 'pg_dump', '-Fc', '-f', $dump, 'postgres' ], 'pg_dump -Fc of a keyed install');
sql(q{CREATE DATABASE restored});
$node->command_ok([ 'pg_restore', '-d', 'restored', $dump ], 'pg_restore of it');
is($node->safe_psql('restored', qq{SELECT count(*) FROM freetier.chain_seals; $verify_pools; $verify_accounts}),
	"3\ndefault true -\nold true -\np1 true -\nfresh true -\nkept true -\nquiet true -",
	'restored: the seals are there, and every chain verifies');
# The accounts' archive too (in the restored copy): quiet's unkeyed entries
# are vouched for by the keyed checkpoint its chain now starts at.
is($node->safe_psql('restored', q{SELECT count(*) FROM freetier_checkpoint_account_ledger('quiet');
  SELECT archived > 0 FROM freetier_archive_account_ledger('quiet');
  SELECT ok FROM freetier_verify_account_ledger_archive('quiet');
  SELECT ok FROM freetier_verify_account_ledger('quiet')}),
	"1\nt\nt\nt", 'restored: an account archive of unkeyed entries verifies, vouched for by its keyed checkpoint');

# Without the key, what is keyed cannot be checked: 55000, never ok.
restart_with_key('');
like(error_of(q{SELECT * FROM freetier_verify_ledger('old')}), qr/ERROR:  55000: no chain key is loaded\nDETAIL:  Chain "pool:0:old" has keyed entries \(entry 4\)\.\nHINT:  Set freetier.chain_key_file/,
	'no key: a pool with keyed entries is 55000');
like(error_of(q{SELECT * FROM freetier_verify_ledger_archive('old')}),
	qr/ERROR:  55000: no chain key is loaded\nDETAIL:  Chain "pool:0:old" has keyed entries \(entry 3\)\./,
	'no key: an archive with keyed entries is 55000');
like(error_of("SELECT freetier_verify_anchor('pool:0:p1', $anchor_seq, '$anchor_hash')"),
	qr/ERROR:  55000: no chain key is loaded/, 'no key: an anchor of a keyed chain is 55000');
like(error_of(q{SELECT * FROM freetier_verify_account_ledger('kept')}),
	qr/ERROR:  55000: no chain key is loaded\nDETAIL:  Chain "account:kept" has keyed entries \(entry 1\)\./,
	'no key: an account with keyed entries is 55000');
is(sql(q{SELECT ok FROM freetier_verify_account_ledger('quiet')}), 't',
	'no key: a sealed account (its entries unkeyed) verifies unkeyed');
like(error_of(q{SELECT freetier_seal_chains()}), qr/ERROR:  55000: no chain key is loaded/,
	'no key: sealing is 55000');

# The insider, without the key: each rewrite hashed by freetier itself, unkeyed.
sql(q{ALTER TABLE freetier.ledger DISABLE TRIGGER USER;
      ALTER TABLE freetier.account_ledger DISABLE TRIGGER USER;
      ALTER TABLE freetier.pool_stripes DISABLE TRIGGER USER});
# p1: its last (keyed) credit replaced by a bigger one.
sql(q{DELETE FROM freetier.ledger WHERE pool = 'p1' AND seq = 3;
      UPDATE freetier.pool_stripes s SET head_seq = 2, head_hash = l.hash, balance_sats = l.balance_after
        FROM freetier.ledger l WHERE s.pool = 'p1' AND l.pool = 'p1' AND l.seq = 2;
      SELECT freetier_credit(90000, 'p1', 'p1-forged')});
# kept (keyed): its last (keyed) purchase replaced by a bigger one.
sql(q{DELETE FROM freetier.account_ledger WHERE subject = 'kept' AND seq = 2;
      UPDATE freetier.accounts a SET head_seq = 1, head_hash = l.hash, purchased_balance = 0, lifetime_added = 0
        FROM freetier.account_ledger l WHERE a.subject = 'kept' AND l.subject = 'kept' AND l.seq = 1;
      SELECT freetier_add_credits('kept', 5000, 'kept-forged')});
# quiet (sealed, no keyed entry): its last purchase replaced by a bigger one.
sql(q{DELETE FROM freetier.account_ledger WHERE subject = 'quiet' AND seq = 2;
      UPDATE freetier.accounts a SET head_seq = 1, head_hash = l.hash, purchased_balance = 0, lifetime_added = 0
        FROM freetier.account_ledger l WHERE a.subject = 'quiet' AND l.subject = 'quiet' AND l.seq = 1;
      SELECT freetier_add_credits('quiet', 4000, 'quiet-forged')});
# fresh (keyed from its first entry): its whole chain made again.
sql(q{DELETE FROM freetier.account_ledger WHERE subject = 'fresh';
      DELETE FROM freetier.accounts WHERE subject = 'fresh';
      SELECT freetier_open_account('fresh');
      SELECT freetier_add_credits('fresh', 7000, 'fresh-forged')});
# kp (keyed): its allowance set again by freetier, its chain made anew.
sql(q{ALTER TABLE freetier.settings_ledger DISABLE TRIGGER USER;
      DELETE FROM freetier.settings_ledger WHERE chain = 'plan:kp';
      DELETE FROM freetier.plans WHERE plan = 'kp';
      SELECT freetier_define_plan('kp', 'monthly', 100000);
      ALTER TABLE freetier.settings_ledger ENABLE TRIGGER USER});
# kt (keyed): its last budget replaced by a bigger one, hashed by freetier.
sql(q{ALTER TABLE freetier.settings_ledger DISABLE TRIGGER USER;
      DELETE FROM freetier.settings_ledger WHERE chain = 'tier:kt' AND seq = 2;
      UPDATE freetier.tiers t SET head_seq = 1, head_hash = l.hash, daily_budget_sats = 10
        FROM freetier.settings_ledger l WHERE t.tier = 'kt' AND l.chain = 'tier:kt' AND l.seq = 1;
      SELECT freetier_set_tier_budget('kt', 100000);
      ALTER TABLE freetier.settings_ledger ENABLE TRIGGER USER});
# old's seal, which its keyed entry since has made needless: still vouched for.
sql(q{DELETE FROM freetier.chain_seals WHERE chain = 'pool:0:old'});
# old (keyed, starting at a keyed checkpoint): checkpointed and archived
# by the server without the key, so that its chain now starts at an
# unkeyed checkpoint that follows a keyed entry.
sql(q{SELECT count(*) FROM freetier_checkpoint_ledger('old');
      SELECT archived FROM freetier_archive_ledger('old')});
sql(q{ALTER TABLE freetier.ledger ENABLE TRIGGER USER;
      ALTER TABLE freetier.account_ledger ENABLE TRIGGER USER;
      ALTER TABLE freetier.pool_stripes ENABLE TRIGGER USER});

restart_with_key($key_file);
is(sql($verify_pools), "default true -\nold false 5\np1 false 3",
	'key loaded again: the rewritten tail of a keyed pool is reported, and an unkeyed checkpoint after a keyed entry');
is(sql($verify_accounts), "fresh false 1\nkept false 2\nquiet false 1",
	'key loaded again: a rewritten keyed account, a rewritten sealed one and a remade keyed one are reported');
is(sql("SELECT freetier_verify_anchor('pool:0:p1', $anchor_seq, '$anchor_hash')"), 'f',
	'an anchor of the rewritten chain no longer holds');
is(sql($verify_plan), "plan:kp false 1", 'key loaded again: a remade keyed plan chain is reported');
is(sql($verify_tier), "tier:kt false 2", 'key loaded again: the rewritten tail of a keyed tier chain is reported');

# Sealing does not vouch for what the key would not: p1, kept and kt have
# keyed entries and an unkeyed one after them, old an unkeyed checkpoint
# after a keyed entry; kp's row is edited (an unkeyed chain that does not
# verify).  Each is skipped with a line in the server log, the others
# sealed.  fresh and quiet, rewritten whole or after their seal, have no
# keyed entry to tell them from an install's before the key: they verify,
# and are sealed (the operator checks anchors before sealing).
sql(q{ALTER TABLE freetier.plans DISABLE TRIGGER USER;
      UPDATE freetier.plans SET allowance = 7 WHERE plan = 'kp';
      ALTER TABLE freetier.plans ENABLE TRIGGER USER});
is(sql($verify_plan), "plan:kp false -", 'an edited plan row is reported');
my $seal_log_offset = -s $node->logfile;
is(sql(q{SELECT freetier_seal_chains()}), '3',
	'sealing a tampered install: only the chains with no keyed entry that verify are sealed');
my $seal_err = slurp_file($node->logfile, $seal_log_offset);
like($seal_err, qr/LOG:  freetier: chain "pool:0:p1" not sealed: it failed verification, first bad entry 3\n/,
	'a keyed pool with an unkeyed entry after a keyed one is not sealed, and a line in the server log says so');
like($seal_err, qr/LOG:  freetier: chain "pool:0:old" not sealed: it failed verification, first bad entry 5\n/,
	'nor one that starts at an unkeyed checkpoint after a keyed entry');
like($seal_err, qr/LOG:  freetier: chain "account:kept" not sealed: it failed verification, first bad entry 2\n/,
	'nor a keyed account');
like($seal_err, qr/LOG:  freetier: chain "tier:kt" not sealed: it failed verification, first bad entry 2\n/,
	'nor a keyed tier chain');
like($seal_err, qr/LOG:  freetier: chain "plan:kp" not sealed: it failed verification, its row does not match its chain\n/,
	'nor an unkeyed chain that does not verify');
is(sql(q{SELECT string_agg(chain || ' ' || seq, ', ' ORDER BY chain) FROM freetier.chain_seals}),
	'account:fresh 2, account:quiet 2, pool:0:default 1',
	'no seal for a chain with a keyed entry, nor for one that does not verify');
is(sql($verify_pools), "default true -\nold false 5\np1 false 3", 'sealed: the keyed pool is still reported');
is(sql($verify_accounts), "fresh true -\nkept false 2\nquiet true -",
	'sealed: the keyed account is still reported (the unkeyed ones, sealed, verify)');
is(sql($verify_tier), "tier:kt false 2", 'sealed: the keyed tier chain is still reported');

# Legitimate keyed traffic on top (the server extends the head it finds)
# does not launder the unkeyed entries after keyed ones.
sql(q{SELECT freetier_credit(100, 'p1', 'p1-after');
      SELECT freetier_credit(100, 'old', 'old-after');
      SELECT freetier_add_credits('kept', 1, 'kept-after');
      SELECT freetier_set_tier_budget('kt', 30)});
is(sql(q{SELECT (SELECT substr(hash, 1, 4) = '\x66746b31'::bytea FROM freetier.ledger WHERE pool = 'p1' AND seq = 4)
            AND (SELECT substr(hash, 1, 4) = '\x66746b31'::bytea FROM freetier.account_ledger WHERE subject = 'kept' AND seq = 3)
            AND (SELECT substr(hash, 1, 4) = '\x66746b31'::bytea FROM freetier.settings_ledger WHERE chain = 'tier:kt' AND seq = 3)}),
	't', 'the entries appended on top are keyed');
is(sql($verify_pools), "default true -\nold false 5\np1 false 3",
	'a keyed entry on top: the unkeyed entry after a keyed one in a pool is still reported, and the unkeyed checkpoint');
is(sql($verify_accounts), "fresh true -\nkept false 2\nquiet true -",
	'a keyed entry on top: the unkeyed entry after a keyed one in an account is still reported');
is(sql($verify_tier), "tier:kt false 2",
	'a keyed entry on top: the unkeyed entry after a keyed one in a tier chain is still reported');
is(sql(q{SELECT freetier_seal_chains(); SELECT count(*) FROM freetier.chain_seals
          WHERE chain IN ('pool:0:p1', 'account:kept', 'tier:kt')}), "3\n0",
	'sealing again seals none of them');
# Moving the entries to the archive: the live chain starts at a keyed
# checkpoint, and the archive reports the unkeyed entry after keyed ones.
sql(q{SELECT count(*) FROM freetier_checkpoint_ledger('p1')});
is(sql(q{SELECT archived FROM freetier_archive_ledger('p1')}), '4', 'p1: four entries archived');
is(sql(q{SELECT ok || ' ' || coalesce(first_bad_entry::text, '-') FROM freetier_verify_ledger_archive('p1')}),
	'false 3', 'archived: the unkeyed entry after keyed ones is reported in the archive');
# An account's checkpoint refuses a chain that does not verify (55000), so
# the rewritten account is never carried on to a checkpoint or archive.
like(error_of(q{SELECT count(*) FROM freetier_checkpoint_account_ledger('kept')}),
	qr/ERROR:  55000: account "kept" does not verify against its chain/,
	'an account\'s checkpoint refuses the rewritten chain (55000)');
is(sql(q{SELECT ok || ' ' || coalesce(first_bad_entry::text, '-') FROM freetier_verify_account_ledger('kept')}),
	'false 2', 'and it is still reported at the same entry');

# Nothing shows the key.
is(sql(q{SELECT setting FROM pg_settings WHERE name = 'freetier.chain_key_file'}), $key_file,
	'pg_settings shows the path');
my $settings = sql(q{SELECT string_agg(name || '=' || coalesce(setting, '') || coalesce(reset_val, '')
                                      || coalesce(boot_val, ''), ' ') FROM pg_settings});
ok(index($settings, $key) < 0 && index($settings, unpack('H*', $key)) < 0, 'no setting shows the key');

# Key files that stop the server at start.
$node->stop;
my @refused = (
	[ 'inside the data directory', $node->data_dir . '/chain.key', $key, 0600,
		qr/chain key file ".*chain.key" is inside the data directory/ ],
	[ 'of the wrong length', "$keydir/short.key", substr($key, 0, 31), 0600,
		qr/must hold exactly 32 bytes\n.*DETAIL:  It holds 31 bytes\./ ],
	[ 'readable by others', "$keydir/open.key", $key, 0644,
		qr/has group or world access/ ],
	[ 'that is a directory', $keydir, undef, 0,
		qr/chain key file ".*" is not a regular file/ ],
	[ 'missing', "$keydir/missing.key", undef, 0,
		qr/could not open chain key file ".*missing.key": No such file or directory/ ]);
for my $case (@refused)
{
	my ($what, $path, $bytes, $mode, $message) = @$case;
	write_key($path, $bytes, $mode) if defined $bytes;
	set_conf('freetier.chain_key_file', $path);
	my $offset = -s $node->logfile;
	ok(!$node->start(fail_ok => 1), "a key file $what: the server does not start");
	like(slurp_file($node->logfile, $offset), $message, "a key file $what: the log says why");
}
unlink $node->data_dir . '/chain.key';

# A key file named, but freetier not preloaded: no chain is written unkeyed.
set_conf('freetier.chain_key_file', $key_file);
set_conf('shared_preload_libraries', '');
$node->start;
like(error_of(q{SELECT freetier_credit(1000, 'p1', 'not-preloaded')}),
	qr/ERROR:  55000: freetier.chain_key_file is set, but freetier was not loaded at server start/,
	'a key file without preloading: a chain write is 55000');
$node->stop;

my $log = slurp_file($node->logfile);
ok(index($log, $key) < 0 && index($log, unpack('H*', $key)) < 0, 'the key is nowhere in the server log');

done_testing();
