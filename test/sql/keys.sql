-- Money-safe retries and long payment windows (issue 9): decide with a
-- request_key and a hold_ttl, the pools' and the credit settings'
-- max_hold_ttl, freetier_extend_hold.
SET timezone = 'UTC';
\set SHOW_CONTEXT never
DROP EXTENSION freetier;
CREATE EXTENSION freetier;
SELECT freetier_configure_pool('default', stripes => 1);
SET freetier.test_now = '2026-05-01 12:00:00+00';
SELECT freetier_set_tier('kim', 'trusted');            -- 200 a day

-- What a call moved: holds, ledger entries, the pool, kim's window, keys.
CREATE FUNCTION pg_temp.moved() RETURNS TABLE (holds bigint, entries bigint, balance bigint,
                                               settled bigint, last_hold_at timestamptz,
                                               keys bigint)
    LANGUAGE sql AS $$
    SELECT (SELECT count(*) FROM freetier.holds), (SELECT count(*) FROM freetier.ledger),
           (SELECT sum(balance_sats)::bigint FROM freetier.pool_stripes),
           s.window_settled_sats, s.last_hold_at, (SELECT count(*) FROM freetier.request_keys)
      FROM freetier.subjects s WHERE s.subject = 'kim'
$$;
-- freetier_extend_hold's answer, or its error with the hold's uuid as <hold>.
CREATE FUNCTION pg_temp.try_extend(id uuid, ttl interval) RETURNS text
    LANGUAGE plpgsql AS $$
BEGIN
    RETURN freetier_extend_hold(id, ttl)::text;
EXCEPTION WHEN others THEN
    RETURN SQLSTATE || ': ' || replace(SQLERRM, id::text, '<hold>');
END
$$;

------------------------------------------------------------------------------
-- Request keys.
------------------------------------------------------------------------------

-- The first call places a hold and records its key.
CREATE TEMP TABLE d AS SELECT * FROM freetier_decide('kim', 120, request_key => 'job-1');
SELECT serve, absorb_sats, charge_sats, reason FROM d;
SELECT request_key, call, hold_id = (SELECT hold_id FROM d) AS its_hold FROM freetier.request_keys;
SELECT * FROM pg_temp.moved();

-- Repeated after it committed (the acknowledgement was lost): the same
-- answer and hold, and nothing moves; in every call form.
SET freetier.test_now = '2026-05-01 12:01:00+00';
CREATE TEMP TABLE snap AS SELECT * FROM pg_temp.moved();
SELECT serve, absorb_sats, charge_sats, hold_id = (SELECT hold_id FROM d) AS same_hold, reason
  FROM freetier_decide('kim', 120, request_key => 'job-1');
SELECT hold_id = (SELECT hold_id FROM d) AS same_hold FROM freetier_decide('kim', 120, 'default', 'job-1');
SELECT hold_id = (SELECT hold_id FROM d) AS same_hold
  FROM freetier_decide(subject => 'kim', estimated_sats => 120, pool => 'default',
                       request_key => 'job-1', hold_ttl => NULL);
SELECT (SELECT row(m.*)::text FROM pg_temp.moved() m) = (SELECT row(s.*)::text FROM snap s) AS nothing_moved;

-- A partial answer comes back partial: a 150-sat request with 80 left.
SELECT serve, absorb_sats, charge_sats FROM freetier_decide('kim', 150, request_key => 'job-2');
SELECT serve, absorb_sats, charge_sats FROM freetier_decide('kim', 150, request_key => 'job-2');

-- After the hold was settled, the repeat still answers as first, and the
-- settle is not undone or repeated.
SELECT absorbed_sats FROM freetier_record_grant((SELECT hold_id FROM d), 100);
SELECT serve, absorb_sats, hold_id = (SELECT hold_id FROM d) AS same_hold
  FROM freetier_decide('kim', 120, request_key => 'job-1');
SELECT count(*) AS grants FROM freetier.grants;

-- The same key with other arguments, or from another caller's request: 55000,
-- and nothing moves.
DROP TABLE snap;
CREATE TEMP TABLE snap AS SELECT * FROM pg_temp.moved();
SELECT * FROM freetier_decide('kim', 121, request_key => 'job-1');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM freetier_decide('kim', 120, 'default', 'job-1', interval '1 hour');
\echo :LAST_ERROR_SQLSTATE
SELECT freetier_create_pool('other', 1000);
SELECT * FROM freetier_decide('kim', 120, 'other', 'job-1');
\echo :LAST_ERROR_SQLSTATE
SELECT freetier_set_tier('lee', 'trusted');
DROP TABLE snap;
CREATE TEMP TABLE snap AS SELECT * FROM pg_temp.moved();
SELECT * FROM freetier_decide('lee', 120, request_key => 'job-1');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM freetier_decide(NULL, 120, request_key => 'job-1');      -- anonymous
\echo :LAST_ERROR_SQLSTATE
SELECT (SELECT row(m.*)::text FROM pg_temp.moved() m) = (SELECT row(s.*)::text FROM snap s) AS nothing_moved,
       (SELECT count(*) FROM freetier.holds WHERE subject = 'lee') AS lee_holds;

-- In one transaction, a second call with the key sees the first's hold.
BEGIN;
SELECT serve, absorb_sats FROM freetier_decide('lee', 10, request_key => 'job-3');
SELECT serve, absorb_sats FROM freetier_decide('lee', 10, request_key => 'job-3');
SELECT count(*) AS lee_holds FROM freetier.holds WHERE subject = 'lee';
-- and a rolled-back call leaves its key free
ROLLBACK;
SELECT count(*) AS job_3_keys FROM freetier.request_keys WHERE request_key = 'job-3';

-- A gate answer records nothing: the key decides afresh next time.
SELECT serve, reason FROM freetier_decide('max', 10, request_key => 'job-4');   -- unknown
SELECT count(*) AS job_4_keys FROM freetier.request_keys WHERE request_key = 'job-4';
SELECT freetier_set_tier('max', 'trusted');
SELECT serve, absorb_sats FROM freetier_decide('max', 10, request_key => 'job-4');
SELECT serve, absorb_sats FROM freetier_decide('max', 10, request_key => 'job-4');
SELECT count(*) AS max_holds FROM freetier.holds WHERE subject = 'max';

-- A key is 1 to 256 bytes (22023); NULL is no key.
SELECT * FROM freetier_decide('kim', 1, request_key => '');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM freetier_decide('kim', 1, request_key => repeat('k', 257));
\echo :LAST_ERROR_SQLSTATE
SELECT count(*) AS keys FROM freetier.request_keys;

------------------------------------------------------------------------------
-- Request keys on credit accounts: reserve, spend, mint a trial.
------------------------------------------------------------------------------

SELECT subject FROM freetier_open_account('ann');               -- core: 100, 25 on gemini
SELECT freetier_add_credits('ann', 50, 'ann-buy-1');
-- What a call moved on ann's account.
CREATE FUNCTION pg_temp.ann() RETURNS TABLE (holds bigint, entries bigint, status text, keys bigint)
    LANGUAGE sql AS $$
    SELECT (SELECT count(*) FROM freetier.credit_holds WHERE subject = 'ann'),
           (SELECT count(*) FROM freetier.account_ledger WHERE subject = 'ann'),
           (SELECT row(a.allowance_left, a.backend_left, a.purchased_balance, a.reserved_credits,
                       a.lifetime_spent)::text FROM freetier_account_status('ann') a),
           (SELECT count(*) FROM freetier.request_keys)
$$;

-- A reserve, then its repeat: the same hold and split, nothing moves.
CREATE TEMP TABLE r1 AS SELECT * FROM freetier_reserve_credits('ann', 30, 'gemini', 'res-1');
SELECT allowance_credits, purchased_credits, reason FROM r1;
CREATE TEMP TABLE snap_ann AS SELECT * FROM pg_temp.ann();
SELECT hold_id = (SELECT hold_id FROM r1) AS same_hold, allowance_credits, purchased_credits, reason
  FROM freetier_reserve_credits('ann', 30, 'gemini', 'res-1');
SELECT hold_id = (SELECT hold_id FROM r1) AS same_hold
  FROM freetier_reserve_credits(subject => 'ann', credits => 30, backend => 'gemini', request_key => 'res-1');
SELECT (SELECT row(a.*)::text FROM pg_temp.ann() a) = (SELECT row(s.*)::text FROM snap_ann s) AS nothing_moved;
-- still the same after the hold was settled
SELECT * FROM freetier_settle_credits((SELECT hold_id FROM r1), 30);
SELECT hold_id = (SELECT hold_id FROM r1) AS same_hold, allowance_credits, purchased_credits
  FROM freetier_reserve_credits('ann', 30, 'gemini', 'res-1');

-- A spend, then its repeat: the same split, spent once.
SELECT * FROM freetier_spend_credits('ann', 40, 'api', 'spend-1');
DROP TABLE snap_ann;
CREATE TEMP TABLE snap_ann AS SELECT * FROM pg_temp.ann();
SELECT * FROM freetier_spend_credits('ann', 40, 'api', 'spend-1');
SELECT (SELECT row(a.*)::text FROM pg_temp.ann() a) = (SELECT row(s.*)::text FROM snap_ann s) AS nothing_moved;

-- Other arguments, or another call's key: 55000, nothing moves.
SELECT * FROM freetier_spend_credits('ann', 41, 'api', 'spend-1');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM freetier_spend_credits('ann', 40, 'batch', 'spend-1');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM freetier_spend_credits('ann', 30, 'gemini', 'res-1');      -- a reserve's key
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM freetier_reserve_credits('ann', 1, 'api', 'job-1');        -- a decide's key
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM freetier_decide('kim', 1, request_key => 'spend-1');       -- a spend's key
\echo :LAST_ERROR_SQLSTATE
SELECT (SELECT row(a.*)::text FROM pg_temp.ann() a) = (SELECT row(s.*)::text FROM snap_ann s) AS nothing_moved;

-- A refusal records nothing: the key decides afresh.
SELECT * FROM freetier_spend_credits('ann', 1000, 'api', 'spend-2');     -- out_of_credits
SELECT count(*) AS spend_2_keys FROM freetier.request_keys WHERE request_key = 'spend-2';
SELECT * FROM freetier_reserve_credits('nobody', 1, 'api', 'spend-2');   -- no_account
SELECT freetier_add_credits('ann', 1000, 'ann-buy-2');
SELECT * FROM freetier_spend_credits('ann', 1000, 'api', 'spend-2');
SELECT * FROM freetier_spend_credits('ann', 1000, 'api', 'spend-2');
SELECT purchased_balance FROM freetier_account_status('ann');

-- Bad keys: 22023.
SELECT * FROM freetier_spend_credits('ann', 1, 'api', '');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM freetier_reserve_credits('ann', 1, 'api', repeat('k', 257));
\echo :LAST_ERROR_SQLSTATE

-- A trial: the repeat gets the same trial subject and credits; no second
-- trial is minted, and the network's count is not used up by it.
SELECT freetier_configure_credits(trials_per_network => 2);
CREATE TEMP TABLE t1 AS SELECT * FROM freetier_mint_trial('198.51.100.7', 'trial-1');
SELECT subject LIKE 'trial:%' AS minted, credits, reason FROM t1;
SELECT subject = (SELECT subject FROM t1) AS same_trial, credits, reason
  FROM freetier_mint_trial('198.51.100.7', 'trial-1');
SELECT subject = (SELECT subject FROM t1) AS same_trial
  FROM freetier_mint_trial(client_ip => '198.51.100.7', request_key => 'trial-1');
SELECT count(*) AS trials FROM freetier.trials;
SELECT subject IS NOT NULL AS minted, reason FROM freetier_mint_trial('198.51.100.7', 'trial-2');
SELECT subject IS NOT NULL AS minted, reason FROM freetier_mint_trial('198.51.100.7', 'trial-3');
SELECT count(*) AS trial_3_keys FROM freetier.request_keys WHERE request_key = 'trial-3';
-- the same key from another address: 55000
SELECT * FROM freetier_mint_trial('198.51.100.8', 'trial-1');
\echo :LAST_ERROR_SQLSTATE
SELECT count(*) AS trials FROM freetier.trials;

------------------------------------------------------------------------------
-- A hold's TTL, and max_hold_ttl.
------------------------------------------------------------------------------

-- Default: the pool's hold_ttl.  hold_ttl sets this hold's.
SELECT expires_at - created_at AS ttl FROM freetier.holds WHERE hold_id = (SELECT hold_id FROM d);
CREATE TEMP TABLE h1 AS SELECT * FROM freetier_decide('lee', 5, hold_ttl => interval '2 hours');
SELECT expires_at - created_at AS ttl FROM freetier.holds WHERE hold_id = (SELECT hold_id FROM h1);

-- max_hold_ttl: 30 days by default, per pool.
SELECT pool, hold_ttl, max_hold_ttl FROM freetier.pools ORDER BY pool;
SELECT freetier_configure_pool('default', max_hold_ttl => interval '3 hours');
SELECT freetier_create_pool('short', 100, max_hold_ttl => interval '1 hour');
SELECT pool, hold_ttl, max_hold_ttl FROM freetier.pools ORDER BY pool;

-- Past it, past 30 days or not a duration: 22023, and nothing moves.
DROP TABLE snap;
CREATE TEMP TABLE snap AS SELECT * FROM pg_temp.moved();
SELECT * FROM freetier_decide('kim', 5, hold_ttl => interval '3 hours 1 second');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM freetier_decide('kim', 5, 'short', 'job-5', interval '2 hours');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM freetier_decide('nobody', 5, hold_ttl => interval '3 hours 1 second');  -- gated too
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM freetier_decide('kim', 5, hold_ttl => interval '31 days');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM freetier_decide('kim', 5, hold_ttl => interval '1 month');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM freetier_decide('kim', 5, hold_ttl => interval '-1 hour');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM freetier_decide('kim', 5, 'nowhere', hold_ttl => interval '1 hour');
\echo :LAST_ERROR_SQLSTATE
SELECT freetier_configure_pool('default', max_hold_ttl => interval '31 days');
\echo :LAST_ERROR_SQLSTATE
SELECT freetier_configure_pool('default', max_hold_ttl => interval '0');
\echo :LAST_ERROR_SQLSTATE
SELECT freetier_create_pool('long', 100, max_hold_ttl => interval '1 year');
\echo :LAST_ERROR_SQLSTATE
SELECT freetier_create_pool('long', 100, max_hold_ttl => NULL);
\echo :LAST_ERROR_SQLSTATE
SELECT (SELECT row(m.*)::text FROM pg_temp.moved() m) = (SELECT row(s.*)::text FROM snap s) AS nothing_moved,
       (SELECT max_hold_ttl FROM freetier.pools WHERE pool = 'default') AS max_hold_ttl,
       (SELECT count(*) FROM freetier.pools WHERE pool = 'long') AS long_pools;

------------------------------------------------------------------------------
-- freetier_extend_hold: a long payment window.
------------------------------------------------------------------------------

-- A 15-minute hold for an invoice that is paid after 50 minutes: extended
-- to now + ttl, it can still be settled.
CREATE TEMP TABLE inv AS SELECT * FROM freetier_decide('lee', 20);
SET freetier.test_now = '2026-05-01 12:10:00+00';
SELECT freetier_extend_hold((SELECT hold_id FROM inv), interval '1 hour') AS expires_at;
SET freetier.test_now = '2026-05-01 13:00:00+00';
SELECT absorbed_sats, returned_sats FROM freetier_record_grant((SELECT hold_id FROM inv), 20);

-- A repeat of a decide whose hold_ttl is now past the pool's max_hold_ttl
-- still gets the first answer.
CREATE TEMP TABLE h3 AS SELECT * FROM freetier_decide('lee', 1, request_key => 'job-6', hold_ttl => interval '3 hours');
SELECT freetier_configure_pool('default', max_hold_ttl => interval '2 hours');
SELECT hold_id = (SELECT hold_id FROM h3) AS same_hold
  FROM freetier_decide('lee', 1, request_key => 'job-6', hold_ttl => interval '3 hours');
SELECT * FROM freetier_decide('lee', 1, request_key => 'job-7', hold_ttl => interval '3 hours');
\echo :LAST_ERROR_SQLSTATE
SELECT freetier_configure_pool('default', max_hold_ttl => interval '3 hours');

-- Past the pool's max_hold_ttl (3 hours now), past 30 days, not a duration
-- or NULL: 22023.
CREATE TEMP TABLE h2 AS SELECT * FROM freetier_decide('lee', 5);
SELECT freetier_extend_hold((SELECT hold_id FROM h2), interval '4 hours');
\echo :LAST_ERROR_SQLSTATE
SELECT freetier_extend_hold((SELECT hold_id FROM h2), interval '40 days');
\echo :LAST_ERROR_SQLSTATE
SELECT freetier_extend_hold((SELECT hold_id FROM h2), interval '-1 minute');
\echo :LAST_ERROR_SQLSTATE
SELECT freetier_extend_hold((SELECT hold_id FROM h2), NULL);
\echo :LAST_ERROR_SQLSTATE
SELECT freetier_extend_hold(NULL, interval '1 hour');
\echo :LAST_ERROR_SQLSTATE
SELECT expires_at FROM freetier.holds WHERE hold_id = (SELECT hold_id FROM h2);   -- unchanged

-- No such hold: 42704.  Settled, released, or past its TTL: 55000, unchanged.
SELECT freetier_extend_hold('00000000-0000-0000-0000-000000000000', interval '1 hour');
\echo :LAST_ERROR_SQLSTATE
SELECT pg_temp.try_extend((SELECT hold_id FROM inv), interval '1 hour');
SELECT freetier_release((SELECT hold_id FROM h1));
SELECT pg_temp.try_extend((SELECT hold_id FROM h1), interval '1 hour');
SET freetier.test_now = '2026-05-01 13:15:00+00';     -- h2's 15 minutes are over
SELECT pg_temp.try_extend((SELECT hold_id FROM h2), interval '1 hour');
SELECT state, expires_at FROM freetier.holds WHERE hold_id IN (SELECT hold_id FROM h1 UNION ALL SELECT hold_id FROM h2)
 ORDER BY expires_at;

-- Credit holds alike, bounded by the credit settings' max_hold_ttl.
SELECT subject FROM freetier_open_account('acct');
SELECT freetier_add_credits('acct', 50, 'buy-1');
CREATE TEMP TABLE ch AS SELECT * FROM freetier_reserve_credits('acct', 10, 'api');
SELECT max_hold_ttl FROM freetier.credit_settings;
SELECT freetier_extend_hold((SELECT hold_id FROM ch), interval '2 days') AS expires_at;
SELECT freetier_configure_credits(max_hold_ttl => interval '1 day');
SELECT freetier_extend_hold((SELECT hold_id FROM ch), interval '2 days');
\echo :LAST_ERROR_SQLSTATE
SELECT freetier_configure_credits(max_hold_ttl => interval '31 days');
\echo :LAST_ERROR_SQLSTATE
SELECT freetier_configure_credits(max_hold_ttl => interval '-1 day');
\echo :LAST_ERROR_SQLSTATE
SELECT max_hold_ttl FROM freetier.credit_settings;
SELECT expires_at FROM freetier.credit_holds WHERE hold_id = (SELECT hold_id FROM ch);
SELECT * FROM freetier_settle_credits((SELECT hold_id FROM ch), 10);
SELECT pg_temp.try_extend((SELECT hold_id FROM ch), interval '1 hour');
-- a credit hold past its TTL: 55000, unchanged
CREATE TEMP TABLE ch2 AS SELECT * FROM freetier_reserve_credits('acct', 5, 'api');
SET freetier.test_now = '2026-05-01 13:30:00+00';     -- its 15 minutes are over
SELECT pg_temp.try_extend((SELECT hold_id FROM ch2), interval '1 hour');
SELECT state, expires_at FROM freetier.credit_holds WHERE hold_id = (SELECT hold_id FROM ch2);

-- The chains still verify.
SELECT pool, ok FROM freetier_verify_ledger() ORDER BY pool;
SELECT count(*) AS accounts, bool_and(ok) AS ok FROM freetier_verify_account_ledger();

------------------------------------------------------------------------------
-- Retention: freetier_prune_request_keys deletes keys older than
-- freetier.request_key_retention (24 hours by default), nothing younger.
------------------------------------------------------------------------------

SHOW freetier.request_key_retention;
SET freetier.test_now = '2026-05-02 00:00:00+00';
SELECT serve FROM freetier_decide('kim', 1, request_key => 'late-1');
SELECT count(*) AS keys, min(created_at), max(created_at) FROM freetier.request_keys;
-- exactly 24 hours after late-1: every older key goes, late-1 stays and replays
SET freetier.test_now = '2026-05-03 00:00:00+00';
SELECT freetier_prune_request_keys() AS pruned;
SELECT request_key, created_at FROM freetier.request_keys;
SELECT serve, absorb_sats FROM freetier_decide('kim', 1, request_key => 'late-1');
SELECT count(*) AS kim_holds_at_1_sat FROM freetier.holds WHERE subject = 'kim' AND estimated_sats = 1;
-- a second later it goes too, and the key is free for another request
SET freetier.test_now = '2026-05-03 00:00:01+00';
SELECT freetier_prune_request_keys() AS pruned;
SELECT serve, absorb_sats FROM freetier_decide('kim', 2, request_key => 'late-1');
-- the retention is a superuser's setting, in seconds or with a unit
SET freetier.request_key_retention = '1h';
SET freetier.test_now = '2026-05-03 01:00:02+00';
SELECT freetier_prune_request_keys() AS pruned;
-- a key whose hold is still live outlives the retention (a hold_ttl or an
-- extension may be longer): a retry must still get that hold back
SELECT serve, absorb_sats FROM freetier_decide('kim', 3, request_key => 'long-1', hold_ttl => '3 hours');
SET freetier.test_now = '2026-05-03 03:00:00+00';
SELECT freetier_prune_request_keys() AS pruned;
SELECT count(*) AS kept FROM freetier.request_keys WHERE request_key = 'long-1';
SELECT d.hold_id = k.hold_id AS same_hold
  FROM freetier_decide('kim', 3, request_key => 'long-1', hold_ttl => '3 hours') d,
       freetier.request_keys k WHERE k.request_key = 'long-1';
-- once the hold has ended, the key goes with the next prune
SELECT freetier_release((SELECT hold_id FROM freetier.request_keys WHERE request_key = 'long-1')) AS released;
SELECT freetier_prune_request_keys() AS pruned;
SELECT count(*) AS kept FROM freetier.request_keys WHERE request_key = 'long-1';
-- (the server's own message on the range differs between 15 and 17: only
-- its SQLSTATE is shown)
\set VERBOSITY sqlstate
SET freetier.request_key_retention = 0;
\set VERBOSITY default
\echo :LAST_ERROR_SQLSTATE
RESET freetier.request_key_retention;
RESET freetier.test_now;
