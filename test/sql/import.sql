-- Import: a seed deployment's state brought over with freetier_import_pool,
-- freetier_import_subject and freetier_import_account, from scratch tables
-- shaped like the seeds' (000: timmy_config's free_tier_pool row and
-- nostr_identities' counters; 003: the JSON credit ledger's rows; 004:
-- tenant_credits), one statement per shape as the README shows.  Then
-- decide and spend behave on the imported state as the seeds would, both
-- chains verify from their first entry, conservation holds from the ledger
-- alone; each import is once per ref; every error has its SQLSTATE and
-- changes nothing.
SET timezone = 'UTC';
\set SHOW_CONTEXT never
DROP EXTENSION freetier;
CREATE EXTENSION freetier;
SET freetier.test_now = '2026-03-10 12:00:00+00';

-- Seed 000: the pool is text in a key/value table; each identity counts
-- the sats absorbed in its 24 h window and when that window began.
CREATE TEMP TABLE timmy_config (key text PRIMARY KEY, value text);
INSERT INTO timmy_config VALUES ('generosity_pool_sats', '4321'), ('other', 'x');
CREATE TEMP TABLE nostr_identities (pubkey text PRIMARY KEY, tier text,
                                    sats_absorbed_today int, absorbed_reset_at timestamptz);
INSERT INTO nostr_identities VALUES
    ('npub-ann', 'established', 30, '2026-03-10 02:00+00'),   -- 20 of 50 left
    ('npub-bob', 'trusted', 200, '2026-03-09 20:00+00'),      -- budget used up
    ('npub-cat', 'elite', 900, '2026-03-08 09:00+00'),        -- window ended: fresh
    ('npub-dan', 'new', 0, NULL);                             -- never used

-- Seed 003: the JSON ledger's rows, keyed by install id.
CREATE TEMP TABLE credits_json (doc jsonb);
INSERT INTO credits_json VALUES ('{"rows": {
  "inst-core": {"tier_snapshot": "core", "lifetime_consumed": 40, "lifetime_gemini_consumed": 10,
                "last_renewal_at": "2026-01-05T08:00:00Z", "monthly_consumed": 0,
                "monthly_gemini_consumed": 0},
  "inst-pro":  {"tier_snapshot": "pro", "lifetime_consumed": 5000, "lifetime_gemini_consumed": 0,
                "last_renewal_at": "2026-02-17T00:00:00Z", "monthly_consumed": 990,
                "monthly_gemini_consumed": 300}}}');

-- Seed 004: tenant_credits, last_replenish_at in epoch milliseconds; a
-- monthly refill of 50 credits (tenant_default_credits).
CREATE TEMP TABLE tenant_credits (user_id text PRIMARY KEY, purchased_balance int,
                                  replenish_balance int, last_replenish_at bigint);
INSERT INTO tenant_credits VALUES
    ('user-1', 25, 8, extract(epoch FROM timestamptz '2026-03-01 09:30+00')::bigint * 1000),
    ('user-2', 0, 50, extract(epoch FROM timestamptz '2026-02-20 00:00+00')::bigint * 1000);
SELECT freetier_define_plan('tenant', 'monthly', 50, '{}');

-- What the imports wrote.
CREATE TEMP VIEW pool_entries AS
SELECT stripe, seq, kind, delta_sats, balance_after, payment_ref FROM freetier.ledger
 WHERE pool = 'default' AND kind <> 'seed' ORDER BY stripe, seq;
CREATE TEMP VIEW account_entries AS
SELECT subject, seq, kind, bucket, delta, balance_after, backend, ref FROM freetier.account_ledger
 ORDER BY subject, seq;
CREATE TEMP VIEW state AS
SELECT (SELECT sum(balance_sats) FROM freetier.pool_stripes) AS pools,
       (SELECT count(*) FROM freetier.ledger) AS pool_entries,
       (SELECT count(*) FROM freetier.subjects) AS subjects,
       (SELECT count(*) FROM freetier.accounts) AS accounts,
       (SELECT count(*) FROM freetier.account_ledger) AS account_entries,
       (SELECT count(*) FROM freetier.account_backend_use) AS backend_use,
       (SELECT count(*) FROM freetier.imports) AS imports;

------------------------------------------------------------------------------
-- The pool (seed 000): its balance replaces the install's seed of 10,000
-- sats, spread over the active stripes as a seed is.
------------------------------------------------------------------------------
SELECT freetier_import_pool('default', value::bigint, 'seed000-pool')
  FROM timmy_config WHERE key = 'generosity_pool_sats';
SELECT stripe, balance_sats FROM freetier.pool_stripes WHERE pool = 'default' AND stripe < 3 ORDER BY stripe;
SELECT count(*) AS import_entries, sum(delta_sats) AS moved FROM freetier.ledger
 WHERE pool = 'default' AND kind = 'import';
-- The same ref with the same arguments: the first result, nothing moves.
SELECT freetier_import_pool('default', 4321, 'seed000-pool');
SELECT count(*) AS import_entries FROM freetier.ledger WHERE pool = 'default' AND kind = 'import';

------------------------------------------------------------------------------
-- The subjects (seed 000): tier and current window.
------------------------------------------------------------------------------
SELECT pubkey, freetier_import_subject(pubkey, tier, absorbed_reset_at, sats_absorbed_today,
                                       'seed000-' || pubkey)
  FROM nostr_identities ORDER BY pubkey;
SELECT subject, tier, window_start, window_settled_sats FROM freetier.subjects ORDER BY subject;
-- Each is an entry of 0 sats on the pool whose payment_ref is the import.
SELECT kind, delta_sats, payment_ref::jsonb ->> 'subject' AS subject,
       payment_ref::jsonb ->> 'window_used_sats' AS used
  FROM freetier.ledger WHERE pool = 'default' AND kind = 'import' AND delta_sats = 0
   AND payment_ref LIKE '{%' ORDER BY 3;
SELECT freetier_import_subject('npub-ann', 'established', '2026-03-10 02:00+00', 30, 'seed000-npub-ann');

-- Decide on the imported windows, as seed 000 would: ann has 20 of 50
-- left, bob nothing, cat's window ended (a fresh 1000), dan is 'new' (0).
SELECT serve, absorb_sats, charge_sats, reason FROM freetier_decide('npub-ann', 30);
SELECT serve, absorb_sats, charge_sats, reason FROM freetier_decide('npub-bob', 10);
SELECT serve, absorb_sats, charge_sats, reason FROM freetier_decide('npub-cat', 40);
SELECT serve, absorb_sats, charge_sats, reason FROM freetier_decide('npub-dan', 10);
SELECT subject, window_start, window_settled_sats, window_held_sats, left_sats
  FROM freetier_list_subjects();

------------------------------------------------------------------------------
-- The accounts: seed 003's JSON rows (core: lifetime use; pro, max:
-- the month's use, gemini's part per backend) and seed 004's rows (the
-- refill's use is 50 less what is left).
------------------------------------------------------------------------------
SELECT r.key AS install_id,
       freetier_import_account(
           r.key, r.value ->> 'tier_snapshot',
           (r.value ->> 'last_renewal_at')::timestamptz, (r.value ->> 'last_renewal_at')::timestamptz,
           CASE WHEN r.value ->> 'tier_snapshot' = 'core' THEN (r.value ->> 'lifetime_consumed')::bigint
                ELSE (r.value ->> 'monthly_consumed')::bigint END,
           0, 'seed003-' || r.key,
           jsonb_build_object('gemini',
               CASE WHEN r.value ->> 'tier_snapshot' = 'core' THEN r.value -> 'lifetime_gemini_consumed'
                    ELSE r.value -> 'monthly_gemini_consumed' END))
  FROM credits_json, jsonb_each(doc -> 'rows') r ORDER BY r.key;
SELECT user_id,
       freetier_import_account(user_id, 'tenant', to_timestamp(last_replenish_at / 1000.0),
                               to_timestamp(last_replenish_at / 1000.0),
                               50 - replenish_balance, purchased_balance, 'seed004-' || user_id)
  FROM tenant_credits ORDER BY user_id;
SELECT * FROM account_entries WHERE kind <> 'open';
SELECT subject, plan, anniversary, period_start, period_used, lifetime_plan_used,
       purchased_balance, lifetime_spent, lifetime_added FROM freetier.accounts ORDER BY subject;
SELECT * FROM freetier.account_backend_use ORDER BY subject, backend;
SELECT freetier_import_account('user-1', 'tenant', '2026-03-01 09:30+00', '2026-03-01 09:30+00',
                               42, 25, 'seed004-user-1');
SELECT subject, plan, period_start, period_end, allowance_left, backend_left, purchased_balance
  FROM freetier_list_accounts();

-- Spend on the imported accounts, as the seeds would: core has 60 of its
-- lifetime 100 left and 15 of them through gemini; pro has 10 left this
-- month, then renews on the 17th; user-1 has 8 of the refill, then 25
-- purchased; user-2's period began on Feb 20 and renews on Mar 20.
SELECT ok, allowance_credits, purchased_credits, reason FROM freetier_spend_credits('inst-core', 16, 'gemini');
SELECT ok, allowance_credits, purchased_credits, reason FROM freetier_spend_credits('inst-core', 15, 'gemini');
SELECT ok, allowance_credits, purchased_credits, reason FROM freetier_spend_credits('inst-pro', 11, 'hardware');
SELECT ok, allowance_credits, purchased_credits, reason FROM freetier_spend_credits('inst-pro', 10, 'hardware');
SELECT ok, allowance_credits, purchased_credits, reason FROM freetier_spend_credits('user-1', 10, 'api');
SELECT ok, allowance_credits, purchased_credits, reason FROM freetier_spend_credits('user-2', 50, 'api');
SET freetier.test_now = '2026-03-17 00:00:00+00';
SELECT ok, allowance_credits, purchased_credits, reason FROM freetier_spend_credits('inst-pro', 1000, 'hardware');

-- A subject's import moves nothing: a pool's balance may come after it.
SELECT freetier_create_pool('later', 0, stripes => 2);
SELECT freetier_import_subject('npub-fay', 'elite', NULL, 0, 'fay', 'later');
SELECT freetier_import_pool('later', 900, 'later-pool');
SELECT stripe, kind, delta_sats, balance_after FROM freetier.ledger
 WHERE pool = 'later' AND kind = 'import' ORDER BY stripe, seq;

------------------------------------------------------------------------------
-- Errors: each with its SQLSTATE, and nothing changed.
------------------------------------------------------------------------------
SELECT freetier_create_pool('busy', 0, stripes => 2);
SELECT freetier_credit(1000, 'busy', 'inv-busy');
CREATE TEMP TABLE before AS SELECT * FROM state;
\set VERBOSITY sqlstate
\echo pool
SELECT freetier_import_pool('later', 900, 'other-ref');               -- 55000 imported already
SELECT freetier_import_pool('busy', 100, 'r');                         -- 55000 traffic
SELECT freetier_import_pool('default', 1234, 'seed000-pool');         -- 55000 other arguments
SELECT freetier_import_pool('nowhere', 1, 'r');                        -- 42704
SELECT freetier_import_pool('default', -1, 'r');                       -- 22023
SELECT freetier_import_pool('default', 1000000000000000001, 'r');      -- 22003
SELECT freetier_import_pool('default', 1, '');                         -- 22023
SELECT freetier_import_pool(NULL, 1, 'r');                             -- 22023
\echo subject
SELECT freetier_import_subject('npub-ann', 'elite', NULL, 0, 'other');              -- 55000 exists
SELECT freetier_import_subject('npub-eve', 'elite', NULL, 0, 'seed000-npub-ann');   -- 55000 other arguments
SELECT freetier_import_subject('npub-eve', 'gold', NULL, 0, 'r');                   -- 42704 tier
SELECT freetier_import_subject('npub-eve', 'elite', NULL, 0, 'r', 'nowhere');       -- 42704 pool
SELECT freetier_import_subject('npub-eve', 'elite', NULL, 5, 'r');                  -- 22023 no window
SELECT freetier_import_subject('npub-eve', 'elite', '2027-01-01+00', 5, 'r');       -- 22023 future
SELECT freetier_import_subject('npub-eve', 'elite', now(), -5, 'r');                -- 22023
SELECT freetier_import_subject('', 'elite', NULL, 0, 'r');                          -- 22023
\echo account
SELECT freetier_import_account('user-1', 'tenant', '2026-03-01+00', '2026-03-01+00', 0, 0, 'other');        -- 55000 exists
SELECT freetier_import_account('user-1', 'tenant', '2026-03-01 09:30+00', '2026-03-01 09:30+00', 42, 26, 'seed004-user-1');  -- 55000 other arguments
SELECT freetier_import_account('u', 'gold', '2026-03-01+00', '2026-03-01+00', 0, 0, 'r');                  -- 42704
SELECT freetier_import_account('u', 'pro', '2026-01-31+00', '2026-02-27+00', 0, 0, 'r');                   -- 22023 off the grid
SELECT freetier_import_account('u', 'core', '2026-01-31+00', '2026-02-28+00', 0, 0, 'r');                  -- 22023 lifetime
SELECT freetier_import_account('u', 'pro', '2026-03-01+00', '2026-02-01+00', 0, 0, 'r');                   -- 22023 before
SELECT freetier_import_account('u', 'pro', '2026-03-01+00', '2026-04-01+00', 0, 0, 'r');                   -- 22023 future
SELECT freetier_import_account('u', 'pro', '-infinity', '2026-03-01+00', 0, 0, 'r');                       -- 22023
SELECT freetier_import_account('u', 'pro', '2026-03-01+00', '2026-03-01+00', -1, 0, 'r');                  -- 22023
SELECT freetier_import_account('u', 'pro', '2026-03-01+00', '2026-03-01+00', 0, 1000000000000000001, 'r'); -- 22003
SELECT freetier_import_account('u', 'pro', '2026-03-01+00', '2026-03-01+00', 5, 0, 'r', '{"gemini": 6}');   -- 22023 more than used
SELECT freetier_import_account('u', 'pro', '2026-03-01+00', '2026-03-01+00', 5, 0, 'r', '{"gemini": 1.5}'); -- 22023
SELECT freetier_import_account('u', 'pro', '2026-03-01+00', '2026-03-01+00', 5, 0, 'r', '{"": 1}');        -- 22023
SELECT freetier_import_account('u', 'pro', '2026-03-01+00', '2026-03-01+00', 5, 0, 'r', '[1]');            -- 22023
\set VERBOSITY default
SELECT (SELECT row(b.*) FROM before b) = (SELECT row(s.*) FROM state s) AS nothing_changed;
-- A message or two in full.
SELECT freetier_import_pool('later', 900, 'other-ref');
SELECT freetier_import_pool('busy', 100, 'r');
SELECT freetier_import_account('u', 'pro', '2026-01-31+00', '2026-02-27+00', 0, 0, 'r');

------------------------------------------------------------------------------
-- Verification from the first entry, and conservation from the ledger
-- alone: a pool's balance is the sum of its entries (imports included),
-- an account's purchased balance the sum of its purchased entries.
------------------------------------------------------------------------------
SELECT pool, ok, first_bad_entry FROM freetier_verify_ledger();
SELECT subject, ok, first_bad_entry FROM freetier_verify_account_ledger() ORDER BY subject;
SELECT (SELECT sum(balance_sats) FROM freetier.pool_stripes WHERE pool = 'default')
     = (SELECT sum(delta_sats) FROM freetier.ledger WHERE pool = 'default') AS pool_conserved,
       freetier_balance_at('default', now()) AS balance_at;
SELECT kind, count(*) AS entries, sum(delta_sats) AS sats FROM freetier.ledger
 WHERE pool = 'default' GROUP BY kind ORDER BY kind;
SELECT subject, purchased_balance = freetier_account_balance_at(subject, now()) AS conserved
  FROM freetier.accounts ORDER BY subject;

-- A rewrite of an imported value is caught: the window use named in a
-- subject's import entry, and an account's imported period use.
BEGIN;
ALTER TABLE freetier.ledger DISABLE TRIGGER ALL;
UPDATE freetier.ledger SET payment_ref = replace(payment_ref, '"window_used_sats": 30', '"window_used_sats": 0')
 WHERE kind = 'import' AND payment_ref LIKE '%npub-ann%';
SELECT pool, ok FROM freetier_verify_ledger('default');
ROLLBACK;
BEGIN;
ALTER TABLE freetier.account_ledger DISABLE TRIGGER ALL;
ALTER TABLE freetier.accounts DISABLE TRIGGER ALL;
UPDATE freetier.account_ledger SET delta = 0, balance_after = 0 WHERE subject = 'user-1' AND kind = 'import' AND bucket = 'period';
UPDATE freetier.accounts SET period_used = period_used - 42, lifetime_spent = lifetime_spent - 42 WHERE subject = 'user-1';
SELECT subject, ok, first_bad_entry FROM freetier_verify_account_ledger('user-1');
ROLLBACK;

\i test/invariants.sql
SELECT * FROM broken_rules;
