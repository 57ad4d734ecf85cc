-- Settings in the chains (0.4): a pool's credit_pct, hold_ttl and
-- max_hold_ttl, and an account's anniversary and period start, are chained
-- by the setters, and verification compares the stored rows with the
-- chained values.  Each edit of a stored setting, made as a superuser with
-- the triggers off and rolled back, is reported; a setter called with a
-- bad value writes no entry; the chained settings survive a checkpoint and
-- the archive move; requests write no settings entry.
SET timezone = 'UTC';
\set SHOW_CONTEXT never
DROP EXTENSION freetier;
CREATE EXTENSION freetier;
SET freetier.test_now = '2026-01-10 00:00:00+00';

CREATE TEMP VIEW pool_settings AS
    SELECT pool, stripe, seq, kind, delta_sats, balance_after, payment_ref
      FROM freetier.ledger WHERE kind = 'settings' ORDER BY pool, seq;
CREATE TEMP VIEW account_settings AS
    SELECT subject, seq, kind, bucket, delta, balance_after, ref
      FROM freetier.account_ledger WHERE kind = 'settings' ORDER BY subject, seq;

------------------------------------------------------------------------------
-- Pools
------------------------------------------------------------------------------

-- The install's pool and a pool created with the defaults have the
-- settings a chain with no settings entry has: no entry.
SELECT freetier_create_pool('plain', 100, stripes => 2);
-- Other settings are a settings entry on stripe 0, after the seeds.
SELECT freetier_create_pool('side', 1000, 12.5, '1 hour', 2, '2 days');
SELECT * FROM pool_settings;
-- Each setting configure_pool changes is an entry with all three values ...
SELECT freetier_configure_pool('side', credit_pct => 20);
SELECT freetier_configure_pool('side', hold_ttl => '1 day');
SELECT freetier_configure_pool('side', max_hold_ttl => '3 days');
SELECT freetier_configure_pool('plain', hold_ttl => '24 hours');
-- ... but setting the chained value again, the stripes or the low-water
-- mark writes none.
SELECT freetier_configure_pool('side', credit_pct => 20, stripes => 3, low_water_sats => 50);
SELECT * FROM pool_settings;
SELECT pool, credit_pct, hold_ttl, max_hold_ttl, stripes, low_water_sats
  FROM freetier.pools ORDER BY pool;
SELECT * FROM freetier_verify_ledger();

-- Requests write no settings entry; a settings entry moves nothing, so the
-- balance is still the sum of the entries.
SELECT freetier_set_tier('ann', 'elite');
SELECT absorb_sats FROM freetier_decide('ann', 30, 'side');
SELECT freetier_credit(1000, 'side', 'inv-1');
SELECT count(*) AS settings_entries FROM freetier.ledger WHERE kind = 'settings';
SELECT (SELECT sum(balance_sats) FROM freetier.pool_stripes WHERE pool = 'side') AS balance,
       freetier_balance_at('side', freetier.clock()) AS from_ledger;

-- A setter called with a bad value is an error and writes no entry.
CREATE TEMP TABLE before AS SELECT count(*) AS n FROM freetier.ledger;
SELECT freetier_configure_pool('side', credit_pct => 101);
SELECT freetier_configure_pool('side', hold_ttl => '-1 hour');
SELECT freetier_configure_pool('side', max_hold_ttl => '31 days');
SELECT freetier_configure_pool('nowhere', credit_pct => 5);
SELECT freetier_create_pool('bad', 100, 10, '1 hour', 2, '1 month');
SELECT (SELECT count(*) FROM freetier.ledger) - n AS entries_written FROM before;
SELECT pool, credit_pct, hold_ttl, max_hold_ttl FROM freetier.pools WHERE pool = 'side';

-- An edit of a stored setting made outside the setters is reported: the
-- pool is not ok, with no bad entry (the chain itself is whole), and the
-- other pools stay ok.
SET session_replication_role = replica;
CREATE FUNCTION pg_temp.tampered(edit text) RETURNS TABLE (pool text, ok boolean, first_bad_entry bigint)
    LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE edit;
    RETURN QUERY SELECT v.pool, v.ok, v.first_bad_entry FROM freetier_verify_ledger() v
                  WHERE NOT v.ok;
END $$;
BEGIN;
SELECT * FROM pg_temp.tampered($$UPDATE freetier.pools SET credit_pct = 90 WHERE pool = 'side'$$);
ROLLBACK;
BEGIN;
SELECT * FROM pg_temp.tampered($$UPDATE freetier.pools SET hold_ttl = '30 days' WHERE pool = 'side'$$);
ROLLBACK;
BEGIN;
SELECT * FROM pg_temp.tampered($$UPDATE freetier.pools SET max_hold_ttl = '30 days' WHERE pool = 'side'$$);
ROLLBACK;
-- a pool at the defaults, which has no settings entry
BEGIN;
SELECT * FROM pg_temp.tampered($$UPDATE freetier.pools SET credit_pct = 50 WHERE pool = 'default'$$);
ROLLBACK;
-- '1 day' is not '24 hours' (a day can be 23 or 25 hours long)
BEGIN;
SELECT * FROM pg_temp.tampered($$UPDATE freetier.pools SET hold_ttl = '1 day' WHERE pool = 'plain'$$);
ROLLBACK;
-- the entry edited too: the chain breaks there
BEGIN;
ALTER TABLE freetier.ledger DISABLE TRIGGER ledger_append_only;
SELECT * FROM pg_temp.tampered($$UPDATE freetier.pools SET credit_pct = 90 WHERE pool = 'side';
    UPDATE freetier.ledger SET payment_ref = replace(payment_ref, '"credit_pct": 20', '"credit_pct": 90')
     WHERE pool = 'side' AND kind = 'settings' AND payment_ref LIKE '%"credit_pct": 20%'$$);
ROLLBACK;
-- A setter never chains such an edit: the settings it does not change
-- come from the chain, and the edit is put back.
BEGIN;
UPDATE freetier.pools SET credit_pct = 90 WHERE pool = 'side';
SELECT freetier_configure_pool('side', hold_ttl => '2 hours');
SELECT seq, payment_ref FROM freetier.ledger
 WHERE pool = 'side' AND kind = 'settings' ORDER BY seq DESC LIMIT 1;
SELECT credit_pct, hold_ttl FROM freetier.pools WHERE pool = 'side';
SELECT pool, ok FROM freetier_verify_ledger('side');
ROLLBACK;
RESET session_replication_role;
SELECT * FROM freetier_verify_ledger();

-- Checkpoints and the archive: a checkpoint on stripe 0 carries the chained
-- settings on, so verification still knows them once the settings entries
-- before it are archived, and once the archive is dropped.
SELECT stripe, seq FROM freetier_checkpoint_ledger('side') WHERE stripe = 0;
SELECT stripe, kind, payment_ref FROM freetier.ledger
 WHERE pool = 'side' AND stripe = 0 AND kind = 'checkpoint';
SELECT stripe, archived FROM freetier_archive_ledger('side') WHERE stripe = 0;
SELECT count(*) AS settings_left_in_ledger FROM freetier.ledger WHERE pool = 'side' AND kind = 'settings';
SELECT * FROM freetier_verify_ledger('side');
SELECT * FROM freetier_verify_ledger_archive('side');
SELECT freetier_drop_ledger_archive('side') > 0 AS dropped;
SELECT * FROM freetier_verify_ledger('side');
SET session_replication_role = replica;
BEGIN;
SELECT * FROM pg_temp.tampered($$UPDATE freetier.pools SET hold_ttl = '2 hours' WHERE pool = 'side'$$);
ROLLBACK;
RESET session_replication_role;
-- A change after the checkpoint is an entry again; the next checkpoint
-- carries it.
SELECT freetier_configure_pool('side', credit_pct => 7.5);
SELECT stripe, seq FROM freetier_checkpoint_ledger('side') WHERE stripe = 0;
SELECT seq, kind, payment_ref FROM freetier.ledger
 WHERE pool = 'side' AND stripe = 0 AND kind IN ('settings', 'checkpoint') ORDER BY seq;
SELECT * FROM freetier_verify_ledger('side');

------------------------------------------------------------------------------
-- Accounts
------------------------------------------------------------------------------

-- Opening sets the anniversary and the period start to the open entry's
-- instant: no settings entry.
SELECT subject, plan, anniversary FROM freetier_open_account('ava', 'core');
SELECT subject, plan, anniversary FROM freetier_open_account('bea', 'pro');
-- From lifetime to monthly the anniversary moves to now: an entry.
SET freetier.test_now = '2026-01-20 00:00:00+00';
SELECT * FROM freetier_set_plan('ava', 'pro');
-- Between monthly plans nothing moves: no entry.
SELECT * FROM freetier_set_plan('ava', 'max');
-- An import sets both: an entry, after the imported use.
SELECT freetier_import_account('cid', 'pro', '2025-12-05 00:00:00+00',
                               '2026-01-05 00:00:00+00', 7, 0, 'imp-cid');
SELECT * FROM account_settings;
SELECT subject, plan, anniversary, period_start, period_used
  FROM freetier.accounts ORDER BY subject;
SELECT * FROM freetier_verify_account_ledger();

-- A setter called with a bad value is an error and writes no entry.
CREATE TEMP TABLE before_acc AS SELECT count(*) AS n FROM freetier.account_ledger;
SELECT * FROM freetier_set_plan('ava', 'no-such-plan');
SELECT * FROM freetier_set_plan('nobody', 'pro');
SELECT freetier_import_account('dee', 'pro', '2025-12-05 00:00:00+00',
                               '2026-01-06 00:00:00+00', 0, 0, 'imp-dee');
SELECT (SELECT count(*) FROM freetier.account_ledger) - n AS entries_written FROM before_acc;

-- Spends, and months later: a period that started with nothing used is a
-- rollover with no entry; one with use is a rollover entry.
SELECT ok FROM freetier_spend_credits('bea', 5, 'api');
SET freetier.test_now = '2026-03-15 00:00:00+00';
SELECT ok FROM freetier_spend_credits('ava', 3, 'api');
SELECT ok FROM freetier_spend_credits('bea', 4, 'api');
SELECT subject, seq, kind, delta, created_at FROM freetier.account_ledger
 WHERE subject IN ('ava', 'bea') AND kind IN ('spend', 'rollover') ORDER BY subject, seq;
SELECT subject, anniversary, period_start, period_used FROM freetier.accounts
 WHERE subject IN ('ava', 'bea') ORDER BY subject;
SELECT * FROM freetier_verify_account_ledger();

-- Edits outside the setters are reported.
CREATE FUNCTION pg_temp.tampered_account(edit text) RETURNS TABLE (subject text, ok boolean, first_bad_entry bigint)
    LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE edit;
    RETURN QUERY SELECT v.subject, v.ok, v.first_bad_entry FROM freetier_verify_account_ledger() v
                  WHERE NOT v.ok;
END $$;
SET session_replication_role = replica;
-- the issue's example: a fresh period from now
BEGIN;
SELECT * FROM pg_temp.tampered_account($$UPDATE freetier.accounts SET period_start = freetier.clock() WHERE subject = 'bea'$$);
ROLLBACK;
-- the anniversary moved
BEGIN;
SELECT * FROM pg_temp.tampered_account($$UPDATE freetier.accounts SET anniversary = '2026-01-11 00:00:00+00' WHERE subject = 'bea'$$);
ROLLBACK;
-- a period start moved back, before the period of the spends in it: to
-- the chained one, or to a later one
BEGIN;
SELECT * FROM pg_temp.tampered_account($$UPDATE freetier.accounts SET period_start = '2026-01-20 00:00:00+00' WHERE subject = 'ava'$$);
ROLLBACK;
BEGIN;
SELECT * FROM pg_temp.tampered_account($$UPDATE freetier.accounts SET period_start = '2026-02-10 00:00:00+00' WHERE subject = 'bea'$$);
ROLLBACK;
-- a period that has not begun
BEGIN;
SELECT * FROM pg_temp.tampered_account($$UPDATE freetier.accounts SET period_start = '2026-04-10 00:00:00+00' WHERE subject = 'bea'$$);
ROLLBACK;
-- before the chained start
BEGIN;
SELECT * FROM pg_temp.tampered_account($$UPDATE freetier.accounts SET period_start = '2025-12-05 00:00:00+00' WHERE subject = 'cid'$$);
ROLLBACK;
-- the anniversary and period start of an imported account
BEGIN;
SELECT * FROM pg_temp.tampered_account($$UPDATE freetier.accounts SET anniversary = '2025-12-06 00:00:00+00', period_start = '2026-03-06 00:00:00+00' WHERE subject = 'cid'$$);
ROLLBACK;
-- set_plan refuses to chain over an edit (55000), and writes nothing
BEGIN;
UPDATE freetier.accounts SET period_start = '2026-01-20 00:00:00+00' WHERE subject = 'ava';
SELECT * FROM freetier_set_plan('ava', 'core');
ROLLBACK;
BEGIN;
UPDATE freetier.accounts SET anniversary = '2026-01-11 00:00:00+00' WHERE subject = 'bea';
SAVEPOINT s;
SELECT * FROM freetier_set_plan('bea', 'max');
ROLLBACK TO s;
SELECT count(*) AS bea_entries FROM freetier.account_ledger WHERE subject = 'bea';
ROLLBACK;
RESET session_replication_role;
SELECT * FROM freetier_verify_account_ledger();

-- An account's checkpoint carries its dates, so that they stay chained once
-- the entries before it (its open entry among them) are archived: dee's
-- chain starts at the checkpoint, verifies, and an edit of either date is
-- still reported.
SELECT count(*) FROM freetier_open_account('dee', 'pro');
SELECT seq IS NOT NULL AS checkpointed FROM freetier_checkpoint_account_ledger('dee');
SELECT checkpoint_seq, archived FROM freetier_archive_account_ledger('dee');
SELECT min(seq) AS first_seq, pg_catalog.count(*) FILTER (WHERE kind = 'open') AS open_entries
  FROM freetier.account_ledger WHERE subject = 'dee';
SELECT * FROM freetier_verify_account_ledger('dee');
SET session_replication_role = replica;
BEGIN;
SELECT * FROM pg_temp.tampered_account($$UPDATE freetier.accounts SET anniversary = anniversary - interval '1 day' WHERE subject = 'dee'$$);
ROLLBACK;
BEGIN;
SELECT * FROM pg_temp.tampered_account($$UPDATE freetier.accounts SET period_start = period_start - interval '1 day' WHERE subject = 'dee'$$);
ROLLBACK;
RESET session_replication_role;
