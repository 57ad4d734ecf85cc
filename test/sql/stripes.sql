-- Striped pools (0.3): a pool's balance over stripes, each with its own
-- chain.  A striped pool answers every request exactly as a pool of one
-- stripe does; a request that no single stripe covers draws from several;
-- stripes drift apart and are evened out; stripes are a setting.
SET timezone = 'UTC';
\set SHOW_CONTEXT never
DROP EXTENSION freetier;
CREATE EXTENSION freetier;
SET freetier.test_now = '2026-09-01 12:00:00+00';
SELECT freetier_set_tier_budget('big', 100000);
SELECT count(freetier_set_tier('s' || i, 'big')) AS subjects FROM generate_series(1, 6) i;

------------------------------------------------------------------------------
-- The same requests on a pool of one stripe and on one of sixteen.
------------------------------------------------------------------------------
SELECT freetier_create_pool('one', 1000, 10, '15 minutes', 1);
SELECT freetier_create_pool('many', 1000, 10, '15 minutes', 16);
SELECT pool, stripe, balance_sats FROM freetier.pool_stripes
 WHERE pool = 'many' AND stripe IN (0, 1, 15) ORDER BY stripe;

CREATE TEMP TABLE answers (pool text, step int, serve text, absorb bigint, charge bigint,
                           reason text, hold_id uuid);
-- Each step asks both pools the same thing.
CREATE FUNCTION ask(step int, subject text, sats bigint) RETURNS void LANGUAGE sql AS $$
  INSERT INTO answers SELECT p, step, d.serve, d.absorb_sats, d.charge_sats, d.reason, d.hold_id
    FROM unnest(ARRAY['one', 'many']) p, LATERAL freetier_decide(subject, sats, p) d
$$;
CREATE FUNCTION settle(step int, actual bigint) RETURNS void LANGUAGE sql AS $$
  SELECT freetier_record_grant(hold_id, actual) FROM answers WHERE step = settle.step
$$;
SELECT ask(1, 's1', 30);          -- a stripe covers it
SELECT ask(2, 's2', 200);         -- no stripe does: every stripe, three of them drawn from
SELECT settle(1, 20);
SELECT settle(2, 250);
SELECT ask(3, 's3', 700);         -- more than is left: partial
SELECT freetier_release(hold_id) FROM answers WHERE step = 3;
SELECT freetier_credit(1000, p) FROM unnest(ARRAY['one', 'many']) p;
SELECT ask(4, 's4', 900);
SELECT ask(5, 's5', 900);         -- the pool is empty
SELECT step, string_agg(DISTINCT concat_ws(' ', serve, absorb, charge, reason), ' | ') AS answer,
       count(DISTINCT concat_ws(' ', serve, absorb, charge, reason)) AS differ
  FROM answers GROUP BY step ORDER BY step;
SELECT pool, balance_sats, held_sats FROM freetier_pool_status('one')
UNION ALL SELECT pool, balance_sats, held_sats FROM freetier_pool_status('many');
SELECT pool, entries, ok FROM freetier_verify_ledger() WHERE pool IN ('one', 'many') ORDER BY pool;

-- Step 2 on 'many': its hold drew from three stripes, one 'hold' entry
-- each; the hold's own stripe is the first, and its settle's return went
-- back there.
SELECT l.stripe = h.stripe AS own_stripe, l.kind, l.delta_sats
  FROM answers a JOIN freetier.holds h USING (hold_id)
  JOIN freetier.ledger l ON l.hold_id = h.hold_id
 WHERE a.pool = 'many' AND a.step = 2 ORDER BY l.kind, own_stripe DESC, l.stripe;
-- A credit goes to the emptiest stripe.
SELECT l.stripe, l.delta_sats,
       l.balance_after - l.delta_sats = (SELECT min(balance_sats) FROM freetier.pool_stripes
                                          WHERE pool = 'many') AS was_emptiest
  FROM freetier.ledger l WHERE l.pool = 'many' AND l.kind = 'credit';

------------------------------------------------------------------------------
-- Stripes are a setting: 1 to 64.  Widening adds empty stripes; narrowing
-- leaves the stripes past the number inactive: decides and credits use the
-- active ones, and a decide that has to lock every stripe moves the
-- inactive ones' sats to the active ones, evening them out.
------------------------------------------------------------------------------
SELECT freetier_create_pool('set', 1000, 10, '15 minutes', 4);
SELECT freetier_configure_pool('set', stripes => 0);
\echo :LAST_ERROR_SQLSTATE
SELECT freetier_configure_pool('set', stripes => 65);
\echo :LAST_ERROR_SQLSTATE
SELECT freetier_create_pool('set2', 1000, 10, '15 minutes', 65);
\echo :LAST_ERROR_SQLSTATE
SELECT freetier_configure_pool('nope', stripes => 2);
\echo :LAST_ERROR_SQLSTATE
SELECT freetier_configure_pool('set', stripes => 2);
SELECT stripe, balance_sats FROM freetier.pool_stripes WHERE pool = 'set' ORDER BY stripe;
-- 300 is more than an active stripe holds: every stripe is locked, the
-- inactive ones give their 500 to the active ones, and one of those serves.
SELECT serve, absorb_sats FROM freetier_decide('s6', 300, 'set');
SELECT stripe, balance_sats FROM freetier.pool_stripes WHERE pool = 'set' ORDER BY stripe;
SELECT stripe, kind, delta_sats FROM freetier.ledger
 WHERE pool = 'set' AND kind IN ('move', 'hold') ORDER BY seq, stripe;
SELECT freetier_configure_pool('set', stripes => 8);
SELECT count(*) AS stripes, sum(balance_sats) FROM freetier.pool_stripes WHERE pool = 'set';
SELECT stripes FROM freetier.pools WHERE pool = 'set';
SELECT pool, entries, ok FROM freetier_verify_ledger('set');

------------------------------------------------------------------------------
-- Without foreign keys on the request path, no row names one that is not
-- there: every hold's pool, stripe and subject, every ledger entry's
-- stripe, every grant's hold.
------------------------------------------------------------------------------
SELECT (SELECT count(*) FROM freetier.holds h WHERE NOT EXISTS
          (SELECT FROM freetier.pool_stripes s WHERE s.pool = h.pool AND s.stripe = h.stripe)) AS holds_without_stripe,
       (SELECT count(*) FROM freetier.holds h WHERE NOT EXISTS
          (SELECT FROM freetier.subjects s WHERE s.subject = h.subject)) AS holds_without_subject,
       (SELECT count(*) FROM freetier.ledger l WHERE NOT EXISTS
          (SELECT FROM freetier.pool_stripes s WHERE s.pool = l.pool AND s.stripe = l.stripe)) AS entries_without_stripe,
       (SELECT count(*) FROM freetier.grants g WHERE NOT EXISTS
          (SELECT FROM freetier.holds h WHERE h.hold_id = g.hold_id)) AS grants_without_hold;

DROP FUNCTION ask(int, text, bigint);
DROP FUNCTION settle(int, bigint);
