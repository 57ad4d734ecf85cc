-- Credit accounts: rules that reviews found broken once, each pinned here.
SET timezone = 'UTC';
\set SHOW_CONTEXT never
DROP EXTENSION freetier;
CREATE EXTENSION freetier;
CREATE FUNCTION left_of(s text) RETURNS bigint LANGUAGE sql AS $$
  SELECT allowance_left FROM freetier_account_status(s) $$;

-- A lifetime hold settled after a move to a periodic plan still counts in
-- the lifetime allowance: going back to the lifetime plan gives nothing fresh.
SET freetier.test_now = '2025-01-01 00:00:00+00';
SELECT plan FROM freetier_open_account('lh');                        -- core: lifetime 100
CREATE TEMP TABLE h AS SELECT hold_id FROM freetier_reserve_credits('lh', 100, 'api');
SELECT plan FROM freetier_set_plan('lh', 'pro');
SELECT allowance_credits FROM freetier_settle_credits((SELECT hold_id FROM h));
SELECT plan FROM freetier_set_plan('lh', 'core');
SELECT left_of('lh') AS lifetime_left;                              -- 0
SELECT ok, reason FROM freetier_spend_credits('lh', 1, 'api');

-- A plan change with a clock behind the stored period does not roll it back.
SET freetier.test_now = '2024-01-01 00:00:00+00';
SELECT plan FROM freetier_open_account('bk', 'pro');
SET freetier.test_now = '2024-02-01 00:01:00+00';
SELECT ok FROM freetier_spend_credits('bk', 1000, 'api');
SET freetier.test_now = '2024-01-31 23:59:00+00';                 -- a transaction begun earlier
SELECT plan, period_start FROM freetier_set_plan('bk', 'max');
SELECT plan FROM freetier_set_plan('bk', 'pro');
SET freetier.test_now = '2024-02-01 00:02:00+00';
SELECT left_of('bk') AS february_left;                              -- 0
SELECT ok, reason FROM freetier_spend_credits('bk', 1000, 'api');

-- Switching between periodic plans keeps the period's use counted.
SELECT freetier_define_plan('quarter', 'weekly', 250);
SET freetier.test_now = '2024-01-01 00:00:00+00';
SELECT plan FROM freetier_open_account('sw', 'pro');
SET freetier.test_now = '2024-01-10 00:00:00+00';
SELECT ok FROM freetier_spend_credits('sw', 1000, 'api');
SELECT plan, period_start FROM freetier_set_plan('sw', 'quarter');
SELECT left_of('sw') AS weekly_left;                                -- 0: 1000 used this period
SELECT plan FROM freetier_set_plan('sw', 'pro');
SELECT left_of('sw') AS monthly_left;                               -- 0
SET freetier.test_now = '2024-02-01 00:00:00+00';
SELECT left_of('sw') AS next_month;                                 -- a fresh 1000

-- A hold settled after its period ended: no use in the new period, but an
-- entry in the 'late' bucket, and lifetime_spent counts it.
SELECT freetier_define_plan('day', 'daily', 300);
SET freetier.test_now = '2024-03-01 00:00:00+00';
SELECT plan FROM freetier_open_account('lt', 'day');
SET freetier.test_now = '2024-03-01 23:55:00+00';
CREATE TEMP TABLE h2 AS SELECT hold_id FROM freetier_reserve_credits('lt', 300, 'api');
SET freetier.test_now = '2024-03-02 00:05:00+00';
SELECT allowance_credits FROM freetier_settle_credits((SELECT hold_id FROM h2));
SELECT left_of('lt') AS new_day_left, lifetime_spent FROM freetier_account_status('lt');
SELECT kind, bucket, delta, balance_after FROM freetier.account_ledger WHERE subject = 'lt' ORDER BY seq;

-- A writer with an earlier clock does not move the account's last write
-- back, so a hold that a later spend counted as expired stays unsettleable.
SELECT freetier_define_plan('one', 'lifetime', 1);
SET freetier.test_now = '2024-04-01 00:00:00+00';
SELECT plan FROM freetier_open_account('sk', 'one');
CREATE TEMP TABLE h3 AS SELECT hold_id FROM freetier_reserve_credits('sk', 1, 'api');
SET freetier.test_now = '2024-04-01 00:16:00+00';
SELECT ok FROM freetier_spend_credits('sk', 1, 'api');               -- the hold's TTL ran out
SET freetier.test_now = '2024-04-01 00:05:00+00';
SELECT freetier_add_credits('sk', 3, 'late-writer');
SET freetier.test_now = '2024-04-01 00:14:00+00';
SELECT * FROM freetier_settle_credits((SELECT hold_id FROM h3));
\echo :LAST_ERROR_SQLSTATE
SELECT lifetime_spent FROM freetier_account_status('sk');            -- 1, not 2

-- The period of a plan that accounts are on cannot change under them.
SELECT freetier_define_plan('one', 'monthly', 1);
\echo :LAST_ERROR_SQLSTATE
SELECT freetier_define_plan('one', 'lifetime', 5);                   -- its allowance can

-- The operator's form of open_account needs a plan.
SELECT * FROM freetier_open_account('np', NULL);
\echo :LAST_ERROR_SQLSTATE

-- freetier_route weighs at most 64 backends.
SELECT length(backend) FROM freetier_route('sk', ARRAY(SELECT repeat('b', 200) || i FROM generate_series(1, 64) i));
SELECT * FROM freetier_route('sk', ARRAY(SELECT 'b' || i FROM generate_series(1, 65) i));
\echo :LAST_ERROR_SQLSTATE

-- Credits on hold through a capped backend count against its cap: one
-- spent and one held of a cap of 2 leave nothing for gemini, so a reserve
-- is refused and route picks the next backend.
SELECT freetier_define_plan('two', 'monthly', 100, '{"gemini": 2}');
SELECT plan FROM freetier_open_account('cp', 'two');
SELECT ok FROM freetier_spend_credits('cp', 1, 'gemini');
SELECT hold_id IS NOT NULL AS held FROM freetier_reserve_credits('cp', 1, 'gemini');
SELECT hold_id IS NOT NULL AS held, reason FROM freetier_reserve_credits('cp', 1, 'gemini');
SELECT ok, reason FROM freetier_spend_credits('cp', 1, 'gemini');
SELECT * FROM freetier_route('cp', ARRAY['gemini', 'api']);
SELECT backend_left FROM freetier_account_status('cp');

-- A freetier call run inside another one's statement (here by a trigger a
-- superuser put on the account ledger) does not change how the outer call
-- reads and writes: a spend split over allowance and purchased credits
-- appends two entries, each running the reading call in between.
CREATE FUNCTION peek() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM public.freetier_account_status(NEW.subject);  -- freetier runs with search_path pg_catalog
    RETURN NULL;
END $$;
CREATE TRIGGER peek AFTER INSERT ON freetier.account_ledger FOR EACH ROW EXECUTE FUNCTION peek();
SELECT plan FROM freetier_open_account('nest', 'one');
SELECT freetier_add_credits('nest', 5, 'nest-buy');
SELECT ok, allowance_credits, purchased_credits FROM freetier_spend_credits('nest', 7, 'api');
DROP TRIGGER peek ON freetier.account_ledger;
DROP FUNCTION peek();

-- The chain carries the counters, the totals and the plan: changing any of
-- them in the row is seen.
SELECT subject, ok FROM freetier_verify_account_ledger() ORDER BY subject;
BEGIN;
UPDATE freetier.accounts SET lifetime_plan_used = 0 WHERE subject = 'lh';
SELECT ok, first_bad_entry FROM freetier_verify_account_ledger('lh');
ROLLBACK;
BEGIN;
UPDATE freetier.accounts SET late_period_used = 0 WHERE subject = 'lt';
SELECT ok, first_bad_entry FROM freetier_verify_account_ledger('lt');
ROLLBACK;
BEGIN;
UPDATE freetier.accounts SET lifetime_spent = 0 WHERE subject = 'sw';
SELECT ok, first_bad_entry FROM freetier_verify_account_ledger('sw');
ROLLBACK;
BEGIN;
UPDATE freetier.accounts SET lifetime_added = 100 WHERE subject = 'sk';
SELECT ok, first_bad_entry FROM freetier_verify_account_ledger('sk');
ROLLBACK;
BEGIN;
UPDATE freetier.accounts SET plan = 'max' WHERE subject = 'bk';
SELECT ok, first_bad_entry FROM freetier_verify_account_ledger('bk');
ROLLBACK;
DROP FUNCTION left_of(text);
