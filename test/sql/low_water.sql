-- A pool's low-water mark (0.4): set by freetier_create_pool and
-- freetier_configure_pool, shown by freetier_pools, 0 (none) by default,
-- bounded (0 to 10^18, else 22023, changing nothing).  The lines it makes
-- in the server log are checked by test/t/007_log_lines.pl.
SET timezone = 'UTC';
\set SHOW_CONTEXT never
DROP EXTENSION freetier;
CREATE EXTENSION freetier;
SET freetier.test_now = '2026-09-01 00:00:00+00';

-- The default keeps the behaviour of 0.3: no mark.
SELECT pool, stripes, low_water_sats FROM freetier_pools();
SELECT freetier_create_pool('watched', 1000, 10, '15 minutes', 4, low_water_sats => 300);
SELECT freetier_create_pool('plain', 1000);
SELECT pool, balance_sats, stripes, low_water_sats FROM freetier_pools() ORDER BY pool;

-- configure_pool changes it; NULL keeps it, as for every setting.
SELECT freetier_configure_pool('plain', low_water_sats => 250);
SELECT freetier_configure_pool('plain', credit_pct => 20);
SELECT freetier_configure_pool('watched', low_water_sats => 0);
SELECT freetier_configure_pool('watched', low_water_sats => 1000000000000000000);
SELECT pool, credit_pct, low_water_sats FROM freetier_pools() ORDER BY pool;

-- Out of bounds or NULL where required: 22023, and nothing changes.
CREATE TEMP TABLE before AS SELECT * FROM freetier.pools;
SELECT freetier_configure_pool('plain', low_water_sats => -1);
\echo :LAST_ERROR_SQLSTATE
SELECT freetier_configure_pool('plain', credit_pct => 30, low_water_sats => 1000000000000000001);
\echo :LAST_ERROR_SQLSTATE
SELECT freetier_create_pool('bad', 100, 10, '15 minutes', 4, low_water_sats => -5);
\echo :LAST_ERROR_SQLSTATE
SELECT freetier_create_pool('bad', 100, 10, '15 minutes', 4, low_water_sats => NULL);
\echo :LAST_ERROR_SQLSTATE
SELECT freetier_configure_pool('nowhere', low_water_sats => 10);
\echo :LAST_ERROR_SQLSTATE
SELECT (SELECT count(*) FROM (SELECT * FROM freetier.pools EXCEPT SELECT * FROM before) x) AS changed,
       (SELECT count(*) FROM freetier.pools WHERE pool = 'bad') AS bad_pools;

-- A decide that locks one stripe leaves it a sat: only a decide that
-- locks every stripe takes a pool's last sat (and knows it ran dry).  Two
-- stripes of 50: a request for 50 takes one of them whole, the next the
-- other; the pool is then empty (007_log_lines.pl shows which decide
-- logs it).
SELECT freetier_create_pool('two', 100, 10, '15 minutes', 2);
SELECT freetier_set_tier('dee', 'elite');
SELECT serve, absorb_sats, reason FROM freetier_decide('dee', 50, 'two');
SELECT serve, absorb_sats, reason FROM freetier_decide('dee', 50, 'two');
SELECT serve, absorb_sats, reason FROM freetier_decide('dee', 50, 'two');
SELECT stripe, seq, kind, delta_sats, balance_after FROM freetier.ledger
 WHERE pool = 'two' ORDER BY stripe, seq;
SELECT pool, ok FROM freetier_verify_ledger('two');

-- A restore brings a pool's mark back: pg_dump's row of pool default, loaded
-- after CREATE EXTENSION made it again, replaces the one still as installed.
CREATE TEMP TABLE dumped AS SELECT * FROM freetier.pools WHERE pool = 'default';
UPDATE dumped SET credit_pct = 12, low_water_sats = 700;
INSERT INTO freetier.pools SELECT * FROM dumped;
SELECT pool, credit_pct, low_water_sats FROM freetier_pools() WHERE pool = 'default';
