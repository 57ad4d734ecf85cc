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
        'freetier_create_pool(text,bigint,numeric,interval,integer,bigint)',
        'freetier_configure_pool(text,numeric,interval,integer,bigint)',
        'freetier_verify_ledger(text)',
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
-- Log lines and the low-water mark (issue 8, "Logs"; src/log_lines.c).
-- freetier writes a line to the server log when a decide runs a pool dry
-- or takes it to or below its low-water mark, when a sweep expires holds,
-- and when a ledger fails verification.  The mark is a new pool setting:
-- 0 (the default, as before: no such line) up to 10^18 sats.  create_pool
-- and configure_pool take it: new signatures, so their GRANTs are given
-- again by freetier_grant_operator.  decide keeps its signature and binds
-- the 0.4 C function, which reads the mark.
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

-- A dumped pool row also carries its mark (see 0.3's restore_pool).
CREATE OR REPLACE FUNCTION freetier.restore_pool() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    UPDATE freetier.pools p
       SET credit_pct = NEW.credit_pct, hold_ttl = NEW.hold_ttl,
           stripes = NEW.stripes, low_water_sats = NEW.low_water_sats,
           created_at = NEW.created_at
     WHERE p.pool = NEW.pool
       AND (p.pool, p.credit_pct, p.hold_ttl, p.stripes, p.low_water_sats)
           = ('default', 10, interval '15 minutes', 16, 0);
    IF FOUND THEN
        RETURN NULL;
    END IF;
    RETURN NEW;
END
$$;

CREATE OR REPLACE FUNCTION freetier_decide(subject text, estimated_sats bigint, pool text DEFAULT 'default')
    RETURNS TABLE (serve text, absorb_sats bigint, charge_sats bigint, hold_id uuid, reason text)
    AS 'MODULE_PATHNAME', 'freetier_decide_v4'
    LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp;

DROP FUNCTION freetier_create_pool(text, bigint, numeric, interval, int);
CREATE FUNCTION freetier_create_pool(pool text, initial_sats bigint DEFAULT 0,
                                     credit_pct numeric DEFAULT 10,
                                     hold_ttl interval DEFAULT interval '15 minutes',
                                     stripes int DEFAULT 16,
                                     low_water_sats bigint DEFAULT 0)
    RETURNS void
    AS 'MODULE_PATHNAME', 'freetier_create_pool_v4'
    LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION freetier_create_pool(text, bigint, numeric, interval, int, bigint) IS
    'create a pool over `stripes` stripes, each with a seed ledger entry of its share of initial_sats, with a low-water mark (0: none)';
REVOKE ALL ON FUNCTION freetier_create_pool(text, bigint, numeric, interval, int, bigint) FROM PUBLIC;

DROP FUNCTION freetier_configure_pool(text, numeric, interval, int);
CREATE FUNCTION freetier_configure_pool(pool text, credit_pct numeric DEFAULT NULL,
                                        hold_ttl interval DEFAULT NULL,
                                        stripes int DEFAULT NULL,
                                        low_water_sats bigint DEFAULT NULL)
    RETURNS void
    AS 'MODULE_PATHNAME', 'freetier_configure_pool_v4'
    LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION freetier_configure_pool(text, numeric, interval, int, bigint) IS
    'change a pool''s credit_pct, hold_ttl (new holds only), number of active stripes or low-water mark; NULL keeps a value';
REVOKE ALL ON FUNCTION freetier_configure_pool(text, numeric, interval, int, bigint) FROM PUBLIC;
