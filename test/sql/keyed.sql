-- Keyed chains (0.4), what is visible without a chain key: this server does
-- not preload freetier, so it has no key, and no freetier.chain_key_file
-- setting (test/t/012_keyed_chain.pl runs a server with a key).  Entries
-- are hashed unkeyed and verify as before; sealing needs the key; an entry
-- whose hash has the keyed form cannot be checked without it, and is
-- 55000, never reported ok.  Each tamper is rolled back.
SET timezone = 'UTC';
\set SHOW_CONTEXT never
DROP EXTENSION freetier;
CREATE EXTENSION freetier;
SET freetier.test_now = '2026-04-01 12:00:00+00';

SELECT freetier_create_pool('kp', 1000, 10, '15 minutes', 1);
SELECT freetier_credit(100, 'kp', 'pay-1');
SELECT subject FROM freetier_open_account('ka', 'pro');
SELECT freetier_add_credits('ka', 50, 'buy-1');
SELECT * FROM freetier_verify_ledger('kp');
SELECT * FROM freetier_verify_account_ledger('ka');

-- The setting exists only when freetier is preloaded.
SHOW freetier.chain_key_file;
\echo :LAST_ERROR_SQLSTATE

-- Sealing needs the key: 55000, and nothing is sealed.
SELECT freetier_seal_chains();
\echo :LAST_ERROR_SQLSTATE
SELECT count(*) AS seals FROM freetier.chain_seals;

-- An entry whose hash has the keyed form ('ftk1', then 28 bytes): without
-- the key it cannot be checked, so verification stops with 55000.
BEGIN;
ALTER TABLE freetier.ledger DISABLE TRIGGER ledger_append_only;
UPDATE freetier.ledger SET hash = '\x66746b31'::bytea || substr(hash, 5)
 WHERE pool = 'kp' AND seq = 2;
SELECT * FROM freetier_verify_ledger('kp');
\echo :LAST_ERROR_SQLSTATE
ROLLBACK;
BEGIN;
ALTER TABLE freetier.account_ledger DISABLE TRIGGER account_ledger_append_only;
UPDATE freetier.account_ledger SET hash = '\x66746b31'::bytea || substr(hash, 5)
 WHERE subject = 'ka' AND seq = 2;
SELECT * FROM freetier_verify_account_ledger('ka');
\echo :LAST_ERROR_SQLSTATE
ROLLBACK;
-- An edited hash of the unkeyed form is a bad entry, as it always was.
BEGIN;
ALTER TABLE freetier.ledger DISABLE TRIGGER ledger_append_only;
UPDATE freetier.ledger SET hash = set_byte(hash, 31, get_byte(hash, 31) # 1)
 WHERE pool = 'kp' AND seq = 2;
SELECT * FROM freetier_verify_ledger('kp');
ROLLBACK;
SELECT * FROM freetier_verify_ledger('kp');
