-- Both hash chains, field by field.  Known answers: the hashes of a pool's
-- credit entry and of an account's spend entry, computed outside
-- PostgreSQL with the README's Python.  Tampering: every stored column of
-- both ledgers is changed in turn, as a superuser with the append-only
-- triggers off, and verification must name the first changed entry.
-- Where it can, a tamper keeps everything else consistent (balances, the
-- owning row), so that only the hash, or only the stored prev_hash link,
-- can give it away.  A hash is tampered with by flipping its first bit.
-- Each tamper is rolled back.
SET timezone = 'UTC';
\set SHOW_CONTEXT never
DROP EXTENSION freetier;
CREATE EXTENSION freetier;
SET freetier.test_now = '2025-05-05 05:05:05+00';

------------------------------------------------------------------------------
-- Known answers
------------------------------------------------------------------------------
SELECT freetier_create_pool('kat', 100, 10, '15 minutes', 1);
SELECT freetier_credit(1000, 'kat', 'inv-kat');
SELECT seq, kind, encode(hash, 'hex') = CASE seq
         WHEN 1 THEN '4cd0029a5adb1fe39c4149f7667bb96eda6bdd41daf8e5b453e151105f0c3c52'
         WHEN 2 THEN '4be964851fb0460904c8114ab04fb135d9cf711007d196124786689b267878c0' END AS known
  FROM freetier.ledger WHERE pool = 'kat' ORDER BY seq;
SELECT subject, opened FROM freetier_open_account('kat', 'pro');
SELECT ok FROM freetier_spend_credits('kat', 3, 'gemini');
SELECT seq, kind, backend, encode(hash, 'hex') = CASE seq
         WHEN 1 THEN '891da7a88bdbd958144e42c72b8712465c5aec6a82ee33a94e45765d67f8c547'
         WHEN 2 THEN '10bee9e0b01d19c5a21d592edb569cc5aa0608aacdb45a242beefdad454eac17' END AS known
  FROM freetier.account_ledger WHERE subject = 'kat' ORDER BY seq;

-- A striped pool: stripe 0 hashes as a pool's one chain always has, any
-- other stripe hashes its number too, under its own domain tag.
SELECT freetier_create_pool('kas', 100, 10, '15 minutes', 2);
SELECT stripe, seq, kind, delta_sats, encode(hash, 'hex') = CASE stripe
         WHEN 0 THEN 'e8a6a5c4ac6fea53001ec743e63f713b37c58ab8fe469428ca4f8a04f362ca7f'
         WHEN 1 THEN '6785e4debc12c73ada3c60c7e2253316045899c6700a2bef0537e56b49e014c7' END AS known
  FROM freetier.ledger WHERE pool = 'kas' ORDER BY stripe, seq;

-- The corrections' kinds (0.4) hash the same way: a write-down, the sats
-- a pool owes after a reversal, a credit repaying them; a refund.
SELECT freetier_create_pool('kao', 0, 10, '15 minutes', 1);
SELECT freetier_credit(1000, 'kao', 'inv-kao');
SELECT freetier_adjust_pool('kao', -100, 'audit', 'adj-kao');
SELECT freetier_reverse_credit('inv-kao', 'chargeback');
SELECT freetier_credit(2000, 'kao', 'inv-kao2');
SELECT seq, kind, delta_sats, encode(hash, 'hex') = CASE seq
         WHEN 3 THEN '42117d910442196bd4617a4cd54ac2c35eacc825114044d4c9cf8b36b61f4a22'
         WHEN 4 THEN 'ff67c7e31828a8126ede4b0fc8a48a8b950489b3ceeeedf6943fad58b444448e'
         WHEN 5 THEN '241dc5859ae9f2f7be10d522fdc8cf66a2eabcb6c65042b16d9da003c853c0af'
         WHEN 6 THEN 'bde243a963c354017ae01d2efefcf7ddf908046d0245b0076a467aaf40929038' END AS known
  FROM freetier.ledger WHERE pool = 'kao' AND seq > 2 ORDER BY seq;
SELECT subject FROM freetier_open_account('kar', 'pro');
SELECT freetier_add_credits('kar', 10, 'buy-kar');
SELECT freetier_refund_credits('kar', 'buy-kar', 'asked');
SELECT seq, kind, encode(hash, 'hex') = '34dfffda51fe283eecb7294020188b2c03cbd76cc8cf6eee3d63bfd0af74340d' AS known
  FROM freetier.account_ledger WHERE subject = 'kar' AND kind = 'refund';

-- An import (0.4) hashes the same way too: a pool's balance on its one
-- stripe, with its ref as payment_ref; an account's imported period use.
SELECT freetier_create_pool('kai', 0, 10, '15 minutes', 1);
SELECT freetier_import_pool('kai', 500, 'imp-kai');
SELECT seq, kind, encode(hash, 'hex') = '707d48476771999713a961ed20097f37f308d5e6aa45ad995a1cabc0c590545a' AS known
  FROM freetier.ledger WHERE pool = 'kai' AND kind = 'import';
SELECT freetier_import_account('kaj', 'pro', '2025-05-05 05:05:05+00', '2025-05-05 05:05:05+00', 3, 0, 'imp-kaj');
SELECT seq, kind, encode(hash, 'hex') = '737b3549a68bdeeb5247667b65946cf63d426bb56d8709eba8e28a227612a7d0' AS known
  FROM freetier.account_ledger WHERE subject = 'kaj' AND kind = 'import';

------------------------------------------------------------------------------
-- Chains to tamper with: pool 'tam' and account 'ta', each with a twin
-- ('twin', 'tb') for the tampers that move a chain to another key.
------------------------------------------------------------------------------
SELECT freetier_set_tier('tamu', 'elite');
SELECT freetier_create_pool('tam', 1000, stripes => 1);
SELECT freetier_create_pool('twin', 1000, stripes => 1);
CREATE TEMP TABLE d AS SELECT * FROM freetier_decide('tamu', 10, 'tam');
SELECT absorbed_sats FROM freetier_record_grant((SELECT hold_id FROM d), 7);
SELECT freetier_credit(500, 'tam', 'inv-t');
SELECT freetier_release(hold_id) FROM freetier_decide('tamu', 10, 'tam');
SELECT freetier_credit(500, 'twin', 'inv-w');
SELECT seq, kind, delta_sats, balance_after, hold_id IS NOT NULL AS has_hold, payment_ref
  FROM freetier.ledger WHERE pool = 'tam' ORDER BY seq;

SELECT subject, opened FROM freetier_open_account('ta', 'pro');
SELECT subject, opened FROM freetier_open_account('tb', 'pro');
SELECT ok FROM freetier_spend_credits('ta', 3, 'gemini');
SELECT allowance_credits FROM freetier_settle_credits(
         (SELECT hold_id FROM freetier_reserve_credits('ta', 2, 'api')));
SELECT freetier_add_credits('ta', 10, 'buy-1');
SELECT freetier_add_credits('ta', 5, 'gift-1', 'grant');
SELECT freetier_add_credits('tb', 7, 'buy-b');
SELECT seq, kind, bucket, delta, balance_after, backend, hold_id IS NOT NULL AS has_hold, ref
  FROM freetier.account_ledger WHERE subject = 'ta' ORDER BY seq;

-- The chains that fail verification, and where.
CREATE FUNCTION bad() RETURNS TABLE (chain text, key text, first_bad_entry bigint)
LANGUAGE sql AS $$
  SELECT 'pool', pool, first_bad_entry FROM freetier_verify_ledger() WHERE NOT ok
  UNION ALL
  SELECT 'account', subject, first_bad_entry FROM freetier_verify_account_ledger() WHERE NOT ok
  ORDER BY 1, 2
$$;
SELECT * FROM bad();                                           -- none yet

------------------------------------------------------------------------------
-- The pool ledger
------------------------------------------------------------------------------
\set off 'ALTER TABLE freetier.ledger DISABLE TRIGGER ALL; ALTER TABLE freetier.pool_stripes DISABLE TRIGGER ALL'

-- pool: the two chains swap keys, with their stripes' balances and heads
BEGIN; :off;
UPDATE freetier.ledger SET pool = '~' WHERE pool = 'tam';
UPDATE freetier.ledger SET pool = 'tam' WHERE pool = 'twin';
UPDATE freetier.ledger SET pool = 'twin' WHERE pool = '~';
UPDATE freetier.pool_stripes p SET balance_sats = o.balance_sats, head_seq = o.head_seq, head_hash = o.head_hash
  FROM freetier.pool_stripes o WHERE (p.pool, o.pool) IN (('tam', 'twin'), ('twin', 'tam'))
   AND p.stripe = 0 AND o.stripe = 0;
SELECT 'pool' AS tampered, * FROM bad(); ROLLBACK;

-- seq: the last entry moved one on, the stripe's head with it
BEGIN; :off;
UPDATE freetier.ledger SET seq = 7 WHERE pool = 'tam' AND seq = 6;
UPDATE freetier.pool_stripes SET head_seq = 7 WHERE pool = 'tam';
SELECT 'seq' AS tampered, * FROM bad(); ROLLBACK;

-- kind: a release called an expiry
BEGIN; :off;
UPDATE freetier.ledger SET kind = 'expiry' WHERE pool = 'tam' AND seq = 6;
SELECT 'kind' AS tampered, * FROM bad(); ROLLBACK;

-- delta_sats and balance_after: a credit of 60 instead of 50, every later
-- balance and the stripe raised with it
BEGIN; :off;
UPDATE freetier.ledger SET delta_sats = delta_sats + 10 WHERE pool = 'tam' AND seq = 4;
UPDATE freetier.ledger SET balance_after = balance_after + 10 WHERE pool = 'tam' AND seq >= 4;
UPDATE freetier.pool_stripes SET balance_sats = balance_sats + 10 WHERE pool = 'tam';
SELECT 'delta_sats, balance_after' AS tampered, * FROM bad(); ROLLBACK;

-- balance_after alone
BEGIN; :off;
UPDATE freetier.ledger SET balance_after = balance_after + 1 WHERE pool = 'tam' AND seq = 6;
UPDATE freetier.pool_stripes SET balance_sats = balance_sats + 1 WHERE pool = 'tam';
SELECT 'balance_after' AS tampered, * FROM bad(); ROLLBACK;

-- hold_id
BEGIN; :off;
UPDATE freetier.ledger SET hold_id = '00000000-0000-0000-0000-000000000001' WHERE pool = 'tam' AND seq = 5;
SELECT 'hold_id' AS tampered, * FROM bad(); ROLLBACK;

-- payment_ref
BEGIN; :off;
UPDATE freetier.ledger SET payment_ref = 'inv-x' WHERE pool = 'tam' AND seq = 4;
SELECT 'payment_ref' AS tampered, * FROM bad(); ROLLBACK;

-- created_at
BEGIN; :off;
UPDATE freetier.ledger SET created_at = created_at + interval '1 second' WHERE pool = 'tam' AND seq = 3;
SELECT 'created_at' AS tampered, * FROM bad(); ROLLBACK;

-- prev_hash alone: the stored link, not the hash, is wrong
BEGIN; :off;
UPDATE freetier.ledger SET prev_hash = set_byte(prev_hash, 0, get_byte(prev_hash, 0) # 1) WHERE pool = 'tam' AND seq = 5;
SELECT 'prev_hash' AS tampered, * FROM bad(); ROLLBACK;

-- hash: of the last entry, with the stripe's head; of a middle one
BEGIN; :off;
UPDATE freetier.ledger SET hash = set_byte(hash, 0, get_byte(hash, 0) # 1) WHERE pool = 'tam' AND seq = 6;
UPDATE freetier.pool_stripes SET head_hash = set_byte(head_hash, 0, get_byte(head_hash, 0) # 1) WHERE pool = 'tam';
SELECT 'hash, last' AS tampered, * FROM bad(); ROLLBACK;
BEGIN; :off;
UPDATE freetier.ledger SET hash = set_byte(hash, 0, get_byte(hash, 0) # 1) WHERE pool = 'tam' AND seq = 3;
SELECT 'hash, middle' AS tampered, * FROM bad(); ROLLBACK;

-- stripe: stripe 1's seed entry moved to a new stripe 2 of its pool, with
-- its stripe row: every field but the stripe number is as hashed
BEGIN; :off;
INSERT INTO freetier.pool_stripes SELECT pool, 2, balance_sats, head_seq, head_hash
  FROM freetier.pool_stripes WHERE pool = 'kas' AND stripe = 1;
UPDATE freetier.pool_stripes SET balance_sats = 0, head_seq = 0,
       head_hash = '\x0000000000000000000000000000000000000000000000000000000000000000'
 WHERE pool = 'kas' AND stripe = 1;
UPDATE freetier.ledger SET stripe = 2 WHERE pool = 'kas' AND stripe = 1;
SELECT 'stripe' AS tampered, * FROM bad(); ROLLBACK;

------------------------------------------------------------------------------
-- The account ledger
------------------------------------------------------------------------------
\set off 'ALTER TABLE freetier.account_ledger DISABLE TRIGGER ALL; ALTER TABLE freetier.accounts DISABLE TRIGGER ALL'

-- subject: the two chains swap keys, with every figure of their accounts
BEGIN; :off;
UPDATE freetier.account_ledger SET subject = '~' WHERE subject = 'ta';
UPDATE freetier.account_ledger SET subject = 'ta' WHERE subject = 'tb';
UPDATE freetier.account_ledger SET subject = 'tb' WHERE subject = '~';
UPDATE freetier.accounts a
   SET (plan, period_start, period_used, lifetime_plan_used, late_period_used, purchased_balance,
        lifetime_spent, lifetime_added, head_seq, head_hash)
     = (o.plan, o.period_start, o.period_used, o.lifetime_plan_used, o.late_period_used,
        o.purchased_balance, o.lifetime_spent, o.lifetime_added, o.head_seq, o.head_hash)
  FROM freetier.accounts o WHERE (a.subject, o.subject) IN (('ta', 'tb'), ('tb', 'ta'));
SELECT 'subject' AS tampered, * FROM bad(); ROLLBACK;

-- seq
BEGIN; :off;
UPDATE freetier.account_ledger SET seq = 6 WHERE subject = 'ta' AND seq = 5;
UPDATE freetier.accounts SET head_seq = 6 WHERE subject = 'ta';
SELECT 'seq' AS tampered, * FROM bad(); ROLLBACK;

-- kind: a grant called a purchase (both are credits added)
BEGIN; :off;
UPDATE freetier.account_ledger SET kind = 'purchase' WHERE subject = 'ta' AND seq = 5;
SELECT 'kind' AS tampered, * FROM bad(); ROLLBACK;

-- bucket: the opening entry (0 credits) put in the late bucket
BEGIN; :off;
UPDATE freetier.account_ledger SET bucket = 'late' WHERE subject = 'ta' AND seq = 1;
SELECT 'bucket' AS tampered, * FROM bad(); ROLLBACK;

-- delta and balance_after: a spend of 4 instead of 3, the later balance
-- and the account's figures raised with it
BEGIN; :off;
UPDATE freetier.account_ledger SET delta = 4 WHERE subject = 'ta' AND seq = 2;
UPDATE freetier.account_ledger SET balance_after = balance_after + 1
 WHERE subject = 'ta' AND seq IN (2, 3);
UPDATE freetier.accounts SET period_used = period_used + 1, lifetime_spent = lifetime_spent + 1
 WHERE subject = 'ta';
SELECT 'delta, balance_after' AS tampered, * FROM bad(); ROLLBACK;

-- backend
BEGIN; :off;
UPDATE freetier.account_ledger SET backend = 'api' WHERE subject = 'ta' AND seq = 2;
SELECT 'backend' AS tampered, * FROM bad(); ROLLBACK;

-- hold_id
BEGIN; :off;
UPDATE freetier.account_ledger SET hold_id = '00000000-0000-0000-0000-000000000001'
 WHERE subject = 'ta' AND seq = 3;
SELECT 'hold_id' AS tampered, * FROM bad(); ROLLBACK;

-- ref
BEGIN; :off;
UPDATE freetier.account_ledger SET ref = 'buy-2' WHERE subject = 'ta' AND seq = 4;
SELECT 'ref' AS tampered, * FROM bad(); ROLLBACK;

-- created_at
BEGIN; :off;
UPDATE freetier.account_ledger SET created_at = created_at + interval '1 second'
 WHERE subject = 'ta' AND seq = 4;
SELECT 'created_at' AS tampered, * FROM bad(); ROLLBACK;

-- prev_hash alone
BEGIN; :off;
UPDATE freetier.account_ledger SET prev_hash = set_byte(prev_hash, 0, get_byte(prev_hash, 0) # 1)
 WHERE subject = 'ta' AND seq = 3;
SELECT 'prev_hash' AS tampered, * FROM bad(); ROLLBACK;

-- hash: of the last entry, with the account's head; of a middle one
BEGIN; :off;
UPDATE freetier.account_ledger SET hash = set_byte(hash, 0, get_byte(hash, 0) # 1) WHERE subject = 'ta' AND seq = 5;
UPDATE freetier.accounts SET head_hash = set_byte(head_hash, 0, get_byte(head_hash, 0) # 1) WHERE subject = 'ta';
SELECT 'hash, last' AS tampered, * FROM bad(); ROLLBACK;
BEGIN; :off;
UPDATE freetier.account_ledger SET hash = set_byte(hash, 0, get_byte(hash, 0) # 1) WHERE subject = 'ta' AND seq = 2;
SELECT 'hash, middle' AS tampered, * FROM bad(); ROLLBACK;

-- Everything rolled back: every chain verifies again.
SELECT * FROM bad();
