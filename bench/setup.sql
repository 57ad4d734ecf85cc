-- Loads every implementation bench/run compares with the same data
-- (psql -v subjects=N, default run: 100,000):
--   freetier  pool 'bench' of 10^15 sats; subjects u1..uN in tier 'bench'
--             (budget 10^15 a day); accounts c1..cN, odd ones on plan
--             bench_monthly (a monthly allowance of 10^12 with a cap of 10^12
--             on gemini), even ones on bench_paid (no allowance) with 10^9
--             purchased credits
--   ref       the same rows in schema ref (bench/reference_plpgsql.sql,
--             bench/reference_credits_plpgsql.sql)
--   seed      the seed's tables (bench/seed_tables.sql): pool row
--             'generosity_pool_sats' of 2*10^9 (the seed casts it to int),
--             identities u1..uN in tier elite
--   seedfn    the same tables again, and the seed's logic as functions
--             (bench/seed_plpgsql.sql)
--   lim       the limits (bench/limits.sql)
-- Every budget and balance is far more than a run uses: no request is gated.
--
-- Then a warm-up, so that no table a request reads starts empty: plans made
-- for an empty table (a sequential scan looks free) are kept by every
-- backend that made them, and would slow the first run of each
-- implementation down as its tables fill.  It runs on pool 'warmup' and
-- accounts w1..w1000, which the end-of-run checks leave out.
\set ON_ERROR_STOP on
CREATE EXTENSION freetier;
SELECT freetier_create_pool('bench', 1000000000000000);
SELECT freetier_set_tier_budget('bench', 1000000000000000);
SELECT count(freetier_set_tier('u' || i, 'bench')) FROM generate_series(1, :subjects) i;
SELECT freetier_define_plan('bench_monthly', 'monthly', 1000000000000, '{"gemini": 1000000000000}');
SELECT freetier_define_plan('bench_paid', 'lifetime', 0, '{}');
SELECT count(*) FROM generate_series(1, :subjects) i,
       LATERAL freetier_open_account('c' || i, CASE i % 2 WHEN 1 THEN 'bench_monthly' ELSE 'bench_paid' END) o;
SELECT count(freetier_add_credits('c' || i, 1000000000, 'bench-c' || i))
  FROM generate_series(2, :subjects, 2) i;

\ir reference_plpgsql.sql
\ir reference_credits_plpgsql.sql
SELECT ref.create_pool('bench', 1000000000000000);
INSERT INTO ref.tiers VALUES ('bench', 1000000000000000);
INSERT INTO ref.subjects (subject, tier) SELECT 'u' || i, 'bench' FROM generate_series(1, :subjects) i;
INSERT INTO ref.plans VALUES ('bench_monthly', 'monthly', 1000000000000, '{"gemini": 1000000000000}'),
                             ('bench_paid', 'lifetime', 0, '{}');
SELECT count(ref.open_account('c' || i, CASE i % 2 WHEN 1 THEN 'bench_monthly' ELSE 'bench_paid' END))
  FROM generate_series(1, :subjects) i;
SELECT count(ref.add_credits('c' || i, 1000000000, 'bench-c' || i))
  FROM generate_series(2, :subjects, 2) i;

CREATE SCHEMA seed;
SET search_path = seed;
\ir seed_tables.sql
CREATE SCHEMA seedfn;
SET search_path = seedfn;
\ir seed_tables.sql
RESET search_path;
\ir seed_plpgsql.sql
INSERT INTO seed.timmy_config (key, value) VALUES ('generosity_pool_sats', '2000000000');
INSERT INTO seed.nostr_identities (pubkey, trust_score, tier)
    SELECT 'u' || i, 90, 'elite' FROM generate_series(1, :subjects) i;
INSERT INTO seedfn.timmy_config SELECT * FROM seed.timmy_config;
INSERT INTO seedfn.nostr_identities SELECT * FROM seed.nostr_identities;

\ir limits.sql
\ir load.sql

SELECT freetier_create_pool('warmup', 1000000000000000);
CALL benchload.requests('warmup', 'u', :subjects, 5000);
SELECT ref.create_pool('warmup', 1000000000000000);
SELECT format('SELECT count(g.grant_id) FROM generate_series(%s, %s) k,'
              ' LATERAL ref.decide(''u'' || k, 30, ''warmup'') d,'
              ' LATERAL ref.record_grant(d.hold_id, 25) g', i, i + 19)
  FROM generate_series(1, 5000, 20) i \gexec
SELECT count(*) FROM generate_series(1, 1000) i,
       LATERAL freetier_open_account('w' || i, CASE i % 2 WHEN 1 THEN 'bench_monthly' ELSE 'bench_paid' END) o;
SELECT count(freetier_add_credits('w' || i, 1000000000, 'bench-w' || i)) FROM generate_series(2, 1000, 2) i;
SELECT count(ref.open_account('w' || i, CASE i % 2 WHEN 1 THEN 'bench_monthly' ELSE 'bench_paid' END))
  FROM generate_series(1, 1000) i;
SELECT count(ref.add_credits('w' || i, 1000000000, 'bench-w' || i)) FROM generate_series(2, 1000, 2) i;
SELECT format('SELECT count(s.returned_credits) FROM generate_series(%s, %s) k,'
              ' LATERAL %s(''w'' || (k %% 1000 + 1), 3, ''gemini'') r,'
              ' LATERAL %s(r.hold_id) s', i, i + 99, f || 'reserve_credits', f || 'settle_credits')
  FROM generate_series(1, 3000, 100) i, unnest(ARRAY['freetier_', 'ref.']) f \gexec
SELECT format('SELECT count(*) FROM generate_series(%s, %s) k,'
              ' LATERAL %s(''w'' || (k %% 1000 + 1), 3, ''gemini'') r', i, i + 99, f || 'spend_credits')
  FROM generate_series(1, 1000, 100) i, unnest(ARRAY['freetier_', 'ref.']) f \gexec
