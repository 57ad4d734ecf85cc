-- Corrections: freetier_adjust_pool, freetier_reverse_credit (and what a
-- pool owes after it), freetier_refund_credits, each once per ref;
-- freetier_balance_at and freetier_account_balance_at, from the ledgers;
-- every error with its SQLSTATE, changing nothing; and conservation,
-- checked from the ledgers alone after all of it.
SET timezone = 'UTC';
\set SHOW_CONTEXT never
DROP EXTENSION freetier;
CREATE EXTENSION freetier;
SET freetier.test_now = '2026-03-01 10:00:00+00';
SELECT freetier_create_pool('p', 1000, 10, '15 minutes', 4);   -- 250 on each stripe
SELECT freetier_set_tier('pat', 'elite');

-- What each pool's stripes hold and owe, and every correction's entries.
CREATE TEMP VIEW stripes AS
SELECT stripe, balance_sats, owed_sats FROM freetier.pool_stripes WHERE pool = 'p' ORDER BY stripe;
CREATE TEMP VIEW entries AS
SELECT stripe, seq, kind, delta_sats, balance_after, payment_ref FROM freetier.ledger
 WHERE pool = 'p' AND kind <> 'seed' ORDER BY created_at, stripe, seq;
-- The balance after each step, to compare with freetier_balance_at later.
CREATE TEMP TABLE seen (at timestamptz, pool_balance bigint);
CREATE TEMP VIEW pool_balance AS
SELECT sum(balance_sats)::bigint AS balance FROM freetier.pool_stripes WHERE pool = 'p';
INSERT INTO seen SELECT current_setting('freetier.test_now')::timestamptz, balance FROM pool_balance;

------------------------------------------------------------------------------
-- freetier_adjust_pool
------------------------------------------------------------------------------
SET freetier.test_now = '2026-03-01 11:00:00+00';
-- A top-up goes to the emptiest stripe (the first of equals); it returns
-- the balance after.  The same ref with the same arguments returns the first
-- result and moves nothing.
SELECT freetier_adjust_pool('p', 100, 'launch gift', 'adj-1');
SELECT freetier_adjust_pool('p', 100, 'launch gift', 'adj-1');
SELECT * FROM entries;
INSERT INTO seen SELECT current_setting('freetier.test_now')::timestamptz, balance FROM pool_balance;

SET freetier.test_now = '2026-03-01 12:00:00+00';
-- A write-down that one stripe covers comes from the first that does.
SELECT freetier_adjust_pool('p', -200, 'audit', 'adj-2');
-- One larger than any stripe locks them all and takes in stripe order.
SELECT freetier_adjust_pool('p', -500, 'audit', 'adj-3');
SELECT * FROM stripes;
SELECT * FROM entries WHERE payment_ref IN ('adj-2', 'adj-3');
-- A replay after the balance moved still returns the first result.
SELECT freetier_adjust_pool('p', -500, 'audit', 'adj-3');
INSERT INTO seen SELECT current_setting('freetier.test_now')::timestamptz, balance FROM pool_balance;

-- Errors, each changing nothing.
CREATE TEMP TABLE before AS
SELECT (SELECT count(*) FROM freetier.ledger) AS entries,
       (SELECT count(*) FROM freetier.corrections) AS corrections,
       (SELECT balance FROM pool_balance) AS balance;
SELECT freetier_adjust_pool('p', -401, 'too much', 'adj-4');   -- the pool holds 400
\echo :LAST_ERROR_SQLSTATE
SELECT freetier_adjust_pool('p', 101, 'launch gift', 'adj-1'); -- same ref, other delta
\echo :LAST_ERROR_SQLSTATE
SELECT freetier_adjust_pool('p', 100, 'other reason', 'adj-1');
\echo :LAST_ERROR_SQLSTATE
SELECT freetier_adjust_pool('default', 100, 'launch gift', 'adj-1');
\echo :LAST_ERROR_SQLSTATE
SELECT freetier_adjust_pool('p', 0, 'nothing', 'adj-5');
\echo :LAST_ERROR_SQLSTATE
SELECT freetier_adjust_pool('p', -9223372036854775808, 'everything', 'adj-5');
\echo :LAST_ERROR_SQLSTATE
SELECT freetier_adjust_pool('p', NULL, 'nothing', 'adj-5');
\echo :LAST_ERROR_SQLSTATE
SELECT freetier_adjust_pool('p', 10, '', 'adj-5');
\echo :LAST_ERROR_SQLSTATE
SELECT freetier_adjust_pool('p', 10, NULL, 'adj-5');
\echo :LAST_ERROR_SQLSTATE
SELECT freetier_adjust_pool('p', 10, 'gift', '');
\echo :LAST_ERROR_SQLSTATE
SELECT freetier_adjust_pool('p', 10, 'gift', repeat('r', 257));
\echo :LAST_ERROR_SQLSTATE
SELECT freetier_adjust_pool('p', 10, repeat('r', 257), 'adj-5');
\echo :LAST_ERROR_SQLSTATE
SELECT freetier_adjust_pool('nowhere', 10, 'gift', 'adj-5');
\echo :LAST_ERROR_SQLSTATE
SELECT freetier_adjust_pool('nowhere', -10, 'cut', 'adj-5');
\echo :LAST_ERROR_SQLSTATE
SELECT freetier_adjust_pool('p', 9223372036854775807, 'overflow', 'adj-5');
\echo :LAST_ERROR_SQLSTATE
SELECT (SELECT count(*) FROM freetier.ledger) AS entries,
       (SELECT count(*) FROM freetier.corrections) AS corrections,
       (SELECT balance FROM pool_balance) AS balance,
       (SELECT row(entries, corrections, balance) FROM before) AS before;

------------------------------------------------------------------------------
-- freetier_reverse_credit, and what a pool owes
------------------------------------------------------------------------------
SET freetier.test_now = '2026-03-01 13:00:00+00';
SELECT freetier_credit(5000, 'p', 'pay-1');     -- 500
SELECT freetier_credit(20000, 'p', 'pay-2');    -- 2000
INSERT INTO seen SELECT current_setting('freetier.test_now')::timestamptz, balance FROM pool_balance;
SET freetier.test_now = '2026-03-01 14:00:00+00';
-- A stripe that holds enough gives it all; the replay moves nothing.
SELECT freetier_reverse_credit('pay-1', 'chargeback');
SELECT freetier_reverse_credit('pay-1', 'chargeback');
SELECT * FROM entries WHERE payment_ref = 'pay-1';
INSERT INTO seen SELECT current_setting('freetier.test_now')::timestamptz, balance FROM pool_balance;

SET freetier.test_now = '2026-03-01 15:00:00+00';
-- Most of the pool is written down, and a hold takes 300 more: the pool
-- holds 100 when pay-2's 2000 are reversed.  It gives those 100 (never the
-- held sats) and owes 1900, on stripe 0.
SELECT freetier_adjust_pool('p', -2000, 'audit', 'adj-6');
CREATE TEMP TABLE d AS SELECT * FROM freetier_decide('pat', 300, 'p');
SELECT serve, absorb_sats FROM d;
SELECT freetier_reverse_credit('pay-2', 'fraud');
SELECT freetier_reverse_credit('pay-2', 'fraud');
SELECT * FROM stripes;
SELECT * FROM entries WHERE payment_ref = 'pay-2';
SELECT freetier_pools.balance_sats FROM freetier_pools() WHERE pool = 'p';
SELECT pool, ok FROM freetier_verify_ledger('p');
INSERT INTO seen SELECT current_setting('freetier.test_now')::timestamptz, balance FROM pool_balance;

SET freetier.test_now = '2026-03-01 15:05:00+00';
-- The hold is settled for 200: 100 come back to the balance, none repays.
SELECT absorbed_sats, returned_sats FROM freetier_record_grant((SELECT hold_id FROM d), 200);
SELECT * FROM stripes;
INSERT INTO seen SELECT current_setting('freetier.test_now')::timestamptz, balance FROM pool_balance;

SET freetier.test_now = '2026-03-01 16:00:00+00';
-- Later credits repay what is owed first: a 'repay' entry, then a 'credit'
-- entry for the rest, both on stripe 0.  freetier_credit returns the sats
-- credited, repaid ones included.
SELECT freetier_credit(15000, 'p', 'pay-3');    -- 1500: all of it repays
SELECT freetier_credit(10000, 'p', 'pay-4');    -- 1000: 400 repay, 600 credited
SELECT freetier_credit(10000, 'p', 'pay-4');    -- the replay repays nothing more
SELECT * FROM entries WHERE payment_ref IN ('pay-3', 'pay-4');
SELECT * FROM stripes;
INSERT INTO seen SELECT current_setting('freetier.test_now')::timestamptz, balance FROM pool_balance;

-- Errors, each changing nothing.
DROP TABLE before;
CREATE TEMP TABLE before AS
SELECT (SELECT count(*) FROM freetier.ledger) AS entries,
       (SELECT count(*) FROM freetier.corrections) AS corrections,
       (SELECT balance FROM pool_balance) AS balance;
SELECT freetier_reverse_credit('pay-404', 'chargeback');
\echo :LAST_ERROR_SQLSTATE
SELECT freetier_reverse_credit('pay-2', 'another reason');
\echo :LAST_ERROR_SQLSTATE
SELECT freetier_reverse_credit('pay-3', '');
\echo :LAST_ERROR_SQLSTATE
SELECT freetier_reverse_credit('pay-3', NULL);
\echo :LAST_ERROR_SQLSTATE
SELECT freetier_reverse_credit('', 'chargeback');
\echo :LAST_ERROR_SQLSTATE
SELECT freetier_reverse_credit(repeat('r', 257), 'chargeback');
\echo :LAST_ERROR_SQLSTATE
SELECT (SELECT count(*) FROM freetier.ledger) AS entries,
       (SELECT count(*) FROM freetier.corrections) AS corrections,
       (SELECT balance FROM pool_balance) AS balance,
       (SELECT row(entries, corrections, balance) FROM before) AS before;

-- Verification checks what a pool owes against its chain: a stored
-- owed_sats changed outside freetier is reported, on stripe 0 or any other.
BEGIN;
UPDATE freetier.pool_stripes SET owed_sats = 1 WHERE pool = 'p' AND stripe = 0;
SELECT pool, ok, first_bad_entry FROM freetier_verify_ledger('p');
ROLLBACK;
BEGIN;
UPDATE freetier.pool_stripes SET owed_sats = 1 WHERE pool = 'p' AND stripe = 2;
SELECT pool, ok, first_bad_entry FROM freetier_verify_ledger('p');
ROLLBACK;
SELECT pool, ok FROM freetier_verify_ledger('p');

------------------------------------------------------------------------------
-- freetier_refund_credits
------------------------------------------------------------------------------
SET freetier.test_now = '2026-03-01 17:00:00+00';
SELECT subject, plan FROM freetier_open_account('ann', 'trial');   -- no allowance
SELECT freetier_add_credits('ann', 100, 'buy-1');
SELECT freetier_add_credits('ann', 50, 'buy-2');
CREATE TEMP TABLE seen_account AS
SELECT current_setting('freetier.test_now')::timestamptz AS at, purchased_balance
  FROM freetier.accounts WHERE subject = 'ann';
SET freetier.test_now = '2026-03-01 18:00:00+00';
-- 120 of the 150 go on hold: a refund of buy-1 takes back only 30.
CREATE TEMP TABLE r AS SELECT * FROM freetier_reserve_credits('ann', 120, 'gemini');
SELECT allowance_credits, purchased_credits FROM r;
SELECT freetier_refund_credits('ann', 'buy-1', 'customer asked');
SELECT freetier_refund_credits('ann', 'buy-1', 'customer asked');
SELECT purchased_balance, reserved_credits, lifetime_added FROM freetier_account_status('ann');
INSERT INTO seen_account SELECT current_setting('freetier.test_now')::timestamptz, purchased_balance
  FROM freetier.accounts WHERE subject = 'ann';
SET freetier.test_now = '2026-03-01 19:00:00+00';
-- Once the hold is released, buy-2 is taken back in full.
SELECT freetier_release((SELECT hold_id FROM r), 'cancelled');
SELECT freetier_refund_credits('ann', 'buy-2', 'customer asked');
SELECT seq, kind, bucket, delta, balance_after, ref FROM freetier.account_ledger
 WHERE subject = 'ann' AND kind = 'refund' ORDER BY seq;
SELECT subject, ok FROM freetier_verify_account_ledger('ann');
INSERT INTO seen_account SELECT current_setting('freetier.test_now')::timestamptz, purchased_balance
  FROM freetier.accounts WHERE subject = 'ann';

-- Errors, each changing nothing.
SELECT freetier_open_account('bob');
SELECT freetier_add_credits('bob', 10, 'buy-bob');
CREATE TEMP TABLE before_account AS
SELECT (SELECT count(*) FROM freetier.account_ledger) AS entries,
       (SELECT count(*) FROM freetier.corrections) AS corrections,
       (SELECT sum(purchased_balance) FROM freetier.accounts) AS purchased;
SELECT freetier_refund_credits('ann', 'buy-404', 'customer asked');
\echo :LAST_ERROR_SQLSTATE
SELECT freetier_refund_credits('nobody', 'buy-1', 'customer asked');
\echo :LAST_ERROR_SQLSTATE
SELECT freetier_refund_credits('ann', 'buy-bob', 'customer asked');   -- bob's purchase
\echo :LAST_ERROR_SQLSTATE
SELECT freetier_refund_credits('ann', 'buy-1', 'another reason');
\echo :LAST_ERROR_SQLSTATE
SELECT freetier_refund_credits('ann', 'buy-1', '');
\echo :LAST_ERROR_SQLSTATE
SELECT freetier_refund_credits('ann', '', 'customer asked');
\echo :LAST_ERROR_SQLSTATE
SELECT freetier_refund_credits('', 'buy-1', 'customer asked');
\echo :LAST_ERROR_SQLSTATE
SELECT freetier_refund_credits(NULL, 'buy-1', 'customer asked');
\echo :LAST_ERROR_SQLSTATE
SELECT (SELECT count(*) FROM freetier.account_ledger) AS entries,
       (SELECT count(*) FROM freetier.corrections) AS corrections,
       (SELECT sum(purchased_balance) FROM freetier.accounts) AS purchased,
       (SELECT row(entries, corrections, purchased) FROM before_account) AS before;

------------------------------------------------------------------------------
-- freetier_balance_at, freetier_account_balance_at
------------------------------------------------------------------------------
-- At every instant seen above, the balance as the ledger tells it is the
-- balance that was stored then; before the pool existed, 0.
SELECT at, pool_balance, freetier_balance_at('p', at) AS from_ledger FROM seen ORDER BY at;
SELECT freetier_balance_at('p', '2026-03-01 09:00+00');
SELECT at, purchased_balance, freetier_account_balance_at('ann', at) AS from_ledger
  FROM seen_account ORDER BY at;
SELECT freetier_balance_at('nowhere', now());
\echo :LAST_ERROR_SQLSTATE
SELECT freetier_balance_at('p', NULL);
\echo :LAST_ERROR_SQLSTATE
SELECT freetier_account_balance_at('nobody', now());
\echo :LAST_ERROR_SQLSTATE
SELECT freetier_account_balance_at(NULL, now());
\echo :LAST_ERROR_SQLSTATE

------------------------------------------------------------------------------
-- Conservation, from the ledgers alone
------------------------------------------------------------------------------
-- A pool: balance = seed + credits + adjustments - reversals - absorbed -
-- held, each a sum of the ledger's entries of its kinds (absorbed and held
-- together: what hold entries took less what return, release and expiry
-- entries gave back; moves between stripes cancel out).  What it owes:
-- 'owed' less 'repay' entries.  The stored figures must agree, and so must
-- the holds and grants that the ledger does not read.
SELECT l.*, s.balance, s.owed,
       l.seed + l.credits + l.adjustments - l.reversals - l.absorbed_and_held = s.balance
         AND l.owed - l.repaid = s.owed AS conserved,
       l.absorbed_and_held = (SELECT coalesce(sum(absorbed_sats), 0) FROM freetier.grants g
                                JOIN freetier.holds h USING (hold_id) WHERE h.pool = 'p')
                           + (SELECT coalesce(sum(held_sats), 0) FROM freetier.holds
                               WHERE pool = 'p' AND state = 'held') AS holds_agree
  FROM (SELECT sum(delta_sats) FILTER (WHERE kind = 'seed') AS seed,
               sum(delta_sats) FILTER (WHERE kind = 'credit') AS credits,
               sum(delta_sats) FILTER (WHERE kind = 'adjust') AS adjustments,
               -sum(delta_sats) FILTER (WHERE kind = 'reversal') AS reversals,
               -sum(delta_sats) FILTER (WHERE kind IN ('hold', 'return', 'release', 'expiry'))
                 AS absorbed_and_held,
               sum(delta_sats) FILTER (WHERE kind = 'owed') AS owed,
               -sum(delta_sats) FILTER (WHERE kind = 'repay') AS repaid,
               coalesce(sum(delta_sats) FILTER (WHERE kind = 'move'), 0) AS moved
          FROM freetier.ledger WHERE pool = 'p') l,
       (SELECT sum(balance_sats) AS balance, sum(owed_sats) AS owed
          FROM freetier.pool_stripes WHERE pool = 'p') s;
-- Every reversed payment: what was taken plus what is owed is what was
-- credited; every credit: what reached the balance plus what repaid debt.
SELECT c.payment_ref, c.credited_sats,
       coalesce(-sum(l.delta_sats) FILTER (WHERE l.kind = 'reversal'), 0) AS taken,
       coalesce(sum(l.delta_sats) FILTER (WHERE l.kind = 'owed'), 0) AS owed,
       coalesce(sum(l.delta_sats) FILTER (WHERE l.kind = 'credit'), 0) AS credit_entries,
       coalesce(-sum(l.delta_sats) FILTER (WHERE l.kind = 'repay'), 0) AS repaid
  FROM freetier.credits c LEFT JOIN freetier.ledger l ON l.payment_ref = c.payment_ref
 WHERE c.pool = 'p' GROUP BY c.payment_ref, c.credited_sats ORDER BY c.payment_ref;
-- An account: purchased balance = purchases + grants + trials + carried in
-- - carried out - refunds - spent, from its 'purchased' entries.
SELECT a.subject, l.*, a.purchased_balance,
       l.purchases + l.carried - l.refunds - l.spent = a.purchased_balance AS conserved
  FROM freetier.accounts a,
       LATERAL (SELECT coalesce(sum(delta) FILTER (WHERE kind IN ('purchase', 'grant', 'trial')), 0)
                         AS purchases,
                       coalesce(sum(delta) FILTER (WHERE kind IN ('carry_in', 'carry_out')), 0)
                         AS carried,
                       coalesce(-sum(delta) FILTER (WHERE kind = 'refund'), 0) AS refunds,
                       coalesce(-sum(delta) FILTER (WHERE kind = 'spend'), 0) AS spent
                  FROM freetier.account_ledger
                 WHERE subject = a.subject AND bucket = 'purchased') l
 ORDER BY a.subject;
SELECT kind, ref, target, amount, reason, result FROM freetier.corrections ORDER BY created_at, kind, ref;
SELECT pool, ok FROM freetier_verify_ledger();
SELECT subject, ok FROM freetier_verify_account_ledger();

-- A top-up must leave room for the sats on holds, which come back to the
-- stripe: else releasing, settling or sweeping them would overflow.
SELECT freetier_create_pool('topped', 100, 10, '15 minutes', 1);
SELECT freetier_set_tier_budget('topped', 1000);
SELECT freetier_set_tier('topped-user', 'topped');
SELECT absorb_sats FROM freetier_decide('topped-user', 50, 'topped');
SELECT freetier_adjust_pool('topped', 9223372036854775807 - 60, 'typo', 'adj-topped');
\echo :LAST_ERROR_SQLSTATE
SELECT freetier_adjust_pool('topped', 9223372036854775807 - 100, 'fits', 'adj-topped');
SELECT freetier_release((SELECT hold_id FROM freetier.holds WHERE subject = 'topped-user'));
SELECT pool, ok FROM freetier_verify_ledger('topped');
