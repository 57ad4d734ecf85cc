-- CREATE EXTENSION freetier SCHEMA s: the functions are made in s, the
-- state (tables, sequence, trigger and helper functions) in schema freetier
-- whatever s is, and every function works from s, qualified or through the
-- search_path; an upgrade keeps them in s.  The extension cannot be moved
-- afterwards, and it is refused when a schema named freetier already exists.
\set SHOW_CONTEXT never
DROP EXTENSION freetier;
CREATE SCHEMA s;
CREATE EXTENSION freetier SCHEMA s;
SET timezone = 'UTC';
SET freetier.test_now = '2026-03-01 12:00:00+00';

-- Where the extension's members live, per schema and kind.
CREATE TEMP VIEW members AS
SELECT coalesce(p.pronamespace, c.relnamespace, t.typnamespace, n.oid)::regnamespace::text AS schema,
       CASE WHEN p.oid IS NOT NULL THEN 'function'
            WHEN c.relkind = 'r' THEN 'table'
            WHEN c.relkind = 'S' THEN 'sequence'
            WHEN t.oid IS NOT NULL THEN 'type'
            WHEN n.oid IS NOT NULL THEN 'the schema itself'
            ELSE pg_describe_object(d.classid, d.objid, 0) END AS kind,
       count(*) AS members
  FROM pg_depend d
  JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'freetier'
  LEFT JOIN pg_proc p ON d.classid = 'pg_proc'::regclass AND p.oid = d.objid
  LEFT JOIN pg_class c ON d.classid = 'pg_class'::regclass AND c.oid = d.objid
  LEFT JOIN pg_type t ON d.classid = 'pg_type'::regclass AND t.oid = d.objid
  LEFT JOIN pg_namespace n ON d.classid = 'pg_namespace'::regclass AND n.oid = d.objid
 WHERE d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e'
   -- 17 and later also list row and array types as members; 15 does not
   AND NOT (t.oid IS NOT NULL AND (t.typrelid <> 0 OR t.typelem <> 0))
 GROUP BY 1, 2;
SELECT extnamespace::regnamespace AS extension_schema FROM pg_extension WHERE extname = 'freetier';
SELECT * FROM members ORDER BY 1, 2;
-- every function a caller is granted is in s
SELECT p.proname
  FROM pg_proc p
 WHERE p.pronamespace = 'freetier'::regnamespace AND p.proname LIKE 'freetier\_%';

-- The default search_path does not reach s: calls are qualified, or s is
-- put on the search_path.
SELECT * FROM freetier_decide('npub1alice', 30);
SELECT s.freetier_set_tier('npub1alice', 'established');
SELECT serve, absorb_sats, charge_sats, hold_id IS NOT NULL AS held, reason
  FROM s.freetier_decide('npub1alice', 30) \gset
\echo :serve :absorb_sats :charge_sats :held
SELECT * FROM s.freetier_estimate('npub1alice', 30);
SELECT grant_id, absorbed_sats, returned_sats, charge_sats, pool_balance_after
  FROM s.freetier_record_grant((SELECT hold_id FROM freetier.holds), 18);
SELECT s.freetier_credit(5000, 'default', 'inv-1');
SELECT pool, balance_sats, held_sats FROM s.freetier_pool_status();
SELECT * FROM s.freetier_verify_ledger();
SET search_path = s;
SELECT subject, plan, anniversary, opened FROM freetier_open_account('acct');
SELECT * FROM freetier_spend_credits('acct', 3, 'gemini');
SELECT * FROM freetier_verify_account_ledger();
RESET search_path;

-- Not relocatable: it stays in s.
ALTER EXTENSION freetier SET SCHEMA public;

-- An upgrade from 0.1 in s ends with the same members in the same schemas.
DROP EXTENSION freetier;
CREATE EXTENSION freetier SCHEMA s VERSION '0.1';
ALTER EXTENSION freetier UPDATE;
SELECT extversion, extnamespace::regnamespace AS extension_schema
  FROM pg_extension WHERE extname = 'freetier';
SELECT * FROM members ORDER BY 1, 2;

-- freetier makes schema freetier for its state: an existing schema of that
-- name (SCHEMA freetier included) is refused, and nothing is left behind.
DROP EXTENSION freetier;
DROP SCHEMA s;
CREATE SCHEMA freetier;
CREATE EXTENSION freetier;
CREATE EXTENSION freetier SCHEMA freetier;
SELECT count(*) AS installed FROM pg_extension WHERE extname = 'freetier';
DROP SCHEMA freetier;

CREATE EXTENSION freetier;
