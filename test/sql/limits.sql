-- Bounds that keep every later call working (0.2.1): duration settings are
-- refused past their bound when they are set, and no call may leave a
-- credit counter past 10^18.  A refusal is an error with its SQLSTATE and
-- changes nothing.
SET timezone = 'UTC';
\set SHOW_CONTEXT never
DROP EXTENSION freetier;
CREATE EXTENSION freetier;
SET freetier.test_now = '2025-06-01 12:00:00+00';

------------------------------------------------------------------------------
-- Durations: a hold TTL is at most 30 days, a trial window at most 366
-- days; both are days, hours, minutes or seconds (no months), positive.
------------------------------------------------------------------------------
CREATE FUNCTION settings() RETURNS text LANGUAGE sql AS $$
  SELECT concat_ws(' | ',
    (SELECT string_agg(pool || ' ' || hold_ttl, ', ' ORDER BY pool) FROM freetier.pools),
    (SELECT hold_ttl || ' ' || trial_window FROM freetier.credit_settings))
$$;
SELECT settings() AS before;

SELECT freetier_configure_pool('default', hold_ttl => '2000000000 days');
\echo :LAST_ERROR_SQLSTATE
SELECT freetier_configure_pool('default', hold_ttl => '30 days 1 second');
\echo :LAST_ERROR_SQLSTATE
SELECT freetier_create_pool('long', 100, 10, '31 days');
\echo :LAST_ERROR_SQLSTATE
SELECT freetier_create_pool('long', 100, 10, '213503982 days');     -- days * 86400 s overflow
\echo :LAST_ERROR_SQLSTATE
SELECT freetier_create_pool('long', 100, 10, '1 day 2562047787 hours');
\echo :LAST_ERROR_SQLSTATE
SELECT freetier_configure_credits(hold_ttl => '2000000000 days');
\echo :LAST_ERROR_SQLSTATE
SELECT freetier_configure_credits(trial_window => '200000 years');
\echo :LAST_ERROR_SQLSTATE
SELECT freetier_configure_credits(trial_window => '367 days');
\echo :LAST_ERROR_SQLSTATE
SELECT freetier_configure_credits(trial_window => '1 mon');
\echo :LAST_ERROR_SQLSTATE
SELECT freetier_configure_credits(trial_window => '1 day -1 second');
\echo :LAST_ERROR_SQLSTATE
SELECT settings() AS unchanged;
-- The tables hold the same bounds, so no row past them can come in another
-- way (a dump of an older version restored into this one).  Terse: the
-- failing row would show the pool's creation time.
\set VERBOSITY terse
UPDATE freetier.pools SET hold_ttl = '31 days' WHERE pool = 'default';
\echo :LAST_ERROR_SQLSTATE
UPDATE freetier.credit_settings SET trial_window = '1 mon';
\echo :LAST_ERROR_SQLSTATE
UPDATE freetier.credit_settings SET trial_credits = 1000000000000000001;
\echo :LAST_ERROR_SQLSTATE
\set VERBOSITY default
SELECT settings() AS unchanged;

-- At the bound is fine, and every call still works.
SELECT freetier_configure_pool('default', hold_ttl => '30 days');
SELECT freetier_create_pool('long', 100, 10, '720 hours');
SELECT freetier_configure_credits(hold_ttl => '30 days', trial_window => '366 days');
SELECT settings() AS at_the_bounds;
SELECT freetier_set_tier('lu', 'elite');
SELECT serve, absorb_sats FROM freetier_decide('lu', 10);
SELECT serve, absorb_sats FROM freetier_decide('lu', 10, 'long');
SELECT h.pool, h.expires_at FROM freetier.holds h ORDER BY h.pool;
SELECT * FROM freetier_open_account('la');
SELECT hold_id IS NOT NULL AS held FROM freetier_reserve_credits('la', 1, 'api');
SELECT expires_at FROM freetier.credit_holds;
SELECT subject IS NOT NULL AS minted, credits FROM freetier_mint_trial('192.0.2.1');

------------------------------------------------------------------------------
-- Counters: no credit counter of an account may pass 10^18, counting what
-- is on hold as spent, so that every hold can always be settled and no
-- oversized call leaves the account unable to take the next one.  The
-- spend-side counters (period, lifetime and late use, use per backend)
-- never exceed lifetime_spent, and the purchased balance never exceeds
-- lifetime_added, so these two are checked.
------------------------------------------------------------------------------
SET freetier.test_now = '2025-06-01 12:00:00+00';
CREATE FUNCTION acct(s text) RETURNS text LANGUAGE sql AS $$
  SELECT concat_ws(' ', a.period_used, a.purchased_balance, a.lifetime_spent, a.lifetime_added,
                   a.head_seq,
                   (SELECT count(*) FROM freetier.credit_holds h WHERE h.subject = s AND h.state = 'held'),
                   (SELECT coalesce(sum(u.used), 0) FROM freetier.account_backend_use u WHERE u.subject = s))
    FROM freetier.accounts a WHERE a.subject = s
$$;
SELECT subject, plan FROM freetier_open_account('u1', 'max');        -- unlimited allowance
SELECT acct('u1') AS before;
SELECT * FROM freetier_spend_credits('u1', 9223372036854775807, 'hardware');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM freetier_reserve_credits('u1', 9223372036854775807, 'hardware');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM freetier_spend_credits('u1', 1000000000000000001, 'hardware');
\echo :LAST_ERROR_SQLSTATE
SELECT acct('u1') AS unchanged;
SELECT ok, allowance_credits FROM freetier_spend_credits('u1', 1, 'hardware');

-- Up to the limit exactly, with a hold counted as spent.
CREATE TEMP TABLE big AS
SELECT * FROM freetier_reserve_credits('u1', 1000000000000000000 - 11, 'hardware');
SELECT hold_id IS NOT NULL AS held, allowance_credits, reason FROM big;
SELECT * FROM freetier_spend_credits('u1', 11, 'hardware');          -- one past: refused
\echo :LAST_ERROR_SQLSTATE
SELECT ok, allowance_credits FROM freetier_spend_credits('u1', 10, 'hardware');
SELECT allowance_credits FROM freetier_settle_credits((SELECT hold_id FROM big));   -- settles
SELECT acct('u1') AS at_the_limit;
SELECT * FROM freetier_reserve_credits('u1', 1, 'hardware');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM freetier_route('u1', ARRAY['hardware']);               -- route agrees
\echo :LAST_ERROR_SQLSTATE
-- A refused account still rolls over, changes plan, takes purchases and verifies.
SET freetier.test_now = '2025-07-01 12:00:00+00';
SELECT * FROM freetier_spend_credits('u1', 1, 'hardware');
\echo :LAST_ERROR_SQLSTATE
SELECT plan, period_start FROM freetier_set_plan('u1', 'pro');
SELECT freetier_add_credits('u1', 5, 'u1-buy');
SELECT plan, allowance_left, purchased_balance, lifetime_spent FROM freetier_account_status('u1');
SELECT subject, ok FROM freetier_verify_account_ledger('u1');

-- Additions: a purchase, a trial's credits carried in.
SELECT subject, plan FROM freetier_open_account('u2');
SELECT freetier_add_credits('u2', 9223372036854775807, 'too-big');
\echo :LAST_ERROR_SQLSTATE
SELECT freetier_add_credits('u2', 1000000000000000000, 'all');
SELECT freetier_add_credits('u2', 1, 'one-more');
\echo :LAST_ERROR_SQLSTATE
SELECT count(*) AS refs FROM freetier.credit_additions WHERE subject = 'u2';
SELECT subject AS trial FROM freetier_mint_trial('192.0.2.200') \gset
SELECT freetier_claim_trial(:'trial', 'u2');
\echo :LAST_ERROR_SQLSTATE
SELECT acct('u2') AS u2_unchanged, acct(:'trial') AS trial_unchanged;
SELECT subject, plan FROM freetier_open_account('u3');
SELECT freetier_claim_trial(:'trial', 'u3') AS carried;              -- elsewhere it carries over
SELECT freetier_configure_credits(trial_credits => 1000000000000000001);
\echo :LAST_ERROR_SQLSTATE
SELECT count(*) AS accounts, bool_and(ok) AS all_ok FROM freetier_verify_account_ledger();

-- Holds placed before these bounds existed (0.2) can add up past bigint;
-- their sums saturate, and the account answers with the documented 22003.
SELECT subject, plan FROM freetier_open_account('u4', 'max');
INSERT INTO freetier.credit_holds (subject, backend, allowance_credits, purchased_credits,
                                   scope_start, created_at, expires_at)
SELECT 'u4', 'api', 5000000000000000000, 0, period_start, '2025-07-01 12:00:00+00',
       '2025-07-01 12:10:00+00'
  FROM freetier.accounts, generate_series(1, 2) WHERE subject = 'u4';
SELECT allowance_left, reserved_credits FROM freetier_account_status('u4');
SELECT * FROM freetier_spend_credits('u4', 1, 'api');
\echo :LAST_ERROR_SQLSTATE
