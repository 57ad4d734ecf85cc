-- The ledger: one entry per movement, hash-chained per pool, append-only
-- for every role, and freetier_verify_ledger finds any change.
SET timezone = 'UTC';
\set SHOW_CONTEXT never
DROP EXTENSION freetier;
-- A fixed clock makes every hash below reproducible (the install-time seed
-- entry is dated -infinity in every install).
SET freetier.test_now = '2026-07-01 00:00:00+00';
CREATE EXTENSION freetier;
SELECT freetier_configure_pool('default', stripes => 1);   -- one chain to read
SELECT freetier_set_tier('lee', 'elite');
CREATE TEMP TABLE d AS SELECT * FROM freetier_decide('lee', 300);
SELECT absorbed_sats FROM freetier_record_grant((SELECT hold_id FROM d), 120);
SELECT freetier_credit(500, 'default', 'inv-1');

-- Each entry links to the one before it; balance_after is the running sum.
SELECT seq, kind, delta_sats, balance_after,
       sum(delta_sats) OVER (ORDER BY seq) = balance_after AS running_sum,
       prev_hash = coalesce(lag(hash) OVER (ORDER BY seq), '\x0000000000000000000000000000000000000000000000000000000000000000') AS linked,
       octet_length(hash) AS hash_bytes
  FROM freetier.ledger WHERE pool = 'default' ORDER BY seq;

-- Known answer: the seed entry's BLAKE2b-256 (an independent implementation,
-- Python's hashlib.blake2b, gives the same for the layout in chain.c).
SELECT encode(hash, 'hex') AS seed_hash FROM freetier.ledger WHERE pool = 'default' AND seq = 1;

SELECT * FROM freetier_verify_ledger();
SELECT * FROM freetier_verify_ledger('default');
SELECT * FROM freetier_verify_ledger('nope');
\echo :LAST_ERROR_SQLSTATE

-- Append-only for everyone, superusers included ...
UPDATE freetier.ledger SET delta_sats = 0 WHERE seq = 2;
\echo :LAST_ERROR_SQLSTATE
DELETE FROM freetier.ledger WHERE seq = 4;
\echo :LAST_ERROR_SQLSTATE
TRUNCATE freetier.ledger;
\echo :LAST_ERROR_SQLSTATE
UPDATE freetier.grants SET absorbed_sats = 0;
\echo :LAST_ERROR_SQLSTATE
DELETE FROM freetier.grants;
\echo :LAST_ERROR_SQLSTATE
TRUNCATE freetier.grants;
\echo :LAST_ERROR_SQLSTATE
-- ... and also when ordinary triggers are off (session_replication_role).
SET session_replication_role = replica;
DELETE FROM freetier.ledger;
\echo :LAST_ERROR_SQLSTATE
UPDATE freetier.grants SET charge_sats = 0;
\echo :LAST_ERROR_SQLSTATE
RESET session_replication_role;

-- A superuser who disables the triggers can change rows, but not unseen.
BEGIN;
ALTER TABLE freetier.ledger DISABLE TRIGGER ledger_append_only;
UPDATE freetier.ledger SET delta_sats = delta_sats + 1, balance_after = balance_after + 1 WHERE seq = 3;
SELECT * FROM freetier_verify_ledger('default');        -- entry 3's hash no longer matches
ROLLBACK;
BEGIN;
ALTER TABLE freetier.ledger DISABLE TRIGGER ledger_append_only;
UPDATE freetier.ledger SET created_at = created_at + interval '1 second' WHERE seq = 2;
SELECT * FROM freetier_verify_ledger('default');
ROLLBACK;
BEGIN;
ALTER TABLE freetier.ledger DISABLE TRIGGER ledger_append_only;
DELETE FROM freetier.ledger WHERE seq = 2;               -- a gap
SELECT * FROM freetier_verify_ledger('default');
ROLLBACK;
BEGIN;
ALTER TABLE freetier.ledger DISABLE TRIGGER ledger_append_only;
DELETE FROM freetier.ledger WHERE seq = 4;               -- the newest entry
SELECT * FROM freetier_verify_ledger('default');        -- the stripe row names 4 as its head
ROLLBACK;
BEGIN;
UPDATE freetier.pool_stripes SET balance_sats = balance_sats + 1000;   -- the stripe row alone
SELECT * FROM freetier_verify_ledger('default');        -- every entry fine, the end does not match
ROLLBACK;
SELECT * FROM freetier_verify_ledger();
