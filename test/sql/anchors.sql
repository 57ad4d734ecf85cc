-- Anchors (0.4): freetier_ledger_anchor names every chain (each stripe of
-- each pool, each account) with its head; freetier_verify_anchor is true
-- only while that chain's entry still has that hash and the chain verifies
-- to its head.  An insider who rewrites a chain's tail together with its
-- head (triggers off, the entries replaced by ones the functions hash
-- afresh) keeps freetier_verify_ledger ok, and is caught by any anchor
-- kept at or after the rewritten entry.  Each tamper is rolled back.
SET timezone = 'UTC';
\set SHOW_CONTEXT never
DROP EXTENSION freetier;
CREATE EXTENSION freetier;
SET freetier.test_now = '2026-04-01 12:00:00+00';

-- A fresh install: pool default's 16 stripes, stripe 0 at its install-time
-- seed (the same bytes in every install), the others with no entry yet
-- (seq 0 after 32 zero bytes); no account.  Every one verifies.
SELECT chain, seq, encode(head_hash, 'hex') AS head_hash FROM freetier_ledger_anchor() LIMIT 3;
SELECT count(*) AS chains, count(*) FILTER (WHERE freetier_verify_anchor(chain, seq, head_hash)) AS verified
  FROM freetier_ledger_anchor();

-- Traffic: a pool of one stripe, a pool whose name has ':' in it, an
-- account, and an account whose subject looks like a pool's chain.
SELECT freetier_create_pool('anc', 1000, 10, '15 minutes', 1);
SELECT freetier_create_pool('a:b', 100, 10, '15 minutes', 2);
SELECT freetier_set_tier('sue', 'trusted');
SELECT absorbed_sats FROM freetier_record_grant((SELECT hold_id FROM freetier_decide('sue', 30, 'anc')), 20);
SELECT freetier_credit(100, 'anc', 'pay-1');
SELECT subject FROM freetier_open_account('acc', 'pro');
SELECT freetier_add_credits('acc', 50, 'buy-1');
SELECT subject FROM freetier_open_account('pool:0:anc', 'pro');

-- The first anchors kept; every chain named once, and each verifies.
CREATE TEMP TABLE g1 AS SELECT * FROM freetier_ledger_anchor();
SELECT chain, seq, freetier_verify_anchor(chain, seq, head_hash) AS verified
  FROM g1 WHERE chain NOT LIKE 'pool:%:default' ORDER BY chain COLLATE "C";
-- the same, one line per chain in the server log (test/t/008_pg_cron.pl reads them)
SELECT freetier_log_anchors() AS lines;
SELECT count(*) = count(DISTINCT chain) AS one_row_per_chain,
       count(*) = (SELECT count(*) FROM freetier.pool_stripes) + (SELECT count(*) FROM freetier.accounts)
                  + (SELECT count(*) FROM freetier.plans) + (SELECT count(*) FROM freetier.tiers)
                  + (SELECT count(*) FROM freetier.credit_settings) AS every_chain
  FROM g1;

-- More traffic, the second anchors, and more traffic again: old and new
-- anchors all still verify.
SELECT freetier_credit(200, 'anc', 'pay-2');
SELECT freetier_add_credits('acc', 20, 'buy-2');
CREATE TEMP TABLE g2 AS SELECT * FROM freetier_ledger_anchor();
SELECT freetier_credit(300, 'anc', 'pay-3');
SELECT absorbed_sats FROM freetier_record_grant((SELECT hold_id FROM freetier_decide('sue', 40, 'anc')), 40);
SELECT freetier_add_credits('acc', 5, 'buy-3');
SELECT ok FROM freetier_spend_credits('acc', 2, 'api');
SELECT g.chain, g1.seq AS g1_seq, g2.seq AS g2_seq, g.seq AS now_seq,
       freetier_verify_anchor(g.chain, g1.seq, g1.head_hash) AS g1,
       freetier_verify_anchor(g.chain, g2.seq, g2.head_hash) AS g2,
       freetier_verify_anchor(g.chain, g.seq, g.head_hash) AS now
  FROM freetier_ledger_anchor() g JOIN g1 USING (chain) JOIN g2 USING (chain)
 WHERE g.chain IN ('pool:0:anc', 'account:acc') ORDER BY g.chain COLLATE "C";
SELECT count(*) FILTER (WHERE freetier_verify_anchor(chain, seq, head_hash)) AS g1_verified, count(*) FROM g1;
SELECT count(*) FILTER (WHERE freetier_verify_anchor(chain, seq, head_hash)) AS g2_verified, count(*) FROM g2;
SELECT seq AS anc_g2 FROM g2 WHERE chain = 'pool:0:anc' \gset
SELECT seq AS anc_g1 FROM g1 WHERE chain = 'pool:0:anc' \gset
SELECT seq AS acc_g2 FROM g2 WHERE chain = 'account:acc' \gset

-- What each check says: the plain verification, and the kept anchors.
CREATE FUNCTION checks(chain text) RETURNS TABLE (verify_ok boolean, g1 boolean, g2 boolean)
LANGUAGE sql AS $$
  SELECT CASE WHEN chain LIKE 'pool:%'
              THEN (SELECT ok FROM freetier_verify_ledger('anc'))
              ELSE (SELECT ok FROM freetier_verify_account_ledger('acc')) END,
         (SELECT freetier_verify_anchor(g1.chain, g1.seq, g1.head_hash) FROM g1 WHERE g1.chain = $1),
         (SELECT freetier_verify_anchor(g2.chain, g2.seq, g2.head_hash) FROM g2 WHERE g2.chain = $1)
$$;

------------------------------------------------------------------------------
-- The insider's rewrite, on a pool's stripe: the entries from one on
-- deleted, the stripe set back to the entry before them, and new entries
-- appended through freetier_credit (hashed and linked as every entry is),
-- up past the old head.  freetier_verify_ledger says ok.
------------------------------------------------------------------------------
CREATE FUNCTION rewrite_pool(from_seq bigint) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
  head bigint := (SELECT head_seq FROM freetier.pool_stripes WHERE pool = 'anc');
BEGIN
  DELETE FROM freetier.ledger WHERE pool = 'anc' AND seq >= from_seq;
  UPDATE freetier.pool_stripes s SET head_seq = l.seq, head_hash = l.hash, balance_sats = l.balance_after
    FROM freetier.ledger l WHERE s.pool = 'anc' AND l.pool = 'anc' AND l.seq = from_seq - 1;
  WHILE (SELECT head_seq FROM freetier.pool_stripes WHERE pool = 'anc') < head LOOP
    PERFORM freetier_credit(10, 'anc', NULL);
  END LOOP;
  RETURN (SELECT head_seq FROM freetier.pool_stripes WHERE pool = 'anc');
END
$$;
\set off 'ALTER TABLE freetier.ledger DISABLE TRIGGER USER; ALTER TABLE freetier.account_ledger DISABLE TRIGGER USER'

-- the entry at the second anchor rewritten: the first anchor still holds
BEGIN; :off;
SELECT rewrite_pool(:anc_g2) AS head;
SELECT * FROM checks('pool:0:anc'); ROLLBACK;

-- an entry before the first anchor rewritten: both fail
BEGIN; :off;
SELECT rewrite_pool(:anc_g1 - 1) AS head;
SELECT * FROM checks('pool:0:anc'); ROLLBACK;

-- the entry after the second anchor linked to another entry (its stored
-- prev_hash), the rest as it was: verification and the anchors fail
BEGIN; :off;
UPDATE freetier.ledger SET prev_hash = (SELECT hash FROM freetier.ledger WHERE pool = 'anc' AND seq = 1)
 WHERE pool = 'anc' AND seq = :anc_g2 + 1;
SELECT * FROM checks('pool:0:anc'); ROLLBACK;

-- a later entry's amount changed, the stripe's balance with it: the chain
-- after the anchors is broken
BEGIN; :off;
UPDATE freetier.ledger SET delta_sats = delta_sats + 1, balance_after = balance_after + 1
 WHERE pool = 'anc' AND seq = (SELECT head_seq FROM freetier.pool_stripes WHERE pool = 'anc');
UPDATE freetier.pool_stripes SET balance_sats = balance_sats + 1 WHERE pool = 'anc';
SELECT * FROM checks('pool:0:anc'); ROLLBACK;

------------------------------------------------------------------------------
-- The same rewrite on an account's chain: its entries from the second
-- anchor on (two purchases, a spend) deleted, the account set back to
-- what it was before them (bought 50), other purchases and the spend made.
------------------------------------------------------------------------------
BEGIN; :off;
SELECT seq, kind, bucket, delta FROM freetier.account_ledger WHERE subject = 'acc' ORDER BY seq;
DELETE FROM freetier.account_ledger WHERE subject = 'acc' AND seq >= :acc_g2;
UPDATE freetier.accounts a SET head_seq = l.seq, head_hash = l.hash,
       purchased_balance = 50, lifetime_added = 50, period_used = 0, lifetime_spent = 0
  FROM freetier.account_ledger l WHERE a.subject = 'acc' AND l.subject = 'acc' AND l.seq = :acc_g2 - 1;
SELECT freetier_add_credits('acc', 500, 'forged-1'), freetier_add_credits('acc', 5, 'forged-2');
SELECT ok FROM freetier_spend_credits('acc', 2, 'api');
SELECT * FROM checks('account:acc'); ROLLBACK;

------------------------------------------------------------------------------
-- Anchors that do not hold, and what is not an anchor
------------------------------------------------------------------------------
SELECT seq, head_hash AS anc_hash FROM g2 WHERE chain = 'pool:0:anc' \gset
SELECT freetier_verify_anchor('pool:0:anc', :anc_g2, set_byte(:'anc_hash'::bytea, 0, get_byte(:'anc_hash'::bytea, 0) # 1)) AS one_bit_flipped,
       freetier_verify_anchor('pool:0:anc', :anc_g2, substr(:'anc_hash'::bytea, 1, 31)) AS too_short,
       freetier_verify_anchor('pool:0:anc', :anc_g2 + 1, :'anc_hash') AS other_seq,
       freetier_verify_anchor('pool:0:anc', 1000, :'anc_hash') AS past_the_head,
       freetier_verify_anchor('pool:0:anc', -1, :'anc_hash') AS negative_seq,
       freetier_verify_anchor('pool:0:anc', 0, decode(repeat('00', 32), 'hex')) AS the_start,
       freetier_verify_anchor('pool:1:a:b', 1, (SELECT hash FROM freetier.ledger WHERE pool = 'a:b' AND stripe = 1)) AS colon_pool,
       freetier_verify_anchor('account:pool:0:anc', 1, (SELECT hash FROM freetier.account_ledger WHERE subject = 'pool:0:anc')) AS pool_like_subject;

-- errors: NULL arguments and malformed names are 22023, a chain that does
-- not exist 42704
SELECT freetier_verify_anchor(NULL, 1, '\x00');
\echo :LAST_ERROR_SQLSTATE
SELECT freetier_verify_anchor('pool:0:anc', NULL, '\x00');
\echo :LAST_ERROR_SQLSTATE
SELECT freetier_verify_anchor('pool:0:anc', 1, NULL);
\echo :LAST_ERROR_SQLSTATE
DO $$
DECLARE
  name text;
BEGIN
  FOREACH name IN ARRAY ARRAY['', 'pool', 'pool:', 'pool:0', 'pool:0:', 'pool::anc', 'pool:x:anc',
                              'pool:01:anc', 'pool:-1:anc', 'pool:1000:anc', 'Pool:0:anc', 'account:',
                              'account', 'ledger:anc', 'account:' || repeat('x', 257),
                              'pool:1:anc', 'pool:64:default', 'pool:0:nope', 'account:nobody',
                              'account:anc', 'pool:0:acc', 'plan:', 'plan', 'plan:nope',
                              'credit_settings:', 'Credit_settings'] LOOP
    BEGIN
      PERFORM freetier_verify_anchor(name, 1, '\x00');
      RAISE NOTICE '[%] verified', name;
    EXCEPTION WHEN OTHERS THEN
      RAISE NOTICE '[%] % %', left(name, 20), SQLSTATE, left(SQLERRM, 40);
    END;
  END LOOP;
END
$$;

------------------------------------------------------------------------------
-- Retention: once the anchored entries are archived, they are verified
-- from the archive; once the archive is dropped, those anchors are false
-- (the database no longer holds the entry), while an anchor taken after
-- the checkpoint still holds.
------------------------------------------------------------------------------
SELECT stripe, seq FROM freetier_checkpoint_ledger('anc');
SELECT * FROM freetier_archive_ledger('anc');
CREATE TEMP TABLE g3 AS SELECT * FROM freetier_ledger_anchor();
SELECT freetier_credit(400, 'anc', 'pay-4');
SELECT * FROM checks('pool:0:anc');
-- an archived entry rewritten
BEGIN; ALTER TABLE freetier.ledger_archive DISABLE TRIGGER USER;
UPDATE freetier.ledger_archive SET payment_ref = 'pay-0' WHERE pool = 'anc' AND payment_ref = 'pay-1';
SELECT ok FROM freetier_verify_ledger('anc');
SELECT * FROM checks('pool:0:anc'); ROLLBACK;
SELECT freetier_drop_ledger_archive('anc') > 0 AS dropped;
SELECT (SELECT ok FROM freetier_verify_ledger('anc')) AS verify_ok,
       (SELECT freetier_verify_anchor(chain, seq, head_hash) FROM g1 WHERE chain = 'pool:0:anc') AS archived_g1,
       (SELECT freetier_verify_anchor(chain, seq, head_hash) FROM g3 WHERE chain = 'pool:0:anc') AS checkpoint_g3;

-- At the end every chain's current anchor verifies, and so do both ledgers.
SELECT count(*) FILTER (WHERE freetier_verify_anchor(chain, seq, head_hash)) AS verified, count(*)
  FROM freetier_ledger_anchor();
SELECT bool_and(ok) AS pools_ok FROM freetier_verify_ledger();
SELECT bool_and(ok) AS accounts_ok FROM freetier_verify_account_ledger();
