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
        'freetier_decide(text,bigint,text)',
        'freetier_estimate(text,bigint,text)',
        'freetier_record_grant(uuid,bigint,text)',
        'freetier_release(uuid,text)',
        'freetier_open_account(text)',
        'freetier_account_status(text)',
        'freetier_route(text,text[],bigint)',
        'freetier_reserve_credits(text,bigint,text)',
        'freetier_settle_credits(uuid,bigint)',
        'freetier_spend_credits(text,bigint,text)',
        'freetier_mint_trial(inet)',
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
        'freetier_pool_status(text)'])
$$;
COMMENT ON FUNCTION freetier_grant_monitor(regrole) IS
    'let a role read freetier''s metrics and pool status (pg_monitor members may already)';
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
        'freetier_create_pool(text,bigint,numeric,interval,integer)',
        'freetier_configure_pool(text,numeric,interval,integer)',
        'freetier_verify_ledger(text)',
        'freetier_prune(interval)',
        'freetier_checkpoint_ledger(text)',
        'freetier_archive_ledger(text)',
        'freetier_ledger_archive(text)',
        'freetier_verify_ledger_archive(text)',
        'freetier_drop_ledger_archive(text)',
        'freetier_expire_holds()',
        'freetier_open_account(text,text)',
        'freetier_add_credits(text,bigint,text,text)',
        'freetier_set_plan(text,text)',
        'freetier_define_plan(text,text,bigint,jsonb)',
        'freetier_configure_credits(text,interval,text,bigint,integer,interval)',
        'freetier_verify_account_ledger(text)',
        'freetier_reset_counters()'])
$$;
COMMENT ON FUNCTION freetier_grant_operator(regrole) IS
    'let a role run freetier: everything an application and a monitor may, plus credits, tiers, pools, plans and checks';
REVOKE ALL ON FUNCTION freetier_grant_operator(regrole) FROM PUBLIC;

-- Every pool as a monitoring system reads it.
CREATE FUNCTION freetier_pools()
    RETURNS TABLE (pool text, balance_sats bigint, available_sats bigint, held_sats bigint,
                   live_holds bigint, expired_holds bigint, expired_sats bigint,
                   credit_pct numeric, hold_ttl interval, stripes int)
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
           p.stripes
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

------------------------------------------------------------------------------
-- Retention (issue 8): pruning ended rows, ledger checkpoints, the archive.
--
-- freetier_prune deletes ended holds, finished credit holds and trial
-- network rows older than a retention period, never a live row and never
-- one that a ledger entry (archived or not) or a grant names.
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
              FOR UPDATE SKIP LOCKED);
    GET DIAGNOSTICS removed = ROW_COUNT;
    kind := 'holds';
    RETURN NEXT;

    DELETE FROM freetier.credit_holds h
     WHERE h.hold_id IN (
           SELECT x.hold_id FROM freetier.credit_holds x
            WHERE x.state <> 'held' AND x.ended_at < cutoff
              AND NOT EXISTS (SELECT FROM freetier.account_ledger l WHERE l.hold_id = x.hold_id)
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
    LANGUAGE sql STABLE PARALLEL RESTRICTED SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
    SELECT * FROM freetier.ledger_archive a WHERE a.pool = $1 ORDER BY a.stripe, a.seq
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
