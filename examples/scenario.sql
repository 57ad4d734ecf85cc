-- A short tour of freetier, run by examples/quickstart.sh in a throw-away cluster.
\set ON_ERROR_STOP 1
\pset footer off
\set SHOW_CONTEXT never
SET client_min_messages = warning;
SET timezone = 'UTC';
CREATE EXTENSION freetier;

\echo
\echo '== 1. Out of the box: four tiers and a pool of 10,000 sats'
SELECT pool, balance_sats, credit_pct, hold_ttl, daily_budgets FROM freetier_pool_status();

\echo '== 2. An operator gives alice a tier: established = 50 sats a day'
SELECT freetier_set_tier('npub1alice', 'established');

\echo '== 3. What would a 30-sat request cost her? (estimate: no locks, no writes)'
SELECT * FROM freetier_estimate('npub1alice', 30);

\echo '== 4. The application decides, in its own transaction, and keeps the hold_id'
BEGIN;
SELECT serve, absorb_sats, charge_sats, reason, hold_id AS first_hold
  FROM freetier_decide('npub1alice', 30) \gset
\echo serve=:serve absorb=:absorb_sats charge=:charge_sats
COMMIT;

\echo '== 5. The work cost only 18 sats: settle, and 12 go back to the pool and her day'
SELECT * FROM freetier_record_grant(:'first_hold', 18, 'req-0001');

\echo '== 6. A second, 40-sat request: 32 left today, so partly subsidised'
SELECT serve, absorb_sats, charge_sats, hold_id AS second_hold
  FROM freetier_decide('npub1alice', 40) \gset
\echo serve=:serve absorb=:absorb_sats charge=:charge_sats

\echo '== 7. The backend failed: release returns every held sat'
SELECT freetier_release(:'second_hold', 'backend timeout') AS returned_sats;

\echo '== 8. Gates, with their reasons'
SELECT 'anonymous caller' AS who, serve, charge_sats, reason FROM freetier_decide(NULL, 25)
UNION ALL
SELECT 'never seen', serve, charge_sats, reason FROM freetier_decide('npub1stranger', 25)
UNION ALL
SELECT 'zero cost', serve, charge_sats, reason FROM freetier_decide('npub1alice', 0);

\echo '== 9. A paid invoice of 5,000 sats grows the pool by 10 %; the webhook retry adds nothing'
SELECT freetier_credit(5000, 'default', 'lnbc-invoice-77') AS credited,
       freetier_credit(5000, 'default', 'lnbc-invoice-77') AS retried;

\echo '== 10. The ledger: every movement, hash-chained, and it verifies'
SELECT seq, kind, delta_sats, balance_after, left(encode(hash, 'hex'), 16) || '…' AS hash
  FROM freetier.ledger ORDER BY seq;
SELECT * FROM freetier_verify_ledger();

\echo '== 11. Nobody can rewrite it, not even a superuser'
\set ON_ERROR_STOP 0
UPDATE freetier.ledger SET delta_sats = 1000000 WHERE seq = 2;
\set ON_ERROR_STOP 1

\echo '== 12. Anniversary renewals (pure, executable by anyone): Jan 31 -> Feb 29 -> Mar 31'
SELECT next_renewal_after('2024-01-31 09:00+00') AS after_jan_31,
       next_renewal_after('2024-02-29 09:00+00', 31) AS after_feb_29_anchor_31;

\echo '== 13. Credit accounts (0.2): a tenant signs up on the default plan (core: 100 credits, 25 via gemini)'
SELECT subject, plan, opened FROM freetier_open_account('tenant-42');

\echo '== 14. Which backend? gemini while its cap lasts'
SELECT * FROM freetier_route('tenant-42', ARRAY['gemini', 'hardware']);
SELECT ok, allowance_credits, purchased_credits FROM freetier_spend_credits('tenant-42', 25, 'gemini');
SELECT * FROM freetier_route('tenant-42', ARRAY['gemini', 'hardware']);

\echo '== 15. A purchase (once per reference), then the account as the next spend sees it'
SELECT freetier_add_credits('tenant-42', 500, 'btcpay-inv-881') AS added;
SELECT plan, allowance_left, backend_left, purchased_balance, lifetime_spent
  FROM freetier_account_status('tenant-42');
