-- Loads freetier and the reference with the same data: pool 'bench' of 1e9 sats,
-- subjects u1..u10000 in tier elite, and u0 (the hot subject) in a tier whose
-- budget never runs out.
\set ON_ERROR_STOP on
CREATE EXTENSION freetier;
SELECT freetier_create_pool('bench', 1000000000);
SELECT freetier_set_tier_budget('unlimited', 1000000000000000);
SELECT count(freetier_set_tier('u' || i, 'elite')) FROM generate_series(1, 10000) i;
SELECT freetier_set_tier('u0', 'unlimited');

\ir reference_plpgsql.sql
SELECT ref.create_pool('bench', 1000000000);
INSERT INTO ref.tiers VALUES ('unlimited', 1000000000000000);
INSERT INTO ref.subjects (subject, tier) SELECT 'u' || i, 'elite' FROM generate_series(1, 10000) i;
INSERT INTO ref.subjects (subject, tier) VALUES ('u0', 'unlimited');
