-- Upgrading (ALTER EXTENSION freetier UPDATE) from 0.1, through 0.2, and
-- from 0.2 ends with the same objects as a fresh install of the current
-- version, keeps every row, and leaves the holds that were live at the
-- upgrade to be settled, released or expired.
SET timezone = 'UTC';
\set SHOW_CONTEXT never

------------------------------------------------------------------------------
-- The catalog snapshot: one row per (kind, object, attribute).  It names
-- objects, never by oid, and looks the extension and its schema up by name
-- each time, so it survives DROP EXTENSION and can be taken again.
------------------------------------------------------------------------------

CREATE TEMP VIEW snap (kind, object, attr, value) AS
WITH ext AS (SELECT * FROM pg_extension WHERE extname = 'freetier'),
     sch AS (SELECT * FROM pg_namespace WHERE nspname = 'freetier'),
     member AS (
        SELECT d.classid, d.objid, d.objsubid
          FROM pg_depend d, ext
         WHERE d.refclassid = 'pg_extension'::regclass AND d.refobjid = ext.oid
           AND d.deptype = 'e'
           -- PostgreSQL 17 and later also list the types the server makes by
           -- itself (a table's row type, every type's array type) as members;
           -- 15 does not.  They are left out, so every version gives one answer.
           AND NOT (d.classid = 'pg_type'::regclass
                    AND d.objid IN (SELECT t.oid FROM pg_type t
                                     WHERE EXISTS (SELECT FROM pg_class c
                                                    WHERE c.oid = t.typrelid AND c.relkind <> 'c')
                                        OR EXISTS (SELECT FROM pg_type e WHERE e.typarray = t.oid)))),
     fn AS (
        SELECT p.*, (pg_identify_object('pg_proc'::regclass, p.oid, 0)).identity AS ident
          FROM pg_proc p
         WHERE p.oid IN (SELECT objid FROM member WHERE classid = 'pg_proc'::regclass)
            OR p.pronamespace = (SELECT oid FROM sch)),
     rel AS (
        SELECT c.* FROM pg_class c WHERE c.relnamespace = (SELECT oid FROM sch))
-- every member of the extension, with its comment
SELECT 'member', pg_describe_object(m.classid, m.objid, m.objsubid),
       'identity', (SELECT format('%s | %s', i.type, i.identity)
                      FROM pg_identify_object(m.classid, m.objid, m.objsubid) i)
  FROM member m
UNION ALL
SELECT 'member', pg_describe_object(m.classid, m.objid, m.objsubid),
       'comment', (SELECT description FROM pg_description
                    WHERE classoid = m.classid AND objoid = m.objid AND objsubid = m.objsubid)
  FROM member m
-- the extension itself
UNION ALL
SELECT 'extension', e.extname, a.attr, a.value
  FROM ext e, LATERAL (VALUES
        ('version', e.extversion),
        ('owner', e.extowner::regrole::text),
        ('schema', e.extnamespace::regnamespace::text),
        ('relocatable', e.extrelocatable::text),
        ('comment', obj_description(e.oid, 'pg_extension'))) a (attr, value)
-- the tables pg_dump dumps, and which of their rows
UNION ALL
SELECT 'extconfig', c.cfg::regclass::text, 'condition', e.extcondition[c.n]
  FROM ext e, unnest(e.extconfig) WITH ORDINALITY c (cfg, n)
-- the state schema
UNION ALL
SELECT 'schema', s.nspname, a.attr, a.value
  FROM sch s, LATERAL (VALUES
        ('owner', s.nspowner::regrole::text),
        ('acl', s.nspacl::text),
        ('comment', obj_description(s.oid, 'pg_namespace'))) a (attr, value)
-- every function of the extension (and any function in schema freetier)
UNION ALL
SELECT 'function', f.ident, a.attr, a.value
  FROM fn f, LATERAL (VALUES
        ('identity_args', pg_get_function_identity_arguments(f.oid)),
        ('arguments', pg_get_function_arguments(f.oid)),
        ('result', pg_get_function_result(f.oid)),
        ('language', (SELECT lanname::text FROM pg_language l WHERE l.oid = f.prolang)),
        ('prokind', f.prokind::text),
        ('prosrc', f.prosrc),
        ('probin', f.probin),
        ('provolatile', f.provolatile::text),
        ('proparallel', f.proparallel::text),
        ('prosecdef', f.prosecdef::text),
        ('proisstrict', f.proisstrict::text),
        ('proleakproof', f.proleakproof::text),
        ('procost', f.procost::text),
        ('prorows', f.prorows::text),
        ('proconfig', f.proconfig::text),
        ('owner', f.proowner::regrole::text),
        ('proacl', f.proacl::text),
        ('comment', obj_description(f.oid, 'pg_proc'))) a (attr, value)
-- every relation in schema freetier: kind, owner, ACL, options, comment
UNION ALL
SELECT 'relation', r.relname, a.attr, a.value
  FROM rel r, LATERAL (VALUES
        ('relkind', r.relkind::text),
        ('owner', r.relowner::regrole::text),
        ('persistence', r.relpersistence::text),
        ('reloptions', r.reloptions::text),
        ('rowsecurity', r.relrowsecurity::text),
        ('relacl', r.relacl::text),
        ('comment', obj_description(r.oid, 'pg_class'))) a (attr, value)
-- columns of the tables: position, type, not null, default, comment
UNION ALL
SELECT 'column', r.relname || '.' || att.attname, a.attr, a.value
  FROM rel r
  JOIN pg_attribute att ON att.attrelid = r.oid AND att.attnum > 0 AND NOT att.attisdropped
  LEFT JOIN pg_attrdef ad ON ad.adrelid = r.oid AND ad.adnum = att.attnum
  , LATERAL (VALUES
        ('attnum', att.attnum::text),
        ('type', format_type(att.atttypid, att.atttypmod)),
        ('notnull', att.attnotnull::text),
        ('default', pg_get_expr(ad.adbin, ad.adrelid)),
        ('identity', att.attidentity::text),
        ('generated', att.attgenerated::text),
        ('collation', (SELECT collname::text FROM pg_collation co WHERE co.oid = att.attcollation)),
        ('acl', att.attacl::text),
        ('comment', col_description(r.oid, att.attnum))) a (attr, value)
 WHERE r.relkind IN ('r', 'p', 'v', 'm', 'f')
-- constraints (NOT NULL is the columns' notnull: PostgreSQL 18 and later also
-- keep it as a constraint, contype 'n', which 15 and 17 do not have)
UNION ALL
SELECT 'constraint', r.relname || '.' || con.conname, 'def', pg_get_constraintdef(con.oid)
  FROM rel r JOIN pg_constraint con ON con.conrelid = r.oid AND con.contype <> 'n'
-- indexes
UNION ALL
SELECT 'index', ic.relname, 'def', pg_get_indexdef(i.indexrelid)
  FROM rel r JOIN pg_index i ON i.indrelid = r.oid JOIN pg_class ic ON ic.oid = i.indexrelid
-- triggers (not the internal ones of foreign keys, whose names carry oids)
UNION ALL
SELECT 'trigger', r.relname || '.' || t.tgname, a.attr, a.value
  FROM rel r JOIN pg_trigger t ON t.tgrelid = r.oid AND NOT t.tgisinternal
  , LATERAL (VALUES
        ('def', pg_get_triggerdef(t.oid)),
        ('tgenabled', t.tgenabled::text)) a (attr, value)
-- sequences: parameters and owning column
UNION ALL
SELECT 'sequence', r.relname, a.attr, a.value
  FROM rel r JOIN pg_sequence sq ON sq.seqrelid = r.oid
  , LATERAL (VALUES
        ('params', format('%s start %s increment %s min %s max %s cache %s cycle %s',
                          sq.seqtypid::regtype, sq.seqstart, sq.seqincrement, sq.seqmin,
                          sq.seqmax, sq.seqcache, sq.seqcycle)),
        ('owned_by', (SELECT string_agg(pg_describe_object(d.refclassid, d.refobjid, d.refobjsubid), ', ')
                        FROM pg_depend d
                       WHERE d.classid = 'pg_class'::regclass AND d.objid = r.oid
                         AND d.deptype IN ('a', 'i')))) a (attr, value)
-- the initial privileges pg_dump compares against (pg_init_privs)
UNION ALL
SELECT 'init_privs', pg_describe_object(ip.classoid, ip.objoid, ip.objsubid),
       ip.privtype::text, ip.initprivs::text
  FROM pg_init_privs ip
 WHERE (ip.classoid, ip.objoid) IN (SELECT classid, objid FROM member)
-- what the members, the relations in the schema and their parts depend on
-- (foreign keys' internal triggers, named by oid, left out)
UNION ALL
SELECT 'depend', pg_describe_object(d.classid, d.objid, d.objsubid) || ' -> '
                 || pg_describe_object(d.refclassid, d.refobjid, d.refobjsubid),
       'deptype', string_agg(d.deptype::text, ',' ORDER BY d.deptype)
  FROM pg_depend d
 WHERE ((d.classid, d.objid) IN (SELECT classid, objid FROM member)
        OR d.classid = 'pg_class'::regclass AND d.objid IN (SELECT oid FROM rel)
        OR d.classid = 'pg_constraint'::regclass
           AND d.objid IN (SELECT oid FROM pg_constraint WHERE conrelid IN (SELECT oid FROM rel)
                                                           AND contype <> 'n')
        OR d.classid = 'pg_trigger'::regclass
           AND d.objid IN (SELECT oid FROM pg_trigger WHERE tgrelid IN (SELECT oid FROM rel)
                                                        AND NOT tgisinternal)
        OR d.classid = 'pg_attrdef'::regclass
           AND d.objid IN (SELECT oid FROM pg_attrdef WHERE adrelid IN (SELECT oid FROM rel)))
   AND NOT (d.refclassid = 'pg_trigger'::regclass
            AND d.refobjid IN (SELECT oid FROM pg_trigger WHERE tgisinternal))
 GROUP BY 2
-- policies and rules, should there ever be any
UNION ALL
SELECT 'policy', r.relname || '.' || pol.polname, 'def',
       format('%s %s using %s check %s', pol.polcmd, pol.polpermissive,
              pg_get_expr(pol.polqual, pol.polrelid), pg_get_expr(pol.polwithcheck, pol.polrelid))
  FROM rel r JOIN pg_policy pol ON pol.polrelid = r.oid
UNION ALL
SELECT 'rule', r.relname || '.' || ru.rulename, 'def', pg_get_ruledef(ru.oid)
  FROM rel r JOIN pg_rewrite ru ON ru.ev_class = r.oid;

-- Fingerprints of tables' rows: row count and md5 of the ordered row texts
-- (the rows hold uuids and wall-clock times, so only comparisons are shown).
-- Pools, their ledger and holds are taken in their 0.1 to 0.2.1 shape
-- whatever the layout: from 0.3 on a pool's balance and chain are its
-- stripe 0's (its other stripes are fingerprinted as pool_stripes), and
-- ledger entries and holds also name a stripe.
CREATE FUNCTION pg_temp.fingerprint()
    RETURNS TABLE (tbl text, nrows bigint, md5 text) LANGUAGE plpgsql AS $$
DECLARE
    r record;
    striped boolean := to_regclass('freetier.pool_stripes') IS NOT NULL;
BEGIN
    FOR r IN SELECT c.relname, c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
              WHERE n.nspname = 'freetier' AND c.relkind IN ('r', 'S') ORDER BY c.relname LOOP
        -- the grants' sequence under one name: 0.4 renamed it (grant_ids)
        tbl := CASE WHEN r.relkind = 'S' THEN 'grant_id sequence' ELSE r.relname END;
        EXECUTE format('SELECT count(*), md5(coalesce(string_agg(t::text, E''\n'' ORDER BY t::text), ''''))'
                       ' FROM (SELECT %s) t',
                       CASE WHEN r.relkind = 'S' THEN format('x.last_value, x.is_called FROM freetier.%I x', r.relname)
                            WHEN r.relname = 'pools' AND striped THEN
                                'p.pool, s.balance_sats, p.credit_pct, p.hold_ttl, s.head_seq, s.head_hash, p.created_at'
                                ' FROM freetier.pools p JOIN freetier.pool_stripes s ON s.pool = p.pool AND s.stripe = 0'
                            WHEN r.relname = 'ledger' THEN
                                'pool, seq, kind, delta_sats, balance_after, hold_id, payment_ref, created_at, prev_hash, hash'
                                ' FROM freetier.ledger' || CASE WHEN striped THEN ' WHERE stripe = 0' ELSE '' END
                                -- the 0.4 upgrade chains settings (below)
                                || CASE WHEN striped THEN ' AND kind <> ''settings''' ELSE '' END
                            WHEN r.relname = 'credit_settings' THEN
                                'default_plan, hold_ttl, trial_plan, trial_credits, trials_per_network,'
                                ' trial_window FROM freetier.credit_settings'
                            -- the 0.4 upgrade adds the settings chain's head
                            WHEN r.relname = 'plans' THEN
                                'plan, period, allowance, backend_caps FROM freetier.plans'
                            WHEN r.relname = 'tiers' THEN
                                'tier, daily_budget_sats FROM freetier.tiers'
                            WHEN r.relname = 'holds' THEN
                                'hold_id, subject, pool, estimated_sats, held_sats, window_start, created_at,'
                                ' expires_at, state, ended_at, end_reason FROM freetier.holds'
                            ELSE format('x.* FROM freetier.%I x', r.relname) END)
           INTO nrows, md5;
        RETURN NEXT;
    END LOOP;
END $$;

------------------------------------------------------------------------------
-- 1. A fresh install of the current version, as the reference.
------------------------------------------------------------------------------

DROP EXTENSION freetier;
CREATE EXTENSION freetier;
SELECT extversion FROM pg_extension WHERE extname = 'freetier';
CREATE TEMP TABLE snap_fresh AS SELECT * FROM snap;
CREATE TEMP TABLE fp_fresh AS SELECT * FROM pg_temp.fingerprint();
-- What the snapshot covers.
SELECT kind, count(*) AS rows, count(DISTINCT object) AS objects
  FROM snap_fresh GROUP BY kind ORDER BY kind;
-- Taken twice, it is the same.
SELECT count(*) AS differ
  FROM ((SELECT * FROM snap EXCEPT ALL SELECT * FROM snap_fresh)
        UNION ALL (SELECT * FROM snap_fresh EXCEPT ALL SELECT * FROM snap)) x;

------------------------------------------------------------------------------
-- 2. Install 0.1 and use it.
------------------------------------------------------------------------------

DROP EXTENSION freetier;
SET freetier.test_now = '2026-01-01 00:00:00+00';
CREATE EXTENSION freetier VERSION '0.1';
SELECT extversion FROM pg_extension WHERE extname = 'freetier';
-- 0.1 has none of 0.2's functions.
SELECT count(*) AS v02_functions FROM pg_proc WHERE proname IN ('freetier_open_account', 'freetier_spend_credits');

SELECT freetier_set_tier_budget('trusted', 300);        -- a changed tier budget
SELECT freetier_set_tier_budget('gold', 500);           -- a new tier
SELECT freetier_set_tier('ana', 'trusted');
SELECT freetier_set_tier('bo', 'gold');
SELECT freetier_create_pool('side', 800, 25, interval '5 minutes');

CREATE TEMP TABLE d (tag text, serve text, absorb_sats bigint, charge_sats bigint,
                     hold_id uuid, reason text);
-- A decide settled in 0.1.
INSERT INTO d SELECT 'settled', * FROM freetier_decide('ana', 40);
SELECT * FROM freetier_record_grant((SELECT hold_id FROM d WHERE tag = 'settled'), 30, 'req-1');
-- Three holds still live at the upgrade: one to settle, one to release, one
-- (in pool side, TTL 5 minutes) to expire.
INSERT INTO d SELECT 'to_settle', * FROM freetier_decide('ana', 60);
INSERT INTO d SELECT 'to_release', * FROM freetier_decide('ana', 70);
INSERT INTO d SELECT 'to_expire', * FROM freetier_decide('bo', 90, 'side');
SELECT tag, serve, absorb_sats, charge_sats, reason FROM d ORDER BY tag;
-- estimate reads 0.1's pool row (this library, 0.1's SQL): ana has
-- 300 - 30 settled - 60 - 70 held left today.
SELECT serve, absorb_sats, charge_sats, reason FROM freetier_estimate('ana', 300);
-- A paid invoice, with its payment_ref, to each pool.
SELECT freetier_credit(1000, 'default', 'inv-1');
SELECT freetier_credit(400, 'side', 'inv-2');

SELECT pool, balance_sats, credit_pct, hold_ttl, head_seq FROM freetier.pools ORDER BY pool;
SELECT tier, daily_budget_sats FROM freetier.tiers ORDER BY tier;
SELECT d.tag, h.pool, h.held_sats, h.state, h.expires_at
  FROM freetier.holds h JOIN d USING (hold_id) ORDER BY d.tag;
SELECT pool, seq, kind, delta_sats, balance_after, payment_ref FROM freetier.ledger ORDER BY pool, seq;
SELECT * FROM freetier_verify_ledger();

-- Fingerprint every 0.1 table (and its sequence).
CREATE TEMP TABLE fp_01 AS SELECT * FROM pg_temp.fingerprint();
SELECT tbl, nrows FROM fp_01 ORDER BY tbl;

------------------------------------------------------------------------------
-- 3. Upgrade.
------------------------------------------------------------------------------

ALTER EXTENSION freetier UPDATE;
SELECT extversion FROM pg_extension WHERE extname = 'freetier';

-- The same objects as a fresh install: nothing only in the upgraded
-- database, nothing only in the fresh one.
SELECT 'only after upgrade' AS side, * FROM (SELECT * FROM snap EXCEPT ALL SELECT * FROM snap_fresh) x
 ORDER BY kind, object, attr;
SELECT 'only in fresh install' AS side, * FROM (SELECT * FROM snap_fresh EXCEPT ALL SELECT * FROM snap) x
 ORDER BY kind, object, attr;

-- Every 0.1 row is kept, unchanged; but pool side's settings (25 %, 5
-- minutes) are not the defaults, and the upgrade chains them: a settings
-- entry on its stripe 0, whose head (in pools) moves on by it.  So are the
-- changed budget of tier trusted and the new tier gold: an entry each on
-- their chains in the settings ledger, their heads in tiers.
SELECT b.tbl, b.nrows, a.nrows = b.nrows AS same_count, a.md5 = b.md5 AS same_rows
  FROM fp_01 b LEFT JOIN pg_temp.fingerprint() a USING (tbl) ORDER BY b.tbl;
SELECT pool, stripe, seq, kind, delta_sats, balance_after, payment_ref
  FROM freetier.ledger WHERE kind = 'settings' ORDER BY pool;
SELECT chain, seq, settings FROM freetier.settings_ledger ORDER BY chain, seq;
SELECT tier, daily_budget_sats, head_seq FROM freetier.tiers ORDER BY tier;
SELECT chain, entries, ok FROM freetier_verify_settings_ledger() WHERE chain LIKE 'tier:%';
-- The tables 0.2 adds start as in a fresh install (its default plans and
-- settings, nothing else); the settings ledger holds the entries above.
SELECT a.tbl, a.nrows, a.md5 = f.md5 AS same_as_fresh
  FROM pg_temp.fingerprint() a JOIN fp_fresh f USING (tbl)
 WHERE a.tbl NOT IN (SELECT tbl FROM fp_01) AND a.tbl NOT IN ('pool_stripes', 'settings_ledger')
 ORDER BY a.tbl;
-- Each pool's row became its stripe 0 (above, in pools); its other 15
-- stripes start empty.
SELECT pool, count(*) AS stripes, count(*) FILTER (WHERE head_seq = 0 AND balance_sats = 0) AS empty
  FROM freetier.pool_stripes GROUP BY pool ORDER BY pool;
SELECT * FROM freetier_verify_ledger();

-- freetier_release and freetier_expire_holds now run the 0.2 C functions.
SELECT p.proname, p.prosrc FROM pg_proc p
 WHERE p.proname IN ('freetier_release', 'freetier_expire_holds', 'freetier_record_grant')
 ORDER BY p.proname;

-- The holds live at the upgrade: settled ...
SELECT * FROM freetier_record_grant((SELECT hold_id FROM d WHERE tag = 'to_settle'), 45, 'req-2');
-- ... released (a second release returns 0) ...
SELECT freetier_release((SELECT hold_id FROM d WHERE tag = 'to_release'), 'after upgrade');
SELECT freetier_release((SELECT hold_id FROM d WHERE tag = 'to_release'));
-- ... and expired once past its TTL.
SET freetier.test_now = '2026-01-01 00:10:00+00';
SELECT freetier_expire_holds();
SELECT freetier_expire_holds();
SELECT d.tag, h.state, h.end_reason, h.ended_at FROM freetier.holds h JOIN d USING (hold_id) ORDER BY d.tag;
SELECT pool, seq, kind, delta_sats, balance_after FROM freetier.ledger
 WHERE seq > (SELECT max(seq) FROM freetier.ledger l WHERE l.pool = ledger.pool) - 2
 ORDER BY pool, seq;
SELECT * FROM freetier_pool_status('default');
SELECT * FROM freetier_pool_status('side');
SELECT * FROM freetier_verify_ledger();
-- ana's window counts both settles (30 + 45).
SELECT subject, tier, window_start, window_settled_sats FROM freetier.subjects ORDER BY subject;
SELECT serve, absorb_sats, charge_sats, reason FROM freetier_estimate('ana', 300);

-- The 0.2 functions work on the upgraded database.
SELECT * FROM freetier_open_account('ana');
SELECT * FROM freetier_open_account('ana');
SELECT freetier_add_credits('ana', 50, 'buy-1');
SELECT * FROM freetier_spend_credits('ana', 30, 'gemini');
SELECT * FROM freetier_spend_credits('ana', 100, 'claude');
CREATE TEMP TABLE ch AS SELECT * FROM freetier_reserve_credits('ana', 5, 'claude');
SELECT allowance_credits, purchased_credits, reason FROM ch;
SELECT freetier_release((SELECT hold_id FROM ch), 'backend failed');   -- a credit hold, by 0.2's release
SELECT state, end_reason FROM freetier.credit_holds WHERE hold_id = (SELECT hold_id FROM ch);
SELECT * FROM freetier_account_status('ana');
SELECT seq, kind, bucket, delta, balance_after, backend, ref FROM freetier.account_ledger ORDER BY seq;
SELECT * FROM freetier_verify_account_ledger();
SELECT * FROM freetier_verify_ledger();

-- And the upgraded extension is still the same as a fresh one.
SELECT count(*) AS differ
  FROM ((SELECT * FROM snap EXCEPT ALL SELECT * FROM snap_fresh)
        UNION ALL (SELECT * FROM snap_fresh EXCEPT ALL SELECT * FROM snap)) x;

------------------------------------------------------------------------------
-- 4. From 0.2 to 0.2.1, with credit holds live at the upgrade.  0.2.1
--    bounds hold TTLs (30 days), trial windows (366 days, no months) and
--    trial_credits (10^18): an update is refused while a setting is past
--    its bound, and changes nothing.
------------------------------------------------------------------------------

-- A fresh 0.2.1, as this section's reference.
DROP EXTENSION freetier;
CREATE EXTENSION freetier VERSION '0.2.1';
CREATE TEMP TABLE snap_0021 AS SELECT * FROM snap;
DROP EXTENSION freetier;
SET freetier.test_now = '2026-02-01 00:00:00+00';
CREATE EXTENSION freetier VERSION '0.2';
SELECT extversion FROM pg_extension WHERE extname = 'freetier';
SELECT freetier_set_tier('cy', 'trusted');
CREATE TEMP TABLE d2 AS SELECT * FROM freetier_decide('cy', 20);
SELECT subject, plan, opened FROM freetier_open_account('cy', 'pro');
CREATE TEMP TABLE ch2 AS SELECT * FROM freetier_reserve_credits('cy', 7, 'api');
SELECT freetier_configure_pool('default', hold_ttl => '45 days');
SELECT freetier_configure_credits(trial_window => '1 mon');
CREATE TEMP TABLE fp_02 AS SELECT * FROM pg_temp.fingerprint();
ALTER EXTENSION freetier UPDATE TO '0.2.1';
\echo :LAST_ERROR_SQLSTATE
SELECT extversion FROM pg_extension WHERE extname = 'freetier';
SELECT count(*) AS tables_changed
  FROM fp_02 b JOIN pg_temp.fingerprint() a USING (tbl) WHERE a.md5 <> b.md5;
-- Within the bounds, the update goes through.
SELECT freetier_configure_pool('default', hold_ttl => '30 days');
SELECT freetier_configure_credits(trial_window => '30 days');
ALTER EXTENSION freetier UPDATE TO '0.2.1';
SELECT extversion FROM pg_extension WHERE extname = 'freetier';
SELECT 'only after upgrade' AS side, * FROM (SELECT * FROM snap EXCEPT ALL SELECT * FROM snap_0021) x
 ORDER BY kind, object, attr;
SELECT 'only in fresh 0.2.1' AS side, * FROM (SELECT * FROM snap_0021 EXCEPT ALL SELECT * FROM snap) x
 ORDER BY kind, object, attr;
-- The holds live at the update settle.
SELECT absorbed_sats, returned_sats FROM freetier_record_grant((SELECT hold_id FROM d2), 15);
SELECT allowance_credits, returned_credits FROM freetier_settle_credits((SELECT hold_id FROM ch2), 5);
SELECT freetier_configure_pool('default', hold_ttl => '31 days');
\echo :LAST_ERROR_SQLSTATE
SELECT pool, ok FROM freetier_verify_ledger();
SELECT subject, ok FROM freetier_verify_account_ledger();

------------------------------------------------------------------------------
-- 5. From 0.2.1 to 0.3 (striped pools), with a gate hold, a credit hold and
--    a hold past its TTL live at the upgrade.
------------------------------------------------------------------------------

SET freetier.test_now = '2026-02-01 01:00:00+00';
SELECT freetier_configure_pool('default', hold_ttl => '15 minutes');
CREATE TEMP TABLE d3 AS SELECT 'settle' AS tag, * FROM freetier_decide('cy', 40);
INSERT INTO d3 SELECT 'release', * FROM freetier_decide('cy', 50);
INSERT INTO d3 SELECT 'expire', * FROM freetier_decide('cy', 60);
CREATE TEMP TABLE ch3 AS SELECT * FROM freetier_reserve_credits('cy', 4, 'api');
SELECT freetier_credit(1000, 'default', 'inv-021');
CREATE TEMP TABLE fp_021 AS SELECT * FROM pg_temp.fingerprint();
SELECT sum(delta_sats) AS pool_balance FROM freetier.ledger WHERE pool = 'default';
ALTER EXTENSION freetier UPDATE;
SELECT extversion FROM pg_extension WHERE extname = 'freetier';
SELECT count(*) AS differ
  FROM ((SELECT * FROM snap EXCEPT ALL SELECT * FROM snap_fresh)
        UNION ALL (SELECT * FROM snap_fresh EXCEPT ALL SELECT * FROM snap)) x;
-- Every row is kept: pools, ledger and holds in their 0.2.1 shape, the
-- balance and chain now stripe 0's.
SELECT b.tbl, b.nrows, a.nrows = b.nrows AS same_count, a.md5 = b.md5 AS same_rows
  FROM fp_021 b LEFT JOIN pg_temp.fingerprint() a USING (tbl) ORDER BY b.tbl;
SELECT pool, stripe, balance_sats, head_seq, max_grant_id FROM freetier.pool_stripes
 WHERE head_seq > 0 OR balance_sats > 0 ORDER BY pool, stripe;
SELECT pool, stripes FROM freetier.pools ORDER BY pool;
SELECT * FROM freetier_verify_ledger();
-- The holds live at the upgrade settle, release and expire on stripe 0.
SELECT absorbed_sats, returned_sats, charge_sats
  FROM freetier_record_grant((SELECT hold_id FROM d3 WHERE tag = 'settle'), 30);
SELECT freetier_release((SELECT hold_id FROM d3 WHERE tag = 'release'));
SELECT allowance_credits, returned_credits FROM freetier_settle_credits((SELECT hold_id FROM ch3), 4);
SET freetier.test_now = '2026-02-01 01:20:00+00';
SELECT freetier_expire_holds();
SELECT d3.tag, h.stripe, h.state FROM freetier.holds h JOIN d3 USING (hold_id) ORDER BY d3.tag;
SELECT stripe, seq, kind, delta_sats, balance_after FROM freetier.ledger
 WHERE pool = 'default' AND created_at >= '2026-02-01 01:00:00+00' ORDER BY stripe, seq;
-- An upgraded pool draws from stripe 0 while it has enough; a credit goes
-- to its emptiest stripe, and the first decide that has to lock every
-- stripe evens them out (stripes.sql).  A new pool is spread from the start.
SELECT serve, absorb_sats FROM freetier_decide('cy', 20);
SELECT freetier_credit(500, 'default', 'inv-03');
SELECT stripe, seq, kind, delta_sats FROM freetier.ledger
 WHERE pool = 'default' AND created_at >= '2026-02-01 01:20:00+00' ORDER BY stripe, seq;
SELECT freetier_create_pool('fresh', 1600, 10, '15 minutes', 16);
SELECT count(*) AS stripes, min(balance_sats), max(balance_sats)
  FROM freetier.pool_stripes WHERE pool = 'fresh';
SELECT serve, absorb_sats FROM freetier_decide('cy', 20, 'fresh');
SELECT * FROM freetier_verify_ledger() ORDER BY pool;
SELECT * FROM freetier_verify_account_ledger();

------------------------------------------------------------------------------
-- 5b. 0.3's SQL on this library: the functions whose signatures 0.4
--     changed still work (their C symbols read the new arguments only when
--     passed), and after the update the new arguments work on the old rows.
------------------------------------------------------------------------------

RESET freetier.test_now;
DROP EXTENSION freetier;
CREATE EXTENSION freetier VERSION '0.3';
SELECT freetier_create_pool('p03', 1000, 10, '15 minutes', 2);
SELECT freetier_configure_pool('p03', 12, '20 minutes', 4);
SELECT freetier_set_tier('dee', 'trusted');
CREATE TEMP TABLE d03 AS SELECT * FROM freetier_decide('dee', 30, 'p03');
SELECT serve, absorb_sats FROM d03;
SELECT subject FROM freetier_open_account('dee');
SELECT allowance_credits, reason FROM freetier_reserve_credits('dee', 2, 'api');
SELECT ok, allowance_credits FROM freetier_spend_credits('dee', 1, 'api');
SELECT subject IS NOT NULL AS minted FROM freetier_mint_trial('192.0.2.30');
-- an account promoted from a lifetime plan: its anniversary is not its
-- open entry's instant (the update chains it, as it does p03's settings)
SELECT subject FROM freetier_open_account('eve', 'core');
SELECT plan FROM freetier_set_plan('eve', 'pro');
-- a plan changed, a plan added and a credit setting changed (the update
-- chains them; the plans and settings 0.3 left as installed need no entry)
SELECT freetier_define_plan('pro', 'monthly', 1500);
SELECT freetier_define_plan('gold', 'weekly', 70, '{"api": 10}');
SELECT freetier_configure_credits(trial_credits => 8);
-- a tier's budget changed and a tier added (chained by the update too)
SELECT freetier_set_tier_budget('elite', 1500);
SELECT freetier_set_tier_budget('vip', 5000);
-- a role given decide and spend with GRANT, as 0.3's README said: the
-- update warns that it loses them, and freetier_grant_app gives them back
CREATE ROLE freetier_upgrade_app;
GRANT EXECUTE ON FUNCTION freetier_decide(text, bigint, text),
                          freetier_spend_credits(text, bigint, text) TO freetier_upgrade_app;
ALTER EXTENSION freetier UPDATE;
SELECT extversion FROM pg_extension WHERE extname = 'freetier';
SELECT has_function_privilege('freetier_upgrade_app', 'freetier_decide(text, bigint, text, text, interval)',
                              'EXECUTE') AS before_grant_app;
SELECT freetier_grant_app('freetier_upgrade_app');
SELECT has_function_privilege('freetier_upgrade_app', 'freetier_decide(text, bigint, text, text, interval)',
                              'EXECUTE') AS after_grant_app;
DROP OWNED BY freetier_upgrade_app;
DROP ROLE freetier_upgrade_app;
SELECT pool, hold_ttl, stripes, max_hold_ttl FROM freetier.pools ORDER BY pool;
-- the settings 0.3 kept outside the chains are chained, and both ledgers
-- verify; an edit of them is reported from now on
SELECT pool, stripe, kind, payment_ref FROM freetier.ledger WHERE kind = 'settings';
SELECT subject, kind, (ref::jsonb ->> 'anniversary')::timestamptz
                     = (SELECT anniversary FROM freetier.accounts a WHERE a.subject = l.subject)
                     AS anniversary_chained
  FROM freetier.account_ledger l WHERE kind = 'settings';
SELECT chain, seq, settings FROM freetier.settings_ledger ORDER BY chain, seq;
SELECT pool, ok FROM freetier_verify_ledger() ORDER BY pool;
SELECT count(*) AS accounts, bool_and(ok) AS ok FROM freetier_verify_account_ledger();
SELECT * FROM freetier_verify_settings_ledger();
BEGIN;
UPDATE freetier.accounts SET anniversary = anniversary - interval '1 day' WHERE subject = 'eve';
UPDATE freetier.pools SET credit_pct = 13 WHERE pool = 'p03';
UPDATE freetier.plans SET allowance = 1000 WHERE plan = 'pro';
UPDATE freetier.tiers SET daily_budget_sats = 1000 WHERE tier = 'elite';
SELECT subject, ok FROM freetier_verify_account_ledger() WHERE NOT ok;
SELECT pool, ok FROM freetier_verify_ledger() WHERE NOT ok;
SELECT chain, ok FROM freetier_verify_settings_ledger() WHERE NOT ok;
ROLLBACK;
SELECT freetier_extend_hold((SELECT hold_id FROM d03), '1 hour') > now() AS extended;
SELECT serve, absorb_sats FROM freetier_decide('dee', 5, 'p03', 'u-1', '1 hour');
SELECT serve, absorb_sats FROM freetier_decide('dee', 5, 'p03', 'u-1', '1 hour');
SELECT count(*) AS dee_holds FROM freetier.holds WHERE subject = 'dee';

------------------------------------------------------------------------------
-- 6. Leave a fresh default install for the tests that follow.
------------------------------------------------------------------------------

RESET freetier.test_now;
DROP EXTENSION freetier;
CREATE EXTENSION freetier;
SELECT extversion FROM pg_extension WHERE extname = 'freetier';
-- estimate finds the tables of the new install, not those it read before
-- (its relations are kept by OID for the session: section 3 read others).
SELECT serve, reason FROM freetier_estimate('nobody', 5);
