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
        'freetier_reset_counters()',
        'freetier_list_subjects(text,integer)',
        'freetier_list_accounts(text,integer)',
        'freetier_adjust_pool(text,bigint,text,text)',
        'freetier_reverse_credit(text,text)',
        'freetier_refund_credits(text,text,text)',
        'freetier_balance_at(text,timestamp with time zone)',
        'freetier_account_balance_at(text,timestamp with time zone)'])
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

-- A restore replaces a stripe the install made, owed sats too.
CREATE OR REPLACE FUNCTION freetier.restore_pool_stripe() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF NEW.head_seq > 0 THEN
        UPDATE freetier.pool_stripes s
           SET balance_sats = NEW.balance_sats, owed_sats = NEW.owed_sats,
               head_seq = NEW.head_seq, head_hash = NEW.head_hash
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

ALTER TABLE freetier.account_ledger
    DROP CONSTRAINT account_ledger_kind_check,
    ADD CONSTRAINT account_ledger_kind_check
        CHECK (kind IN ('open', 'spend', 'rollover', 'plan_change', 'purchase', 'grant',
                        'trial', 'carry_in', 'carry_out', 'refund'));

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
    RETURN (SELECT LEAST(coalesce(sum(l.delta_sats), 0), 9223372036854775807)::bigint
              FROM freetier.ledger l
             WHERE l.pool = $1 AND l.created_at <= $2 AND l.kind <> ALL ('{owed,repay}'));
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
    RETURN (SELECT coalesce(sum(l.delta), 0)::bigint
              FROM freetier.account_ledger l
             WHERE l.subject = $1 AND l.bucket = 'purchased' AND l.created_at <= $2);
END
$$;
COMMENT ON FUNCTION freetier_account_balance_at(text, timestamptz) IS
    'an account''s purchased balance at an instant: the sum of its purchased entries up to then';
REVOKE ALL ON FUNCTION freetier_account_balance_at(text, timestamptz) FROM PUBLIC;

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
