/*
 * freetier 0.2 -> 0.2.1: bounds on settings.
 *
 * A hold TTL past 30 days, or a trial window past 366 days, was accepted
 * and then broke every later decide, reserve or mint (a timestamp out of
 * range).  From 0.2.1 both are refused when they are set (22023), and a
 * trial window is a duration like a hold TTL: days, hours, minutes or
 * seconds, no months.  freetier_create_pool checks the same bound in C.
 * trial_credits is at most 10^18, the bound of every credit counter.
 *
 * The other 0.2.1 fixes are in the C library and need no SQL.
 */
\echo Use "ALTER EXTENSION freetier UPDATE TO '0.2.1'" to load this file. \quit

-- Settings made before 0.2.1 may be past the new bounds: refuse to update
-- until they are changed, rather than carry them on.
DO $$
DECLARE
    bad text;
BEGIN
    SELECT string_agg(x, '; ') INTO bad FROM (
        SELECT format('pool %s has hold_ttl %s', p.pool, p.hold_ttl)
          FROM freetier.pools p WHERE p.hold_ttl > interval '30 days'
        UNION ALL
        SELECT v.x FROM freetier.credit_settings s,
               LATERAL (VALUES (CASE WHEN s.hold_ttl > interval '30 days'
                                     THEN format('the credit settings have hold_ttl %s', s.hold_ttl) END),
                               (CASE WHEN NOT freetier.is_duration(s.trial_window)
                                       OR s.trial_window > interval '366 days'
                                     THEN format('the credit settings have trial_window %s', s.trial_window) END),
                               (CASE WHEN s.trial_credits > 1000000000000000000
                                     THEN format('the credit settings have trial_credits %s', s.trial_credits) END)) v (x)
         WHERE v.x IS NOT NULL) settings (x);
    IF bad IS NOT NULL THEN
        RAISE EXCEPTION 'cannot update freetier to 0.2.1: a setting is past its new bound'
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  DETAIL = bad || '.',
                  HINT = 'A hold_ttl may be at most 30 days and a trial_window at most 366 days, in days, hours, minutes or seconds; trial_credits at most 10^18. Change them with freetier_configure_pool or freetier_configure_credits, then update.';
    END IF;
END
$$;

-- The same bounds on the tables, so that no row past them can come back,
-- for example from a dump of a 0.2 database restored into 0.2.1.
ALTER TABLE freetier.pools
    DROP CONSTRAINT pools_hold_ttl_check,
    ADD CONSTRAINT pools_hold_ttl_check
        CHECK (freetier.is_duration(hold_ttl) AND hold_ttl <= interval '30 days');
ALTER TABLE freetier.credit_settings
    DROP CONSTRAINT credit_settings_hold_ttl_check,
    ADD CONSTRAINT credit_settings_hold_ttl_check
        CHECK (freetier.is_duration(hold_ttl) AND hold_ttl <= interval '30 days'),
    DROP CONSTRAINT credit_settings_trial_window_check,
    ADD CONSTRAINT credit_settings_trial_window_check
        CHECK (freetier.is_duration(trial_window) AND trial_window <= interval '366 days'),
    DROP CONSTRAINT credit_settings_trial_credits_check,
    ADD CONSTRAINT credit_settings_trial_credits_check
        CHECK (trial_credits >= 0 AND trial_credits <= 1000000000000000000);

CREATE OR REPLACE FUNCTION freetier_configure_pool(pool text, credit_pct numeric DEFAULT NULL,
                                                   hold_ttl interval DEFAULT NULL) RETURNS void
    LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF credit_pct IS NOT NULL AND (credit_pct < 0 OR credit_pct > 100) THEN
        RAISE EXCEPTION 'credit_pct must be between 0 and 100'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = format('credit_pct was %s.', credit_pct);
    END IF;
    IF NOT freetier.is_duration(hold_ttl) THEN
        RAISE EXCEPTION 'hold_ttl must be a positive duration'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = format('hold_ttl was %s.', hold_ttl),
                  HINT = 'Give days, hours, minutes or seconds, none negative.';
    END IF;
    IF hold_ttl > interval '30 days' THEN
        RAISE EXCEPTION 'hold_ttl must be at most 30 days'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = format('hold_ttl was %s.', hold_ttl);
    END IF;
    UPDATE freetier.pools p
       SET credit_pct = coalesce(freetier_configure_pool.credit_pct, p.credit_pct),
           hold_ttl = coalesce(freetier_configure_pool.hold_ttl, p.hold_ttl)
     WHERE p.pool = freetier.require_pool(freetier_configure_pool.pool);
END
$$;

CREATE OR REPLACE FUNCTION freetier_configure_credits(default_plan text DEFAULT NULL,
                                                      hold_ttl interval DEFAULT NULL,
                                                      trial_plan text DEFAULT NULL,
                                                      trial_credits bigint DEFAULT NULL,
                                                      trials_per_network int DEFAULT NULL,
                                                      trial_window interval DEFAULT NULL)
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
    UPDATE freetier.credit_settings s
       SET default_plan = coalesce(freetier_configure_credits.default_plan, s.default_plan),
           hold_ttl = coalesce(freetier_configure_credits.hold_ttl, s.hold_ttl),
           trial_plan = coalesce(freetier_configure_credits.trial_plan, s.trial_plan),
           trial_credits = coalesce(freetier_configure_credits.trial_credits, s.trial_credits),
           trials_per_network = coalesce(freetier_configure_credits.trials_per_network, s.trials_per_network),
           trial_window = coalesce(freetier_configure_credits.trial_window, s.trial_window);
END
$$;
