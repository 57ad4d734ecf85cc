/*
 * freetier 0.1 -> 0.2: credit accounts.
 *
 * Plans (an allowance per lifetime, day, week or month, or unlimited, with
 * optional caps per backend), accounts with anniversary-aligned periods and
 * a permanent purchased balance, two-phase spending on the 0.1 hold
 * machinery, backend routing, and anonymous trials capped per IPv4 address
 * and per IPv6 /64.  Every balance movement of an account is in its own
 * hash chain, like a pool's.
 *
 * A fresh 0.2 install runs freetier--0.1.sql and then this script (the
 * Makefile builds freetier--0.2.sql from the two), so an upgraded and a
 * fresh database end with the same objects.
 */
\echo Use "ALTER EXTENSION freetier UPDATE TO '0.2'" to load this file. \quit

-- Plans: what an account may spend per period.  allowance NULL = unlimited;
-- for period 'lifetime' the allowance is for the account's whole life.
CREATE TABLE freetier.plans (
    plan         text PRIMARY KEY CHECK (octet_length(plan) BETWEEN 1 AND 256),
    period       text NOT NULL CHECK (period IN ('lifetime', 'daily', 'weekly', 'monthly')),
    allowance    bigint CHECK (allowance >= 0),
    -- caps per backend inside the allowance, e.g. {"gemini": 20}
    backend_caps jsonb NOT NULL DEFAULT '{}'::jsonb
                 CHECK (jsonb_typeof(backend_caps) = 'object')
);

-- Operator settings for accounts and trials (one row).
CREATE TABLE freetier.credit_settings (
    only_row         boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    default_plan     text NOT NULL REFERENCES freetier.plans (plan),
    hold_ttl         interval NOT NULL CHECK (freetier.is_duration(hold_ttl)),
    trial_plan       text NOT NULL REFERENCES freetier.plans (plan),
    trial_credits    bigint NOT NULL CHECK (trial_credits >= 0),
    trials_per_network int NOT NULL CHECK (trials_per_network >= 0),
    trial_window     interval NOT NULL CHECK (trial_window > interval '0')
);

-- A subject's credit account.  The allowance used is counted per kind of
-- scope: period_used for periodic plans (the period that began at
-- period_start), lifetime_plan_used for lifetime plans (never reset, so
-- going back to a lifetime plan hands out no fresh lifetime allowance), and
-- late_period_used for holds settled after the period they were taken in
-- had ended.  Each counter, and purchased_balance, is a bucket of the
-- account's ledger chain; head_* end the chain.
CREATE TABLE freetier.accounts (
    subject              text PRIMARY KEY CHECK (octet_length(subject) BETWEEN 1 AND 256),
    plan                 text NOT NULL REFERENCES freetier.plans (plan),
    anniversary          timestamptz NOT NULL,
    period_start         timestamptz NOT NULL,
    period_used          bigint NOT NULL DEFAULT 0 CHECK (period_used >= 0),
    lifetime_plan_used   bigint NOT NULL DEFAULT 0 CHECK (lifetime_plan_used >= 0),
    late_period_used     bigint NOT NULL DEFAULT 0 CHECK (late_period_used >= 0),
    purchased_balance    bigint NOT NULL DEFAULT 0 CHECK (purchased_balance >= 0),
    lifetime_spent       bigint NOT NULL DEFAULT 0 CHECK (lifetime_spent >= 0),
    lifetime_added       bigint NOT NULL DEFAULT 0 CHECK (lifetime_added >= 0),
    head_seq             bigint NOT NULL DEFAULT 0,
    head_hash            bytea NOT NULL DEFAULT pg_catalog.decode(pg_catalog.repeat('00', 32), 'hex')
                         CHECK (octet_length(head_hash) = 32),
    opened_at            timestamptz NOT NULL,
    updated_at           timestamptz NOT NULL
);

-- The allowance an account drew through each backend, per scope: the
-- period's start for periodic plans, -infinity for lifetime plans.  Caps
-- apply to the current scope's row; older rows are history.
CREATE TABLE freetier.account_backend_use (
    subject     text NOT NULL REFERENCES freetier.accounts (subject),
    backend     text NOT NULL CHECK (octet_length(backend) BETWEEN 1 AND 256),
    scope_start timestamptz NOT NULL,
    used        bigint NOT NULL CHECK (used >= 0),
    PRIMARY KEY (subject, backend, scope_start)
);

-- Reservations of credits: the same states and TTL rule as freetier.holds.
-- Live ones (state 'held', before expires_at) are counted against the
-- allowance of the scope they were taken in (see account_backend_use) and
-- against the purchased balance, so a release or an expiry never writes
-- the account.
CREATE TABLE freetier.credit_holds (
    hold_id           uuid PRIMARY KEY DEFAULT pg_catalog.gen_random_uuid(),
    subject           text NOT NULL REFERENCES freetier.accounts (subject),
    backend           text NOT NULL CHECK (octet_length(backend) BETWEEN 1 AND 256),
    allowance_credits bigint NOT NULL CHECK (allowance_credits >= 0),
    purchased_credits bigint NOT NULL CHECK (purchased_credits >= 0),
    scope_start       timestamptz NOT NULL,
    created_at        timestamptz NOT NULL,
    expires_at        timestamptz NOT NULL,
    state             text NOT NULL DEFAULT 'held'
                      CHECK (state IN ('held', 'settled', 'released', 'expired')),
    settled_credits   bigint CHECK (settled_credits >= 0),
    ended_at          timestamptz,
    end_reason        text CHECK (octet_length(end_reason) <= 256),
    CHECK (allowance_credits + purchased_credits > 0),
    CHECK ((state = 'held') = (ended_at IS NULL))
);
CREATE INDEX credit_holds_held_by_subject ON freetier.credit_holds (subject) WHERE state = 'held';

-- Purchases and admin grants, applied once per reference.
CREATE TABLE freetier.credit_additions (
    ref        text PRIMARY KEY CHECK (octet_length(ref) BETWEEN 1 AND 256),
    subject    text NOT NULL REFERENCES freetier.accounts (subject),
    source     text NOT NULL CHECK (source IN ('purchase', 'grant')),
    credits    bigint NOT NULL CHECK (credits > 0),
    created_at timestamptz NOT NULL
);

-- Anonymous trials: who minted them from where, and who claimed them.
CREATE TABLE freetier.trials (
    subject     text PRIMARY KEY REFERENCES freetier.accounts (subject),
    client_ip   inet NOT NULL,
    network     cidr NOT NULL,
    minted_at   timestamptz NOT NULL,
    claimed_by  text REFERENCES freetier.accounts (subject),
    claimed_credits bigint,
    claimed_at  timestamptz
);
CREATE INDEX trials_by_network ON freetier.trials (network, minted_at);

-- One row per network that ever minted a trial: minting locks it, so two
-- mints from one network count each other.
CREATE TABLE freetier.trial_networks (
    network     cidr PRIMARY KEY,
    last_minted timestamptz NOT NULL
);

-- Every movement of an account's allowance use or purchased balance,
-- chained per account like a pool's ledger.
CREATE TABLE freetier.account_ledger (
    subject       text NOT NULL REFERENCES freetier.accounts (subject),
    seq           bigint NOT NULL CHECK (seq >= 1),
    kind          text NOT NULL CHECK (kind IN ('open', 'spend', 'rollover', 'plan_change',
                                                'purchase', 'grant', 'trial',
                                                'carry_in', 'carry_out')),
    bucket        text NOT NULL CHECK (bucket IN ('period', 'lifetime', 'late', 'purchased')),
    delta         bigint NOT NULL,
    balance_after bigint NOT NULL CHECK (balance_after >= 0),
    backend       text,
    hold_id       uuid,
    ref           text,
    created_at    timestamptz NOT NULL,
    prev_hash     bytea NOT NULL,
    hash          bytea NOT NULL,
    PRIMARY KEY (subject, seq)
);

CREATE TRIGGER account_ledger_append_only BEFORE UPDATE OR DELETE ON freetier.account_ledger
    FOR EACH ROW EXECUTE FUNCTION freetier.refuse_change();
CREATE TRIGGER account_ledger_no_truncate BEFORE TRUNCATE ON freetier.account_ledger
    FOR EACH STATEMENT EXECUTE FUNCTION freetier.refuse_change();
ALTER TABLE freetier.account_ledger ENABLE ALWAYS TRIGGER account_ledger_append_only;
ALTER TABLE freetier.account_ledger ENABLE ALWAYS TRIGGER account_ledger_no_truncate;

-- Restores replace the default plans and settings while they are still as
-- installed (see 0.1's restore triggers).
CREATE FUNCTION freetier.restore_plan() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    UPDATE freetier.plans p SET period = NEW.period, allowance = NEW.allowance,
           backend_caps = NEW.backend_caps
     WHERE p.plan = NEW.plan
       AND (p.plan, p.period, p.allowance, p.backend_caps) IN (
               ('core', 'lifetime', 100::bigint, '{"gemini": 25}'::jsonb),
               ('trial', 'lifetime', 0, '{}'), ('pro', 'monthly', 1000, '{}'))
        OR p.plan = NEW.plan AND p.plan = 'max' AND p.period = 'monthly'
       AND p.allowance IS NULL AND p.backend_caps = '{"gemini": 2000}';
    IF FOUND THEN
        RETURN NULL;
    END IF;
    RETURN NEW;
END
$$;
CREATE FUNCTION freetier.restore_credit_settings() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    DELETE FROM freetier.credit_settings s
     WHERE (s.default_plan, s.hold_ttl, s.trial_plan, s.trial_credits, s.trials_per_network,
            s.trial_window)
           = ('core', interval '15 minutes', 'trial', 5, 3, interval '1 day');
    RETURN NEW;
END
$$;
REVOKE ALL ON FUNCTION freetier.restore_plan() FROM PUBLIC;
REVOKE ALL ON FUNCTION freetier.restore_credit_settings() FROM PUBLIC;
CREATE TRIGGER plans_restore BEFORE INSERT ON freetier.plans
    FOR EACH ROW EXECUTE FUNCTION freetier.restore_plan();
CREATE TRIGGER credit_settings_restore BEFORE INSERT ON freetier.credit_settings
    FOR EACH ROW EXECUTE FUNCTION freetier.restore_credit_settings();
ALTER TABLE freetier.plans ENABLE ALWAYS TRIGGER plans_restore;
ALTER TABLE freetier.credit_settings ENABLE ALWAYS TRIGGER credit_settings_restore;

SELECT pg_catalog.pg_extension_config_dump('freetier.plans', '');
SELECT pg_catalog.pg_extension_config_dump('freetier.credit_settings', '');
SELECT pg_catalog.pg_extension_config_dump('freetier.accounts', '');
SELECT pg_catalog.pg_extension_config_dump('freetier.account_backend_use', '');
SELECT pg_catalog.pg_extension_config_dump('freetier.credit_holds', '');
SELECT pg_catalog.pg_extension_config_dump('freetier.credit_additions', '');
SELECT pg_catalog.pg_extension_config_dump('freetier.trials', '');
SELECT pg_catalog.pg_extension_config_dump('freetier.trial_networks', '');
SELECT pg_catalog.pg_extension_config_dump('freetier.account_ledger', '');

REVOKE ALL ON ALL TABLES IN SCHEMA freetier FROM PUBLIC;

------------------------------------------------------------------------------
-- Accounts
------------------------------------------------------------------------------

-- Two forms, so that they can be granted apart: the application opens
-- accounts on the default plan, the operator on any plan.
CREATE FUNCTION freetier_open_account(subject text)
    RETURNS TABLE (subject text, plan text, anniversary timestamptz, opened boolean)
    AS 'MODULE_PATHNAME', 'freetier_open_account'
    LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION freetier_open_account(text) IS
    'open a credit account on the default plan (credit_settings.default_plan); opening it again changes nothing';
CREATE FUNCTION freetier_open_account(subject text, plan text)
    RETURNS TABLE (subject text, plan text, anniversary timestamptz, opened boolean)
    AS 'MODULE_PATHNAME', 'freetier_open_account'
    LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION freetier_open_account(text, text) IS
    'open a credit account on a plan; opening it again changes nothing';

CREATE FUNCTION freetier_set_plan(subject text, plan text)
    RETURNS TABLE (plan text, anniversary timestamptz, period_start timestamptz)
    AS 'MODULE_PATHNAME', 'freetier_set_plan'
    LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION freetier_set_plan(text, text) IS
    'move an account to a plan; from a lifetime plan to a periodic one re-anchors the anniversary now';

CREATE FUNCTION freetier_account_status(subject text)
    RETURNS TABLE (subject text, plan text, period text, period_start timestamptz,
                   period_end timestamptz, allowance_left bigint, backend_left jsonb,
                   purchased_balance bigint, reserved_credits bigint,
                   lifetime_spent bigint, lifetime_added bigint)
    AS 'MODULE_PATHNAME', 'freetier_account_status'
    LANGUAGE C STABLE PARALLEL RESTRICTED SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION freetier_account_status(text) IS
    'an account as the next spend would see it (a due rollover applied), without writing';

CREATE FUNCTION freetier_route(subject text, backends text[], credits bigint DEFAULT 1)
    RETURNS TABLE (backend text, reason text)
    AS 'MODULE_PATHNAME', 'freetier_route'
    LANGUAGE C STABLE PARALLEL RESTRICTED SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION freetier_route(text, text[], bigint) IS
    'which of the given backends (in preference order) should serve a request, or why none can';

CREATE FUNCTION freetier_reserve_credits(subject text, credits bigint, backend text)
    RETURNS TABLE (hold_id uuid, allowance_credits bigint, purchased_credits bigint, reason text)
    AS 'MODULE_PATHNAME', 'freetier_reserve_credits'
    LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION freetier_reserve_credits(text, bigint, text) IS
    'reserve credits (allowance first, then purchased), all or nothing; settle or release the hold later';

CREATE FUNCTION freetier_settle_credits(hold_id uuid, actual_credits bigint DEFAULT NULL)
    RETURNS TABLE (allowance_credits bigint, purchased_credits bigint, returned_credits bigint)
    AS 'MODULE_PATHNAME', 'freetier_settle_credits'
    LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION freetier_settle_credits(uuid, bigint) IS
    'spend a credit hold (all of it, or actual_credits of it); idempotent';

CREATE FUNCTION freetier_spend_credits(subject text, credits bigint, backend text)
    RETURNS TABLE (ok boolean, allowance_credits bigint, purchased_credits bigint, reason text)
    AS 'MODULE_PATHNAME', 'freetier_spend_credits'
    LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION freetier_spend_credits(text, bigint, text) IS
    'one-shot debit: allowance first, then purchased, all or nothing';

CREATE FUNCTION freetier_add_credits(subject text, credits bigint, ref text,
                                     source text DEFAULT 'purchase')
    RETURNS bigint
    AS 'MODULE_PATHNAME', 'freetier_add_credits'
    LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION freetier_add_credits(text, bigint, text, text) IS
    'add to the purchased balance (source purchase or grant), once per ref; opens the account if needed';

CREATE FUNCTION freetier_mint_trial(client_ip inet)
    RETURNS TABLE (subject text, credits bigint, reason text)
    AS 'MODULE_PATHNAME', 'freetier_mint_trial'
    LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION freetier_mint_trial(inet) IS
    'mint an anonymous trial account, at most trials_per_network per IPv4 address or IPv6 /64 per trial_window';

CREATE FUNCTION freetier_claim_trial(trial_subject text, subject text)
    RETURNS bigint
    AS 'MODULE_PATHNAME', 'freetier_claim_trial'
    LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION freetier_claim_trial(text, text) IS
    'carry a trial''s remaining credits over to a real account, once';

CREATE FUNCTION freetier_verify_account_ledger(subject text DEFAULT NULL)
    RETURNS TABLE (subject text, entries bigint, ok boolean, first_bad_entry bigint)
    AS 'MODULE_PATHNAME', 'freetier_verify_account_ledger'
    LANGUAGE C STABLE PARALLEL RESTRICTED SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION freetier_verify_account_ledger(text) IS
    'recompute each account''s hash chain and balances; first_bad_entry is the seq of the first entry that does not match';

-- Operator: plans and settings.
CREATE FUNCTION freetier_define_plan(plan text, period text, allowance bigint,
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
    INSERT INTO freetier.plans AS p (plan, period, allowance, backend_caps)
        VALUES (freetier_define_plan.plan, freetier_define_plan.period,
                freetier_define_plan.allowance, freetier_define_plan.backend_caps)
        ON CONFLICT ON CONSTRAINT plans_pkey
        DO UPDATE SET period = EXCLUDED.period, allowance = EXCLUDED.allowance,
                      backend_caps = EXCLUDED.backend_caps;
END
$$;
COMMENT ON FUNCTION freetier_define_plan(text, text, bigint, jsonb) IS
    'create or change a plan: period, allowance (NULL = unlimited) and caps per backend inside it';

CREATE FUNCTION freetier_configure_credits(default_plan text DEFAULT NULL,
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
    UPDATE freetier.credit_settings s
       SET default_plan = coalesce(freetier_configure_credits.default_plan, s.default_plan),
           hold_ttl = coalesce(freetier_configure_credits.hold_ttl, s.hold_ttl),
           trial_plan = coalesce(freetier_configure_credits.trial_plan, s.trial_plan),
           trial_credits = coalesce(freetier_configure_credits.trial_credits, s.trial_credits),
           trials_per_network = coalesce(freetier_configure_credits.trials_per_network, s.trials_per_network),
           trial_window = coalesce(freetier_configure_credits.trial_window, s.trial_window);
END
$$;
COMMENT ON FUNCTION freetier_configure_credits(text, interval, text, bigint, int, interval) IS
    'change the account and trial settings (NULL keeps a value)';

REVOKE ALL ON FUNCTION freetier_open_account(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION freetier_open_account(text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION freetier_set_plan(text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION freetier_account_status(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION freetier_route(text, text[], bigint) FROM PUBLIC;
REVOKE ALL ON FUNCTION freetier_reserve_credits(text, bigint, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION freetier_settle_credits(uuid, bigint) FROM PUBLIC;
REVOKE ALL ON FUNCTION freetier_spend_credits(text, bigint, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION freetier_add_credits(text, bigint, text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION freetier_mint_trial(inet) FROM PUBLIC;
REVOKE ALL ON FUNCTION freetier_claim_trial(text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION freetier_verify_account_ledger(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION freetier_define_plan(text, text, bigint, jsonb) FROM PUBLIC;
REVOKE ALL ON FUNCTION freetier_configure_credits(text, interval, text, bigint, int, interval) FROM PUBLIC;

------------------------------------------------------------------------------
-- Defaults: the credit seed's (003) three plans, and a trial plan.
------------------------------------------------------------------------------

INSERT INTO freetier.plans (plan, period, allowance, backend_caps) VALUES
    ('core',  'lifetime', 100,  '{"gemini": 25}'),
    ('pro',   'monthly',  1000, '{}'),
    ('max',   'monthly',  NULL, '{"gemini": 2000}'),
    ('trial', 'lifetime', 0,    '{}');
INSERT INTO freetier.credit_settings (default_plan, hold_ttl, trial_plan, trial_credits,
                                      trials_per_network, trial_window)
    VALUES ('core', interval '15 minutes', 'trial', 5, 3, interval '1 day');

-- From 0.2 on, release and expiry also end credit holds.
CREATE OR REPLACE FUNCTION freetier_release(hold_id uuid, reason text DEFAULT NULL)
    RETURNS bigint
    AS 'MODULE_PATHNAME', 'freetier_release_v2'
    LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION freetier_release(uuid, text) IS
    'return everything a hold (a decide''s or a credit reservation) took; returns the sats or credits returned (0 when already returned)';
CREATE OR REPLACE FUNCTION freetier_expire_holds()
    RETURNS bigint
    AS 'MODULE_PATHNAME', 'freetier_expire_holds_v2'
    LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION freetier_expire_holds() IS
    'end every hold past its TTL (decides'' holds return to their pools); returns the number of holds expired';
