-- Retention (0.4): freetier_prune deletes ended rows past a retention
-- period that nothing names; checkpoints let a stripe's older entries move
-- to freetier.ledger_archive, which verifies on its own, while the chain
-- verifies from the checkpoint.  None of it changes a balance, and both
-- ledgers stay ok throughout.
SET timezone = 'UTC';
\set SHOW_CONTEXT never
DROP EXTENSION freetier;
CREATE EXTENSION freetier;
SET freetier.test_now = '2026-03-01 12:00:00+00';
SELECT freetier_create_pool('ret', 1000, 10, '15 minutes', 2);
SELECT freetier_set_tier_budget('ret', 100000);
SELECT count(freetier_set_tier('r' || i, 'ret')) AS subjects FROM generate_series(1, 5) i;

-- Gate holds in every state: settled, released, expired (swept), and one
-- held past its TTL that nothing has swept.
CREATE TEMP TABLE h (tag text, hold_id uuid);
INSERT INTO h SELECT 'settled', hold_id FROM freetier_decide('r1', 40, 'ret');
SELECT absorbed_sats FROM freetier_record_grant((SELECT hold_id FROM h WHERE tag = 'settled'), 30);
INSERT INTO h SELECT 'released', hold_id FROM freetier_decide('r2', 50, 'ret');
SELECT freetier_release((SELECT hold_id FROM h WHERE tag = 'released'));
INSERT INTO h SELECT 'expired', hold_id FROM freetier_decide('r3', 60, 'ret');
-- a released hold that a request key names (a repeat gets it back)
INSERT INTO h SELECT 'keyed', hold_id FROM freetier_decide('r2', 5, 'ret', 'job-keyed');
SELECT freetier_release((SELECT hold_id FROM h WHERE tag = 'keyed'));
SELECT freetier_credit(500, 'ret', 'ret-pay-1');

-- Credit holds: settled (its spend entry names it), released, expired; a
-- trial minted from a network.
SELECT * FROM freetier_open_account('acc', 'pro');
SELECT freetier_add_credits('acc', 50, 'order-acc');
CREATE TEMP TABLE c (tag text, hold_id uuid);
INSERT INTO c SELECT 'settled', hold_id FROM freetier_reserve_credits('acc', 10, 'api');
SELECT * FROM freetier_settle_credits((SELECT hold_id FROM c WHERE tag = 'settled'), 7);
INSERT INTO c SELECT 'released', hold_id FROM freetier_reserve_credits('acc', 5, 'api');
SELECT freetier_release((SELECT hold_id FROM c WHERE tag = 'released'));
INSERT INTO c SELECT 'expired', hold_id FROM freetier_reserve_credits('acc', 3, 'api');
INSERT INTO c SELECT 'keyed', hold_id FROM freetier_reserve_credits('acc', 2, 'api', 'res-keyed');
SELECT freetier_release((SELECT hold_id FROM c WHERE tag = 'keyed'));
SELECT credits, reason FROM freetier_mint_trial('192.0.2.7');
SET freetier.test_now = '2026-03-01 13:00:00+00';
SELECT freetier_expire_holds();
-- held past its TTL from 13:15 on, never swept below
INSERT INTO h SELECT 'unswept', hold_id FROM freetier_decide('r4', 70, 'ret');

-- Every balance, the rows each prune may remove, and both ledgers' checks:
-- the same after every step below.
CREATE FUNCTION balances() RETURNS TABLE (what text, amount bigint) LANGUAGE sql AS $$
  SELECT 'stripe ' || stripe, balance_sats FROM freetier.pool_stripes WHERE pool = 'ret'
  UNION ALL SELECT 'pool', balance_sats FROM freetier_pools() WHERE pool = 'ret'
  UNION ALL SELECT 'acc purchased', purchased_balance FROM freetier.accounts WHERE subject = 'acc'
  UNION ALL SELECT 'acc used', period_used FROM freetier.accounts WHERE subject = 'acc'
  UNION ALL SELECT 'acc spent', lifetime_spent FROM freetier.accounts WHERE subject = 'acc'
  ORDER BY 1
$$;
CREATE TEMP TABLE before AS SELECT * FROM balances();
SELECT * FROM before;
CREATE FUNCTION unchanged() RETURNS boolean LANGUAGE sql AS $$
  SELECT NOT EXISTS ((SELECT * FROM before EXCEPT SELECT * FROM balances())
                     UNION ALL (SELECT * FROM balances() EXCEPT SELECT * FROM before))
$$;
CREATE FUNCTION verified() RETURNS text LANGUAGE sql AS $$
  SELECT string_agg(kind || ' ' || key || ': ' || CASE WHEN ok THEN 'ok' ELSE 'BAD at ' || coalesce(bad::text, '?') END,
                    ', ' ORDER BY kind, key)
    FROM (SELECT kind, key, bool_and(ok) AS ok, min(bad) AS bad
            FROM (SELECT 'ledger' AS kind, pool AS key, ok, first_bad_entry AS bad FROM freetier_verify_ledger()
                  UNION ALL SELECT 'archive', pool, ok, first_bad_entry FROM freetier_verify_ledger_archive()
                  UNION ALL SELECT 'account', CASE WHEN subject LIKE 'trial:%' THEN 'trials' ELSE subject END,
                                   ok, first_bad_entry FROM freetier_verify_account_ledger()) v
           GROUP BY kind, key) k
$$;
CREATE FUNCTION rows_left() RETURNS TABLE (tbl text, tag text, present boolean) LANGUAGE sql AS $$
  SELECT 'holds', h.tag, EXISTS (SELECT FROM freetier.holds x WHERE x.hold_id = h.hold_id) FROM h
  UNION ALL
  SELECT 'credit_holds', c.tag, EXISTS (SELECT FROM freetier.credit_holds x WHERE x.hold_id = c.hold_id) FROM c
  UNION ALL
  SELECT 'trial_networks', network::text, true FROM freetier.trial_networks
  ORDER BY 1, 2
$$;
SELECT * FROM rows_left();
SELECT verified();

------------------------------------------------------------------------------
-- Pruning
------------------------------------------------------------------------------
-- A retention below 30 days (the longest hold TTL), past 36500 days, NULL
-- or in months is refused, and removes nothing.
SET freetier.test_now = '2026-06-01 00:00:00+00';
SELECT * FROM freetier_prune('29 days 23:59:59');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM freetier_prune('36501 days');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM freetier_prune(NULL);
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM freetier_prune('3 months');
\echo :LAST_ERROR_SQLSTATE
SELECT count(*) FILTER (WHERE present) AS rows_present FROM rows_left();

-- Nothing ended 30 days before 2026-03-31 11:59: everything stays.
SET freetier.test_now = '2026-03-31 11:59:00+00';
SELECT * FROM freetier_prune('30 days');
-- A day later: the released and expired credit holds go (no ledger entry
-- names them), and the trial's network row.  The settled credit hold stays
-- (its spend entry names it), and the keyed one (its request key); every
-- gate hold stays: the ledger names them all, the settled one its grant
-- too.
SET freetier.test_now = '2026-04-01 13:00:00+00';
SELECT * FROM freetier_prune('30 days');
SELECT * FROM rows_left();
SELECT * FROM freetier_prune('30 days');        -- again: nothing more
SELECT unchanged(), verified();
-- A mint from the pruned network makes its row again.
SELECT credits FROM freetier_mint_trial('192.0.2.7');
SELECT network, last_minted FROM freetier.trial_networks;

------------------------------------------------------------------------------
-- Checkpoints
------------------------------------------------------------------------------
SET freetier.test_now = '2026-04-02 00:00:00+00';
SELECT * FROM freetier_checkpoint_ledger('ret');
SELECT stripe, seq, kind, delta_sats, balance_after, hold_id, payment_ref
  FROM freetier.ledger WHERE pool = 'ret' AND kind = 'checkpoint' ORDER BY stripe;
SELECT unchanged(), verified();
SELECT * FROM freetier_checkpoint_ledger('nowhere');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM freetier_checkpoint_ledger(NULL);
\echo :LAST_ERROR_SQLSTATE
-- traffic after the checkpoint (credits: a decide would sweep the unswept hold)
SELECT freetier_credit(100, 'ret', 'ret-pay-2');
SELECT freetier_credit(200, 'ret', 'ret-pay-3');
DELETE FROM before; INSERT INTO before SELECT * FROM balances();
SELECT verified();

------------------------------------------------------------------------------
-- The archive
------------------------------------------------------------------------------
CREATE TEMP TABLE balance_at AS
SELECT t, freetier_balance_at('ret', t) AS sats
  FROM unnest(ARRAY['2026-03-01 12:00+00', '2026-03-01 13:00+00', '2026-04-02 00:00+00']::timestamptz[]) t;
SELECT * FROM freetier_archive_ledger('ret');
SELECT * FROM freetier_archive_ledger('ret');    -- again: nothing more to move
-- freetier_balance_at counts the archived entries: the same answers
SELECT t, sats, freetier_balance_at('ret', t) = sats AS same FROM balance_at ORDER BY t;
SELECT stripe, min(seq) AS first_seq, count(*) AS entries FROM freetier.ledger
 WHERE pool = 'ret' GROUP BY stripe ORDER BY stripe;
SELECT stripe, min(seq), max(seq), count(*) FROM freetier_ledger_archive('ret')
 GROUP BY stripe ORDER BY stripe;
SELECT unchanged(), verified();
SELECT * FROM freetier_verify_ledger('ret');
SELECT * FROM freetier_verify_ledger_archive('ret');
SELECT * FROM freetier_archive_ledger('nowhere');
\echo :LAST_ERROR_SQLSTATE
-- A pool without a checkpoint moves nothing.
SELECT * FROM freetier_archive_ledger('default');

-- The ledger and the archive stay append-only for every other path, the
-- owner included.
DELETE FROM freetier.ledger WHERE pool = 'ret';
\echo :LAST_ERROR_SQLSTATE
UPDATE freetier.ledger SET delta_sats = 0 WHERE pool = 'ret';
\echo :LAST_ERROR_SQLSTATE
TRUNCATE freetier.ledger;
\echo :LAST_ERROR_SQLSTATE
DELETE FROM freetier.ledger_archive;
\echo :LAST_ERROR_SQLSTATE
UPDATE freetier.ledger_archive SET delta_sats = 0;
\echo :LAST_ERROR_SQLSTATE
TRUNCATE freetier.ledger_archive;
\echo :LAST_ERROR_SQLSTATE
SET session_replication_role = replica;
DELETE FROM freetier.ledger WHERE pool = 'ret';
\echo :LAST_ERROR_SQLSTATE
RESET session_replication_role;
SELECT count(*) AS ledger_entries FROM freetier.ledger WHERE pool = 'ret';

-- Tampering, behind freetier's back and rolled back: an edit after the
-- checkpoint, of the checkpoint itself, or of its stored link is caught by
-- freetier_verify_ledger; an edit in the archive, or an archived entry
-- removed, by freetier_verify_ledger_archive; entries removed from the
-- start of a chain down to an entry that is no checkpoint, by
-- freetier_verify_ledger.
\set off 'ALTER TABLE freetier.ledger DISABLE TRIGGER ALL; ALTER TABLE freetier.ledger_archive DISABLE TRIGGER ALL'
BEGIN; :off;
UPDATE freetier.ledger SET delta_sats = delta_sats + 1, balance_after = balance_after + 1
 WHERE pool = 'ret' AND kind = 'credit' AND payment_ref = 'ret-pay-2';
SELECT 'after the checkpoint' AS tampered, verified(); ROLLBACK;
BEGIN; :off;
UPDATE freetier.ledger SET balance_after = balance_after + 5 WHERE pool = 'ret' AND kind = 'checkpoint';
SELECT 'checkpoint balance' AS tampered, verified(); ROLLBACK;
BEGIN; :off;
UPDATE freetier.ledger SET prev_hash = decode(repeat('11', 32), 'hex') WHERE pool = 'ret' AND kind = 'checkpoint';
SELECT 'checkpoint link' AS tampered, verified(); ROLLBACK;
BEGIN; :off;
UPDATE freetier.ledger SET kind = 'move' WHERE pool = 'ret' AND kind = 'checkpoint' AND stripe = 0;
SELECT 'checkpoint kind' AS tampered, verified(); ROLLBACK;
BEGIN; :off;
UPDATE freetier.ledger_archive SET hold_id = NULL WHERE pool = 'ret' AND kind = 'release';
SELECT 'archive' AS tampered, verified(); ROLLBACK;
BEGIN; :off;
DELETE FROM freetier.ledger_archive WHERE pool = 'ret' AND stripe = 0 AND seq = 2;
SELECT 'archive entry removed' AS tampered, verified(); ROLLBACK;
BEGIN; :off;
DELETE FROM freetier.ledger_archive WHERE pool = 'ret' AND stripe = 0
   AND seq = (SELECT max(seq) FROM freetier.ledger_archive WHERE pool = 'ret' AND stripe = 0);
SELECT 'archive end removed' AS tampered, verified(); ROLLBACK;
BEGIN; :off;
DELETE FROM freetier.ledger WHERE pool = 'ret' AND stripe = 0 AND kind = 'checkpoint';
SELECT 'checkpoint removed' AS tampered, verified(); ROLLBACK;
-- a chain made to start at an entry that moves nothing but is no
-- checkpoint (a settle that returned 0), its entries before it removed
SELECT freetier_create_pool('zero', 100, 10, '15 minutes', 1);
SELECT returned_sats FROM freetier_record_grant((SELECT hold_id FROM freetier_decide('r5', 10, 'zero')), 10);
BEGIN; :off;
DELETE FROM freetier.ledger WHERE pool = 'zero' AND seq < 3;
SELECT 'start at a return of 0' AS tampered, verified(); ROLLBACK;
SELECT verified();

------------------------------------------------------------------------------
-- Export and drop the archive; then the gate holds that only the archive
-- named can be pruned.
------------------------------------------------------------------------------
SELECT * FROM freetier_prune('30 days');         -- the archive still names them
SELECT count(*) AS exported FROM freetier_ledger_archive('ret');
SELECT freetier_drop_ledger_archive('ret');
SELECT freetier_drop_ledger_archive('ret');      -- nothing left
SELECT freetier_drop_ledger_archive('nowhere');
\echo :LAST_ERROR_SQLSTATE
SELECT count(*) FROM freetier_ledger_archive('nowhere');
\echo :LAST_ERROR_SQLSTATE
-- dropped entries cannot be summed: freetier_balance_at refuses
SELECT freetier_balance_at('ret', '2026-04-02 00:00+00');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM freetier_verify_ledger_archive('ret');
SELECT * FROM freetier_prune('30 days');
-- The released and the expired hold are gone; the settled one stays (its
-- grant names it), the keyed one (its request key), and the unswept one,
-- still 'held'.
SELECT * FROM rows_left() WHERE tbl = 'holds';
-- Once the request keys are pruned (freetier.request_key_retention, 24
-- hours), the keyed holds go too.
SELECT freetier_prune_request_keys();
SELECT * FROM freetier_prune('30 days');
SELECT * FROM rows_left() WHERE tag = 'keyed';
SELECT state FROM freetier.holds WHERE hold_id = (SELECT hold_id FROM h WHERE tag = 'unswept');
SELECT unchanged(), verified();

-- A second checkpoint and archive: the archive starts at the first
-- checkpoint and ends before the second.
SELECT count(*) AS checkpointed FROM freetier_checkpoint_ledger('ret') WHERE seq IS NOT NULL;
SELECT * FROM freetier_archive_ledger('ret');
SELECT stripe, min(seq), max(seq), count(*) FROM freetier_ledger_archive('ret')
 GROUP BY stripe ORDER BY stripe;
SELECT unchanged(), verified();

-- Pool default's stripe 0 starts with the install-time seed (dated
-- -infinity, left out of every dump and made again by CREATE EXTENSION): it
-- stays in the ledger, and its chain goes on at the checkpoint.
SELECT freetier_release(hold_id) FROM freetier_decide('r5', 10, 'default');
SELECT freetier_credit(50, 'default', 'default-pay-1');
SELECT count(seq) AS checkpointed FROM freetier_checkpoint_ledger('default');
SELECT stripe, checkpoint_seq, archived FROM freetier_archive_ledger('default') WHERE archived > 0;
SELECT stripe, seq, kind, created_at FROM freetier.ledger
 WHERE pool = 'default' AND stripe = 0 ORDER BY seq;
SELECT stripe, min(seq), max(seq) FROM freetier_ledger_archive('default') GROUP BY stripe ORDER BY stripe;
SELECT verified();
BEGIN; :off;
UPDATE freetier.ledger_archive SET delta_sats = -11 WHERE pool = 'default' AND stripe = 0 AND seq = 2;
SELECT 'default archive' AS tampered, verified(); ROLLBACK;
BEGIN; :off;
UPDATE freetier.ledger SET balance_after = 9999 WHERE pool = 'default' AND stripe = 0 AND seq = 1;
SELECT 'default install seed' AS tampered, verified(); ROLLBACK;
-- dropped, then archived again: the archive starts at the first checkpoint,
-- after the install seed
SELECT freetier_drop_ledger_archive('default');
SELECT freetier_release(hold_id) FROM freetier_decide('r5', 10, 'default');
SELECT count(seq) AS checkpointed FROM freetier_checkpoint_ledger('default');
SELECT count(*) AS stripes, sum(archived) AS archived FROM freetier_archive_ledger('default');
SELECT stripe, min(seq), max(seq) FROM freetier_ledger_archive('default') WHERE stripe = 0 GROUP BY stripe;
SELECT verified();

-- A stripe that owes sats (a credit reversed when its sats were on hold)
-- gets no checkpoint: a checkpoint commits to one balance.
SELECT freetier_create_pool('owes', 0, 10, '15 minutes', 1);
SELECT freetier_credit(100, 'owes', 'owes-pay');
SELECT serve, absorb_sats FROM freetier_decide('r5', 10, 'owes');
SELECT freetier_reverse_credit('owes-pay', 'chargeback');
SELECT balance_sats, owed_sats FROM freetier.pool_stripes WHERE pool = 'owes';
SELECT * FROM freetier_checkpoint_ledger('owes');
SELECT count(*) FROM freetier.ledger WHERE pool = 'owes' AND kind = 'checkpoint';
SELECT * FROM freetier_archive_ledger('owes');
SELECT verified();

------------------------------------------------------------------------------
-- The accounts' ledger: checkpoints and the archive, as for the pools'.
------------------------------------------------------------------------------
SET freetier.test_now = '2026-04-03 00:00:00+00';
CREATE FUNCTION account_verified() RETURNS text LANGUAGE sql AS $$
  SELECT string_agg(kind || ' ' || key || ': ' || CASE WHEN ok THEN 'ok' ELSE 'BAD at ' || coalesce(bad::text, '?') END,
                    ', ' ORDER BY kind, key)
    FROM (SELECT kind, key, bool_and(ok) AS ok, min(bad) AS bad
            FROM (SELECT 'account' AS kind, subject AS key, ok, first_bad_entry AS bad
                    FROM freetier_verify_account_ledger()
                  UNION ALL SELECT 'archive', subject, ok, first_bad_entry
                    FROM freetier_verify_account_ledger_archive()) v
           WHERE key NOT LIKE 'trial:%'
           GROUP BY kind, key) k
$$;
-- an anchor of acc's chain as it is now, kept outside the database
CREATE TEMP TABLE acc_anchor AS
SELECT chain, seq, head_hash FROM freetier_ledger_anchor() WHERE chain = 'account:acc';
SELECT * FROM freetier_checkpoint_account_ledger('acc');
SELECT seq, kind, bucket, delta, balance_after, ref FROM freetier.account_ledger
 WHERE subject = 'acc' AND kind = 'checkpoint';
SELECT unchanged(), verified(), account_verified();
SELECT * FROM freetier_checkpoint_account_ledger('nobody');
\echo :LAST_ERROR_SQLSTATE
-- traffic after the checkpoint: a purchase, a spend, a plan change
SELECT freetier_add_credits('acc', 30, 'order-acc-2');
SELECT ok, allowance_credits FROM freetier_spend_credits('acc', 4, 'api');
SELECT freetier_set_plan('acc', 'max');
DELETE FROM before; INSERT INTO before SELECT * FROM balances();
CREATE TEMP TABLE account_balance_at AS
SELECT t, freetier_account_balance_at('acc', t) AS credits
  FROM unnest(ARRAY['2026-03-01 12:00+00', '2026-04-03 00:00+00']::timestamptz[]) t;

SELECT * FROM freetier_archive_account_ledger('acc');
SELECT * FROM freetier_archive_account_ledger('acc');    -- again: nothing more to move
SELECT t, credits, freetier_account_balance_at('acc', t) = credits AS same
  FROM account_balance_at ORDER BY t;
SELECT min(seq) AS first_seq, count(*) AS entries FROM freetier.account_ledger WHERE subject = 'acc';
SELECT min(seq), max(seq), count(*) FROM freetier_account_ledger_archive('acc');
SELECT * FROM freetier.account_chain_starts;
SELECT unchanged(), verified(), account_verified();
SELECT * FROM freetier_verify_account_ledger('acc');
SELECT * FROM freetier_verify_account_ledger_archive('acc');
-- the anchor of an archived entry is checked against the archive
SELECT freetier_verify_anchor(chain, seq, head_hash) FROM acc_anchor;
SELECT * FROM freetier_archive_account_ledger('nobody');
\echo :LAST_ERROR_SQLSTATE
SELECT count(*) FROM freetier_account_ledger_archive('nobody');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM freetier_verify_account_ledger_archive('nobody');
\echo :LAST_ERROR_SQLSTATE
-- an account without a checkpoint moves nothing
SELECT * FROM freetier_open_account('acc2', 'pro');
SELECT * FROM freetier_archive_account_ledger('acc2');

-- The account ledger, its archive and the chain starts are append-only for
-- every other path, the owner included.
DELETE FROM freetier.account_ledger WHERE subject = 'acc';
\echo :LAST_ERROR_SQLSTATE
DELETE FROM freetier.account_ledger_archive;
\echo :LAST_ERROR_SQLSTATE
UPDATE freetier.account_ledger_archive SET delta = 0;
\echo :LAST_ERROR_SQLSTATE
TRUNCATE freetier.account_ledger_archive;
\echo :LAST_ERROR_SQLSTATE
DELETE FROM freetier.account_chain_starts;
\echo :LAST_ERROR_SQLSTATE
UPDATE freetier.ledger_chain_starts SET archived_seq = 1;
\echo :LAST_ERROR_SQLSTATE
TRUNCATE freetier.ledger_chain_starts;
\echo :LAST_ERROR_SQLSTATE
SELECT count(*) AS account_entries FROM freetier.account_ledger WHERE subject = 'acc';

-- Tampering, behind freetier's back and rolled back: an edit after the
-- checkpoint, or of what the checkpoint carries, is caught by
-- freetier_verify_account_ledger; an edit in the archive, or its end
-- removed, by freetier_verify_account_ledger_archive.
\set aoff 'ALTER TABLE freetier.account_ledger DISABLE TRIGGER ALL; ALTER TABLE freetier.account_ledger_archive DISABLE TRIGGER ALL; ALTER TABLE freetier.account_chain_starts DISABLE TRIGGER ALL; ALTER TABLE freetier.ledger DISABLE TRIGGER ALL; ALTER TABLE freetier.ledger_chain_starts DISABLE TRIGGER ALL'
BEGIN; :aoff;
UPDATE freetier.account_ledger SET delta = delta + 1, balance_after = balance_after + 1
 WHERE subject = 'acc' AND kind = 'spend';
SELECT 'after the checkpoint' AS tampered, account_verified(); ROLLBACK;
BEGIN; :aoff;
UPDATE freetier.account_ledger SET ref = replace(ref, 'spent=7', 'spent=6')
 WHERE subject = 'acc' AND kind = 'checkpoint';
SELECT 'checkpoint figures' AS tampered, account_verified(); ROLLBACK;
BEGIN; :aoff;
UPDATE freetier.account_ledger_archive SET backend = 'other' WHERE subject = 'acc' AND kind = 'spend';
SELECT 'archive' AS tampered, account_verified(); ROLLBACK;
BEGIN; :aoff;
DELETE FROM freetier.account_ledger_archive WHERE subject = 'acc'
   AND seq = (SELECT max(seq) FROM freetier.account_ledger_archive WHERE subject = 'acc');
SELECT 'archive end removed' AS tampered, account_verified(); ROLLBACK;

-- Chain starts.  A second checkpoint, not archived; then every entry before
-- it deleted (not archived): the chain no longer starts where its last
-- archive move left it.  So for a pool's stripe, archived before (ret) or
-- never (zero), and for the chain start recorded removed.
SELECT count(seq) AS checkpointed FROM freetier_checkpoint_account_ledger('acc');
SELECT count(seq) AS checkpointed FROM freetier_checkpoint_ledger('ret');
SELECT count(seq) AS checkpointed FROM freetier_checkpoint_ledger('zero');
SELECT verified(), account_verified();
BEGIN; :aoff;
DELETE FROM freetier.account_ledger WHERE subject = 'acc'
   AND seq < (SELECT max(seq) FROM freetier.account_ledger WHERE subject = 'acc' AND kind = 'checkpoint');
SELECT 'account start deleted' AS tampered, account_verified(); ROLLBACK;
BEGIN; :aoff;
DELETE FROM freetier.ledger WHERE pool = 'ret' AND stripe = 0
   AND seq < (SELECT max(seq) FROM freetier.ledger WHERE pool = 'ret' AND stripe = 0 AND kind = 'checkpoint');
SELECT 'stripe start deleted' AS tampered, verified(); ROLLBACK;
BEGIN; :aoff;
DELETE FROM freetier.ledger WHERE pool = 'zero'
   AND seq < (SELECT max(seq) FROM freetier.ledger WHERE pool = 'zero' AND kind = 'checkpoint');
SELECT 'never archived start deleted' AS tampered, verified(); ROLLBACK;
BEGIN; :aoff;
DELETE FROM freetier.account_chain_starts WHERE subject = 'acc';
DELETE FROM freetier.ledger_chain_starts WHERE pool = 'ret';
SELECT 'starts removed' AS tampered, verified(), account_verified(); ROLLBACK;
SELECT verified(), account_verified();

-- Archived again; then dropped.  The settled credit hold that only the
-- archive's spend entry names is pruned once the archive is dropped.
SELECT * FROM freetier_archive_account_ledger('acc');
SELECT min(seq), max(seq), count(*) FROM freetier_account_ledger_archive('acc');
SELECT unchanged(), account_verified();
SELECT * FROM freetier_prune('30 days');
SELECT count(*) AS exported FROM freetier_account_ledger_archive();
SELECT freetier_drop_account_ledger_archive('acc');
SELECT freetier_drop_account_ledger_archive('acc');      -- nothing left
SELECT freetier_drop_account_ledger_archive('nobody');
\echo :LAST_ERROR_SQLSTATE
SELECT freetier_account_balance_at('acc', '2026-04-03 00:00+00');
\echo :LAST_ERROR_SQLSTATE
SELECT freetier_verify_anchor(chain, seq, head_hash) FROM acc_anchor;
SELECT unchanged(), verified(), account_verified();
SELECT * FROM freetier_prune('30 days');
SELECT * FROM rows_left() WHERE tbl = 'credit_holds';

-- Every account at once (NULL): the trial accounts too.
SELECT count(*) AS accounts, count(seq) AS checkpointed FROM freetier_checkpoint_account_ledger();
SELECT count(*) AS accounts, sum(archived) AS archived FROM freetier_archive_account_ledger();
SELECT bool_and(ok) AS all_ok, count(*) FROM freetier_verify_account_ledger();
SELECT bool_and(ok) AS all_ok, count(*) FROM freetier_verify_account_ledger_archive();
SELECT freetier_drop_account_ledger_archive() > 0 AS dropped;
SELECT bool_and(ok) AS all_ok FROM freetier_verify_account_ledger();
SELECT unchanged();

-- A checkpoint carries the account row's figures on as its chain's, so an
-- account that does not verify against its chain gets none: an edit behind
-- freetier's back of a date, a counter, lifetime_added or the plan is
-- refused (55000) and the call writes nothing, for the account named or
-- for every account (one such account stops the call).
SELECT count(*) FROM freetier_open_account('acct', 'pro');
SELECT freetier_add_credits('acct', 20, 'order-acct');
CREATE FUNCTION pg_temp.checkpoint_over(edit text, subject text) RETURNS text
    LANGUAGE plpgsql AS $$
DECLARE
    before bigint := (SELECT count(*) FROM freetier.account_ledger);
    state text;
BEGIN
    SET LOCAL session_replication_role = replica;
    EXECUTE edit;
    RESET session_replication_role;
    BEGIN
        PERFORM freetier_checkpoint_account_ledger(subject);
        state := 'written';
    EXCEPTION WHEN OTHERS THEN
        GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE;
        state := state || ' ' || SQLERRM;
    END;
    RETURN state || ', ' || ((SELECT count(*) FROM freetier.account_ledger) - before) || ' entries written, verified '
        || (SELECT ok FROM freetier_verify_account_ledger('acct'));
END $$;
BEGIN;
SELECT pg_temp.checkpoint_over($$UPDATE freetier.accounts SET anniversary = anniversary - interval '1 day', period_start = period_start - interval '1 day' WHERE subject = 'acct'$$, 'acct') AS dates;
ROLLBACK;
BEGIN;
SELECT pg_temp.checkpoint_over($$UPDATE freetier.accounts SET period_start = period_start - interval '1 day' WHERE subject = 'acct'$$, 'acct') AS period_start;
ROLLBACK;
BEGIN;
SELECT pg_temp.checkpoint_over($$UPDATE freetier.accounts SET period_used = period_used + 1 WHERE subject = 'acct'$$, 'acct') AS period_used;
ROLLBACK;
BEGIN;
SELECT pg_temp.checkpoint_over($$UPDATE freetier.accounts SET late_period_used = late_period_used + 1 WHERE subject = 'acct'$$, 'acct') AS late_period_used;
ROLLBACK;
BEGIN;
SELECT pg_temp.checkpoint_over($$UPDATE freetier.accounts SET lifetime_added = lifetime_added + 1 WHERE subject = 'acct'$$, 'acct') AS lifetime_added;
ROLLBACK;
BEGIN;
SELECT pg_temp.checkpoint_over($$UPDATE freetier.accounts SET plan = 'max' WHERE subject = 'acct'$$, 'acct') AS plan;
ROLLBACK;
BEGIN;
SELECT pg_temp.checkpoint_over($$UPDATE freetier.accounts SET plan = 'max' WHERE subject = 'acct'$$, NULL) AS plan_every_account;
ROLLBACK;
-- the message in full; untouched, the account gets its checkpoint
BEGIN;
SET LOCAL session_replication_role = replica;
UPDATE freetier.accounts SET period_used = period_used + 1 WHERE subject = 'acct';
RESET session_replication_role;
SELECT * FROM freetier_checkpoint_account_ledger('acct');
\echo :LAST_ERROR_SQLSTATE
ROLLBACK;
SELECT pg_temp.checkpoint_over('SELECT', 'acct') AS untouched;

-- And verification itself: a checkpoint met inside a chain must carry the
-- counters its chain has there.  forged's chain was written by a build
-- whose checkpoint carried period+1 (its hash is right): verification
-- reports the checkpoint.
BEGIN;
INSERT INTO freetier.accounts VALUES ('forged', 'pro', '2026-04-03 00:00:00+00', '2026-04-03 00:00:00+00',
  0, 0, 0, 0, 0, 0, 2, decode('85d3fbc865e5f4ece06e855a099e3b46157eb926862dbd19e08a23c3670aa2e2', 'hex'),
  '2026-04-03 00:00:00+00', '2026-04-03 00:00:00+00');
INSERT INTO freetier.account_ledger VALUES
  ('forged', 1, 'open', 'period', 0, 0, NULL, NULL, 'pro', '2026-04-03 00:00:00+00',
   decode(repeat('00', 32), 'hex'),
   decode('85d3f220d0f378178322a07058af235613d4c7031459526896ce65f6f063aca4', 'hex')),
  ('forged', 2, 'checkpoint', 'purchased', 0, 0, NULL, NULL,
   'period=1 lifetime=0 late=0 spent=0 added=0 anniversary=828489600000000 period_start=828489600000000 plan=pro',
   '2026-04-03 00:00:00+00',
   decode('85d3f220d0f378178322a07058af235613d4c7031459526896ce65f6f063aca4', 'hex'),
   decode('85d3fbc865e5f4ece06e855a099e3b46157eb926862dbd19e08a23c3670aa2e2', 'hex'));
SELECT * FROM freetier_verify_account_ledger('forged');
ROLLBACK;

-- A checkpoint's figures have up to 19 digits: big's lifetime_added is
-- 10^18, the most a credit counter reaches, and its chain starts at the
-- checkpoint that carries it.
SELECT count(*) FROM freetier_open_account('big', 'pro');
SELECT freetier_add_credits('big', 1000000000000000000, 'order-big');
SELECT seq IS NOT NULL AS checkpointed FROM freetier_checkpoint_account_ledger('big');
SELECT checkpoint_seq, archived FROM freetier_archive_account_ledger('big');
SELECT ref FROM freetier.account_ledger WHERE subject = 'big' AND kind = 'checkpoint';
SELECT * FROM freetier_verify_account_ledger('big');
SELECT * FROM freetier_verify_account_ledger_archive('big');
-- a figure past bigint is not one (never an error)
BEGIN; :aoff;
UPDATE freetier.account_ledger SET ref = replace(ref, 'added=1000000000000000000', 'added=9999999999999999999')
 WHERE subject = 'big' AND kind = 'checkpoint';
SELECT * FROM freetier_verify_account_ledger('big');
ROLLBACK;

-- The README's known answer for a checkpoint's hash: pool kc of 100 sats
-- on one stripe, created and checkpointed at 2025-05-05 05:05:05 UTC.
SET freetier.test_now = '2025-05-05 05:05:05+00';
SELECT freetier_create_pool('kc', 100, 10, '15 minutes', 1);
SELECT * FROM freetier_checkpoint_ledger('kc');
SELECT left(encode(hash, 'hex'), 8) AS checkpoint_hash FROM freetier.ledger
 WHERE pool = 'kc' AND kind = 'checkpoint';
-- and for an account's: kca opened on plan pro and checkpointed then
SELECT count(*) FROM freetier_open_account('kca', 'pro');
SELECT * FROM freetier_checkpoint_account_ledger('kca');
SELECT left(encode(hash, 'hex'), 8) AS checkpoint_hash FROM freetier.account_ledger
 WHERE subject = 'kca' AND kind = 'checkpoint';
RESET freetier.test_now;

-- no rule of the request path's tables is broken
\getenv abs_srcdir PG_ABS_SRCDIR
\set invariants :abs_srcdir '/invariants.sql'
\set ECHO none
\i :invariants
\set ECHO all
SELECT * FROM broken_rules;
