/*
 * freetier 0.3 -> 0.4: operating freetier.
 *
 * Roles: freetier_grant_app, freetier_grant_operator and
 * freetier_grant_monitor give a role exactly the functions of its part, as
 * the README lists them; rerun them after every ALTER EXTENSION UPDATE, each
 * version's script replaces their lists.
 *
 * Metrics: freetier_pools() and freetier_accounts_summary(), every pool and
 * the credit accounts in aggregate; freetier_pool_counters() and
 * freetier_account_counters(), the outcomes counted in shared memory since
 * server start or freetier_reset_counters() (freetier in
 * shared_preload_libraries).  They and freetier_pool_status are executable
 * by pg_monitor.
 */
\echo Use "ALTER EXTENSION freetier UPDATE TO '0.4'" to load this file. \quit

-- Grant EXECUTE on the named freetier functions (name(argtype,...), as
-- regprocedure prints them with search_path = pg_catalog) to `role`.  Every
-- name must be one of the extension's functions: a name that is not stops
-- the call, so a list cannot go stale silently.
CREATE FUNCTION freetier.grant_functions(role regrole, functions text[])
    RETURNS void
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    signature text;
    member regprocedure;
BEGIN
    FOREACH signature IN ARRAY functions LOOP
        SELECT p.oid INTO member
          FROM pg_depend d
          JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'freetier'
          JOIN pg_proc p ON p.oid = d.objid
         WHERE d.classid = 'pg_proc'::regclass AND d.refclassid = 'pg_extension'::regclass
           AND d.deptype = 'e'
           AND p.proname || '(' || array_to_string(p.proargtypes::regtype[], ',') || ')'
               = signature;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'freetier has no function %', signature
                USING ERRCODE = 'undefined_function';
        END IF;
        EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO %s', member, role);
    END LOOP;
END
$$;
REVOKE ALL ON FUNCTION freetier.grant_functions(regrole, text[]) FROM PUBLIC;

CREATE FUNCTION freetier_grant_app(role regrole)
    RETURNS void
    LANGUAGE sql VOLATILE
    SET search_path = pg_catalog, pg_temp
AS $$
    SELECT freetier.grant_functions(role, ARRAY[
        'freetier_decide(text,bigint,text,text,interval)',
        'freetier_extend_hold(uuid,interval)',
        'freetier_estimate(text,bigint,text)',
        'freetier_record_grant(uuid,bigint,text)',
        'freetier_release(uuid,text)',
        'freetier_open_account(text)',
        'freetier_account_status(text)',
        'freetier_route(text,text[],bigint)',
        'freetier_reserve_credits(text,bigint,text,text)',
        'freetier_settle_credits(uuid,bigint)',
        'freetier_spend_credits(text,bigint,text,text)',
        'freetier_mint_trial(inet,text)',
        'freetier_claim_trial(text,text)'])
$$;
COMMENT ON FUNCTION freetier_grant_app(regrole) IS
    'let a role make requests: decide, estimate, settle, release, and the credit accounts'' calls';
REVOKE ALL ON FUNCTION freetier_grant_app(regrole) FROM PUBLIC;

CREATE FUNCTION freetier_grant_monitor(role regrole)
    RETURNS void
    LANGUAGE sql VOLATILE
    SET search_path = pg_catalog, pg_temp
AS $$
    SELECT freetier.grant_functions(role, ARRAY[
        'freetier_pools()',
        'freetier_accounts_summary()',
        'freetier_pool_counters()',
        'freetier_account_counters()',
        'freetier_pool_status(text)',
        'freetier_ledger_anchor()',
        'freetier_log_anchors()'])
$$;
COMMENT ON FUNCTION freetier_grant_monitor(regrole) IS
    'let a role read freetier''s metrics, pool status and anchors (pg_monitor members may already read all but the anchors)';
REVOKE ALL ON FUNCTION freetier_grant_monitor(regrole) FROM PUBLIC;

CREATE FUNCTION freetier_grant_operator(role regrole)
    RETURNS void
    LANGUAGE sql VOLATILE
    SET search_path = pg_catalog, pg_temp
AS $$
    SELECT @extschema@.freetier_grant_app(role);
    SELECT @extschema@.freetier_grant_monitor(role);
    SELECT freetier.grant_functions(role, ARRAY[
        'freetier_credit(bigint,text,text)',
        'freetier_set_tier(text,text)',
        'freetier_set_tier_budget(text,bigint)',
        'freetier_create_pool(text,bigint,numeric,interval,integer,interval,bigint)',
        'freetier_configure_pool(text,numeric,interval,integer,interval,bigint)',
        'freetier_verify_ledger(text)',
        'freetier_prune(interval)',
        'freetier_checkpoint_ledger(text)',
        'freetier_archive_ledger(text)',
        'freetier_ledger_archive(text)',
        'freetier_verify_ledger_archive(text)',
        'freetier_verify_anchor(text,bigint,bytea)',
        'freetier_drop_ledger_archive(text)',
        'freetier_expire_holds()',
        'freetier_prune_request_keys()',
        'freetier_open_account(text,text)',
        'freetier_add_credits(text,bigint,text,text)',
        'freetier_set_plan(text,text)',
        'freetier_define_plan(text,text,bigint,jsonb)',
        'freetier_configure_credits(text,interval,text,bigint,integer,interval,interval)',
        'freetier_verify_account_ledger(text)',
        'freetier_verify_settings_ledger(text)',
        'freetier_checkpoint_account_ledger(text)',
        'freetier_archive_account_ledger(text)',
        'freetier_account_ledger_archive(text)',
        'freetier_verify_account_ledger_archive(text)',
        'freetier_drop_account_ledger_archive(text)',
        'freetier_seal_chains()',
        'freetier_reset_counters()',
        'freetier_list_subjects(text,integer)',
        'freetier_list_accounts(text,integer)',
        'freetier_adjust_pool(text,bigint,text,text)',
        'freetier_reverse_credit(text,text)',
        'freetier_refund_credits(text,text,text)',
        'freetier_balance_at(text,timestamp with time zone)',
        'freetier_account_balance_at(text,timestamp with time zone)',
        'freetier_import_pool(text,bigint,text)',
        'freetier_import_subject(text,text,timestamp with time zone,bigint,text,text)',
        'freetier_import_account(text,text,timestamp with time zone,timestamp with time zone,bigint,bigint,text,jsonb)'])
$$;
COMMENT ON FUNCTION freetier_grant_operator(regrole) IS
    'let a role run freetier: everything an application and a monitor may, plus credits, tiers, pools, plans and checks';
REVOKE ALL ON FUNCTION freetier_grant_operator(regrole) FROM PUBLIC;

-- The credit accounts in aggregate, one row per plan.
CREATE FUNCTION freetier_accounts_summary()
    RETURNS TABLE (plan text, accounts bigint, purchased_balance bigint,
                   held_credits bigint, held_holds bigint)
    LANGUAGE sql STABLE PARALLEL RESTRICTED SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
    SELECT a.plan,
           count(*),
           LEAST(sum(a.purchased_balance), 9223372036854775807)::bigint,
           LEAST(coalesce(sum(h.credits), 0), 9223372036854775807)::bigint,
           coalesce(sum(h.holds), 0)::bigint
      FROM freetier.accounts a
      CROSS JOIN freetier.clock() AS at
      LEFT JOIN LATERAL (
            SELECT sum(c.allowance_credits + c.purchased_credits) AS credits, count(*) AS holds
              FROM freetier.credit_holds c
             WHERE c.subject = a.subject AND c.state = 'held' AND c.expires_at > at) h ON true
     GROUP BY a.plan
     ORDER BY a.plan
$$;
COMMENT ON FUNCTION freetier_accounts_summary() IS
    'credit accounts per plan: how many, their purchased balance, the credits on live holds';
REVOKE ALL ON FUNCTION freetier_accounts_summary() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION freetier_accounts_summary() TO pg_monitor;
GRANT EXECUTE ON FUNCTION freetier_pool_status(text) TO pg_monitor;

-- Operator listings, a page at a time in subject order: `after` is the last
-- subject of the previous page (NULL for the first), `page_size` at most
-- 10,000.  Each row as the next call would see it: a window that has ended
-- counts nothing, a hold past its TTL holds nothing.
CREATE FUNCTION freetier.check_page_size(page_size int)
    RETURNS int
    LANGUAGE plpgsql IMMUTABLE
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF page_size IS NULL OR page_size < 1 OR page_size > 10000 THEN
        RAISE EXCEPTION 'page_size must be between 1 and 10000'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    RETURN page_size;
END
$$;
REVOKE ALL ON FUNCTION freetier.check_page_size(int) FROM PUBLIC;

CREATE FUNCTION freetier_list_subjects(after text DEFAULT NULL, page_size int DEFAULT 100)
    RETURNS TABLE (subject text, tier text, daily_budget_sats bigint,
                   window_start timestamptz, window_settled_sats bigint,
                   window_held_sats bigint, live_holds bigint, left_sats bigint)
    LANGUAGE sql STABLE PARALLEL RESTRICTED SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
    SELECT s.subject, s.tier, t.daily_budget_sats, w.start, w.settled, w.held, h.holds,
           GREATEST(t.daily_budget_sats - w.settled - w.held, 0)
      FROM (SELECT x.* FROM freetier.subjects x
             WHERE after IS NULL OR x.subject > after
             ORDER BY x.subject
             LIMIT freetier.check_page_size(page_size)) s
      CROSS JOIN freetier.clock() AS at
      JOIN freetier.tiers t ON t.tier = s.tier
      CROSS JOIN LATERAL (
            SELECT count(*) AS holds,
                   coalesce(sum(x.held_sats) FILTER (WHERE x.window_start = s.window_start), 0)
                       AS window_held
              FROM freetier.holds x
             WHERE x.subject = s.subject AND x.state = 'held' AND x.expires_at > at) h
      CROSS JOIN LATERAL (
            SELECT CASE WHEN open THEN s.window_start END AS start,
                   CASE WHEN open THEN s.window_settled_sats ELSE 0 END AS settled,
                   CASE WHEN open THEN h.window_held ELSE 0 END::bigint AS held
              FROM (SELECT s.window_start + interval '24 hours' > at AS open) o) w
     ORDER BY s.subject
$$;
COMMENT ON FUNCTION freetier_list_subjects(text, int) IS
    'a page of subjects after `after`: tier, budget, the open window''s settled and held sats, live holds, what decide would still absorb';
REVOKE ALL ON FUNCTION freetier_list_subjects(text, int) FROM PUBLIC;

CREATE FUNCTION freetier_list_accounts(after text DEFAULT NULL, page_size int DEFAULT 100)
    RETURNS TABLE (subject text, plan text, period text, period_start timestamptz,
                   period_end timestamptz, allowance_left bigint, backend_left jsonb,
                   purchased_balance bigint, reserved_credits bigint,
                   lifetime_spent bigint, lifetime_added bigint)
    LANGUAGE sql STABLE PARALLEL RESTRICTED SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
    SELECT st.*
      FROM (SELECT a.subject FROM freetier.accounts a
             WHERE after IS NULL OR a.subject > after
             ORDER BY a.subject
             LIMIT freetier.check_page_size(page_size)) a
      CROSS JOIN LATERAL @extschema@.freetier_account_status(a.subject) st
     ORDER BY a.subject
$$;
COMMENT ON FUNCTION freetier_list_accounts(text, int) IS
    'a page of credit accounts after `after`, each as freetier_account_status shows it';
REVOKE ALL ON FUNCTION freetier_list_accounts(text, int) FROM PUBLIC;

-- Parallel restore.  pg_restore -j loads the extension's tables in any
-- order, so a foreign key between two of them fails the load.  The
-- functions check every reference before they write (an unknown tier, plan,
-- pool or account is 42704) and nothing deletes a referenced row, so the
-- keys go; test/invariants.sql keeps their rules, checked by the tests.
ALTER TABLE freetier.subjects DROP CONSTRAINT subjects_tier_fkey;
ALTER TABLE freetier.pool_stripes DROP CONSTRAINT pool_stripes_pool_fkey;
ALTER TABLE freetier.credits DROP CONSTRAINT credits_pool_fkey;
ALTER TABLE freetier.credit_settings DROP CONSTRAINT credit_settings_default_plan_fkey;
ALTER TABLE freetier.credit_settings DROP CONSTRAINT credit_settings_trial_plan_fkey;
ALTER TABLE freetier.accounts DROP CONSTRAINT accounts_plan_fkey;
ALTER TABLE freetier.account_backend_use DROP CONSTRAINT account_backend_use_subject_fkey;
ALTER TABLE freetier.credit_holds DROP CONSTRAINT credit_holds_subject_fkey;
ALTER TABLE freetier.credit_additions DROP CONSTRAINT credit_additions_subject_fkey;
ALTER TABLE freetier.account_ledger DROP CONSTRAINT account_ledger_subject_fkey;
ALTER TABLE freetier.trials DROP CONSTRAINT trials_subject_fkey;
ALTER TABLE freetier.trials DROP CONSTRAINT trials_claimed_by_fkey;

-- The outcome counters (src/counters.c).
CREATE FUNCTION freetier_pool_counters()
    RETURNS TABLE (pool text, decides_free bigint, decides_partial bigint,
                   gated_anonymous bigint, gated_zero_cost bigint,
                   gated_unknown_subject bigint, gated_no_budget bigint,
                   gated_daily_budget_exhausted bigint, gated_pool_empty bigint,
                   sats_held bigint, sats_absorbed bigint, sats_charged bigint,
                   sats_returned bigint, sats_released bigint, sats_expired bigint,
                   holds_expired bigint, credits bigint, sats_credited bigint,
                   since timestamptz)
    AS 'MODULE_PATHNAME', 'freetier_pool_counters'
    LANGUAGE C VOLATILE PARALLEL RESTRICTED
    SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION freetier_pool_counters() IS
    'per pool, since server start or the last reset: decides by answer and gate reason, and the sats held, absorbed, charged, returned, released, expired and credited, by committed transactions';
REVOKE ALL ON FUNCTION freetier_pool_counters() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION freetier_pool_counters() TO pg_monitor;

CREATE FUNCTION freetier_account_counters()
    RETURNS TABLE (call text, outcome text, calls bigint, allowance_credits bigint,
                   purchased_credits bigint, since timestamptz)
    AS 'MODULE_PATHNAME', 'freetier_account_counters'
    LANGUAGE C VOLATILE PARALLEL RESTRICTED
    SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION freetier_account_counters() IS
    'credit account calls by outcome since server start or the last reset, with the credits they moved, by committed transactions';
REVOKE ALL ON FUNCTION freetier_account_counters() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION freetier_account_counters() TO pg_monitor;

CREATE FUNCTION freetier_reset_counters()
    RETURNS timestamptz
    AS 'MODULE_PATHNAME', 'freetier_reset_counters'
    LANGUAGE C VOLATILE PARALLEL UNSAFE
    SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION freetier_reset_counters() IS
    'set every outcome counter to zero; returns the instant they count from';
REVOKE ALL ON FUNCTION freetier_reset_counters() FROM PUBLIC;

-- ---------------------------------------------------------------------------
-- Corrections (issue 9).  freetier_adjust_pool, freetier_reverse_credit and
-- freetier_refund_credits, operator-only, each applied once per ref and
-- recorded in freetier.corrections; ledger kinds 'adjust', 'reversal',
-- 'owed' and 'repay' (pools) and 'refund' (accounts).  What a pool owes
-- after a reversal it could not cover is kept on its stripe 0
-- (pool_stripes.owed_sats, chained by the 'owed' and 'repay' entries), and
-- freetier_credit repays it first.  freetier_balance_at and
-- freetier_account_balance_at read a balance at an instant off the ledgers.
-- ---------------------------------------------------------------------------
ALTER TABLE freetier.pool_stripes ADD COLUMN owed_sats bigint NOT NULL DEFAULT 0;

-- Every account-ledger kind 0.4 adds, once: 'refund' (here), 'import'
-- (the import block), 'settings' (settings in the chains) and 'checkpoint'
-- (the accounts' retention).
ALTER TABLE freetier.account_ledger
    DROP CONSTRAINT account_ledger_kind_check,
    ADD CONSTRAINT account_ledger_kind_check
        CHECK (kind IN ('open', 'spend', 'rollover', 'plan_change', 'purchase', 'grant',
                        'trial', 'carry_in', 'carry_out', 'refund', 'import', 'settings',
                        'checkpoint'));

-- One row per correction applied: its arguments and its result, so that a
-- repeated ref returns the first result.  Append-only, like the ledgers.
CREATE TABLE freetier.corrections (
    kind       text NOT NULL CHECK (kind IN ('adjust', 'reversal', 'refund')),
    ref        text NOT NULL CHECK (octet_length(ref) BETWEEN 1 AND 256),
    target     text NOT NULL,
    amount     bigint,
    reason     text NOT NULL CHECK (octet_length(reason) BETWEEN 1 AND 256),
    result     bigint NOT NULL,
    created_at timestamptz NOT NULL,
    PRIMARY KEY (kind, ref)
);
CREATE TRIGGER corrections_append_only BEFORE UPDATE OR DELETE ON freetier.corrections
    FOR EACH ROW EXECUTE FUNCTION freetier.refuse_change();
CREATE TRIGGER corrections_no_truncate BEFORE TRUNCATE ON freetier.corrections
    FOR EACH STATEMENT EXECUTE FUNCTION freetier.refuse_change();
ALTER TABLE freetier.corrections ENABLE ALWAYS TRIGGER corrections_append_only;
ALTER TABLE freetier.corrections ENABLE ALWAYS TRIGGER corrections_no_truncate;
SELECT pg_catalog.pg_extension_config_dump('freetier.corrections', '');
REVOKE ALL ON freetier.corrections FROM PUBLIC;

CREATE OR REPLACE FUNCTION freetier_credit(paid_sats bigint, pool text DEFAULT 'default', payment_ref text DEFAULT NULL)
    RETURNS bigint
    AS 'MODULE_PATHNAME', 'freetier_credit_v4'
    LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION freetier_credit(bigint, text, text) IS
    'add floor(paid_sats * credit_pct / 100) to a pool (its emptiest stripe), what it owes repaid first, once per payment_ref; returns the sats credited';

CREATE OR REPLACE FUNCTION freetier_verify_ledger(pool text DEFAULT NULL)
    RETURNS TABLE (pool text, entries bigint, ok boolean, first_bad_entry bigint)
    AS 'MODULE_PATHNAME', 'freetier_verify_ledger_v4'
    LANGUAGE C STABLE PARALLEL RESTRICTED SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION freetier_verify_ledger(text) IS
    'recompute the hash chain and balances (and what the pool owes) of every stripe of each pool; first_bad_entry is the seq of the first entry that does not match, on the pool''s first bad stripe';

CREATE FUNCTION freetier_adjust_pool(pool text, delta_sats bigint, reason text, ref text)
    RETURNS bigint
    AS 'MODULE_PATHNAME', 'freetier_adjust_pool'
    LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION freetier_adjust_pool(text, bigint, text, text) IS
    'top a pool up (delta_sats > 0) or write it down (< 0, never past its balance), once per ref; returns the balance after';
REVOKE ALL ON FUNCTION freetier_adjust_pool(text, bigint, text, text) FROM PUBLIC;

CREATE FUNCTION freetier_reverse_credit(payment_ref text, reason text)
    RETURNS bigint
    AS 'MODULE_PATHNAME', 'freetier_reverse_credit'
    LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION freetier_reverse_credit(text, text) IS
    'take back what a payment_ref credited to its pool, once; what the pool cannot give now it owes, repaid by its next credits; returns the sats taken now';
REVOKE ALL ON FUNCTION freetier_reverse_credit(text, text) FROM PUBLIC;

CREATE FUNCTION freetier_refund_credits(subject text, ref text, reason text)
    RETURNS bigint
    AS 'MODULE_PATHNAME', 'freetier_refund_credits'
    LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION freetier_refund_credits(text, text, text) IS
    'take the credits freetier_add_credits added with ref back out of the purchased balance, never below what is on hold, once; returns the credits taken';
REVOKE ALL ON FUNCTION freetier_refund_credits(text, text, text) FROM PUBLIC;

CREATE FUNCTION freetier_balance_at(pool text, at timestamptz)
    RETURNS bigint
    LANGUAGE plpgsql STABLE PARALLEL RESTRICTED SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF $1 IS NULL OR $2 IS NULL THEN
        RAISE EXCEPTION '% must not be NULL', CASE WHEN $1 IS NULL THEN 'pool' ELSE 'at' END
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF NOT EXISTS (SELECT FROM freetier.pools p WHERE p.pool = $1) THEN
        RAISE EXCEPTION 'pool "%" does not exist', $1
            USING ERRCODE = 'undefined_object',
                  DETAIL = 'Pools are created with freetier_create_pool.';
    END IF;
    -- entries moved to freetier.ledger_archive count; dropped ones cannot
    IF EXISTS (SELECT FROM (SELECT l.stripe, l.seq FROM freetier.ledger l WHERE l.pool = $1
                            UNION ALL
                            SELECT a.stripe, a.seq FROM freetier.ledger_archive a WHERE a.pool = $1) e
                GROUP BY e.stripe HAVING count(*) < max(e.seq)) THEN
        RAISE EXCEPTION 'pool "%" has ledger entries that were archived and dropped', $1
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  DETAIL = 'A balance at an instant is the sum of the entries up to then, in the ledger and its archive.',
                  HINT = 'Sum them from the archive''s export (freetier_ledger_archive).';
    END IF;
    RETURN (SELECT LEAST(coalesce(sum(e.delta_sats), 0), 9223372036854775807)::bigint
              FROM (SELECT l.delta_sats, l.created_at, l.kind FROM freetier.ledger l WHERE l.pool = $1
                    UNION ALL
                    SELECT a.delta_sats, a.created_at, a.kind FROM freetier.ledger_archive a
                     WHERE a.pool = $1) e
             WHERE e.created_at <= $2 AND e.kind <> ALL ('{owed,repay}'));
END
$$;
COMMENT ON FUNCTION freetier_balance_at(text, timestamptz) IS
    'a pool''s balance at an instant: the sum of its ledger entries up to then (what it owes not counted)';
REVOKE ALL ON FUNCTION freetier_balance_at(text, timestamptz) FROM PUBLIC;

CREATE FUNCTION freetier_account_balance_at(subject text, at timestamptz)
    RETURNS bigint
    LANGUAGE plpgsql STABLE PARALLEL RESTRICTED SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF $1 IS NULL OR $2 IS NULL THEN
        RAISE EXCEPTION '% must not be NULL', CASE WHEN $1 IS NULL THEN 'subject' ELSE 'at' END
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF NOT EXISTS (SELECT FROM freetier.accounts a WHERE a.subject = $1) THEN
        RAISE EXCEPTION 'account "%" does not exist', $1
            USING ERRCODE = 'undefined_object',
                  DETAIL = 'Accounts are opened with freetier_open_account.';
    END IF;
    -- entries moved to freetier.account_ledger_archive count; dropped ones cannot
    IF (SELECT min(e.seq) FROM (SELECT l.seq FROM freetier.account_ledger l WHERE l.subject = $1
                                UNION ALL
                                SELECT a.seq FROM freetier.account_ledger_archive a
                                 WHERE a.subject = $1) e) > 1 THEN
        RAISE EXCEPTION 'account "%" has ledger entries that were archived and dropped', $1
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  DETAIL = 'A balance at an instant is the sum of the entries up to then, in the ledger and its archive.',
                  HINT = 'Sum them from the archive''s export (freetier_account_ledger_archive).';
    END IF;
    RETURN (SELECT coalesce(sum(e.delta), 0)::bigint
              FROM (SELECT l.delta, l.bucket, l.created_at FROM freetier.account_ledger l
                     WHERE l.subject = $1
                    UNION ALL
                    SELECT a.delta, a.bucket, a.created_at FROM freetier.account_ledger_archive a
                     WHERE a.subject = $1) e
             WHERE e.bucket = 'purchased' AND e.created_at <= $2);
END
$$;
COMMENT ON FUNCTION freetier_account_balance_at(text, timestamptz) IS
    'an account''s purchased balance at an instant: the sum of its purchased entries up to then';
REVOKE ALL ON FUNCTION freetier_account_balance_at(text, timestamptz) FROM PUBLIC;

------------------------------------------------------------------------------
-- Money-safe retries and long payment windows (issue 9): request keys, a
-- TTL per decide, freetier_extend_hold, and the max_hold_ttl that bounds
-- both, per pool and for credit holds.
------------------------------------------------------------------------------

-- The longest TTL a decide may ask for, or an extension give, on a pool's
-- holds; the credit settings' bounds extensions of credit holds.  30 days
-- is the bound every hold_ttl had already: nothing that worked stops.
ALTER TABLE freetier.pools
    ADD COLUMN max_hold_ttl interval NOT NULL DEFAULT interval '30 days'
        CHECK (freetier.is_duration(max_hold_ttl) AND max_hold_ttl <= interval '30 days');
ALTER TABLE freetier.credit_settings
    ADD COLUMN max_hold_ttl interval NOT NULL DEFAULT interval '30 days'
        CHECK (freetier.is_duration(max_hold_ttl) AND max_hold_ttl <= interval '30 days');

-- A key that did something: the call, a BLAKE2b fingerprint of its
-- arguments, and what it made (src/request_key.c): a hold (decide,
-- reserve), credits (reserve, spend; a trial's in purchased_credits), a
-- trial's subject.
CREATE TABLE freetier.request_keys (
    request_key       text PRIMARY KEY,
    call              text NOT NULL,
    fingerprint       bytea NOT NULL,
    hold_id           uuid,
    subject           text,
    allowance_credits bigint,
    purchased_credits bigint,
    created_at        timestamptz NOT NULL
);
CREATE INDEX request_keys_by_age ON freetier.request_keys (created_at);
COMMENT ON TABLE freetier.request_keys IS
    'request keys that placed a hold, spent or minted: a repeat with the same arguments gets that result back';
SELECT pg_catalog.pg_extension_config_dump('freetier.request_keys', '');
REVOKE ALL ON freetier.request_keys FROM PUBLIC;

-- New arguments, last and with defaults (decide, create_pool,
-- configure_pool, configure_credits; below reserve_credits, spend_credits,
-- mint_trial): new signatures, so the GRANTs of the old ones must be given
-- again (freetier_grant_app, _operator).  The C symbols stay: they read
-- the new arguments only when they are passed, so 0.3's SQL still works.
-- A role that was given one of these functions with GRANT (0.3's README)
-- loses it with the old signature: say which, and what gives it back.
-- (Granting the new signature here would record the grant as the
-- extension's own, and pg_dump would then leave it out.)
DO $$
DECLARE
    lost text;
BEGIN
    SELECT string_agg(DISTINCT format('%s on %s', a.grantee::regrole, p.oid::regprocedure), '; ')
      INTO lost
      FROM pg_catalog.pg_proc p, pg_catalog.aclexplode(p.proacl) a
     WHERE p.oid IN ('freetier_decide(text,bigint,text)'::regprocedure,
                     'freetier_create_pool(text,bigint,numeric,interval,integer)'::regprocedure,
                     'freetier_configure_pool(text,numeric,interval,integer)'::regprocedure,
                     'freetier_configure_credits(text,interval,text,bigint,integer,interval)'::regprocedure,
                     'freetier_reserve_credits(text,bigint,text)'::regprocedure,
                     'freetier_spend_credits(text,bigint,text)'::regprocedure,
                     'freetier_mint_trial(inet)'::regprocedure)
       AND a.privilege_type = 'EXECUTE' AND a.grantee <> 0 AND a.grantee <> p.proowner;
    IF lost IS NOT NULL THEN
        RAISE WARNING 'freetier 0.4 changes the signatures of functions granted to roles: %', lost
            USING HINT = 'Give them back with SELECT freetier_grant_app(role) or freetier_grant_operator(role).';
    END IF;
END
$$;

DROP FUNCTION freetier_decide(text, bigint, text);
CREATE FUNCTION freetier_decide(subject text, estimated_sats bigint, pool text DEFAULT 'default',
                                request_key text DEFAULT NULL, hold_ttl interval DEFAULT NULL)
    RETURNS TABLE (serve text, absorb_sats bigint, charge_sats bigint, hold_id uuid, reason text)
    AS 'MODULE_PATHNAME', 'freetier_decide_v3'
    LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION freetier_decide(text, bigint, text, text, interval) IS
    'decide free, partial or gate for a request and hold the subsidy until it is settled, released or expires (after hold_ttl, default the pool''s); a request_key makes a repeat return the first hold';
REVOKE ALL ON FUNCTION freetier_decide(text, bigint, text, text, interval) FROM PUBLIC;

DROP FUNCTION freetier_create_pool(text, bigint, numeric, interval, int);
CREATE FUNCTION freetier_create_pool(pool text, initial_sats bigint DEFAULT 0,
                                     credit_pct numeric DEFAULT 10,
                                     hold_ttl interval DEFAULT interval '15 minutes',
                                     stripes int DEFAULT 16,
                                     max_hold_ttl interval DEFAULT interval '30 days',
                                     low_water_sats bigint DEFAULT 0)
    RETURNS void
    AS 'MODULE_PATHNAME', 'freetier_create_pool_v3'
    LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION freetier_create_pool(text, bigint, numeric, interval, int, interval, bigint) IS
    'create a pool over `stripes` stripes, each with a seed ledger entry of its share of initial_sats, with a low-water mark (0: none)';
REVOKE ALL ON FUNCTION freetier_create_pool(text, bigint, numeric, interval, int, interval, bigint) FROM PUBLIC;

DROP FUNCTION freetier_configure_pool(text, numeric, interval, int);
CREATE FUNCTION freetier_configure_pool(pool text, credit_pct numeric DEFAULT NULL,
                                        hold_ttl interval DEFAULT NULL,
                                        stripes int DEFAULT NULL,
                                        max_hold_ttl interval DEFAULT NULL,
                                        low_water_sats bigint DEFAULT NULL)
    RETURNS void
    AS 'MODULE_PATHNAME', 'freetier_configure_pool'
    LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION freetier_configure_pool(text, numeric, interval, int, interval, bigint) IS
    'change a pool''s credit_pct, hold_ttl (new holds only), number of active stripes, max_hold_ttl or low-water mark; NULL keeps a value';
REVOKE ALL ON FUNCTION freetier_configure_pool(text, numeric, interval, int, interval, bigint) FROM PUBLIC;

DROP FUNCTION freetier_configure_credits(text, interval, text, bigint, int, interval);
CREATE FUNCTION freetier_configure_credits(default_plan text DEFAULT NULL,
                                           hold_ttl interval DEFAULT NULL,
                                           trial_plan text DEFAULT NULL,
                                           trial_credits bigint DEFAULT NULL,
                                           trials_per_network int DEFAULT NULL,
                                           trial_window interval DEFAULT NULL,
                                           max_hold_ttl interval DEFAULT NULL)
    RETURNS void
    LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF default_plan IS NOT NULL AND NOT EXISTS (SELECT FROM freetier.plans p WHERE p.plan = default_plan) THEN
        RAISE EXCEPTION 'plan "%" does not exist', default_plan
            USING ERRCODE = 'undefined_object',
                  DETAIL = 'Plans are created with freetier_define_plan.';
    END IF;
    IF trial_plan IS NOT NULL AND NOT EXISTS (SELECT FROM freetier.plans p WHERE p.plan = trial_plan) THEN
        RAISE EXCEPTION 'plan "%" does not exist', trial_plan
            USING ERRCODE = 'undefined_object',
                  DETAIL = 'Plans are created with freetier_define_plan.';
    END IF;
    IF NOT freetier.is_duration(hold_ttl) OR trial_window <= interval '0' OR trial_credits < 0
       OR trials_per_network < 0 THEN
        RAISE EXCEPTION 'invalid credit setting'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'hold_ttl must be a positive duration (days, hours, minutes or seconds) and trial_window positive; trial_credits and trials_per_network zero or more.';
    END IF;
    IF hold_ttl > interval '30 days' THEN
        RAISE EXCEPTION 'hold_ttl must be at most 30 days'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = format('hold_ttl was %s.', hold_ttl);
    END IF;
    IF NOT freetier.is_duration(max_hold_ttl) OR max_hold_ttl > interval '30 days' THEN
        RAISE EXCEPTION 'max_hold_ttl must be a positive duration of at most 30 days'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = format('max_hold_ttl was %s.', max_hold_ttl),
                  HINT = 'Give days, hours, minutes or seconds, none negative.';
    END IF;
    IF NOT freetier.is_duration(trial_window) THEN
        RAISE EXCEPTION 'trial_window must be a positive duration'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = format('trial_window was %s.', trial_window),
                  HINT = 'Give days, hours, minutes or seconds, none negative.';
    END IF;
    IF trial_credits > 1000000000000000000 THEN
        RAISE EXCEPTION 'trial_credits must be at most 1000000000000000000'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = format('trial_credits was %s; no credit counter of an account may pass 10^18.', trial_credits);
    END IF;
    IF trial_window > interval '366 days' THEN
        RAISE EXCEPTION 'trial_window must be at most 366 days'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = format('trial_window was %s.', trial_window);
    END IF;
    -- the settings chains, below: freetier.set_credit_settings
    PERFORM freetier.set_credit_settings(freetier_configure_credits.default_plan,
                                         freetier_configure_credits.hold_ttl,
                                         freetier_configure_credits.trial_plan,
                                         freetier_configure_credits.trial_credits,
                                         freetier_configure_credits.trials_per_network,
                                         freetier_configure_credits.trial_window,
                                         freetier_configure_credits.max_hold_ttl);
END
$$;
COMMENT ON FUNCTION freetier_configure_credits(text, interval, text, bigint, int, interval, interval) IS
    'change the account and trial settings (NULL keeps the chained value); a change is a settings entry';
REVOKE ALL ON FUNCTION freetier_configure_credits(text, interval, text, bigint, int, interval, interval) FROM PUBLIC;

DROP FUNCTION freetier_reserve_credits(text, bigint, text);
CREATE FUNCTION freetier_reserve_credits(subject text, credits bigint, backend text,
                                         request_key text DEFAULT NULL)
    RETURNS TABLE (hold_id uuid, allowance_credits bigint, purchased_credits bigint, reason text)
    AS 'MODULE_PATHNAME', 'freetier_reserve_credits'
    LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION freetier_reserve_credits(text, bigint, text, text) IS
    'reserve credits (allowance first, then purchased), all or nothing; settle or release the hold later; a request_key makes a repeat return the first hold';
REVOKE ALL ON FUNCTION freetier_reserve_credits(text, bigint, text, text) FROM PUBLIC;

DROP FUNCTION freetier_spend_credits(text, bigint, text);
CREATE FUNCTION freetier_spend_credits(subject text, credits bigint, backend text,
                                       request_key text DEFAULT NULL)
    RETURNS TABLE (ok boolean, allowance_credits bigint, purchased_credits bigint, reason text)
    AS 'MODULE_PATHNAME', 'freetier_spend_credits'
    LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION freetier_spend_credits(text, bigint, text, text) IS
    'one-shot debit: allowance first, then purchased, all or nothing; a request_key makes a repeat return the first spend';
REVOKE ALL ON FUNCTION freetier_spend_credits(text, bigint, text, text) FROM PUBLIC;

DROP FUNCTION freetier_mint_trial(inet);
CREATE FUNCTION freetier_mint_trial(client_ip inet, request_key text DEFAULT NULL)
    RETURNS TABLE (subject text, credits bigint, reason text)
    AS 'MODULE_PATHNAME', 'freetier_mint_trial'
    LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION freetier_mint_trial(inet, text) IS
    'mint an anonymous trial account, at most trials_per_network per IPv4 address or IPv6 /64 per trial_window; a request_key makes a repeat return the first trial';
REVOKE ALL ON FUNCTION freetier_mint_trial(inet, text) FROM PUBLIC;

CREATE FUNCTION freetier_prune_request_keys()
    RETURNS bigint
    AS 'MODULE_PATHNAME', 'freetier_prune_request_keys'
    LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION freetier_prune_request_keys() IS
    'delete the request keys older than freetier.request_key_retention (24 hours by default); returns how many';
REVOKE ALL ON FUNCTION freetier_prune_request_keys() FROM PUBLIC;

CREATE FUNCTION freetier_extend_hold(hold_id uuid, ttl interval)
    RETURNS timestamptz
    AS 'MODULE_PATHNAME', 'freetier_extend_hold'
    LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION freetier_extend_hold(uuid, interval) IS
    'move a live hold''s expiry (a gate or a credit hold) to now + ttl, at most its max_hold_ttl; returns the new expiry';
REVOKE ALL ON FUNCTION freetier_extend_hold(uuid, interval) FROM PUBLIC;

------------------------------------------------------------------------------
-- Log lines and the low-water mark (issue 8, "Logs"; src/log_lines.c).
-- freetier writes a line to the server log when a decide runs a pool dry
-- or takes it to or below its low-water mark, when a sweep expires holds,
-- and when a ledger fails verification.  The mark is a new pool setting:
-- 0 (the default, as before: no such line) up to 10^18 sats.  create_pool
-- and configure_pool take it, after max_hold_ttl (their signatures are
-- made above, with the request keys').  The C symbols stay: decide,
-- create_pool and configure_pool read the mark only when 0.4's SQL passes
-- their new arguments.
------------------------------------------------------------------------------

ALTER TABLE freetier.pools
    ADD COLUMN low_water_sats bigint NOT NULL DEFAULT 0
        CHECK (low_water_sats >= 0 AND low_water_sats <= 1000000000000000000);
COMMENT ON COLUMN freetier.pools.low_water_sats IS
    'a decide that takes the pool''s balance from above this to at or below it writes a line to the server log; 0: none';

-- Every pool as a monitoring system reads it (here: it shows the mark).
CREATE FUNCTION freetier_pools()
    RETURNS TABLE (pool text, balance_sats bigint, available_sats bigint, held_sats bigint,
                   live_holds bigint, expired_holds bigint, expired_sats bigint,
                   credit_pct numeric, hold_ttl interval, stripes int, low_water_sats bigint)
    LANGUAGE sql STABLE PARALLEL RESTRICTED SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
    SELECT p.pool,
           LEAST(s.balance, 9223372036854775807)::bigint,
           LEAST(s.balance + coalesce(h.expired_sats, 0), 9223372036854775807)::bigint,
           coalesce(h.live_sats, 0)::bigint,
           coalesce(h.live, 0),
           coalesce(h.expired, 0),
           coalesce(h.expired_sats, 0)::bigint,
           p.credit_pct,
           p.hold_ttl,
           p.stripes,
           p.low_water_sats
      FROM freetier.pools p
      CROSS JOIN freetier.clock() AS at
      CROSS JOIN LATERAL (SELECT coalesce(sum(x.balance_sats), 0) AS balance
                            FROM freetier.pool_stripes x WHERE x.pool = p.pool) s
      LEFT JOIN LATERAL (
            SELECT count(*) FILTER (WHERE x.expires_at > at) AS live,
                   sum(x.held_sats) FILTER (WHERE x.expires_at > at) AS live_sats,
                   count(*) FILTER (WHERE x.expires_at <= at) AS expired,
                   sum(x.held_sats) FILTER (WHERE x.expires_at <= at) AS expired_sats
              FROM freetier.holds x
             WHERE x.pool = p.pool AND x.state = 'held') h ON true
     ORDER BY p.pool
$$;
COMMENT ON FUNCTION freetier_pools() IS
    'every pool: its stripes'' balance, what decide sees (with holds past their TTL returned), live holds, holds past their TTL not yet swept, settings';
REVOKE ALL ON FUNCTION freetier_pools() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION freetier_pools() TO pg_monitor;

-- A dumped pool row carries its max_hold_ttl and its mark back.
CREATE OR REPLACE FUNCTION freetier.restore_pool() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    UPDATE freetier.pools p
       SET credit_pct = NEW.credit_pct, hold_ttl = NEW.hold_ttl,
           stripes = NEW.stripes, max_hold_ttl = NEW.max_hold_ttl,
           low_water_sats = NEW.low_water_sats, created_at = NEW.created_at
     WHERE p.pool = NEW.pool
       AND (p.pool, p.credit_pct, p.hold_ttl, p.stripes, p.max_hold_ttl, p.low_water_sats)
           = ('default', 10, interval '15 minutes', 16, interval '30 days', 0);
    IF FOUND THEN
        RETURN NULL;
    END IF;
    RETURN NEW;
END
$$;

------------------------------------------------------------------------------
-- Retention (issue 8): pruning ended rows, ledger checkpoints, the archive.
--
-- freetier_prune deletes ended holds, finished credit holds and trial
-- network rows older than a retention period, never a live row and never
-- one that a ledger entry (archived or not), a grant or a request key names.
-- freetier_checkpoint_ledger writes a 'checkpoint' entry on every stripe of
-- a pool; freetier_archive_ledger moves each stripe's entries before its
-- latest checkpoint to freetier.ledger_archive, after which verification
-- starts at that checkpoint; freetier_verify_ledger_archive verifies the
-- archive up to it; the operator exports it (freetier_ledger_archive) and
-- drops it (freetier_drop_ledger_archive).  The archive move and the drop
-- are the only deletes the ledger and the archive let through
-- (src/ledger_archive.c).

-- Entries moved out of freetier.ledger, as they were there.
CREATE TABLE freetier.ledger_archive (
    pool          text NOT NULL,
    stripe        int NOT NULL,
    seq           bigint NOT NULL,
    kind          text NOT NULL,
    delta_sats    bigint NOT NULL,
    balance_after bigint NOT NULL,
    hold_id       uuid,
    payment_ref   text,
    created_at    timestamptz NOT NULL,
    prev_hash     bytea NOT NULL,
    hash          bytea NOT NULL,
    PRIMARY KEY (pool, stripe, seq)
);
COMMENT ON TABLE freetier.ledger_archive IS
    'ledger entries moved out of freetier.ledger by freetier_archive_ledger: each stripe''s ends right before the checkpoint its chain starts at';
SELECT pg_catalog.pg_extension_config_dump('freetier.ledger_archive', '');
REVOKE ALL ON freetier.ledger_archive FROM PUBLIC;

-- The ledger and the archive refuse UPDATE and DELETE from every role, but
-- the archive move's and the drop's own deletes.
CREATE FUNCTION freetier.guard_entries() RETURNS trigger
    AS 'MODULE_PATHNAME', 'freetier_guard_entries'
    LANGUAGE C;
REVOKE ALL ON FUNCTION freetier.guard_entries() FROM PUBLIC;
DROP TRIGGER ledger_append_only ON freetier.ledger;
CREATE TRIGGER ledger_append_only BEFORE UPDATE OR DELETE ON freetier.ledger
    FOR EACH ROW EXECUTE FUNCTION freetier.guard_entries();
ALTER TABLE freetier.ledger ENABLE ALWAYS TRIGGER ledger_append_only;
CREATE TRIGGER ledger_archive_append_only BEFORE UPDATE OR DELETE ON freetier.ledger_archive
    FOR EACH ROW EXECUTE FUNCTION freetier.guard_entries();
CREATE TRIGGER ledger_archive_no_truncate BEFORE TRUNCATE ON freetier.ledger_archive
    FOR EACH STATEMENT EXECUTE FUNCTION freetier.refuse_change();
ALTER TABLE freetier.ledger_archive ENABLE ALWAYS TRIGGER ledger_archive_append_only;
ALTER TABLE freetier.ledger_archive ENABLE ALWAYS TRIGGER ledger_archive_no_truncate;

CREATE FUNCTION freetier_prune(retention interval)
    RETURNS TABLE (kind text, removed bigint)
    LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    cutoff timestamptz;
BEGIN
    IF retention IS NULL OR NOT freetier.is_duration(retention)
       OR retention < interval '30 days' OR retention > interval '36500 days' THEN
        RAISE EXCEPTION 'retention must be between 30 and 36500 days'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = format('retention was %s.', coalesce(retention::text, 'NULL')),
                  HINT = 'Give days, hours, minutes or seconds: at least the longest hold TTL (30 days).';
    END IF;
    cutoff := timezone('UTC', timezone('UTC', freetier.clock()) - retention);

    DELETE FROM freetier.holds h
     WHERE h.hold_id IN (
           SELECT x.hold_id FROM freetier.holds x
            WHERE x.state <> 'held' AND x.ended_at < cutoff
              AND NOT EXISTS (SELECT FROM freetier.grants g WHERE g.hold_id = x.hold_id)
              AND NOT EXISTS (SELECT FROM freetier.ledger l WHERE l.hold_id = x.hold_id)
              AND NOT EXISTS (SELECT FROM freetier.ledger_archive a WHERE a.hold_id = x.hold_id)
              AND NOT EXISTS (SELECT FROM freetier.request_keys k WHERE k.hold_id = x.hold_id)
              FOR UPDATE SKIP LOCKED);
    GET DIAGNOSTICS removed = ROW_COUNT;
    kind := 'holds';
    RETURN NEXT;

    DELETE FROM freetier.credit_holds h
     WHERE h.hold_id IN (
           SELECT x.hold_id FROM freetier.credit_holds x
            WHERE x.state <> 'held' AND x.ended_at < cutoff
              AND NOT EXISTS (SELECT FROM freetier.account_ledger l WHERE l.hold_id = x.hold_id)
              AND NOT EXISTS (SELECT FROM freetier.account_ledger_archive a WHERE a.hold_id = x.hold_id)
              AND NOT EXISTS (SELECT FROM freetier.request_keys k WHERE k.hold_id = x.hold_id)
              FOR UPDATE SKIP LOCKED);
    GET DIAGNOSTICS removed = ROW_COUNT;
    kind := 'credit_holds';
    RETURN NEXT;

    DELETE FROM freetier.trial_networks n
     WHERE n.network IN (
           SELECT x.network FROM freetier.trial_networks x
            WHERE x.last_minted < cutoff
              FOR UPDATE SKIP LOCKED);
    GET DIAGNOSTICS removed = ROW_COUNT;
    kind := 'trial_networks';
    RETURN NEXT;
END
$$;
COMMENT ON FUNCTION freetier_prune(interval) IS
    'delete ended holds, finished credit holds and trial network rows older than retention (30 days at least) that no ledger entry or grant names; rows removed per kind';
REVOKE ALL ON FUNCTION freetier_prune(interval) FROM PUBLIC;

CREATE FUNCTION freetier_checkpoint_ledger(pool text)
    RETURNS TABLE (stripe int, seq bigint, balance_sats bigint)
    AS 'MODULE_PATHNAME', 'freetier_checkpoint_ledger'
    LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION freetier_checkpoint_ledger(text) IS
    'write a checkpoint entry on every stripe of the pool that no other transaction has locked (seq NULL for those it skipped)';
REVOKE ALL ON FUNCTION freetier_checkpoint_ledger(text) FROM PUBLIC;

CREATE FUNCTION freetier_archive_ledger(pool text)
    RETURNS TABLE (stripe int, checkpoint_seq bigint, archived bigint)
    AS 'MODULE_PATHNAME', 'freetier_archive_ledger'
    LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION freetier_archive_ledger(text) IS
    'move each stripe''s entries before its latest checkpoint to freetier.ledger_archive';
REVOKE ALL ON FUNCTION freetier_archive_ledger(text) FROM PUBLIC;

CREATE FUNCTION freetier_ledger_archive(pool text)
    RETURNS SETOF freetier.ledger_archive
    LANGUAGE plpgsql STABLE PARALLEL RESTRICTED SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF NOT EXISTS (SELECT FROM freetier.pools p WHERE p.pool = $1) THEN
        RAISE EXCEPTION 'pool "%" does not exist', $1
            USING ERRCODE = 'undefined_object',
                  DETAIL = 'Pools are created with freetier_create_pool.';
    END IF;
    RETURN QUERY SELECT a.* FROM freetier.ledger_archive a WHERE a.pool = $1 ORDER BY a.stripe, a.seq;
END
$$;
COMMENT ON FUNCTION freetier_ledger_archive(text) IS
    'the archived entries of a pool, to export before freetier_drop_ledger_archive';
REVOKE ALL ON FUNCTION freetier_ledger_archive(text) FROM PUBLIC;

CREATE FUNCTION freetier_verify_ledger_archive(pool text DEFAULT NULL)
    RETURNS TABLE (pool text, entries bigint, ok boolean, first_bad_entry bigint)
    AS 'MODULE_PATHNAME', 'freetier_verify_ledger_archive'
    LANGUAGE C STABLE PARALLEL RESTRICTED SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION freetier_verify_ledger_archive(text) IS
    'recompute the hash chain of every stripe''s archived entries up to the checkpoint the stripe''s chain starts at';
REVOKE ALL ON FUNCTION freetier_verify_ledger_archive(text) FROM PUBLIC;

CREATE FUNCTION freetier_drop_ledger_archive(pool text)
    RETURNS bigint
    AS 'MODULE_PATHNAME', 'freetier_drop_ledger_archive'
    LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION freetier_drop_ledger_archive(text) IS
    'delete every archived entry of the pool (export them first); returns how many';
REVOKE ALL ON FUNCTION freetier_drop_ledger_archive(text) FROM PUBLIC;

------------------------------------------------------------------------------
-- Import (issue 9; src/import.c).  freetier_import_pool,
-- freetier_import_subject and freetier_import_account start freetier from
-- a seed deployment's state, operator-only, each once per ref (recorded in
-- freetier.imports).  Every imported value is a ledger entry of kind
-- 'import': on the pool's stripes (a subject's is an entry of delta 0
-- whose payment_ref is the import as JSON), and on the account's chain one
-- per bucket moved (per backend for the allowance used).
------------------------------------------------------------------------------

-- One row per import applied: its arguments and its result, so that a
-- repeated ref returns the first result.  Append-only, like the ledgers.
CREATE TABLE freetier.imports (
    kind       text NOT NULL CHECK (kind IN ('pool', 'subject', 'account')),
    ref        text NOT NULL CHECK (octet_length(ref) BETWEEN 1 AND 256),
    target     text NOT NULL,
    args       jsonb NOT NULL,
    result     bigint NOT NULL,
    created_at timestamptz NOT NULL,
    PRIMARY KEY (kind, ref)
);
COMMENT ON TABLE freetier.imports IS
    'imports applied, with their arguments (instants in UTC) and result: a repeated ref returns the first result';
CREATE TRIGGER imports_append_only BEFORE UPDATE OR DELETE ON freetier.imports
    FOR EACH ROW EXECUTE FUNCTION freetier.refuse_change();
CREATE TRIGGER imports_no_truncate BEFORE TRUNCATE ON freetier.imports
    FOR EACH STATEMENT EXECUTE FUNCTION freetier.refuse_change();
ALTER TABLE freetier.imports ENABLE ALWAYS TRIGGER imports_append_only;
ALTER TABLE freetier.imports ENABLE ALWAYS TRIGGER imports_no_truncate;
SELECT pg_catalog.pg_extension_config_dump('freetier.imports', '');
REVOKE ALL ON freetier.imports FROM PUBLIC;

CREATE FUNCTION freetier_import_pool(pool text, balance_sats bigint, ref text)
    RETURNS bigint
    AS 'MODULE_PATHNAME', 'freetier_import_pool'
    LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION freetier_import_pool(text, bigint, text) IS
    'set the balance of a pool that has had no traffic (only seed entries and subjects'' imports), once per ref: import entries on its stripes; returns the balance';
REVOKE ALL ON FUNCTION freetier_import_pool(text, bigint, text) FROM PUBLIC;

CREATE FUNCTION freetier_import_subject(subject text, tier text, window_start timestamptz,
                                        window_used_sats bigint, ref text,
                                        pool text DEFAULT 'default')
    RETURNS bigint
    AS 'MODULE_PATHNAME', 'freetier_import_subject'
    LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION freetier_import_subject(text, text, timestamptz, bigint, text, text) IS
    'create a subject with its tier and its current window''s use, once per ref: an import entry of 0 sats on the pool naming it; returns window_used_sats';
REVOKE ALL ON FUNCTION freetier_import_subject(text, text, timestamptz, bigint, text, text) FROM PUBLIC;

CREATE FUNCTION freetier_import_account(subject text, plan text, anniversary timestamptz,
                                        period_start timestamptz, period_used bigint,
                                        purchased_balance bigint, ref text,
                                        backend_use jsonb DEFAULT NULL)
    RETURNS bigint
    AS 'MODULE_PATHNAME', 'freetier_import_account'
    LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION freetier_import_account(text, text, timestamptz, timestamptz, bigint, bigint, text, jsonb) IS
    'open an account with its plan, anniversary, period use (per backend) and purchased balance, once per ref: import entries on its chain; returns the purchased balance';
REVOKE ALL ON FUNCTION freetier_import_account(text, text, timestamptz, timestamptz, bigint, bigint, text, jsonb) FROM PUBLIC;

-- Anchors (issue 9): every chain's head, for the operator to keep outside
-- the database (as rows, or as lines in the server log), and the check of
-- a kept one (src/anchor.c).  A chain is named 'pool:<stripe>:<pool>' or
-- 'account:<subject>'.

CREATE FUNCTION freetier_ledger_anchor()
    RETURNS TABLE (chain text, seq bigint, head_hash bytea)
    AS 'MODULE_PATHNAME', 'freetier_ledger_anchor'
    LANGUAGE C STABLE PARALLEL RESTRICTED SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION freetier_ledger_anchor() IS
    'every chain (each stripe of each pool, each account) and its head''s seq and hash, read at one instant: anchors to keep outside the database';
REVOKE ALL ON FUNCTION freetier_ledger_anchor() FROM PUBLIC;

CREATE FUNCTION freetier_log_anchors()
    RETURNS bigint
    AS 'MODULE_PATHNAME', 'freetier_log_anchors'
    LANGUAGE C VOLATILE PARALLEL RESTRICTED SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION freetier_log_anchors() IS
    'write freetier_ledger_anchor''s rows to the server log, one line per chain (ops/pg_cron_anchors.sql runs it daily); returns how many';
REVOKE ALL ON FUNCTION freetier_log_anchors() FROM PUBLIC;

CREATE FUNCTION freetier_verify_anchor(chain text, seq bigint, head_hash bytea)
    RETURNS boolean
    AS 'MODULE_PATHNAME', 'freetier_verify_anchor'
    LANGUAGE C STABLE PARALLEL RESTRICTED SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION freetier_verify_anchor(text, bigint, bytea) IS
    'true only when the chain''s entry seq still has that hash and the whole chain verifies up to its owning row';
REVOKE ALL ON FUNCTION freetier_verify_anchor(text, bigint, bytea) FROM PUBLIC;

-- ---------------------------------------------------------------------------
-- Grant ids a dump cannot wind back (issue 8, Backups).  pg_dump wrote the
-- grants sequence's value (setval) into every dump, and loading an older
-- dump onto a database that had moved on wound it back, so the next
-- freetier_record_grant failed on a duplicate grant_id.  The sequence is
-- no longer in pg_dump's list, and is renamed, so an older dump's setval
-- finds no such sequence.  Instead, each stripe keeps the highest grant_id
-- settled from it (pool_stripes.max_grant_id, written by the settle's own
-- stripe update: no statement more per grant), and a restored stripe row
-- moves the sequence past it, never back (restore_pool_stripe).
-- ---------------------------------------------------------------------------
ALTER EXTENSION freetier DROP SEQUENCE freetier.grants_grant_id_seq;
ALTER EXTENSION freetier ADD SEQUENCE freetier.grants_grant_id_seq;
ALTER SEQUENCE freetier.grants_grant_id_seq RENAME TO grant_ids;
COMMENT ON SEQUENCE freetier.grant_ids IS
    'the grant_ids freetier_record_grant hands out; not dumped: a restored stripe row (max_grant_id) moves it forward';

ALTER TABLE freetier.pool_stripes ADD COLUMN max_grant_id bigint NOT NULL DEFAULT 0;
COMMENT ON COLUMN freetier.pool_stripes.max_grant_id IS
    'the highest grant_id of a settle on this stripe; a restore moves freetier.grant_ids past it';
UPDATE freetier.pool_stripes s
   SET max_grant_id = g.max_grant_id
  FROM (SELECT h.pool, h.stripe, max(g.grant_id) AS max_grant_id
          FROM freetier.grants g JOIN freetier.holds h USING (hold_id)
         GROUP BY h.pool, h.stripe) g
 WHERE g.pool = s.pool AND g.stripe = s.stripe;

CREATE OR REPLACE FUNCTION freetier_record_grant(hold_id uuid, actual_sats bigint, request_hash text DEFAULT NULL)
    RETURNS TABLE (grant_id bigint, absorbed_sats bigint, returned_sats bigint,
                   charge_sats bigint, pool_balance_after bigint)
    AS 'MODULE_PATHNAME', 'freetier_record_grant_v4'
    LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp;

-- A restore replaces a stripe the install made, its owed sats and
-- max_grant_id too; every restored stripe row moves freetier.grant_ids
-- past its max_grant_id, so that the next grant_id is above every
-- restored one.  Never back: a dump loaded onto a database that has
-- moved on leaves the sequence as it is.
CREATE OR REPLACE FUNCTION freetier.restore_pool_stripe() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM pg_catalog.setval('freetier.grant_ids', NEW.max_grant_id)
       FROM freetier.grant_ids
      WHERE NEW.max_grant_id > CASE WHEN is_called THEN last_value ELSE last_value - 1 END;
    IF NEW.head_seq > 0 THEN
        UPDATE freetier.pool_stripes s
           SET balance_sats = NEW.balance_sats, owed_sats = NEW.owed_sats,
               head_seq = NEW.head_seq, head_hash = NEW.head_hash,
               max_grant_id = NEW.max_grant_id
         WHERE s.pool = NEW.pool AND s.stripe = NEW.stripe
           AND (s.head_seq = 0
                OR s.head_seq = 1 AND EXISTS (SELECT FROM freetier.ledger l
                                               WHERE l.pool = s.pool AND l.stripe = s.stripe
                                                 AND l.seq = 1 AND l.created_at = '-infinity'));
        IF FOUND THEN
            RETURN NULL;
        END IF;
    ELSIF EXISTS (SELECT FROM freetier.pool_stripes s
                   WHERE s.pool = NEW.pool AND s.stripe = NEW.stripe) THEN
        RETURN NULL;                -- an empty stripe adds nothing to one that exists
    END IF;
    RETURN NEW;
END
$$;
------------------------------------------------------------------------------
-- Settings in the chains (issue 9, "Settings outside the chain").  A
-- setting that moves money is a chained entry, and verification compares
-- the stored row with the latest chained value, so an edit made outside
-- the functions is reported.  A pool's credit_pct, hold_ttl and
-- max_hold_ttl: a 'settings' entry on its stripe 0 (create_pool,
-- configure_pool), carried on by each checkpoint there (src/pool.c).  An
-- account's anniversary and period start: its 'open' entry, then a
-- 'settings' entry on its chain (set_plan, import_account; src/account.c).
-- A setter never chains an edit made outside them.  The upgrade chains
-- the settings 0.3 kept outside: those of every pool not at the defaults,
-- and of every account whose dates are not its open entry's.
------------------------------------------------------------------------------

CREATE FUNCTION freetier.period_start(period text, anniversary timestamptz, at timestamptz)
    RETURNS timestamptz
    AS 'MODULE_PATHNAME', 'freetier_period_start'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION freetier.period_start(text, timestamptz, timestamptz) IS
    'the start of the period of a plan of `period` from `anniversary` that contains `at`';
REVOKE ALL ON FUNCTION freetier.period_start(text, timestamptz, timestamptz) FROM PUBLIC;

CREATE OR REPLACE FUNCTION freetier_verify_account_ledger(subject text DEFAULT NULL)
    RETURNS TABLE (subject text, entries bigint, ok boolean, first_bad_entry bigint)
    AS 'MODULE_PATHNAME', 'freetier_verify_account_ledger_v4'
    LANGUAGE C STABLE PARALLEL RESTRICTED SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION freetier_verify_account_ledger(text) IS
    'recompute each account''s hash chain and balances, and check its plan, anniversary and period start against it; first_bad_entry is the seq of the first entry that does not match';

CREATE OR REPLACE FUNCTION freetier_set_plan(subject text, plan text)
    RETURNS TABLE (plan text, anniversary timestamptz, period_start timestamptz)
    AS 'MODULE_PATHNAME', 'freetier_set_plan_v4'
    LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION freetier_set_plan(text, text) IS
    'move an account to a plan; from a lifetime plan to a periodic one re-anchors the anniversary now (a settings entry)';

-- Used here only, then dropped: called later they would chain whatever
-- the rows hold.  Each writes an entry only where the row is not what the
-- chain already says (the defaults, an account's open entry).
CREATE FUNCTION freetier.chain_pool_settings(pool text)
    RETURNS void
    AS 'MODULE_PATHNAME', 'freetier_chain_pool_settings'
    LANGUAGE C VOLATILE PARALLEL UNSAFE
    SET search_path = pg_catalog, pg_temp;
CREATE FUNCTION freetier.chain_account_settings(subject text)
    RETURNS void
    AS 'MODULE_PATHNAME', 'freetier_chain_account_settings'
    LANGUAGE C VOLATILE PARALLEL UNSAFE
    SET search_path = pg_catalog, pg_temp;
SELECT freetier.chain_pool_settings(p.pool) FROM freetier.pools p ORDER BY p.pool;
SELECT freetier.chain_account_settings(a.subject) FROM freetier.accounts a ORDER BY a.subject;
DROP FUNCTION freetier.chain_pool_settings(text);
DROP FUNCTION freetier.chain_account_settings(text);

------------------------------------------------------------------------------
-- Retention of the accounts' ledger, and where every chain starts (issue 8;
-- src/ledger_archive.c, src/verify.c).
--
-- As for the pools' ledger (the retention block above): a 'checkpoint' on
-- an account's chain (freetier_checkpoint_account_ledger) commits to the
-- account as it is, its four counters and its totals and plan (the entry's
-- ref); freetier_archive_account_ledger moves the entries before each
-- account's latest checkpoint to freetier.account_ledger_archive, which
-- verifies on its own (freetier_verify_account_ledger_archive) and which
-- the operator exports (freetier_account_ledger_archive) and drops
-- (freetier_drop_account_ledger_archive).
--
-- Every archive move records where the chain now starts, in
-- freetier.ledger_chain_starts and freetier.account_chain_starts
-- (append-only; no row: seq 1), and verification requires the chain to
-- start exactly there: entries deleted from a chain's start down to a
-- checkpoint no longer look archived.
------------------------------------------------------------------------------

-- Entries moved out of freetier.account_ledger, as they were there.
CREATE TABLE freetier.account_ledger_archive (
    subject       text NOT NULL,
    seq           bigint NOT NULL,
    kind          text NOT NULL,
    bucket        text NOT NULL,
    delta         bigint NOT NULL,
    balance_after bigint NOT NULL,
    backend       text,
    hold_id       uuid,
    ref           text,
    created_at    timestamptz NOT NULL,
    prev_hash     bytea NOT NULL,
    hash          bytea NOT NULL,
    PRIMARY KEY (subject, seq)
);
COMMENT ON TABLE freetier.account_ledger_archive IS
    'account ledger entries moved out of freetier.account_ledger by freetier_archive_account_ledger: each account''s end right before the checkpoint its chain starts at';
SELECT pg_catalog.pg_extension_config_dump('freetier.account_ledger_archive', '');
REVOKE ALL ON freetier.account_ledger_archive FROM PUBLIC;

-- Where each chain starts since its latest archive move: the seq of the
-- last entry archived (the chain goes on at archived_seq + 1).  One row per
-- move that advanced it, never changed: a chain starts after the greatest.
CREATE TABLE freetier.ledger_chain_starts (
    pool         text NOT NULL,
    stripe       int NOT NULL,
    archived_seq bigint NOT NULL CHECK (archived_seq >= 1),
    PRIMARY KEY (pool, stripe, archived_seq)
);
COMMENT ON TABLE freetier.ledger_chain_starts IS
    'each archive move of a stripe''s chain: the seq of the last entry it archived (the chain starts after the greatest)';
CREATE TABLE freetier.account_chain_starts (
    subject      text NOT NULL,
    archived_seq bigint NOT NULL CHECK (archived_seq >= 1),
    PRIMARY KEY (subject, archived_seq)
);
COMMENT ON TABLE freetier.account_chain_starts IS
    'each archive move of an account''s chain: the seq of the last entry it archived (the chain starts after the greatest)';

-- The account ledger and its archive refuse UPDATE and DELETE from every
-- role but the archive move's and the drop's own deletes, as the pools'
-- do; the chain starts refuse every change.
DROP TRIGGER account_ledger_append_only ON freetier.account_ledger;
CREATE TRIGGER account_ledger_append_only BEFORE UPDATE OR DELETE ON freetier.account_ledger
    FOR EACH ROW EXECUTE FUNCTION freetier.guard_entries();
ALTER TABLE freetier.account_ledger ENABLE ALWAYS TRIGGER account_ledger_append_only;
CREATE TRIGGER account_ledger_archive_append_only BEFORE UPDATE OR DELETE ON freetier.account_ledger_archive
    FOR EACH ROW EXECUTE FUNCTION freetier.guard_entries();
CREATE TRIGGER account_ledger_archive_no_truncate BEFORE TRUNCATE ON freetier.account_ledger_archive
    FOR EACH STATEMENT EXECUTE FUNCTION freetier.refuse_change();
ALTER TABLE freetier.account_ledger_archive ENABLE ALWAYS TRIGGER account_ledger_archive_append_only;
ALTER TABLE freetier.account_ledger_archive ENABLE ALWAYS TRIGGER account_ledger_archive_no_truncate;
CREATE TRIGGER ledger_chain_starts_append_only BEFORE UPDATE OR DELETE ON freetier.ledger_chain_starts
    FOR EACH ROW EXECUTE FUNCTION freetier.refuse_change();
CREATE TRIGGER ledger_chain_starts_no_truncate BEFORE TRUNCATE ON freetier.ledger_chain_starts
    FOR EACH STATEMENT EXECUTE FUNCTION freetier.refuse_change();
CREATE TRIGGER account_chain_starts_append_only BEFORE UPDATE OR DELETE ON freetier.account_chain_starts
    FOR EACH ROW EXECUTE FUNCTION freetier.refuse_change();
CREATE TRIGGER account_chain_starts_no_truncate BEFORE TRUNCATE ON freetier.account_chain_starts
    FOR EACH STATEMENT EXECUTE FUNCTION freetier.refuse_change();
ALTER TABLE freetier.ledger_chain_starts ENABLE ALWAYS TRIGGER ledger_chain_starts_append_only;
ALTER TABLE freetier.ledger_chain_starts ENABLE ALWAYS TRIGGER ledger_chain_starts_no_truncate;
ALTER TABLE freetier.account_chain_starts ENABLE ALWAYS TRIGGER account_chain_starts_append_only;
ALTER TABLE freetier.account_chain_starts ENABLE ALWAYS TRIGGER account_chain_starts_no_truncate;
SELECT pg_catalog.pg_extension_config_dump('freetier.ledger_chain_starts', '');
SELECT pg_catalog.pg_extension_config_dump('freetier.account_chain_starts', '');
REVOKE ALL ON freetier.ledger_chain_starts FROM PUBLIC;
REVOKE ALL ON freetier.account_chain_starts FROM PUBLIC;

-- freetier_verify_account_ledger (0.4's C symbol, bound by the settings
-- block above) also reads the chain starts and the checkpoints.

CREATE FUNCTION freetier_checkpoint_account_ledger(subject text DEFAULT NULL)
    RETURNS TABLE (subject text, seq bigint)
    AS 'MODULE_PATHNAME', 'freetier_checkpoint_account_ledger'
    LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION freetier_checkpoint_account_ledger(text) IS
    'write a checkpoint entry on the account''s chain (NULL: every account''s) unless another transaction has it locked (seq NULL then); 55000, writing nothing, for an account that does not verify against its chain';
REVOKE ALL ON FUNCTION freetier_checkpoint_account_ledger(text) FROM PUBLIC;

CREATE FUNCTION freetier_archive_account_ledger(subject text DEFAULT NULL)
    RETURNS TABLE (subject text, checkpoint_seq bigint, archived bigint)
    AS 'MODULE_PATHNAME', 'freetier_archive_account_ledger'
    LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION freetier_archive_account_ledger(text) IS
    'move the account''s (NULL: every account''s) entries before its latest checkpoint to freetier.account_ledger_archive';
REVOKE ALL ON FUNCTION freetier_archive_account_ledger(text) FROM PUBLIC;

CREATE FUNCTION freetier_account_ledger_archive(subject text DEFAULT NULL)
    RETURNS SETOF freetier.account_ledger_archive
    LANGUAGE plpgsql STABLE PARALLEL RESTRICTED SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF $1 IS NOT NULL AND NOT EXISTS (SELECT FROM freetier.accounts a WHERE a.subject = $1) THEN
        RAISE EXCEPTION 'account "%" does not exist', $1
            USING ERRCODE = 'undefined_object',
                  DETAIL = 'Accounts are opened with freetier_open_account.';
    END IF;
    RETURN QUERY SELECT a.* FROM freetier.account_ledger_archive a
                  WHERE $1 IS NULL OR a.subject = $1 ORDER BY a.subject, a.seq;
END
$$;
COMMENT ON FUNCTION freetier_account_ledger_archive(text) IS
    'the archived entries of an account (NULL: of every account), to export before freetier_drop_account_ledger_archive';
REVOKE ALL ON FUNCTION freetier_account_ledger_archive(text) FROM PUBLIC;

CREATE FUNCTION freetier_verify_account_ledger_archive(subject text DEFAULT NULL)
    RETURNS TABLE (subject text, entries bigint, ok boolean, first_bad_entry bigint)
    AS 'MODULE_PATHNAME', 'freetier_verify_account_ledger_archive'
    LANGUAGE C STABLE PARALLEL RESTRICTED SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION freetier_verify_account_ledger_archive(text) IS
    'recompute the hash chain of every account''s archived entries up to the checkpoint its chain starts at, and the account''s figures there';
REVOKE ALL ON FUNCTION freetier_verify_account_ledger_archive(text) FROM PUBLIC;

CREATE FUNCTION freetier_drop_account_ledger_archive(subject text DEFAULT NULL)
    RETURNS bigint
    AS 'MODULE_PATHNAME', 'freetier_drop_account_ledger_archive'
    LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION freetier_drop_account_ledger_archive(text) IS
    'delete every archived entry of the account (NULL: of every account; export them first); returns how many';
REVOKE ALL ON FUNCTION freetier_drop_account_ledger_archive(text) FROM PUBLIC;

------------------------------------------------------------------------------
-- Keyed chains (issue 9, "Anchors"; src/chain_key.c).  With
-- freetier.chain_key_file set and freetier preloaded, new entries of every
-- chain are hashed with keyed BLAKE2b, and verification requires each chain
-- to be vouched for by the key up to its head: its last entry keyed (and
-- every entry after its first keyed one), or, with no keyed entry, a seal
-- of its head.  freetier_seal_chains seals an existing install's chains
-- once the key is loaded (README, "Keyed chains").
------------------------------------------------------------------------------

-- A chain's seal: a keyed hash of its head (seq and hash) under its anchor
-- name, which only the chain key can make.
CREATE TABLE freetier.chain_seals (
    chain text PRIMARY KEY,
    seq   bigint NOT NULL,
    seal  bytea NOT NULL
);
COMMENT ON TABLE freetier.chain_seals IS
    'each sealed chain''s head, keyed with the chain key (freetier_seal_chains)';
SELECT pg_catalog.pg_extension_config_dump('freetier.chain_seals', '');
REVOKE ALL ON freetier.chain_seals FROM PUBLIC;

CREATE FUNCTION freetier_seal_chains()
    RETURNS bigint
    AS 'MODULE_PATHNAME', 'freetier_seal_chains'
    LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION freetier_seal_chains() IS
    'seal, with the chain key, every chain that has no keyed entry and verifies (start keying an existing install); returns how many';
REVOKE ALL ON FUNCTION freetier_seal_chains() FROM PUBLIC;

------------------------------------------------------------------------------
-- Plans, tiers and credit settings in the chains (issue 9, "Settings
-- outside the chain", continued).  A plan's period, allowance and caps, a
-- tier's daily budget, and the credit settings, move money as a pool's
-- settings do, so every change of them is an entry of
-- freetier.settings_ledger: one chain per plan ('plan:<plan>'), one per
-- tier ('tier:<tier>') and one for the credit settings ('credit_settings'),
-- their heads in the owning rows.  A chain with no entry has the values the
-- install gave the row, so installs and dumps stay as they were.
-- freetier_define_plan, freetier_set_tier_budget and
-- freetier_configure_credits write through freetier.set_plan_settings,
-- freetier.set_tier_settings and freetier.set_credit_settings
-- (src/settings_ledger.c), which chain what they write when it is not the
-- chained value; a credit setting not given is taken from the chain, so a
-- setter never chains an edit made outside freetier.
-- freetier_verify_settings_ledger compares each row with its chain.  The
-- upgrade chains the plans, tiers and settings 0.3 left other than the
-- install made them.  A subject's tier and window are its own state, not
-- settings, and stay outside the chains.
------------------------------------------------------------------------------

CREATE TABLE freetier.settings_ledger (
    chain      text NOT NULL,
    seq        bigint NOT NULL CHECK (seq >= 1),
    kind       text NOT NULL CHECK (kind = 'settings'),
    settings   text NOT NULL,
    created_at timestamptz NOT NULL,
    prev_hash  bytea NOT NULL,
    hash       bytea NOT NULL,
    PRIMARY KEY (chain, seq)
);
COMMENT ON TABLE freetier.settings_ledger IS
    'every change of a plan''s, a tier''s or the credit settings'' values, hash-chained per plan, per tier and for the credit settings';
CREATE TRIGGER settings_ledger_append_only BEFORE UPDATE OR DELETE ON freetier.settings_ledger
    FOR EACH ROW EXECUTE FUNCTION freetier.refuse_change();
CREATE TRIGGER settings_ledger_no_truncate BEFORE TRUNCATE ON freetier.settings_ledger
    FOR EACH STATEMENT EXECUTE FUNCTION freetier.refuse_change();
ALTER TABLE freetier.settings_ledger ENABLE ALWAYS TRIGGER settings_ledger_append_only;
ALTER TABLE freetier.settings_ledger ENABLE ALWAYS TRIGGER settings_ledger_no_truncate;
SELECT pg_catalog.pg_extension_config_dump('freetier.settings_ledger', '');
REVOKE ALL ON freetier.settings_ledger FROM PUBLIC;

ALTER TABLE freetier.plans
    ADD COLUMN head_seq bigint NOT NULL DEFAULT 0,
    ADD COLUMN head_hash bytea NOT NULL DEFAULT pg_catalog.decode(pg_catalog.repeat('00', 32), 'hex')
        CHECK (octet_length(head_hash) = 32);
ALTER TABLE freetier.tiers
    ADD COLUMN head_seq bigint NOT NULL DEFAULT 0,
    ADD COLUMN head_hash bytea NOT NULL DEFAULT pg_catalog.decode(pg_catalog.repeat('00', 32), 'hex')
        CHECK (octet_length(head_hash) = 32);
ALTER TABLE freetier.credit_settings
    ADD COLUMN head_seq bigint NOT NULL DEFAULT 0,
    ADD COLUMN head_hash bytea NOT NULL DEFAULT pg_catalog.decode(pg_catalog.repeat('00', 32), 'hex')
        CHECK (octet_length(head_hash) = 32);

-- The setters' writes: the values, checked by the caller, and their entry.
CREATE FUNCTION freetier.set_plan_settings(plan text, period text, allowance bigint,
                                           backend_caps jsonb)
    RETURNS void
    AS 'MODULE_PATHNAME', 'freetier_set_plan_settings'
    LANGUAGE C VOLATILE PARALLEL UNSAFE
    SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION freetier.set_plan_settings(text, text, bigint, jsonb) IS
    'create or change a plan (values checked by freetier_define_plan) and chain its values';
REVOKE ALL ON FUNCTION freetier.set_plan_settings(text, text, bigint, jsonb) FROM PUBLIC;
CREATE FUNCTION freetier.set_tier_settings(tier text, daily_budget_sats bigint)
    RETURNS void
    AS 'MODULE_PATHNAME', 'freetier_set_tier_settings'
    LANGUAGE C VOLATILE PARALLEL UNSAFE
    SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION freetier.set_tier_settings(text, bigint) IS
    'create a tier or change its daily budget (checked by freetier_set_tier_budget) and chain it';
REVOKE ALL ON FUNCTION freetier.set_tier_settings(text, bigint) FROM PUBLIC;
CREATE FUNCTION freetier.set_credit_settings(default_plan text, hold_ttl interval,
                                             trial_plan text, trial_credits bigint,
                                             trials_per_network int, trial_window interval,
                                             max_hold_ttl interval)
    RETURNS void
    AS 'MODULE_PATHNAME', 'freetier_set_credit_settings'
    LANGUAGE C VOLATILE PARALLEL UNSAFE
    SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION freetier.set_credit_settings(text, interval, text, bigint, int, interval, interval) IS
    'write the credit settings (values checked by freetier_configure_credits; NULL: the chained value) and chain them';
REVOKE ALL ON FUNCTION freetier.set_credit_settings(text, interval, text, bigint, int, interval, interval) FROM PUBLIC;

CREATE OR REPLACE FUNCTION freetier_define_plan(plan text, period text, allowance bigint,
                                                backend_caps jsonb DEFAULT '{}')
    RETURNS void
    LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    cap record;
BEGIN
    IF plan IS NULL OR plan = '' OR octet_length(plan) > 256 THEN
        RAISE EXCEPTION 'invalid plan name'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'A plan name must be a non-empty string of at most 256 bytes.';
    END IF;
    IF period IS NULL OR period NOT IN ('lifetime', 'daily', 'weekly', 'monthly') THEN
        RAISE EXCEPTION 'invalid period "%"', period
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'A period is lifetime, daily, weekly or monthly.';
    END IF;
    IF allowance < 0 THEN
        RAISE EXCEPTION 'allowance must not be negative'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'Pass NULL for an unlimited allowance.';
    END IF;
    IF backend_caps IS NULL OR jsonb_typeof(backend_caps) <> 'object' THEN
        RAISE EXCEPTION 'backend_caps must be a JSON object'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'For example {"gemini": 20}: at most 20 credits of the allowance through gemini.';
    END IF;
    FOR cap IN SELECT key, value FROM jsonb_each(backend_caps) LOOP
        IF octet_length(cap.key) NOT BETWEEN 1 AND 256 OR jsonb_typeof(cap.value) <> 'number'
           OR (cap.value)::text !~ '^[0-9]{1,18}$' THEN
            RAISE EXCEPTION 'invalid cap for backend "%"', cap.key
                USING ERRCODE = 'invalid_parameter_value',
                      DETAIL = 'A cap is a whole number of credits, 0 or more, below 10^18.';
        END IF;
    END LOOP;
    IF EXISTS (SELECT FROM freetier.plans p JOIN freetier.accounts a ON a.plan = p.plan
                WHERE p.plan = freetier_define_plan.plan AND p.period <> freetier_define_plan.period) THEN
        RAISE EXCEPTION 'cannot change the period of plan "%": accounts are on it', plan
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  DETAIL = 'Their allowance used is counted per period; define a new plan and move them with freetier_set_plan.';
    END IF;
    PERFORM freetier.set_plan_settings(freetier_define_plan.plan, freetier_define_plan.period,
                                       freetier_define_plan.allowance,
                                       freetier_define_plan.backend_caps);
END
$$;
COMMENT ON FUNCTION freetier_define_plan(text, text, bigint, jsonb) IS
    'create or change a plan: period, allowance (NULL = unlimited) and caps per backend inside it; a change is a settings entry';

CREATE OR REPLACE FUNCTION freetier_set_tier_budget(tier text, daily_budget_sats bigint) RETURNS void
    LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF tier IS NULL OR tier = '' OR octet_length(tier) > 256 THEN
        RAISE EXCEPTION 'invalid tier name'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'A tier name must be a non-empty string of at most 256 bytes.';
    END IF;
    IF daily_budget_sats IS NULL OR daily_budget_sats < 0 THEN
        RAISE EXCEPTION 'daily_budget_sats must be zero or more'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = format('daily_budget_sats was %s.', coalesce(daily_budget_sats::text, 'NULL'));
    END IF;
    PERFORM freetier.set_tier_settings(freetier_set_tier_budget.tier,
                                       freetier_set_tier_budget.daily_budget_sats);
END
$$;
COMMENT ON FUNCTION freetier_set_tier_budget(text, bigint) IS
    'create a tier or change its daily budget; subjects mid-window keep max(0, budget - used); a change is a settings entry';

-- A restored tier replaces the install's while it is still as installed,
-- head included (its chain's entries come with the dump).
CREATE OR REPLACE FUNCTION freetier.restore_tier() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    UPDATE freetier.tiers t SET daily_budget_sats = NEW.daily_budget_sats,
           head_seq = NEW.head_seq, head_hash = NEW.head_hash
     WHERE t.tier = NEW.tier AND t.head_seq = 0
       AND (t.tier, t.daily_budget_sats) IN (VALUES ('new', 0::bigint), ('established', 50),
                                                    ('trusted', 200), ('elite', 1000));
    IF FOUND THEN
        RETURN NULL;
    END IF;
    RETURN NEW;
END
$$;

-- A restored plan replaces the install's while it is still as installed,
-- head included (its chain's entries come with the dump).
CREATE OR REPLACE FUNCTION freetier.restore_plan() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    UPDATE freetier.plans p SET period = NEW.period, allowance = NEW.allowance,
           backend_caps = NEW.backend_caps, head_seq = NEW.head_seq, head_hash = NEW.head_hash
     WHERE p.plan = NEW.plan AND p.head_seq = 0
       AND ((p.plan, p.period, p.allowance, p.backend_caps) IN (
               ('core', 'lifetime', 100::bigint, '{"gemini": 25}'::jsonb),
               ('trial', 'lifetime', 0, '{}'), ('pro', 'monthly', 1000, '{}'))
            OR p.plan = 'max' AND p.period = 'monthly'
               AND p.allowance IS NULL AND p.backend_caps = '{"gemini": 2000}');
    IF FOUND THEN
        RETURN NULL;
    END IF;
    RETURN NEW;
END
$$;

CREATE FUNCTION freetier_verify_settings_ledger(chain text DEFAULT NULL)
    RETURNS TABLE (chain text, entries bigint, ok boolean, first_bad_entry bigint)
    AS 'MODULE_PATHNAME', 'freetier_verify_settings_ledger'
    LANGUAGE C STABLE PARALLEL RESTRICTED SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION freetier_verify_settings_ledger(text) IS
    'recompute each settings chain (''plan:<plan>'', ''tier:<tier>'', ''credit_settings'') and check the plans, tiers and credit_settings rows against it; first_bad_entry is the seq of the first entry that does not match';
REVOKE ALL ON FUNCTION freetier_verify_settings_ledger(text) FROM PUBLIC;

-- Writing each row's values again chains those that are not the install's.
SELECT freetier.set_plan_settings(p.plan, p.period, p.allowance, p.backend_caps)
  FROM freetier.plans p ORDER BY p.plan;
SELECT freetier.set_tier_settings(t.tier, t.daily_budget_sats) FROM freetier.tiers t ORDER BY t.tier;
SELECT freetier.set_credit_settings(s.default_plan, s.hold_ttl, s.trial_plan, s.trial_credits,
                                    s.trials_per_network, s.trial_window, s.max_hold_ttl)
  FROM freetier.credit_settings s;

-- freetier_estimate reads a striped pool's tables through their indexes in
-- C, with no SQL statement (src/index_read.c): it needs neither the
-- owner's rights to read them nor a pinned search_path, and switching
-- both on every call cost 7 % of its calls per second at 16 clients.
ALTER FUNCTION freetier_estimate(text, bigint, text) SECURITY INVOKER RESET search_path;
