-- Every statement a request runs finds its rows through an index, however
-- small the tables were when the backend planned it.  A plan is made once
-- per backend and kept (spi.c); planned while a pool's stripes fit in one
-- page, a lookup by key became a scan of the whole table, which it still
-- was when traffic had spread pool_stripes' row versions over 30 pages:
-- four whole scans per request.  The table's own counters of this
-- transaction (pg_stat_xact_user_tables) show which scans ran.
SET timezone = 'UTC';
\set SHOW_CONTEXT never
DROP EXTENSION freetier;
CREATE EXTENSION freetier;
SET freetier.test_now = '2026-09-01 12:00:00+00';
SELECT freetier_set_tier_budget('big', 100000);
SELECT count(freetier_set_tier('s' || i, 'big')) AS subjects FROM generate_series(1, 4) i;
SELECT freetier_create_pool('tiny', 1000, 10, '15 minutes', 4);
SELECT freetier_create_pool('other', 1000, 10, '15 minutes', 4);
VACUUM ANALYZE freetier.pools, freetier.pool_stripes, freetier.subjects, freetier.holds,
               freetier.ledger, freetier.grants, freetier.tiers;
SELECT relname, relpages FROM pg_class
 WHERE oid IN ('freetier.pools'::regclass, 'freetier.pool_stripes'::regclass) ORDER BY relname;

-- A new backend, so that every statement is planned now, on these tables.
\c
SET timezone = 'UTC';
SET freetier.test_now = '2026-09-01 12:00:00+00';
BEGIN;
CREATE TEMP TABLE held ON COMMIT DROP AS
SELECT s, d.* FROM generate_series(1, 4) s, freetier_decide('s' || s, 30, 'tiny') d;
SELECT serve, absorb_sats, charge_sats FROM held ORDER BY s;
SELECT count(*) AS settled FROM held, LATERAL freetier_record_grant(hold_id, 20) WHERE s <= 2;
SELECT count(freetier_release(hold_id)) AS released FROM held WHERE s > 2;
SELECT serve FROM freetier_decide('s1', 2000, 'tiny');  -- no stripe covers it: all locked
SELECT serve, absorb_sats FROM freetier_estimate('s2', 30, 'tiny');
SELECT freetier_credit(100, 'tiny') IS NOT NULL AS credited;
-- Which of freetier's tables this transaction scanned whole, and how often.
SELECT relname, seq_scan FROM pg_stat_xact_user_tables
 WHERE schemaname = 'freetier' AND seq_scan > 0 ORDER BY relname;
-- ... and that the lookups were counted at all.
SELECT relname, idx_scan > 0 AS by_index FROM pg_stat_xact_user_tables
 WHERE schemaname = 'freetier' AND relname IN ('pool_stripes', 'subjects', 'holds')
 ORDER BY relname;
COMMIT;
SELECT ok FROM freetier_verify_ledger('tiny');

-- The archive moves read whole ledgers: they are planned on the tables'
-- costs, not as lookups (on tables this small, sequential scans).
\c
SET freetier.test_now = '2026-09-01 13:00:00+00';
SELECT count(*) AS checkpoints FROM freetier_checkpoint_ledger('tiny');
BEGIN;
SELECT sum(archived) AS archived FROM freetier_archive_ledger('tiny');
SELECT count(*) AS accounts FROM freetier_archive_account_ledger(NULL);
SELECT relname, seq_scan > 0 AS scanned_whole FROM pg_stat_xact_user_tables
 WHERE schemaname = 'freetier' AND relname IN ('ledger', 'account_ledger') ORDER BY relname;
COMMIT;
SELECT ok FROM freetier_verify_ledger('tiny');
