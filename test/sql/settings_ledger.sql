-- Plans, tiers and the credit settings in the chains (0.4): each plan's
-- period, allowance and caps, each tier's daily budget, and the credit
-- settings, are chained by their setters (freetier.settings_ledger, a chain
-- per plan, one per tier and one for the credit settings), and
-- freetier_verify_settings_ledger compares the rows with the chained
-- values.  A setter writes an entry only for a change; a
-- bad value writes nothing; each edit of a stored value made as a
-- superuser (rolled back) is reported, and never chained by a later
-- setter; requests write no entry; anchors name the chains.
SET timezone = 'UTC';
\set SHOW_CONTEXT never
DROP EXTENSION freetier;
CREATE EXTENSION freetier;
SET freetier.test_now = '2026-01-10 00:00:00+00';

CREATE TEMP VIEW entries AS
    SELECT chain, seq, kind, settings, created_at
      FROM freetier.settings_ledger ORDER BY chain, seq;

-- The install's plans, tiers and credit settings need no entry: a chain
-- without one has the install's values.
SELECT * FROM freetier_verify_settings_ledger();
SELECT count(*) AS entries FROM freetier.settings_ledger;

------------------------------------------------------------------------------
-- Plans
------------------------------------------------------------------------------

-- A new plan is an entry with its values; each change of one is an entry
-- with all three.
SELECT freetier_define_plan('gold', 'weekly', 70, '{"api": 10}');
SELECT freetier_define_plan('gold', 'monthly', 70, '{"api": 10}');
SELECT freetier_define_plan('gold', 'monthly', NULL, '{"api": 10}');
SELECT freetier_define_plan('gold', 'monthly', NULL, '{"api": 12}');
-- An install's plan changed, then back: back to the install's values is a
-- change of the chained ones too.
SELECT freetier_define_plan('pro', 'monthly', 1200);
SELECT freetier_define_plan('pro', 'monthly', 1000);
-- The chained values again write none.
SELECT freetier_define_plan('gold', 'monthly', NULL, '{"api": 12}');
SELECT freetier_define_plan('core', 'lifetime', 100, '{"gemini": 25}');
SELECT * FROM entries;
-- the first entry's hash, as the README computes it in Python
SELECT encode(hash, 'hex') AS gold_1 FROM freetier.settings_ledger WHERE chain = 'plan:gold' AND seq = 1;
SELECT plan, period, allowance, backend_caps, head_seq FROM freetier.plans ORDER BY plan;
SELECT * FROM freetier_verify_settings_ledger();

-- A bad value is an error and writes nothing.
CREATE TEMP TABLE before AS
    SELECT (SELECT count(*) FROM freetier.settings_ledger) AS n,
           (SELECT array_agg(p ORDER BY plan) FROM freetier.plans p) AS plans;
SELECT freetier_define_plan('gold', 'yearly', 70);
\echo :LAST_ERROR_SQLSTATE
SELECT freetier_define_plan('gold', 'monthly', -1);
\echo :LAST_ERROR_SQLSTATE
SELECT freetier_define_plan('gold', 'monthly', 70, '{"api": -1}');
\echo :LAST_ERROR_SQLSTATE
SELECT freetier_define_plan('gold', 'monthly', 70, '[]');
\echo :LAST_ERROR_SQLSTATE
SELECT freetier_define_plan('', 'monthly', 70);
\echo :LAST_ERROR_SQLSTATE
SELECT subject FROM freetier_open_account('ann', 'gold');
SELECT freetier_define_plan('gold', 'weekly', NULL, '{"api": 12}');
\echo :LAST_ERROR_SQLSTATE
SELECT (SELECT count(*) FROM freetier.settings_ledger) - n AS entries_written,
       (SELECT array_agg(p ORDER BY plan) FROM freetier.plans p) = plans AS plans_unchanged
  FROM before;

------------------------------------------------------------------------------
-- Credit settings
------------------------------------------------------------------------------

-- Each change is an entry with every setting (durations as days and
-- seconds: '24 hours' is not '1 day').
SELECT freetier_configure_credits(hold_ttl => '1 hour');
SELECT freetier_configure_credits(trial_credits => 8, trials_per_network => 2);
SELECT freetier_configure_credits(trial_window => '24 hours');
SELECT freetier_configure_credits(default_plan => 'gold', trial_plan => 'pro',
                                  max_hold_ttl => '2 days');
-- The chained values again, or none given, write none.
SELECT freetier_configure_credits(hold_ttl => '1 hour', trial_credits => 8);
SELECT freetier_configure_credits();
SELECT seq, settings FROM entries WHERE chain = 'credit_settings';
SELECT default_plan, hold_ttl, trial_plan, trial_credits, trials_per_network, trial_window,
       max_hold_ttl, head_seq FROM freetier.credit_settings;

-- A bad value is an error and writes nothing.
UPDATE before SET n = (SELECT count(*) FROM freetier.settings_ledger);
CREATE TEMP TABLE settings_before AS SELECT * FROM freetier.credit_settings;
SELECT freetier_configure_credits(hold_ttl => '-1 hour');
\echo :LAST_ERROR_SQLSTATE
SELECT freetier_configure_credits(max_hold_ttl => '31 days');
\echo :LAST_ERROR_SQLSTATE
SELECT freetier_configure_credits(trial_credits => -1);
\echo :LAST_ERROR_SQLSTATE
SELECT freetier_configure_credits(trial_window => '400 days');
\echo :LAST_ERROR_SQLSTATE
SELECT freetier_configure_credits(trial_plan => 'nope');
\echo :LAST_ERROR_SQLSTATE
SELECT (SELECT count(*) FROM freetier.settings_ledger) - n AS entries_written,
       (SELECT s::text FROM freetier.credit_settings s) = (SELECT s::text FROM settings_before s)
           AS settings_unchanged
  FROM before;

------------------------------------------------------------------------------
-- Tiers
------------------------------------------------------------------------------

-- A new tier is an entry with its budget; each change of it is an entry;
-- an install's tier changed, then back, is two.
SELECT freetier_set_tier_budget('gold', 500);
SELECT freetier_set_tier_budget('gold', 600);
SELECT freetier_set_tier_budget('trusted', 250);
SELECT freetier_set_tier_budget('trusted', 200);
-- The chained budget again writes none.
SELECT freetier_set_tier_budget('gold', 600);
SELECT freetier_set_tier_budget('elite', 1000);
SELECT * FROM entries WHERE chain LIKE 'tier:%';
SELECT tier, daily_budget_sats, head_seq FROM freetier.tiers ORDER BY tier;
SELECT * FROM freetier_verify_settings_ledger() WHERE chain LIKE 'tier:%';

-- A bad value is an error and writes nothing.
UPDATE before SET n = (SELECT count(*) FROM freetier.settings_ledger);
CREATE TEMP TABLE tiers_before AS SELECT * FROM freetier.tiers;
SELECT freetier_set_tier_budget('gold', -1);
\echo :LAST_ERROR_SQLSTATE
SELECT freetier_set_tier_budget('gold', NULL);
\echo :LAST_ERROR_SQLSTATE
SELECT freetier_set_tier_budget('', 10);
\echo :LAST_ERROR_SQLSTATE
SELECT (SELECT count(*) FROM freetier.settings_ledger) - n AS entries_written,
       (SELECT array_agg(t::text ORDER BY tier) FROM freetier.tiers t)
       = (SELECT array_agg(t::text ORDER BY tier) FROM tiers_before t) AS tiers_unchanged
  FROM before;

-- Requests write no settings entry: the gate reads a tier's budget, and a
-- subject's tier is its own state, not a setting.
SELECT freetier_set_tier('sam', 'gold');
SELECT serve, absorb_sats FROM freetier_decide('sam', 40);
SELECT allowance_credits FROM freetier_reserve_credits('ann', 3, 'api');
SELECT ok FROM freetier_spend_credits('ann', 2, 'api');
SELECT subject IS NOT NULL AS minted FROM freetier_mint_trial('192.0.2.7');
SELECT (SELECT count(*) FROM freetier.settings_ledger) - n AS entries_written FROM before;
SELECT * FROM freetier_verify_settings_ledger();

------------------------------------------------------------------------------
-- Edits made outside the setters
------------------------------------------------------------------------------

-- Each edit of a stored value, made as a superuser with the triggers off,
-- is reported: the chain is not ok, with no bad entry (its entries are
-- whole), and the other chains stay ok.  Chains with entries (gold, the
-- credit settings) and without (max) alike.
SET session_replication_role = replica;
CREATE FUNCTION pg_temp.tampered(edit text)
    RETURNS TABLE (chain text, ok boolean, first_bad_entry bigint)
    LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE edit;
    RETURN QUERY SELECT v.chain, v.ok, v.first_bad_entry FROM freetier_verify_settings_ledger() v
                  WHERE NOT v.ok;
END $$;
BEGIN;
SELECT * FROM pg_temp.tampered($$UPDATE freetier.plans SET period = 'weekly' WHERE plan = 'gold'$$);
ROLLBACK;
BEGIN;
SELECT * FROM pg_temp.tampered($$UPDATE freetier.plans SET allowance = 1000 WHERE plan = 'gold'$$);
ROLLBACK;
BEGIN;
SELECT * FROM pg_temp.tampered($$UPDATE freetier.plans SET backend_caps = '{"api": 13}' WHERE plan = 'gold'$$);
ROLLBACK;
BEGIN;
SELECT * FROM pg_temp.tampered($$UPDATE freetier.plans SET allowance = 5 WHERE plan = 'max'$$);
ROLLBACK;
BEGIN;
SELECT * FROM pg_temp.tampered($$UPDATE freetier.plans SET backend_caps = '{}' WHERE plan = 'core'$$);
ROLLBACK;
BEGIN;
SELECT * FROM pg_temp.tampered($$INSERT INTO freetier.plans (plan, period, allowance) VALUES ('free', 'daily', 1000)$$);
ROLLBACK;
BEGIN;
SELECT * FROM pg_temp.tampered($$UPDATE freetier.credit_settings SET default_plan = 'max'$$);
ROLLBACK;
BEGIN;
SELECT * FROM pg_temp.tampered($$UPDATE freetier.credit_settings SET hold_ttl = '2 hours'$$);
ROLLBACK;
BEGIN;
SELECT * FROM pg_temp.tampered($$UPDATE freetier.credit_settings SET trial_plan = 'max'$$);
ROLLBACK;
BEGIN;
SELECT * FROM pg_temp.tampered($$UPDATE freetier.credit_settings SET trial_credits = 800$$);
ROLLBACK;
BEGIN;
SELECT * FROM pg_temp.tampered($$UPDATE freetier.credit_settings SET trials_per_network = 200$$);
ROLLBACK;
BEGIN;
SELECT * FROM pg_temp.tampered($$UPDATE freetier.credit_settings SET trial_window = '1 day'$$);
ROLLBACK;
BEGIN;
SELECT * FROM pg_temp.tampered($$UPDATE freetier.credit_settings SET max_hold_ttl = '30 days'$$);
ROLLBACK;
BEGIN;
SELECT * FROM pg_temp.tampered($$UPDATE freetier.tiers SET daily_budget_sats = 6000 WHERE tier = 'gold'$$);
ROLLBACK;
BEGIN;
SELECT * FROM pg_temp.tampered($$UPDATE freetier.tiers SET daily_budget_sats = 0 WHERE tier = 'elite'$$);
ROLLBACK;
BEGIN;
SELECT * FROM pg_temp.tampered($$INSERT INTO freetier.tiers (tier, daily_budget_sats) VALUES ('vip', 9000)$$);
ROLLBACK;
-- An entry edited (its settings, with the append-only triggers off) is
-- its chain's first bad entry; so is an entry removed.
BEGIN;
ALTER TABLE freetier.settings_ledger DISABLE TRIGGER ALL;
SELECT * FROM pg_temp.tampered($$UPDATE freetier.settings_ledger SET settings = replace(settings, '70', '700')
                                  WHERE chain = 'plan:gold' AND seq = 2$$);
ROLLBACK;
BEGIN;
ALTER TABLE freetier.settings_ledger DISABLE TRIGGER ALL;
SELECT * FROM pg_temp.tampered($$DELETE FROM freetier.settings_ledger
                                  WHERE chain = 'credit_settings' AND seq = 4$$);
ROLLBACK;
BEGIN;
ALTER TABLE freetier.settings_ledger DISABLE TRIGGER ALL;
SELECT * FROM pg_temp.tampered($$UPDATE freetier.settings_ledger SET settings = replace(settings, '500', '5000')
                                  WHERE chain = 'tier:gold' AND seq = 1$$);
ROLLBACK;
BEGIN;
ALTER TABLE freetier.settings_ledger DISABLE TRIGGER ALL;
SELECT * FROM pg_temp.tampered($$DELETE FROM freetier.settings_ledger
                                  WHERE chain = 'tier:trusted' AND seq = 2$$);
ROLLBACK;
RESET session_replication_role;

-- A setter never chains such an edit: configure_credits takes the settings
-- it is not given from the chain (and so puts the edit back), and
-- define_plan and set_tier_budget are given every value.
BEGIN;
UPDATE freetier.credit_settings SET trial_credits = 800;
UPDATE freetier.plans SET allowance = 1000 WHERE plan = 'gold';
UPDATE freetier.tiers SET daily_budget_sats = 6000 WHERE tier = 'gold';
SELECT freetier_configure_credits(hold_ttl => '2 hours');
SELECT freetier_define_plan('gold', 'monthly', NULL, '{"api": 12}');
SELECT freetier_set_tier_budget('gold', 600);
SELECT trial_credits, hold_ttl FROM freetier.credit_settings;
SELECT allowance FROM freetier.plans WHERE plan = 'gold';
SELECT daily_budget_sats, head_seq FROM freetier.tiers WHERE tier = 'gold';
SELECT chain, seq, settings::jsonb ->> 'trial_credits' AS trial_credits
  FROM entries WHERE created_at = freetier.clock() AND seq > 4;
SELECT chain, ok FROM freetier_verify_settings_ledger() WHERE NOT ok;
ROLLBACK;

-- A failed verification writes a line to the server log (test/t/007_log_lines.pl).

------------------------------------------------------------------------------
-- Anchors and errors
------------------------------------------------------------------------------

-- Every settings chain has an anchor, and each verifies; an edited entry
-- makes its anchor false.
SELECT chain, seq, freetier_verify_anchor(chain, seq, head_hash) AS verified
  FROM freetier_ledger_anchor() WHERE chain !~ '^(pool|account):' ORDER BY chain;
SELECT head_hash AS gold_head FROM freetier.plans WHERE plan = 'gold' \gset
BEGIN;
ALTER TABLE freetier.settings_ledger DISABLE TRIGGER ALL;
UPDATE freetier.settings_ledger SET settings = replace(settings, 'weekly', 'daily')
 WHERE chain = 'plan:gold' AND seq = 1;
SELECT freetier_verify_anchor('plan:gold', 4, :'gold_head') AS verified;
ROLLBACK;

-- One chain by its name; a chain that does not exist is 42704.
SELECT * FROM freetier_verify_settings_ledger('plan:gold');
SELECT * FROM freetier_verify_settings_ledger('credit_settings');
SELECT * FROM freetier_verify_settings_ledger('tier:gold');
SELECT freetier_verify_anchor(chain, seq, head_hash) AS verified
  FROM freetier_ledger_anchor() WHERE chain = 'tier:gold';
SELECT * FROM freetier_verify_settings_ledger('tier:nope');
\echo :LAST_ERROR_SQLSTATE
SELECT freetier_verify_anchor('tier:', 0, '\x00');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM freetier_verify_settings_ledger('gold');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM freetier_verify_settings_ledger('plan:nope');
\echo :LAST_ERROR_SQLSTATE

-- The settings ledger is append-only, for every role.
UPDATE freetier.settings_ledger SET settings = '{}' WHERE chain = 'plan:gold';
DELETE FROM freetier.settings_ledger WHERE chain = 'plan:gold';
TRUNCATE freetier.settings_ledger;

RESET freetier.test_now;
DROP VIEW entries;
DROP TABLE before, tiers_before;
DROP EXTENSION freetier;
CREATE EXTENSION freetier;
