-- Privileges: only the pure function is executable by PUBLIC; an
-- application, an operator and a monitor role get exactly the functions the
-- README lists, through freetier_grant_app, _operator and _monitor, and none
-- can write a freetier table directly.
SET timezone = 'UTC';
\set SHOW_CONTEXT never
DROP EXTENSION freetier;
CREATE EXTENSION freetier;
SELECT freetier_set_tier('pat', 'trusted');

CREATE ROLE freetier_test_app;
CREATE ROLE freetier_test_operator;
CREATE ROLE freetier_test_nobody;
CREATE ROLE freetier_test_monitor;
CREATE ROLE freetier_test_watcher IN ROLE pg_monitor;

-- The README's grants, one call per role; calling them again changes nothing.
SELECT freetier_grant_app('freetier_test_app');
SELECT freetier_grant_operator('freetier_test_operator');
SELECT freetier_grant_monitor('freetier_test_monitor');
SELECT freetier_grant_app('freetier_test_app'), freetier_grant_operator('freetier_test_operator'),
       freetier_grant_monitor('freetier_test_monitor');
SELECT freetier_grant_app('freetier_test_missing');
\echo :LAST_ERROR_SQLSTATE

-- What each can execute: every function of the extension.
SELECT p.oid::regprocedure AS function,
       has_function_privilege('freetier_test_app', p.oid, 'EXECUTE') AS app,
       has_function_privilege('freetier_test_operator', p.oid, 'EXECUTE') AS operator,
       has_function_privilege('freetier_test_monitor', p.oid, 'EXECUTE') AS monitor,
       has_function_privilege('freetier_test_watcher', p.oid, 'EXECUTE') AS pg_monitor,
       has_function_privilege('freetier_test_nobody', p.oid, 'EXECUTE') AS nobody
  FROM pg_depend d JOIN pg_proc p ON p.oid = d.objid
 WHERE d.classid = 'pg_proc'::regclass AND d.deptype = 'e'
   AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'freetier')
 ORDER BY p.oid::regprocedure::text;

-- A role without the GRANTs can do nothing but the pure function.
SET ROLE freetier_test_nobody;
SELECT * FROM freetier_decide('pat', 10);
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM freetier_estimate('pat', 10);
\echo :LAST_ERROR_SQLSTATE
SELECT freetier_credit(100);
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM freetier.pools;
\echo :LAST_ERROR_SQLSTATE
SELECT next_renewal_after('2024-01-31 00:00+00');
RESET ROLE;

-- The monitor role, and any member of pg_monitor, reads the metrics and
-- the pool status, and nothing else.
SET ROLE freetier_test_monitor;
SELECT pool, balance_sats, stripes FROM freetier_pools();
SELECT * FROM freetier_accounts_summary();
SELECT pool, balance_sats FROM freetier_pool_status();
SELECT * FROM freetier_estimate('pat', 10);
\echo :LAST_ERROR_SQLSTATE
SELECT pool, ok FROM freetier_verify_ledger();
\echo :LAST_ERROR_SQLSTATE
-- it may keep anchors (hashes, no balance), not check them (issue 9)
SELECT chain, seq FROM freetier_ledger_anchor() LIMIT 1;
SELECT freetier_verify_anchor('pool:0:default', 1, '\x00');
\echo :LAST_ERROR_SQLSTATE
SET ROLE freetier_test_watcher;
SELECT pool, balance_sats, stripes FROM freetier_pools();
SELECT * FROM freetier_accounts_summary();
SELECT * FROM freetier_decide('pat', 10);
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM freetier.pools;
\echo :LAST_ERROR_SQLSTATE
RESET ROLE;

-- The application role decides, estimates, settles and releases ...
SET ROLE freetier_test_app;
SELECT serve, absorb_sats FROM freetier_estimate('pat', 10);
CREATE TEMP TABLE app_d AS SELECT * FROM freetier_decide('pat', 10);
SELECT serve, absorb_sats FROM app_d;
SELECT absorbed_sats FROM freetier_record_grant((SELECT hold_id FROM app_d), 10);
CREATE TEMP TABLE app_d2 AS SELECT * FROM freetier_decide('pat', 10);
SELECT freetier_release((SELECT hold_id FROM app_d2));
-- ... with a request_key and a hold_ttl, and extends its holds ...
CREATE TEMP TABLE app_d3 AS SELECT * FROM freetier_decide('pat', 5, 'default', 'app-1', interval '1 hour');
SELECT hold_id = (SELECT hold_id FROM app_d3) AS replayed FROM freetier_decide('pat', 5, 'default', 'app-1', interval '1 hour');
SELECT freetier_extend_hold((SELECT hold_id FROM app_d3), interval '2 hours') IS NOT NULL AS extended;
SELECT * FROM freetier.request_keys;
\echo :LAST_ERROR_SQLSTATE
-- ... but cannot credit, configure, or touch the tables.
SELECT freetier_credit(100);
\echo :LAST_ERROR_SQLSTATE
SELECT freetier_set_tier('pat', 'elite');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM freetier_pool_status();
\echo :LAST_ERROR_SQLSTATE
SELECT freetier_expire_holds();
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM freetier.pools;
\echo :LAST_ERROR_SQLSTATE
UPDATE freetier.pool_stripes SET balance_sats = 1000000;
\echo :LAST_ERROR_SQLSTATE
INSERT INTO freetier.subjects (subject, tier) VALUES ('mallory', 'elite');
\echo :LAST_ERROR_SQLSTATE
DELETE FROM freetier.holds;
\echo :LAST_ERROR_SQLSTATE
INSERT INTO freetier.ledger (pool, seq, kind, delta_sats, balance_after, created_at, prev_hash, hash)
  VALUES ('default', 99, 'credit', 1, 1, now(), '\x00', '\x00');
\echo :LAST_ERROR_SQLSTATE
SELECT freetier.clock();
\echo :LAST_ERROR_SQLSTATE
-- ... nor make any correction (issue 9).
SELECT freetier_adjust_pool('default', 1000, 'gift', 'app-adj');
\echo :LAST_ERROR_SQLSTATE
SELECT freetier_reverse_credit('op-1', 'chargeback');
\echo :LAST_ERROR_SQLSTATE
SELECT freetier_refund_credits('pat', 'app-buy', 'refund');
\echo :LAST_ERROR_SQLSTATE
SELECT freetier_balance_at('default', now());
\echo :LAST_ERROR_SQLSTATE
-- ... nor import a seed's state (issue 9).
SELECT freetier_import_pool('default', 1, 'app-imp');
\echo :LAST_ERROR_SQLSTATE
SELECT freetier_import_subject('mallory', 'elite', NULL, 0, 'app-imp');
\echo :LAST_ERROR_SQLSTATE
SELECT freetier_import_account('mallory', 'max', now(), now(), 0, 100, 'app-imp');
\echo :LAST_ERROR_SQLSTATE
RESET ROLE;

-- The operator role does the operator's work, and still no table writes.
SET ROLE freetier_test_operator;
SELECT freetier_credit(1000, 'default', 'op-1');
SELECT freetier_set_tier('quinn', 'established');
SELECT freetier_set_tier_budget('established', 60);
SELECT freetier_create_pool('ops', 500);
SELECT freetier_configure_pool('ops', 5, '1 hour');
SELECT pool, balance_sats, credit_pct, hold_ttl FROM freetier_pool_status('ops');
SELECT pool, ok FROM freetier_verify_ledger();
SELECT freetier_expire_holds();
SELECT serve, absorb_sats FROM freetier_decide('quinn', 60, 'ops');   -- it has the app's rights too
SELECT freetier_adjust_pool('ops', 100, 'gift', 'op-adj');         -- and makes corrections
SELECT freetier_reverse_credit('op-1', 'chargeback');
SELECT freetier_balance_at('ops', now());
SELECT freetier_create_pool('imp', stripes => 1);                   -- and imports
SELECT freetier_import_pool('imp', 70, 'op-imp');
SELECT freetier_import_subject('ivy', 'trusted', now(), 5, 'op-imp', 'imp');
SELECT freetier_import_account('ivy', 'pro', now(), now(), 5, 10, 'op-imp');
UPDATE freetier.tiers SET daily_budget_sats = 99999;
\echo :LAST_ERROR_SQLSTATE
DELETE FROM freetier.ledger;
\echo :LAST_ERROR_SQLSTATE
RESET ROLE;

-- A user object on the caller's search_path cannot stand in for anything
-- freetier uses: its functions pin search_path and qualify every name.
CREATE SCHEMA evil;
CREATE TABLE evil.pools (pool text, balance_sats bigint);
CREATE FUNCTION evil.now() RETURNS timestamptz LANGUAGE sql AS $$ SELECT '1999-01-01'::timestamptz $$;
CREATE FUNCTION evil.coalesce(bigint, bigint) RETURNS bigint LANGUAGE sql AS $$ SELECT 999999::bigint $$;
SET search_path = evil, public;
SELECT serve, absorb_sats, reason FROM freetier_decide('pat', 1, 'ops');
SELECT pool, balance_sats FROM freetier_pool_status('ops');
RESET search_path;
DROP SCHEMA evil CASCADE;

SELECT pool, ok FROM freetier_verify_ledger();

-- 0.2, credit accounts.
SET ROLE freetier_test_nobody;
SELECT * FROM freetier_spend_credits('acct', 1, 'api');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM freetier_mint_trial('192.0.2.1');
\echo :LAST_ERROR_SQLSTATE
RESET ROLE;

SET ROLE freetier_test_app;
SELECT plan, opened FROM freetier_open_account('acct');
SELECT plan, opened FROM freetier_open_account('acct2', 'max');      -- the operator's form
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM freetier_route('acct', ARRAY['gemini', 'hardware']);
SELECT ok, allowance_credits FROM freetier_spend_credits('acct', 2, 'hardware');
CREATE TEMP TABLE app_r AS SELECT * FROM freetier_reserve_credits('acct', 3, 'hardware');
SELECT allowance_credits, purchased_credits, returned_credits
  FROM freetier_settle_credits((SELECT hold_id FROM app_r), 1);
SELECT allowance_left FROM freetier_account_status('acct');
SELECT minted IS NOT NULL AS minted FROM (SELECT subject AS minted FROM freetier_mint_trial('192.0.2.1')) t;
-- ... and with request_keys, and extends a credit hold
SELECT ok, allowance_credits FROM freetier_spend_credits('acct', 1, 'hardware', 'app-spend-1');
CREATE TEMP TABLE app_r2 AS SELECT * FROM freetier_reserve_credits('acct', 1, 'hardware', 'app-res-1');
SELECT freetier_extend_hold((SELECT hold_id FROM app_r2), interval '1 hour') IS NOT NULL AS extended;
SELECT minted IS NOT NULL AS minted FROM (SELECT subject AS minted FROM freetier_mint_trial('192.0.2.2', 'app-mint-1')) t;
SELECT freetier_add_credits('acct', 100, 'free-money');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM freetier_set_plan('acct', 'max');
\echo :LAST_ERROR_SQLSTATE
SELECT freetier_define_plan('core', 'lifetime', 1000000);
\echo :LAST_ERROR_SQLSTATE
UPDATE freetier.accounts SET purchased_balance = 1000000;
\echo :LAST_ERROR_SQLSTATE
RESET ROLE;

SET ROLE freetier_test_operator;
SELECT freetier_add_credits('acct', 100, 'order-7');
SELECT plan, opened FROM freetier_open_account('acct2', 'max');
SELECT plan FROM freetier_set_plan('acct', 'pro');
SELECT freetier_define_plan('team', 'weekly', 500, '{"gemini": 100}');
SELECT freetier_configure_credits(trial_credits => 3);
SELECT subject, ok FROM freetier_verify_account_ledger('acct');
RESET ROLE;
DROP TABLE app_r;

DROP TABLE app_d, app_d2;
DROP OWNED BY freetier_test_app, freetier_test_operator, freetier_test_monitor;
DROP ROLE freetier_test_operator, freetier_test_app, freetier_test_nobody,
          freetier_test_monitor, freetier_test_watcher;
