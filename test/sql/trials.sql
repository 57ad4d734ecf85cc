-- Anonymous trials (0.2): at most trials_per_network per IPv4 address and
-- per IPv6 /64 within trial_window; the remaining credits carry over to a
-- real account once.
SET timezone = 'UTC';
\set SHOW_CONTEXT never
DROP EXTENSION freetier;
CREATE EXTENSION freetier;
SET freetier.test_now = '2025-03-01 12:00:00+00';
SELECT trial_plan, trial_credits, trials_per_network, trial_window FROM freetier.credit_settings;

-- Runs a statement that must fail; prints its SQLSTATE, message and detail
-- with trial subjects masked (they are random).
CREATE FUNCTION expect_error(stmt text) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    state text; msg text; detail text;
BEGIN
    EXECUTE stmt;
    RAISE EXCEPTION 'expected an error from: %', stmt;
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, msg = MESSAGE_TEXT, detail = PG_EXCEPTION_DETAIL;
    IF msg LIKE 'expected an error from:%' THEN RAISE; END IF;
    RAISE NOTICE '% %: %', state, regexp_replace(msg, 'trial:[0-9a-f-]{36}', 'trial:<id>', 'g'),
        regexp_replace(detail, 'trial:[0-9a-f-]{36}', 'trial:<id>', 'g');
END $$;
CREATE TEMP TABLE minted (n int, ip inet, subject text, credits bigint, reason text);
CREATE FUNCTION mint(n int, ip inet) RETURNS TABLE (n int, ip inet, minted boolean, credits bigint, reason text)
LANGUAGE sql AS $$
  INSERT INTO minted SELECT n, ip, t.* FROM freetier_mint_trial(ip) t
  RETURNING n, ip, subject IS NOT NULL, credits, reason
$$;

-- IPv4: three per address; the fourth is refused; the next address is another network.
SELECT * FROM mint(1, '203.0.113.7');
SELECT * FROM mint(2, '203.0.113.7');
SELECT * FROM mint(3, '203.0.113.7/24');                -- the same address, another mask
SELECT * FROM mint(4, '203.0.113.7');
SELECT * FROM mint(5, '203.0.113.8');
SELECT * FROM mint(6, '::ffff:203.0.113.7');            -- IPv4-mapped IPv6 is that IPv4 address

-- IPv4-mapped (::ffff:0:0/96) and NAT64 (64:ff9b::/96) addresses count as
-- the IPv4 address they carry, whatever mask they are given.
SELECT * FROM mint(7, '::ffff:198.51.100.7/96');
SELECT * FROM mint(8, '64:ff9b::198.51.100.7');
SELECT * FROM mint(9, '64:ff9b::c633:6407/64');         -- the same address in hex, a /64 mask
SELECT * FROM mint(16, '::ffff:198.51.100.7/0');         -- a fourth time: refused
SELECT * FROM mint(17, '198.51.100.7');                  -- and plain IPv4 too
SELECT * FROM mint(18, '::ffff:0:0/96');                 -- 0.0.0.0 is an address like any other

-- IPv6: three per /64, whatever the lower 64 bits.
SELECT * FROM mint(10, '2001:db8:aa:1::1');
SELECT * FROM mint(11, '2001:db8:aa:1:ffff:ffff:ffff:ffff');
SELECT * FROM mint(12, '2001:db8:aa:1:8000::42');
SELECT * FROM mint(13, '2001:db8:aa:1::2');              -- the same /64: refused
-- Just outside that /64, on either side: other networks.
SELECT * FROM mint(14, '2001:db8:aa:0:ffff:ffff:ffff:ffff');
SELECT * FROM mint(15, '2001:db8:aa:2::');

SELECT network, count(*) FROM freetier.trials GROUP BY network ORDER BY network;

-- The window: a day after the first three, that address may mint again.
SET freetier.test_now = '2025-03-02 11:59:59+00';
SELECT * FROM mint(20, '203.0.113.7');
SET freetier.test_now = '2025-03-02 12:00:00+00';
SELECT * FROM mint(21, '203.0.113.7');

-- A trial spends from its purchased balance (its plan has no allowance).
SELECT subject AS trial FROM minted WHERE n = 1 \gset
SELECT ok, allowance_credits, purchased_credits FROM freetier_spend_credits(:'trial', 2, 'api');
SELECT plan, allowance_left, purchased_balance FROM freetier_account_status(:'trial');

-- Signup: the remaining 3 carry over to the real account, once.
SELECT freetier_claim_trial(:'trial', 'alice');
SELECT freetier_claim_trial(:'trial', 'alice');          -- again: the first result, nothing moves
SELECT plan, purchased_balance, lifetime_added FROM freetier_account_status('alice');
SELECT purchased_balance FROM freetier_account_status(:'trial');
SELECT expect_error(format('SELECT freetier_claim_trial(%L, %L)', :'trial', 'bob'));

-- Credits on hold in the trial stay with it; the rest carries over.
SELECT subject AS trial2 FROM minted WHERE n = 2 \gset
SELECT hold_id IS NOT NULL AS held FROM freetier_reserve_credits(:'trial2', 4, 'api');
SELECT freetier_claim_trial(:'trial2', 'carol');
SELECT purchased_balance, reserved_credits FROM freetier_account_status(:'trial2');

SELECT kind, bucket, delta, balance_after FROM freetier.account_ledger
 WHERE subject IN (:'trial', 'alice') ORDER BY subject = 'alice', seq;
SELECT bool_and(ok) AS all_chains_ok FROM freetier_verify_account_ledger();

-- Errors.
SELECT * FROM freetier_mint_trial(NULL);
\echo :LAST_ERROR_SQLSTATE
SELECT freetier_claim_trial('trial:none', 'alice');
\echo :LAST_ERROR_SQLSTATE
SELECT freetier_claim_trial(:'trial', NULL);
\echo :LAST_ERROR_SQLSTATE
SELECT subject AS trial3 FROM minted WHERE n = 3 \gset
SELECT expect_error(format('SELECT freetier_claim_trial(%L, %L)', :'trial3', :'trial2'));

-- trials_per_network 0 turns trials off.
SELECT freetier_configure_credits(trials_per_network => 0);
SELECT * FROM mint(30, '198.51.100.1');
DROP FUNCTION mint(int, inet);
DROP FUNCTION expect_error(text);
