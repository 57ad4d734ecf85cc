-- Every error a caller can cause, with the message they read and its
-- SQLSTATE; and an error changes nothing.
SET timezone = 'UTC';
\set SHOW_CONTEXT never
DROP EXTENSION freetier;
CREATE EXTENSION freetier;
SET freetier.test_now = '2026-08-01 00:00:00+00';
SELECT freetier_set_tier('ed', 'trusted');
CREATE TEMP TABLE d AS SELECT * FROM freetier_decide('ed', 10);

-- A fingerprint of all state, compared at the end.
CREATE FUNCTION state() RETURNS text LANGUAGE sql AS $$
  SELECT md5(concat_ws('|',
    (SELECT string_agg(concat_ws(',', pool, credit_pct, hold_ttl, stripes), ';' ORDER BY pool) FROM freetier.pools),
    (SELECT string_agg(concat_ws(',', pool, stripe, balance_sats, head_seq), ';' ORDER BY pool, stripe) FROM freetier.pool_stripes),
    (SELECT string_agg(concat_ws(',', tier, daily_budget_sats), ';' ORDER BY tier) FROM freetier.tiers),
    (SELECT string_agg(concat_ws(',', subject, tier, window_start, window_settled_sats), ';' ORDER BY subject) FROM freetier.subjects),
    (SELECT string_agg(concat_ws(',', hold_id, state, held_sats), ';' ORDER BY hold_id) FROM freetier.holds),
    (SELECT count(*) FROM freetier.grants), (SELECT count(*) FROM freetier.credits),
    (SELECT count(*) FROM freetier.ledger)))
$$;
SELECT state() AS before \gset

-- decide and estimate
SELECT * FROM freetier_decide('ed', NULL);
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM freetier_decide('ed', -1);
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM freetier_decide('ed', 10, NULL);
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM freetier_decide('ed', 10, 'nope');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM freetier_decide(NULL, 10, 'nope');       -- an unknown pool even when anonymous
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM freetier_decide('ghost', 10, 'nope');    -- ... or unknown
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM freetier_decide(repeat('s', 257), 10);
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM freetier_decide('ed', 10, repeat('p', 257));
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM freetier_estimate('ed', NULL);
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM freetier_estimate('ed', -5);
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM freetier_estimate('ed', 10, 'nope');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM freetier_estimate(repeat('s', 257), 10);
\echo :LAST_ERROR_SQLSTATE

-- record_grant and release
SELECT * FROM freetier_record_grant(NULL, 1);
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM freetier_record_grant((SELECT hold_id FROM d), NULL);
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM freetier_record_grant((SELECT hold_id FROM d), -1);
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM freetier_record_grant((SELECT hold_id FROM d), 1, repeat('h', 257));
\echo :LAST_ERROR_SQLSTATE
SELECT freetier_release(NULL);
\echo :LAST_ERROR_SQLSTATE
SELECT freetier_release((SELECT hold_id FROM d), repeat('r', 257));
\echo :LAST_ERROR_SQLSTATE

-- tiers and subjects
SELECT freetier_set_tier('ed', 'platinum');
\echo :LAST_ERROR_SQLSTATE
SELECT freetier_set_tier('ed', NULL);
\echo :LAST_ERROR_SQLSTATE
SELECT freetier_set_tier(NULL, 'new');
\echo :LAST_ERROR_SQLSTATE
SELECT freetier_set_tier('', 'new');
\echo :LAST_ERROR_SQLSTATE
SELECT freetier_set_tier(repeat('s', 257), 'new');
\echo :LAST_ERROR_SQLSTATE
SELECT freetier_set_tier_budget('new', -1);
\echo :LAST_ERROR_SQLSTATE
SELECT freetier_set_tier_budget('new', NULL);
\echo :LAST_ERROR_SQLSTATE
SELECT freetier_set_tier_budget('', 5);
\echo :LAST_ERROR_SQLSTATE
SELECT freetier_set_tier_budget(repeat('t', 257), 5);
\echo :LAST_ERROR_SQLSTATE

-- pools
SELECT freetier_create_pool('default');
\echo :LAST_ERROR_SQLSTATE
SELECT freetier_create_pool(NULL);
\echo :LAST_ERROR_SQLSTATE
SELECT freetier_create_pool('');
\echo :LAST_ERROR_SQLSTATE
SELECT freetier_create_pool(repeat('p', 257));
\echo :LAST_ERROR_SQLSTATE
SELECT freetier_create_pool('p2', -1);
\echo :LAST_ERROR_SQLSTATE
SELECT freetier_create_pool('p2', NULL);
\echo :LAST_ERROR_SQLSTATE
SELECT freetier_create_pool('p2', 0, 101);
\echo :LAST_ERROR_SQLSTATE
SELECT freetier_create_pool('p2', 0, NULL);
\echo :LAST_ERROR_SQLSTATE
SELECT freetier_create_pool('p2', 0, 10, '-1 minute');
\echo :LAST_ERROR_SQLSTATE
SELECT freetier_create_pool('p2', 0, 10, NULL);
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM freetier_pool_status('nope');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM freetier_pool_status(NULL);
\echo :LAST_ERROR_SQLSTATE

-- Nothing above changed anything.
SELECT state() = :'before' AS unchanged;

-- Huge amounts are answered, never wrapped.
SELECT freetier_set_tier_budget('whale', 9223372036854775807);
SELECT freetier_set_tier('moby', 'whale');
SELECT freetier_create_pool('deep', 9223372036854775807);
SELECT serve, absorb_sats, charge_sats FROM freetier_estimate('moby', 9223372036854775807, 'deep');
CREATE TEMP TABLE big AS SELECT * FROM freetier_decide('moby', 9223372036854775807, 'deep');
SELECT serve, absorb_sats, charge_sats FROM big;
SELECT serve, absorb_sats, charge_sats, reason FROM freetier_decide('moby', 1, 'deep');
SELECT absorbed_sats, returned_sats, charge_sats, pool_balance_after
  FROM freetier_record_grant((SELECT hold_id FROM big), 9223372036854775807);
SELECT freetier_credit(9223372036854775807, 'deep');     -- 10 % of max onto an empty pool
SELECT * FROM freetier_verify_ledger('deep');

-- Only a superuser can move freetier's clock.
CREATE ROLE freetier_clockless;
SET ROLE freetier_clockless;
SET freetier.test_now = '2030-01-01 00:00:00+00';
\echo :LAST_ERROR_SQLSTATE
RESET ROLE;
DROP ROLE freetier_clockless;
SET freetier.test_now = 'not a time';
\echo :LAST_ERROR_SQLSTATE
SET freetier.nonsense = 1;
\echo :LAST_ERROR_SQLSTATE
DROP FUNCTION state();
