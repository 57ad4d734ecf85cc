-- The request path's tables keep their rules without CHECK constraints or
-- foreign keys since 0.3, and the other tables without foreign keys since
-- 0.4 (test/invariants.sql lists them): after traffic of every kind no row
-- breaks one, and a row that does is caught.
SET timezone = 'UTC';

-- traffic of every kind on a pool of 16 stripes: settles with and without
-- a charge, releases, expiries, a decide over every stripe (which evens
-- them out), a credit
SET freetier.test_now = '2026-01-01 00:00:00+00';
SELECT freetier_create_pool('inv', 3000, 10, '10 minutes', 16);
SELECT freetier_set_tier_budget('inv', 100000);
SELECT count(freetier_set_tier('inv' || i, 'inv')) FROM generate_series(0, 21) i;
DO $$
DECLARE
    hold uuid;
BEGIN
    FOR i IN 1..20 LOOP
        SELECT hold_id INTO hold FROM freetier_decide('inv' || i, 10 * i, 'inv');
        CASE i % 4
            WHEN 0 THEN PERFORM freetier_record_grant(hold, 5 * i, 'request ' || i);
            WHEN 1 THEN PERFORM freetier_record_grant(hold, 20 * i);
            WHEN 2 THEN PERFORM freetier_release(hold, 'cancelled');
            ELSE NULL;			-- left to expire
        END CASE;
    END LOOP;
END $$;
SELECT serve, absorb_sats FROM freetier_decide('inv21', 2500, 'inv');
SELECT freetier_credit(500, 'inv', 'invariants-1');
SELECT freetier_adjust_pool('inv', 100, 'invariants', 'inv-adj');
SELECT freetier_reverse_credit('invariants-1', 'invariants');
-- and on a credit account: a purchase, a spend through a capped backend,
-- a hold, and a trial claimed into it
SELECT opened FROM freetier_open_account('inv-acct', 'core');
SELECT freetier_add_credits('inv-acct', 50, 'invariants-2');
SELECT ok FROM freetier_spend_credits('inv-acct', 3, 'gemini');
SELECT reason FROM freetier_reserve_credits('inv-acct', 2, 'api');
SELECT freetier_claim_trial((SELECT subject FROM freetier_mint_trial('198.51.100.99')), 'inv-acct') >= 0
    AS claimed;
SET freetier.test_now = '2026-01-01 01:00:00+00';
SELECT freetier_expire_holds() >= 6 AS swept;  -- inv's six, and any left by earlier tests
RESET freetier.test_now;

SELECT state, count(*) FROM freetier.holds WHERE pool = 'inv' GROUP BY state ORDER BY state;
SELECT kind, count(*) FROM freetier.ledger WHERE pool = 'inv' GROUP BY kind ORDER BY kind;
SELECT count(*) AS grants, count(*) FILTER (WHERE charge_sats > 0) AS charged
  FROM freetier.grants WHERE pool = 'inv';

-- pg_regress names the input directory (test/) in PG_ABS_SRCDIR
\getenv abs_srcdir PG_ABS_SRCDIR
\set invariants :abs_srcdir '/invariants.sql'
\i :invariants

-- no rule is broken
SELECT * FROM broken_rules;

-- Each corruption, written behind freetier's back (past the append-only
-- triggers) and rolled back, is caught by its rule.
CREATE FUNCTION pg_temp.caught(corruption text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    rules text;
BEGIN
    BEGIN
        ALTER TABLE freetier.grants DISABLE TRIGGER USER;
        ALTER TABLE freetier.ledger DISABLE TRIGGER USER;
        ALTER TABLE freetier.account_ledger DISABLE TRIGGER USER;
        EXECUTE corruption;
        SELECT string_agg(rule, '; ' ORDER BY rule) INTO rules FROM broken_rules;
        RAISE EXCEPTION USING ERRCODE = 'P0004';
    EXCEPTION WHEN assert_failure THEN
        RETURN coalesce(rules, 'NOT CAUGHT');
    END;
END $$;
CREATE TEMP TABLE corruptions AS
WITH one_hold AS (SELECT 'hold_id = ''' || min(hold_id::text) || '''' AS w FROM freetier.holds
                   WHERE state = 'settled' AND pool = 'inv'),
     one_grant AS (SELECT 'grant_id = ' || min(grant_id) AS w FROM freetier.grants
                    WHERE pool = 'inv'),
     one_entry AS (SELECT format('(pool, stripe, seq) = (%L, %s, %s)', pool, stripe, seq) AS w
                     FROM freetier.ledger WHERE pool = 'inv' ORDER BY stripe, seq DESC LIMIT 1),
     one_subject AS (SELECT 'subject = ''inv0''' AS w)
SELECT row_number() OVER () AS n, c.what, format(c.sql, c.w) AS corruption
  FROM (SELECT 'hold: estimated 0', 'UPDATE freetier.holds SET estimated_sats = 0 WHERE %s', w FROM one_hold
        UNION ALL SELECT 'hold: held above estimated', 'UPDATE freetier.holds SET held_sats = estimated_sats + 1 WHERE %s', w FROM one_hold
        UNION ALL SELECT 'hold: unknown state', 'UPDATE freetier.holds SET state = ''lost'' WHERE %s', w FROM one_hold
        UNION ALL SELECT 'hold: ended without ended_at', 'UPDATE freetier.holds SET ended_at = NULL WHERE %s', w FROM one_hold
        UNION ALL SELECT 'hold: expires when created', 'UPDATE freetier.holds SET expires_at = created_at WHERE %s', w FROM one_hold
        UNION ALL SELECT 'hold: long end_reason', 'UPDATE freetier.holds SET end_reason = repeat(''x'', 257) WHERE %s', w FROM one_hold
        UNION ALL SELECT 'hold: no subject', 'UPDATE freetier.holds SET subject = ''nobody'' WHERE %s', w FROM one_hold
        UNION ALL SELECT 'hold: no stripe', 'UPDATE freetier.holds SET stripe = 63 WHERE %s', w FROM one_hold
        UNION ALL SELECT 'grant: negative charge', 'UPDATE freetier.grants SET charge_sats = -1, actual_sats = absorbed_sats - 1 WHERE %s', w FROM one_grant
        UNION ALL SELECT 'grant: charge off', 'UPDATE freetier.grants SET charge_sats = charge_sats + 1 WHERE %s', w FROM one_grant
        UNION ALL SELECT 'grant: returned off', 'UPDATE freetier.grants SET returned_sats = returned_sats + 1 WHERE %s', w FROM one_grant
        UNION ALL SELECT 'grant: long request_hash', 'UPDATE freetier.grants SET request_hash = repeat(''x'', 257) WHERE %s', w FROM one_grant
        UNION ALL SELECT 'grant: no hold', 'UPDATE freetier.grants SET hold_id = gen_random_uuid() WHERE %s', w FROM one_grant
        UNION ALL SELECT 'entry: seq 0', 'UPDATE freetier.ledger SET seq = 0 WHERE %s', w FROM one_entry
        UNION ALL SELECT 'entry: unknown kind', 'UPDATE freetier.ledger SET kind = ''gift'' WHERE %s', w FROM one_entry
        UNION ALL SELECT 'entry: a checkpoint that moves sats', 'UPDATE freetier.ledger SET kind = ''checkpoint'', delta_sats = 5 WHERE %s', w FROM one_entry
        UNION ALL SELECT 'entry: below zero', 'UPDATE freetier.ledger SET balance_after = -1 WHERE %s', w FROM one_entry
        UNION ALL SELECT 'entry: no stripe', 'UPDATE freetier.ledger SET stripe = 63 WHERE %s', w FROM one_entry
        UNION ALL SELECT 'stripe: negative owed', 'UPDATE freetier.pool_stripes SET owed_sats = -1 WHERE pool = ''inv'' AND stripe = 0', NULL
        UNION ALL SELECT 'stripe: owed off stripe 0', 'UPDATE freetier.pool_stripes SET owed_sats = 1 WHERE pool = ''inv'' AND stripe = 1', NULL
        UNION ALL SELECT 'stripe: max_grant_id too low', 'UPDATE freetier.pool_stripes SET max_grant_id = 0 WHERE pool = ''inv''', NULL
        UNION ALL SELECT 'subject: empty name', 'UPDATE freetier.subjects SET subject = '''' WHERE %s', w FROM one_subject
        UNION ALL SELECT 'subject: negative window', 'UPDATE freetier.subjects SET window_settled_sats = -1 WHERE %s', w FROM one_subject
        UNION ALL SELECT 'subject: no tier', 'UPDATE freetier.subjects SET tier = ''gone'' WHERE %s', w FROM one_subject
        UNION ALL SELECT 'stripe: no pool', 'UPDATE freetier.pool_stripes SET pool = ''gone'' WHERE pool = ''inv'' AND stripe = 0', NULL
        UNION ALL SELECT 'credit: no pool', 'UPDATE freetier.credits SET pool = ''gone'' WHERE payment_ref = ''invariants-1''', NULL
        UNION ALL SELECT 'settings: no default plan', 'UPDATE freetier.credit_settings SET default_plan = ''gone''', NULL
        UNION ALL SELECT 'settings: no trial plan', 'UPDATE freetier.credit_settings SET trial_plan = ''gone''', NULL
        UNION ALL SELECT 'account: no plan', 'UPDATE freetier.accounts SET plan = ''gone'' WHERE subject = ''inv-acct''', NULL
        UNION ALL SELECT 'backend use: no account', 'UPDATE freetier.account_backend_use SET subject = ''gone'' WHERE subject = ''inv-acct''', NULL
        UNION ALL SELECT 'credit hold: no account', 'UPDATE freetier.credit_holds SET subject = ''gone'' WHERE subject = ''inv-acct''', NULL
        UNION ALL SELECT 'addition: no account', 'UPDATE freetier.credit_additions SET subject = ''gone'' WHERE subject = ''inv-acct''', NULL
        UNION ALL SELECT 'account entry: no account', 'UPDATE freetier.account_ledger SET subject = ''gone'' WHERE subject = ''inv-acct''', NULL
        UNION ALL SELECT 'trial: no account', 'UPDATE freetier.trials SET subject = ''gone'' WHERE claimed_by = ''inv-acct''', NULL
        UNION ALL SELECT 'trial: claimed by no account', 'UPDATE freetier.trials SET claimed_by = ''gone'' WHERE claimed_by = ''inv-acct''', NULL
       ) AS c (what, sql, w);
SELECT what, pg_temp.caught(corruption) AS caught_by FROM corruptions ORDER BY n;

-- and nothing of it stayed
SELECT * FROM broken_rules;
DROP VIEW broken_rules;
