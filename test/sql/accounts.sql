-- Credit accounts (0.2): plans, anniversary periods, spend order, backend
-- caps, routing, two-phase spending and the account ledger.
SET timezone = 'UTC';
\set SHOW_CONTEXT never
DROP EXTENSION freetier;
CREATE EXTENSION freetier;

-- The defaults: the credit seed's three plans and a trial plan.
SELECT plan, period, allowance, backend_caps FROM freetier.plans ORDER BY plan;
SELECT default_plan, hold_ttl, trial_plan, trial_credits, trials_per_network, trial_window
  FROM freetier.credit_settings;

-- A short status for the checks below.
CREATE FUNCTION st(s text) RETURNS TABLE (plan text, period text, period_start timestamptz,
    period_end timestamptz, allowance_left bigint, backend_left jsonb, purchased bigint,
    reserved bigint, spent bigint) LANGUAGE sql AS $$
  SELECT plan, period, period_start, period_end, allowance_left, backend_left,
         purchased_balance, reserved_credits, lifetime_spent FROM freetier_account_status(s)
$$;

------------------------------------------------------------------------------
-- Opening is idempotent.
------------------------------------------------------------------------------
SET freetier.test_now = '2024-01-31 10:00:00+00';
SELECT * FROM freetier_open_account('ann');                 -- the default plan, core
SET freetier.test_now = '2024-02-10 10:00:00+00';
SELECT * FROM freetier_open_account('ann', 'pro');          -- exists: nothing changes
SELECT * FROM st('ann');

------------------------------------------------------------------------------
-- Monthly periods step on the anniversary's day: Jan 31 -> Feb 29 -> Mar 31.
------------------------------------------------------------------------------
SET freetier.test_now = '2024-01-31 10:00:00+00';
SELECT * FROM freetier_open_account('mo', 'pro');
SELECT period_start, period_end FROM st('mo');
SET freetier.test_now = '2024-02-29 09:59:59.999999+00';
SELECT period_start, period_end FROM st('mo');
SET freetier.test_now = '2024-02-29 10:00:00+00';
SELECT period_start, period_end FROM st('mo');
SET freetier.test_now = '2024-03-31 10:00:00+00';
SELECT period_start, period_end FROM st('mo');
SET freetier.test_now = '2024-04-30 10:00:00+00';
SELECT period_start, period_end FROM st('mo');
SET freetier.test_now = '2025-02-28 11:00:00+00';
SELECT period_start, period_end FROM st('mo');        -- Feb 28 in a common year

-- An anniversary on Dec 31 crosses the year: Dec 31 -> Jan 31 -> Feb 28.
SET freetier.test_now = '2024-12-31 23:30:00+00';
SELECT * FROM freetier_open_account('dec', 'pro');
SET freetier.test_now = '2025-01-15 00:00:00+00';
SELECT period_start, period_end FROM st('dec');
SET freetier.test_now = '2025-02-01 00:00:00+00';
SELECT period_start, period_end FROM st('dec');

-- An anniversary on Feb 29 goes to the 29th where there is one.
SET freetier.test_now = '2024-02-29 08:00:00+00';
SELECT * FROM freetier_open_account('leap', 'pro');
SET freetier.test_now = '2024-03-30 00:00:00+00';
SELECT period_start, period_end FROM st('leap');
SET freetier.test_now = '2025-03-01 00:00:00+00';
SELECT period_start, period_end FROM st('leap');

-- Used allowance counts in its period; the next period starts fresh, and
-- the first spend in it writes the rollover to the ledger.
SET freetier.test_now = '2024-03-05 00:00:00+00';
SELECT * FROM freetier_spend_credits('mo', 900, 'api');
SELECT allowance_left FROM st('mo');
SELECT * FROM freetier_spend_credits('mo', 101, 'api');      -- 100 left: all or nothing
SELECT allowance_left, spent FROM st('mo');

-- Idle for 14 months: one fresh allowance, on the anniversary grid.
SET freetier.test_now = '2025-05-20 00:00:00+00';
SELECT period_start, period_end, allowance_left FROM st('mo');
SELECT * FROM freetier_spend_credits('mo', 1000, 'api');
SELECT * FROM freetier_spend_credits('mo', 1, 'api');
SELECT seq, kind, bucket, delta, balance_after FROM freetier.account_ledger
 WHERE subject = 'mo' ORDER BY seq;

-- Daily and weekly periods are 24 h and 7 d steps from the anniversary.
SELECT freetier_define_plan('day', 'daily', 10);
SELECT freetier_define_plan('week', 'weekly', 50);
SET freetier.test_now = '2025-01-01 13:00:00+00';
SELECT anniversary FROM freetier_open_account('d1', 'day');
SELECT anniversary FROM freetier_open_account('w1', 'week');
SET freetier.test_now = '2025-01-05 09:00:00+00';
SELECT period_start, period_end FROM st('d1');
SELECT period_start, period_end FROM st('w1');
SET freetier.test_now = '2025-01-08 13:00:00+00';
SELECT period_start, period_end FROM st('w1');

------------------------------------------------------------------------------
-- Plan changes: lifetime -> periodic re-anchors now; others keep the anniversary.
------------------------------------------------------------------------------
SET freetier.test_now = '2024-01-10 12:00:00+00';
SELECT anniversary FROM freetier_open_account('pat');              -- core: lifetime 100
SELECT * FROM freetier_spend_credits('pat', 60, 'hardware');
SET freetier.test_now = '2024-03-17 08:00:00+00';
SELECT * FROM freetier_set_plan('pat', 'pro');                     -- promoted: the 17th
SELECT period, period_start, period_end, allowance_left FROM st('pat');
SELECT * FROM freetier_spend_credits('pat', 10, 'hardware');
SET freetier.test_now = '2024-04-20 08:00:00+00';
SELECT * FROM freetier_set_plan('pat', 'max');                     -- keeps the 17th
SELECT period, period_start, period_end, allowance_left, backend_left FROM st('pat');
SET freetier.test_now = '2024-05-01 08:00:00+00';
SELECT * FROM freetier_set_plan('pat', 'core');                    -- back to lifetime:
SELECT period, period_start, allowance_left FROM st('pat');       -- 40 left, not a fresh 100
SET freetier.test_now = '2024-06-03 08:00:00+00';
SELECT * FROM freetier_set_plan('pat', 'pro');                     -- promoted again: the 3rd
SELECT period_start, period_end, allowance_left FROM st('pat');
SELECT seq, kind, bucket, delta, balance_after FROM freetier.account_ledger
 WHERE subject = 'pat' ORDER BY seq;

------------------------------------------------------------------------------
-- Spend order and backend caps (core: lifetime 100, at most 25 through gemini).
------------------------------------------------------------------------------
SET freetier.test_now = '2025-06-01 00:00:00+00';
SELECT anniversary FROM freetier_open_account('cat');
SELECT freetier_add_credits('cat', 30, 'order-1');
SELECT * FROM freetier_spend_credits('cat', 20, 'gemini');          -- allowance
SELECT * FROM freetier_spend_credits('cat', 10, 'gemini');          -- cap has 5: the rest purchased
SELECT allowance_left, backend_left, purchased FROM st('cat');
SELECT * FROM freetier_spend_credits('cat', 26, 'gemini');          -- cap 0: purchased 25 left only
SELECT * FROM freetier_spend_credits('cat', 75, 'hardware');        -- the allowance is not capped there
SELECT * FROM freetier_spend_credits('cat', 26, 'hardware');        -- 25 purchased left: nothing
SELECT allowance_left, backend_left, purchased, spent FROM st('cat');
SELECT * FROM freetier_spend_credits('cat', 25, 'hardware');
SELECT * FROM freetier_spend_credits('cat', 1, 'hardware');
SELECT allowance_left, purchased, spent FROM st('cat');

------------------------------------------------------------------------------
-- Routing: preferred backend while its cap lasts, then the next, then
-- purchased credits, else why not.  Read-only.
------------------------------------------------------------------------------
SELECT anniversary FROM freetier_open_account('rob');
SELECT * FROM freetier_route('rob', ARRAY['gemini', 'hardware']);
SELECT * FROM freetier_spend_credits('rob', 25, 'gemini');
SELECT * FROM freetier_route('rob', ARRAY['gemini', 'hardware']);    -- cap used: hardware
SELECT * FROM freetier_route('rob', ARRAY['gemini']);                -- only gemini: capped
SELECT freetier_add_credits('rob', 2, 'order-rob');
SELECT * FROM freetier_route('rob', ARRAY['gemini']);                -- purchased makes up for it
SELECT * FROM freetier_route('rob', ARRAY['gemini'], 3);             -- not for 3
SELECT * FROM freetier_route('rob', ARRAY['hardware', 'gemini'], 77);
SELECT * FROM freetier_route('rob', ARRAY['hardware', 'gemini'], 78);
SELECT * FROM freetier_route('nobody', ARRAY['gemini']);
SELECT * FROM freetier_route('rob', ARRAY['local']);                 -- a backend with no cap
SELECT freetier_define_plan('open', 'monthly', NULL, '{"gemini": 1}');
SELECT * FROM freetier_set_plan('rob', 'open');                      -- unlimited
SELECT * FROM freetier_route('rob', ARRAY['gemini', 'hardware'], 1000000);
SELECT allowance_left, backend_left FROM st('rob');

------------------------------------------------------------------------------
-- Two phases: reserve, then settle on success or release on failure.
------------------------------------------------------------------------------
SET freetier.test_now = '2025-07-01 00:00:00+00';
SELECT anniversary FROM freetier_open_account('tim', 'pro');        -- 1000 a month
SELECT freetier_add_credits('tim', 50, 'order-tim');
CREATE TEMP TABLE r AS SELECT 'big' AS tag, * FROM freetier_reserve_credits('tim', 1020, 'api');
SELECT tag, hold_id IS NOT NULL AS held, allowance_credits, purchased_credits, reason FROM r;
SELECT allowance_left, purchased, reserved FROM st('tim');          -- held credits are taken
INSERT INTO r SELECT 'more', * FROM freetier_reserve_credits('tim', 31, 'api');
SELECT tag, hold_id IS NOT NULL AS held, reason FROM r WHERE tag = 'more';
SELECT * FROM freetier_settle_credits((SELECT hold_id FROM r WHERE tag = 'big'), 1005);
SELECT * FROM freetier_settle_credits((SELECT hold_id FROM r WHERE tag = 'big'), 1005);   -- replay
SELECT allowance_left, purchased, reserved, spent FROM st('tim');
INSERT INTO r SELECT 'fail', * FROM freetier_reserve_credits('tim', 40, 'api');
SELECT freetier_release((SELECT hold_id FROM r WHERE tag = 'fail'), 'backend down');
SELECT freetier_release((SELECT hold_id FROM r WHERE tag = 'fail'));
SELECT allowance_left, purchased, reserved FROM st('tim');
INSERT INTO r SELECT 'all', * FROM freetier_reserve_credits('tim', 45, 'api');
SELECT * FROM freetier_settle_credits((SELECT hold_id FROM r WHERE tag = 'all'));         -- all of it
-- A hold past its TTL (15 minutes) stops counting at once.
SELECT freetier_add_credits('tim', 20, 'order-tim-2');
INSERT INTO r SELECT 'late', * FROM freetier_reserve_credits('tim', 5, 'api');
SELECT reserved FROM st('tim');
SET freetier.test_now = '2025-07-01 00:15:00+00';
SELECT reserved FROM st('tim');
SELECT freetier_expire_holds();
SELECT state, end_reason FROM freetier.credit_holds WHERE hold_id = (SELECT hold_id FROM r WHERE tag = 'late');

------------------------------------------------------------------------------
-- Purchases and grants: once per reference.
------------------------------------------------------------------------------
SELECT freetier_add_credits('gil', 10, 'inv-9');                       -- opens the account
SELECT freetier_add_credits('gil', 10, 'inv-9');                       -- replay: nothing added
SELECT freetier_add_credits('gil', 5, 'admin-1', 'grant');
SELECT plan, purchased FROM st('gil');
SELECT ref, subject, source, credits FROM freetier.credit_additions WHERE subject = 'gil' ORDER BY ref;

------------------------------------------------------------------------------
-- Errors: each with its SQLSTATE, and nothing changes.
------------------------------------------------------------------------------
INSERT INTO r SELECT 'over', * FROM freetier_reserve_credits('tim', 3, 'api');
SELECT md5(string_agg(a::text, ',' ORDER BY subject)) AS accounts_before FROM freetier.accounts a \gset
SELECT * FROM freetier_open_account(NULL);
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM freetier_open_account('');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM freetier_open_account(repeat('x', 257));
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM freetier_open_account('zed', 'gold');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM freetier_set_plan('nobody', 'pro');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM freetier_set_plan('tim', 'gold');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM freetier_account_status('nobody');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM freetier_spend_credits('tim', 0, 'api');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM freetier_spend_credits('tim', NULL, 'api');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM freetier_spend_credits('tim', 1, '');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM freetier_spend_credits('tim', 1, NULL);
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM freetier_spend_credits('nobody', 1, 'api');              -- not an error: a reason
SELECT * FROM freetier_spend_credits('tim', 1000000, 'api');           -- refused: nothing written
SELECT hold_id IS NULL AS refused, reason FROM freetier_reserve_credits('tim', 1000000, 'api');
SELECT * FROM freetier_reserve_credits('tim', -1, 'api');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM freetier_route('tim', ARRAY[]::text[]);
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM freetier_route('tim', ARRAY['api', NULL]);
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM freetier_route('tim', NULL);
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM freetier_route('', ARRAY['api']);                  -- an empty subject, as spend says
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM freetier_settle_credits('00000000-0000-0000-0000-000000000000');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM freetier_settle_credits((SELECT hold_id FROM r WHERE tag = 'big'), 1006);
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM freetier_settle_credits((SELECT hold_id FROM r WHERE tag = 'fail'));
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM freetier_settle_credits((SELECT hold_id FROM r WHERE tag = 'late'));
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM freetier_settle_credits((SELECT hold_id FROM r WHERE tag = 'over'), 4);
\echo :LAST_ERROR_SQLSTATE
SELECT freetier_add_credits('gil', 0, 'inv-0');
\echo :LAST_ERROR_SQLSTATE
SELECT freetier_add_credits('gil', 10, NULL);
\echo :LAST_ERROR_SQLSTATE
SELECT freetier_add_credits('gil', 10, 'inv-x', 'gift');
\echo :LAST_ERROR_SQLSTATE
SELECT freetier_add_credits('gil', 11, 'inv-9');
\echo :LAST_ERROR_SQLSTATE
SELECT freetier_add_credits('tim', 10, 'inv-9');
\echo :LAST_ERROR_SQLSTATE
SELECT freetier_define_plan('bad', 'yearly', 10);
\echo :LAST_ERROR_SQLSTATE
SELECT freetier_define_plan('bad', 'monthly', -1);
\echo :LAST_ERROR_SQLSTATE
SELECT freetier_define_plan('bad', 'monthly', 10, '{"gemini": -1}');
\echo :LAST_ERROR_SQLSTATE
SELECT freetier_define_plan('bad', 'monthly', 10, '["gemini"]');
\echo :LAST_ERROR_SQLSTATE
SELECT freetier_define_plan('', 'monthly', 10);
\echo :LAST_ERROR_SQLSTATE
SELECT freetier_configure_credits(default_plan => 'gold');
\echo :LAST_ERROR_SQLSTATE
SELECT freetier_configure_credits(hold_ttl => '0 seconds');
\echo :LAST_ERROR_SQLSTATE
SELECT freetier_configure_credits(trials_per_network => -1);
\echo :LAST_ERROR_SQLSTATE
SELECT md5(string_agg(a::text, ',' ORDER BY subject)) = :'accounts_before' AS unchanged
  FROM freetier.accounts a;
SELECT freetier_release((SELECT hold_id FROM r WHERE tag = 'over'));

------------------------------------------------------------------------------
-- The account ledger: chained, verified, append-only.
------------------------------------------------------------------------------
SELECT subject, entries, ok FROM freetier_verify_account_ledger() ORDER BY subject;
SELECT * FROM freetier_verify_account_ledger('tim');
SELECT * FROM freetier_verify_account_ledger('nobody');
\echo :LAST_ERROR_SQLSTATE
UPDATE freetier.account_ledger SET delta = 0;
\echo :LAST_ERROR_SQLSTATE
DELETE FROM freetier.account_ledger;
\echo :LAST_ERROR_SQLSTATE
BEGIN;
ALTER TABLE freetier.account_ledger DISABLE TRIGGER account_ledger_append_only;
UPDATE freetier.account_ledger SET delta = delta + 1, balance_after = balance_after + 1
 WHERE subject = 'tim' AND seq = 2;
SELECT * FROM freetier_verify_account_ledger('tim');
ROLLBACK;
BEGIN;
UPDATE freetier.accounts SET purchased_balance = purchased_balance + 100 WHERE subject = 'tim';
SELECT * FROM freetier_verify_account_ledger('tim');
ROLLBACK;

DROP FUNCTION st(text);
