-- freetier_credit: a paid invoice grows the pool by credit_pct, once per payment_ref.
SET timezone = 'UTC';
\set SHOW_CONTEXT never
DROP EXTENSION freetier;
CREATE EXTENSION freetier;
SELECT freetier_configure_pool('default', stripes => 1);   -- one chain to read
SET freetier.test_now = '2026-06-01 08:00:00+00';

SELECT freetier_credit(1000);            -- 10 % of 1000
SELECT freetier_credit(999);             -- floor(99.9)
SELECT freetier_credit(9);               -- floor(0.9): nothing, and no ledger entry
SELECT freetier_credit(0);
SELECT seq, kind, delta_sats, balance_after, payment_ref FROM freetier.ledger ORDER BY seq;

-- credit_pct is numeric: 12.5 %.
SELECT freetier_configure_pool('default', credit_pct => 12.5);
SELECT freetier_credit(1001);            -- floor(125.125)
SELECT credit_pct FROM freetier_pool_status();

-- A payment_ref is applied once: a retried webhook gets the first result.
SELECT freetier_credit(2000, 'default', 'inv-42');
SELECT sum(balance_sats)::bigint AS balance_sats FROM freetier.pool_stripes WHERE pool = 'default';
SELECT freetier_credit(2000, 'default', 'inv-42');
SELECT sum(balance_sats)::bigint AS balance_sats FROM freetier.pool_stripes WHERE pool = 'default';
-- ... even after credit_pct changed: the first result stands.
SELECT freetier_configure_pool('default', credit_pct => 50);
SELECT freetier_credit(2000, 'default', 'inv-42');
-- The same reference with other arguments is an error.
SELECT freetier_credit(2001, 'default', 'inv-42');
\echo :LAST_ERROR_SQLSTATE
SELECT freetier_create_pool('other', stripes => 1);
SELECT freetier_credit(2000, 'other', 'inv-42');
\echo :LAST_ERROR_SQLSTATE
SELECT payment_ref, pool, paid_sats, credited_sats FROM freetier.credits;

-- A zero credit with a reference still claims the reference.
SELECT freetier_credit(1, 'default', 'inv-tiny');
SELECT freetier_credit(1, 'default', 'inv-tiny');
SELECT payment_ref, credited_sats FROM freetier.credits ORDER BY payment_ref;

-- credit_pct 0 and 100.
SELECT freetier_configure_pool('other', credit_pct => 100);
SELECT freetier_credit(77, 'other');
SELECT freetier_configure_pool('other', credit_pct => 0);
SELECT freetier_credit(77, 'other');

-- Bad input changes nothing.
SELECT sum(balance_sats)::bigint AS before FROM freetier.pool_stripes WHERE pool = 'default' \gset
SELECT freetier_credit(NULL);
\echo :LAST_ERROR_SQLSTATE
SELECT freetier_credit(-1);
\echo :LAST_ERROR_SQLSTATE
SELECT freetier_credit(100, 'nope');
\echo :LAST_ERROR_SQLSTATE
SELECT freetier_credit(100, NULL);
\echo :LAST_ERROR_SQLSTATE
SELECT freetier_credit(100, 'default', '');
\echo :LAST_ERROR_SQLSTATE
SELECT freetier_credit(100, 'default', repeat('r', 257));
\echo :LAST_ERROR_SQLSTATE
SELECT freetier_configure_pool('default', credit_pct => 100.01);
\echo :LAST_ERROR_SQLSTATE
SELECT freetier_configure_pool('default', credit_pct => -1);
\echo :LAST_ERROR_SQLSTATE
SELECT freetier_configure_pool('default', hold_ttl => '0 seconds');
\echo :LAST_ERROR_SQLSTATE
SELECT freetier_configure_pool('nope', credit_pct => 1);
\echo :LAST_ERROR_SQLSTATE
SELECT sum(balance_sats)::bigint - :before AS changed FROM freetier.pool_stripes WHERE pool = 'default';

-- A pool near the top of bigint: the sum would overflow, so it is refused
-- (22003), never wrapped.
SELECT freetier_create_pool('full', 9223372036854775000, 100, stripes => 1);
SELECT freetier_credit(9223372036854775807, 'full');
\echo :LAST_ERROR_SQLSTATE
SELECT freetier_credit(807, 'full');      -- exactly to the top is fine
SELECT balance_sats FROM freetier.pool_stripes WHERE pool = 'full';
SELECT freetier_credit(1, 'full');
\echo :LAST_ERROR_SQLSTATE
-- On a striped pool the whole pool must fit, with its holds back: a
-- hold's sats may come back to any stripe.  wide's two stripes hold
-- 5 and 4 * 10^18 after the first credit, so 0.3 * 10^18 more would fit
-- either stripe, but not the pool (22003), and nothing moves.
SELECT freetier_create_pool('wide', 8000000000000000000, 100, stripes => 2);
SELECT freetier_credit(1000000000000000000, 'wide');
SELECT freetier_credit(300000000000000000, 'wide');
\echo :LAST_ERROR_SQLSTATE
SELECT freetier_adjust_pool('wide', 300000000000000000, 'too much', 'adj-wide');
\echo :LAST_ERROR_SQLSTATE
SELECT stripe, balance_sats FROM freetier.pool_stripes WHERE pool = 'wide' ORDER BY stripe;

SELECT pool, entries, ok FROM freetier_verify_ledger();
