-- The seed's service as SQL, statement by statement: what FreeTierService
-- (/work/shared/seeds/000-free-tier.ts) sends through drizzle for one request
-- on the free path, decide(pubkey, 30) and then recordGrant(pubkey, hash,
-- 25, 30) after the work, against its tables in schema seed
-- (bench/seed_tables.sql).  One line is one round trip; BEGIN and COMMIT are
-- db.transaction's.  A request: two autocommit reads and two transactions.
-- Values drizzle sends as parameters are pgbench variables here (:key);
-- JavaScript's new Date() is now(), randomUUID() is gen_random_uuid().
\set n :n + 1
\set s 1 + permute(:start + :n * :clients + :client_id, :subjects)
-- decide() -> trustService.getIdentityWithDecay(pubkey): trust.ts is not in
-- the seed; here one read of the identity row
SELECT pubkey, trust_score, tier, sats_absorbed_today, absorbed_reset_at, created_at, updated_at
  FROM seed.nostr_identities WHERE pubkey = 'u' || :s;
-- decide() -> getPoolBalance()
SELECT key, value, updated_at FROM seed.timmy_config WHERE key = :key LIMIT 1;
-- decide() -> _atomicPoolDebit(30), in db.transaction
BEGIN;
INSERT INTO seed.timmy_config (key, value, updated_at) VALUES (:key, :initial, DEFAULT)
  ON CONFLICT DO NOTHING;
SELECT value::int AS balance FROM seed.timmy_config WHERE key = :key FOR UPDATE \gset
\set newbalance :balance - 30
UPDATE seed.timmy_config SET value = :newbalance, updated_at = now() WHERE key = :key;
COMMIT;
-- ... the work ...
-- recordGrant(pubkey, requestHash, 25, 30), in db.transaction: the 5 sats
-- over-reserved back to the pool, the daily counter, the audit row
BEGIN;
UPDATE seed.timmy_config SET value = (value::int + 5)::text, updated_at = now() WHERE key = :key;
UPDATE seed.nostr_identities
   SET sats_absorbed_today = CASE WHEN EXTRACT(EPOCH FROM (now() - absorbed_reset_at)) * 1000 >= 86400000
                                  THEN 25 ELSE sats_absorbed_today + 25 END,
       absorbed_reset_at = CASE WHEN EXTRACT(EPOCH FROM (now() - absorbed_reset_at)) * 1000 >= 86400000
                                THEN now() ELSE absorbed_reset_at END,
       updated_at = now()
 WHERE pubkey = 'u' || :s;
SELECT key, value AS after, updated_at FROM seed.timmy_config WHERE key = :key LIMIT 1 \gset
INSERT INTO seed.free_tier_grants (id, pubkey, request_hash, sats_absorbed, pool_balance_after)
  VALUES (gen_random_uuid()::text, 'u' || :s, 'req-' || :client_id || '-' || :n, 25, :after);
COMMIT;
