-- What CREATE EXTENSION freetier creates: the state schema, the defaults,
-- the functions with their markings, and who may execute them.
SET timezone = 'UTC';

SELECT extname, extversion, extnamespace::regnamespace AS schema
  FROM pg_extension WHERE extname = 'freetier';

SELECT c.relname, c.relkind
  FROM pg_class c WHERE c.relnamespace = 'freetier'::regnamespace AND c.relkind IN ('r', 'S')
 ORDER BY c.relname;

-- Defaults
SELECT tier, daily_budget_sats FROM freetier.tiers ORDER BY daily_budget_sats;
SELECT pool, credit_pct, hold_ttl, stripes FROM freetier.pools;
-- the default pool's stripes: the install-time seed on stripe 0, 15 empty ones
SELECT pool, count(*) AS stripes, sum(balance_sats) AS balance_sats, sum(head_seq) AS entries
  FROM freetier.pool_stripes GROUP BY pool;
SELECT pool, seq, kind, delta_sats, balance_after FROM freetier.ledger;
SELECT * FROM freetier_pool_status();

-- Every function: volatility, parallel marking, SECURITY DEFINER, pinned
-- search_path, and whether PUBLIC may execute it (only the pure one).
SELECT p.oid::regprocedure AS function,
       p.provolatile AS vol, p.proparallel AS par, p.prosecdef AS definer,
       p.proconfig AS config,
       has_function_privilege('public', p.oid, 'EXECUTE') AS public_exec
  FROM pg_proc p
  JOIN pg_depend d ON d.objid = p.oid AND d.classid = 'pg_proc'::regclass
 WHERE d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'freetier')
 ORDER BY p.proname, p.pronargs;

-- Nothing in schema freetier is usable by PUBLIC.
SELECT has_schema_privilege('public', 'freetier', 'USAGE') AS public_usage;
SELECT c.relname FROM pg_class c
 WHERE c.relnamespace = 'freetier'::regnamespace
   AND (has_table_privilege('public', c.oid, 'SELECT')
        OR has_table_privilege('public', c.oid, 'INSERT'));

-- Every function carries a comment.
SELECT p.oid::regprocedure AS uncommented
  FROM pg_proc p
  JOIN pg_depend d ON d.objid = p.oid AND d.classid = 'pg_proc'::regclass
 WHERE d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'freetier')
   AND p.pronamespace <> 'freetier'::regnamespace
   AND obj_description(p.oid, 'pg_proc') IS NULL;

-- The test clock is superuser-only.
SELECT name, context FROM pg_settings WHERE name LIKE 'freetier.%';
