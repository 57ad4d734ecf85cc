-- Reference implementation of freetier's credit accounts in plain SQL +
-- PL/pgSQL, next to bench/reference_plpgsql.sql in schema ref: plans with a
-- per-period allowance and caps per backend, accounts with
-- anniversary-aligned periods and a purchased balance, credit holds, and a
-- per-account hash-chained ledger in four buckets (sha256() builtin instead of
-- BLAKE2b).  Mirrors freetier 0.2 (src/account.c, src/credits.c,
-- src/allowance.c, src/period.c) on the paths the bench measures:
-- reserve_credits + settle_credits and spend_credits, with the same row locks
-- (a credit hold, then its account, FOR NO KEY UPDATE), the same statements
-- (lock, read with the plan, live holds in a new statement, the backend's
-- cap, use and holds in one statement, the backend-use upsert, one ledger
-- entry per bucket moved, one account write), the same answers and error
-- codes (shorter messages), and the same constraints, foreign keys and
-- indexes.  open_account and add_credits are here to load accounts with
-- valid chains; trials, routing, status and plan changes are left out.
-- Only differences: the hold_ttl CHECK is written out instead of calling a
-- function, the ledger has no append-only triggers (they fire on UPDATE and
-- DELETE, never on the INSERTs measured), and argument names carry p_.

CREATE TABLE ref.plans (
    plan         text PRIMARY KEY CHECK (octet_length(plan) BETWEEN 1 AND 256),
    period       text NOT NULL CHECK (period IN ('lifetime', 'daily', 'weekly', 'monthly')),
    allowance    bigint CHECK (allowance >= 0),
    backend_caps jsonb NOT NULL DEFAULT '{}'::jsonb
                 CHECK (jsonb_typeof(backend_caps) = 'object')
);

CREATE TABLE ref.credit_settings (
    only_row           boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    default_plan       text NOT NULL REFERENCES ref.plans (plan),
    hold_ttl           interval NOT NULL
                       CHECK (hold_ttl > interval '0' AND date_part('year', hold_ttl) = 0
                              AND date_part('month', hold_ttl) = 0 AND date_part('day', hold_ttl) >= 0
                              AND hold_ttl - date_trunc('day', hold_ttl) >= interval '0'),
    trial_plan         text NOT NULL REFERENCES ref.plans (plan),
    trial_credits      bigint NOT NULL CHECK (trial_credits >= 0),
    trials_per_network int NOT NULL CHECK (trials_per_network >= 0),
    trial_window       interval NOT NULL CHECK (trial_window > interval '0')
);

CREATE TABLE ref.accounts (
    subject              text PRIMARY KEY CHECK (octet_length(subject) BETWEEN 1 AND 256),
    plan                 text NOT NULL REFERENCES ref.plans (plan),
    anniversary          timestamptz NOT NULL,
    period_start         timestamptz NOT NULL,
    period_used          bigint NOT NULL DEFAULT 0 CHECK (period_used >= 0),
    lifetime_plan_used   bigint NOT NULL DEFAULT 0 CHECK (lifetime_plan_used >= 0),
    late_period_used     bigint NOT NULL DEFAULT 0 CHECK (late_period_used >= 0),
    purchased_balance    bigint NOT NULL DEFAULT 0 CHECK (purchased_balance >= 0),
    lifetime_spent       bigint NOT NULL DEFAULT 0 CHECK (lifetime_spent >= 0),
    lifetime_added       bigint NOT NULL DEFAULT 0 CHECK (lifetime_added >= 0),
    head_seq             bigint NOT NULL DEFAULT 0,
    head_hash            bytea NOT NULL DEFAULT decode(repeat('00', 32), 'hex')
                         CHECK (octet_length(head_hash) = 32),
    opened_at            timestamptz NOT NULL,
    updated_at           timestamptz NOT NULL
);

CREATE TABLE ref.account_backend_use (
    subject     text NOT NULL REFERENCES ref.accounts (subject),
    backend     text NOT NULL CHECK (octet_length(backend) BETWEEN 1 AND 256),
    scope_start timestamptz NOT NULL,
    used        bigint NOT NULL CHECK (used >= 0),
    PRIMARY KEY (subject, backend, scope_start)
);

CREATE TABLE ref.credit_holds (
    hold_id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    subject           text NOT NULL REFERENCES ref.accounts (subject),
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
CREATE INDEX credit_holds_held_by_subject ON ref.credit_holds (subject) WHERE state = 'held';

CREATE TABLE ref.credit_additions (
    ref        text PRIMARY KEY CHECK (octet_length(ref) BETWEEN 1 AND 256),
    subject    text NOT NULL REFERENCES ref.accounts (subject),
    source     text NOT NULL CHECK (source IN ('purchase', 'grant')),
    credits    bigint NOT NULL CHECK (credits > 0),
    created_at timestamptz NOT NULL
);

CREATE TABLE ref.account_ledger (
    subject       text NOT NULL REFERENCES ref.accounts (subject),
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

INSERT INTO ref.plans (plan, period, allowance, backend_caps) VALUES
    ('core',  'lifetime', 100,  '{"gemini": 25}'),
    ('pro',   'monthly',  1000, '{}'),
    ('max',   'monthly',  NULL, '{"gemini": 2000}'),
    ('trial', 'lifetime', 0,    '{}');
INSERT INTO ref.credit_settings (default_plan, hold_ttl, trial_plan, trial_credits,
                                 trials_per_network, trial_window)
    VALUES ('core', interval '15 minutes', 'trial', 5, 3, interval '1 day');

-- An account as loaded at an instant (FtAccount).
CREATE TYPE ref.account_state AS (
    subject            text,
    plan               text,
    period             text,
    unlimited          boolean,
    allowance          bigint,
    anniversary        timestamptz,
    period_start       timestamptz,
    period_used        bigint,
    lifetime_plan_used bigint,
    late_period_used   bigint,
    purchased_balance  bigint,
    lifetime_spent     bigint,
    lifetime_added     bigint,
    head_seq           bigint,
    head_hash          bytea,
    updated_at         timestamptz,
    now                timestamptz,
    current_start      timestamptz,  -- the period containing now (never before period_start)
    scope_start        timestamptz,  -- current_start, or -infinity on a lifetime plan
    held_allowance     bigint,       -- live holds: allowance taken in this scope
    held_purchased     bigint,       -- live holds: purchased credits
    changed            boolean
);

-- The start of the period on the grid from p_anniversary that contains
-- p_now (ft_period_start): months step on the anniversary's day, clamped to
-- the month's end, in UTC; days and weeks are 24 h and 7 d steps.
CREATE FUNCTION ref.period_start(p_period text, p_anniversary timestamptz, p_now timestamptz)
    RETURNS timestamptz LANGUAGE plpgsql STABLE AS $$
DECLARE
    a timestamp := p_anniversary AT TIME ZONE 'UTC';
    n timestamp := p_now AT TIME ZONE 'UTC';
    k int;
    s timestamp;
    step numeric;
BEGIN
    IF p_period = 'lifetime' OR p_now <= p_anniversary THEN
        RETURN p_anniversary;
    END IF;
    IF p_period = 'monthly' THEN
        k := (extract(year FROM n) - extract(year FROM a)) * 12
             + extract(month FROM n) - extract(month FROM a);
        s := a + make_interval(months => k);        -- clamps to the month's last day
        IF s > n THEN
            s := a + make_interval(months => k - 1);
        END IF;
        RETURN s AT TIME ZONE 'UTC';
    END IF;
    step := CASE p_period WHEN 'daily' THEN 86400 ELSE 604800 END;
    RETURN p_anniversary + make_interval(secs => (floor(extract(epoch FROM p_now - p_anniversary)
                                                        / step) * step)::float8);
END
$$;

-- An account entry's hash: sha256 of the previous hash and the entry's fields.
CREATE FUNCTION ref.account_entry_hash(p_prev bytea, p_subject text, p_seq bigint, p_kind text,
                                       p_bucket text, p_delta bigint, p_balance_after bigint,
                                       p_backend text, p_hold_id uuid, p_ref text,
                                       p_at timestamptz)
    RETURNS bytea LANGUAGE sql STABLE
    RETURN sha256(p_prev || convert_to(format('%L|%s|%L|%L|%s|%s|%L|%L|%L|%s',
                      p_subject, p_seq, p_kind, p_bucket, p_delta, p_balance_after,
                      p_backend, p_hold_id, p_ref, extract(epoch FROM p_at)), 'UTF8'));

-- Append one entry to a locked account's chain (ft_account_append); the
-- caller saves the account.
CREATE FUNCTION ref.account_append(a ref.account_state, p_kind text, p_bucket text,
                                   p_delta bigint, p_balance_after bigint, p_backend text,
                                   p_hold_id uuid, p_ref text)
    RETURNS ref.account_state LANGUAGE plpgsql AS $$
DECLARE
    v_hash bytea := ref.account_entry_hash(a.head_hash, a.subject, a.head_seq + 1, p_kind,
                                           p_bucket, p_delta, p_balance_after, p_backend,
                                           p_hold_id, p_ref, a.now);
BEGIN
    INSERT INTO ref.account_ledger (subject, seq, kind, bucket, delta, balance_after, backend,
                                    hold_id, ref, created_at, prev_hash, hash)
        VALUES (a.subject, a.head_seq + 1, p_kind, p_bucket, p_delta, p_balance_after,
                p_backend, p_hold_id, p_ref, a.now, a.head_hash, v_hash);
    a.head_seq := a.head_seq + 1;
    a.head_hash := v_hash;
    a.changed := true;
    RETURN a;
END
$$;

-- Load an account at p_now, locked when p_lock (ft_account_load); all NULL
-- when there is none.
CREATE FUNCTION ref.account_load(p_subject text, p_now timestamptz, p_lock boolean)
    RETURNS ref.account_state LANGUAGE plpgsql AS $$
DECLARE
    a ref.account_state;
BEGIN
    IF p_lock THEN
        -- the row alone, then a new statement that reads it with its plan
        PERFORM FROM ref.accounts x WHERE x.subject = p_subject FOR NO KEY UPDATE;
        IF NOT FOUND THEN
            RETURN a;
        END IF;
    END IF;
    SELECT x.subject, x.plan, p.period, p.allowance IS NULL, coalesce(p.allowance, 0),
           x.anniversary, x.period_start, x.period_used, x.lifetime_plan_used,
           x.late_period_used, x.purchased_balance, x.lifetime_spent, x.lifetime_added,
           x.head_seq, x.head_hash, x.updated_at
      INTO a.subject, a.plan, a.period, a.unlimited, a.allowance, a.anniversary,
           a.period_start, a.period_used, a.lifetime_plan_used, a.late_period_used,
           a.purchased_balance, a.lifetime_spent, a.lifetime_added, a.head_seq,
           a.head_hash, a.updated_at
      FROM ref.accounts x JOIN ref.plans p ON p.plan = x.plan
     WHERE x.subject = p_subject;
    IF NOT FOUND THEN
        RETURN a;
    END IF;
    a.now := p_now;
    a.current_start := ref.period_start(a.period, a.anniversary, p_now);
    -- periods only move forward
    IF a.period <> 'lifetime' AND a.period_start > a.current_start THEN
        a.current_start := a.period_start;
    END IF;
    a.scope_start := CASE WHEN a.period = 'lifetime' THEN '-infinity' ELSE a.current_start END;
    -- a new statement: it sees holds committed by the previous lock holder
    SELECT coalesce(sum(h.allowance_credits) FILTER (WHERE h.scope_start = a.scope_start), 0)::bigint,
           coalesce(sum(h.purchased_credits), 0)::bigint
      INTO a.held_allowance, a.held_purchased
      FROM ref.credit_holds h
     WHERE h.subject = p_subject AND h.state = 'held' AND h.expires_at > p_now;
    a.changed := false;
    RETURN a;
END
$$;

-- Start the current period in storage if it has not been (ft_account_roll_over).
CREATE FUNCTION ref.account_roll_over(a ref.account_state)
    RETURNS ref.account_state LANGUAGE plpgsql AS $$
BEGIN
    IF a.period = 'lifetime' OR a.period_start = a.current_start THEN
        RETURN a;
    END IF;
    IF a.period_used > 0 THEN
        a := ref.account_append(a, 'rollover', 'period', -a.period_used, 0, NULL, NULL, NULL);
    END IF;
    a.period_used := 0;
    a.period_start := a.current_start;
    a.changed := true;
    RETURN a;
END
$$;

-- Spend credits already split (ft_account_spend): the allowance part through
-- p_backend in the scope that began at p_scope_start, then the purchased part.
CREATE FUNCTION ref.account_spend(a ref.account_state, p_backend text, p_scope_start timestamptz,
                                  p_allowance bigint, p_purchased bigint, p_hold_id uuid)
    RETURNS ref.account_state LANGUAGE plpgsql AS $$
BEGIN
    IF p_allowance > 0 THEN
        INSERT INTO ref.account_backend_use AS u (subject, backend, scope_start, used)
            VALUES (a.subject, p_backend, p_scope_start, p_allowance)
            ON CONFLICT (subject, backend, scope_start)
            DO UPDATE SET used = u.used + EXCLUDED.used;
        IF p_scope_start = '-infinity' THEN
            a.lifetime_plan_used := a.lifetime_plan_used + p_allowance;
            a := ref.account_append(a, 'spend', 'lifetime', p_allowance, a.lifetime_plan_used,
                                    p_backend, p_hold_id, NULL);
        ELSIF p_scope_start = a.scope_start THEN
            a.period_used := a.period_used + p_allowance;
            a := ref.account_append(a, 'spend', 'period', p_allowance, a.period_used,
                                    p_backend, p_hold_id, NULL);
        ELSE
            a.late_period_used := a.late_period_used + p_allowance;
            a := ref.account_append(a, 'spend', 'late', p_allowance, a.late_period_used,
                                    p_backend, p_hold_id, NULL);
        END IF;
    END IF;
    IF p_purchased > 0 THEN
        IF p_purchased > a.purchased_balance THEN
            RAISE EXCEPTION 'account "%" would overdraw its purchased balance', a.subject;
        END IF;
        a.purchased_balance := a.purchased_balance - p_purchased;
        a := ref.account_append(a, 'spend', 'purchased', -p_purchased, a.purchased_balance,
                                p_backend, p_hold_id, NULL);
    END IF;
    a.lifetime_spent := a.lifetime_spent + p_allowance + p_purchased;
    a.changed := true;
    RETURN a;
END
$$;

-- Write the account back if anything changed (ft_account_save).
CREATE FUNCTION ref.account_save(a ref.account_state)
    RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    IF NOT a.changed THEN
        RETURN;
    END IF;
    UPDATE ref.accounts x
       SET plan = a.plan, anniversary = a.anniversary, period_start = a.period_start,
           period_used = a.period_used, lifetime_plan_used = a.lifetime_plan_used,
           purchased_balance = a.purchased_balance, lifetime_spent = a.lifetime_spent,
           lifetime_added = a.lifetime_added, head_seq = a.head_seq, head_hash = a.head_hash,
           updated_at = greatest(x.updated_at, a.now), late_period_used = a.late_period_used
     WHERE x.subject = a.subject;
END
$$;

-- Split a request of p_credits through p_backend against a locked,
-- rolled-over account (ft_split_credits with the "left" amounts of
-- account.c): allowance first, within the backend's cap, then purchased, all
-- or nothing; when it cannot be served, why.
CREATE FUNCTION ref.account_split(a ref.account_state, p_credits bigint, p_backend text,
                                  OUT ok boolean, OUT allowance_credits bigint,
                                  OUT purchased_credits bigint, OUT reason text)
    LANGUAGE plpgsql AS $$
DECLARE
    v_max constant bigint := 9223372036854775807;
    v_used bigint;
    v_taken bigint;
    v_allowance_left bigint;
    v_backend_left bigint;
    v_purchased_left bigint;
    v_cap bigint;
    v_cap_used bigint;
    v_cap_held bigint;
BEGIN
    -- what the allowance can still give through any backend
    v_used := CASE WHEN a.period = 'lifetime' THEN a.lifetime_plan_used
                   WHEN a.period_start = a.current_start THEN a.period_used ELSE 0 END;
    v_taken := CASE WHEN v_used > v_max - a.held_allowance THEN v_max ELSE v_used + a.held_allowance END;
    v_allowance_left := CASE WHEN a.unlimited THEN v_max
                             WHEN v_taken >= a.allowance THEN 0 ELSE a.allowance - v_taken END;
    -- and through this one: its cap, what the scope drew through it, its live holds
    SELECT (SELECT (p.backend_caps ->> p_backend)::bigint FROM ref.plans p WHERE p.plan = a.plan),
           coalesce((SELECT u.used FROM ref.account_backend_use u
                      WHERE u.subject = a.subject AND u.backend = p_backend
                        AND u.scope_start = a.scope_start), 0),
           coalesce((SELECT sum(h.allowance_credits) FROM ref.credit_holds h
                      WHERE h.subject = a.subject AND h.backend = p_backend
                        AND h.scope_start = a.scope_start AND h.state = 'held'
                        AND h.expires_at > a.now), 0)::bigint
      INTO v_cap, v_cap_used, v_cap_held;
    IF v_cap IS NULL THEN
        v_backend_left := v_allowance_left;
    ELSE
        IF NOT (a.period = 'lifetime' OR a.period_start = a.current_start) THEN
            v_cap_used := 0;        -- a scope not begun in storage has used nothing
        END IF;
        v_taken := CASE WHEN v_cap_used > v_max - v_cap_held THEN v_max ELSE v_cap_used + v_cap_held END;
        v_backend_left := least(v_allowance_left, CASE WHEN v_taken >= v_cap THEN 0 ELSE v_cap - v_taken END);
    END IF;
    v_purchased_left := greatest(0, a.purchased_balance - a.held_purchased);

    allowance_credits := least(p_credits, v_backend_left);
    purchased_credits := p_credits - allowance_credits;
    ok := purchased_credits <= v_purchased_left;
    IF NOT ok THEN
        allowance_credits := 0;
        purchased_credits := 0;
        -- enough credits in all, but the cap keeps them from this backend
        reason := CASE WHEN (CASE WHEN v_allowance_left > v_max - v_purchased_left THEN v_max
                                  ELSE v_allowance_left + v_purchased_left END) >= p_credits
                       THEN 'backend_cap_exceeded' ELSE 'out_of_credits' END;
    END IF;
END
$$;

-- Reserve credits, all or nothing: a hold for the whole request, or hold_id
-- NULL and why (freetier_reserve_credits).
CREATE FUNCTION ref.reserve_credits(p_subject text, p_credits bigint, p_backend text)
    RETURNS TABLE (hold_id uuid, allowance_credits bigint, purchased_credits bigint, reason text)
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    a ref.account_state;
    v_split record;
BEGIN
    IF p_subject IS NULL OR p_backend IS NULL OR p_credits IS NULL THEN
        RAISE EXCEPTION 'subject, credits and backend must not be NULL'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF p_subject = '' OR octet_length(p_subject) > 256 OR p_backend = ''
       OR octet_length(p_backend) > 256 OR p_credits <= 0 THEN
        RAISE EXCEPTION 'invalid subject, credits or backend' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    hold_id := NULL; allowance_credits := 0; purchased_credits := 0;
    a := ref.account_load(p_subject, now(), true);
    IF a.subject IS NULL THEN
        reason := 'no_account';
        RETURN NEXT;
        RETURN;
    END IF;
    a := ref.account_roll_over(a);
    v_split := ref.account_split(a, p_credits, p_backend);
    reason := v_split.reason;
    IF v_split.ok THEN
        allowance_credits := v_split.allowance_credits;
        purchased_credits := v_split.purchased_credits;
        INSERT INTO ref.credit_holds (subject, backend, allowance_credits, purchased_credits,
                                      scope_start, created_at, expires_at)
            SELECT p_subject, p_backend, v_split.allowance_credits, v_split.purchased_credits,
                   a.scope_start, a.now, a.now + s.hold_ttl
              FROM ref.credit_settings s
            RETURNING credit_holds.hold_id INTO hold_id;
        a.changed := true;      -- written even so: two reserves for one account conflict
    END IF;
    PERFORM ref.account_save(a);
    RETURN NEXT;
END
$$;

-- One-shot debit: allowance first, then purchased, all or nothing
-- (freetier_spend_credits).
CREATE FUNCTION ref.spend_credits(p_subject text, p_credits bigint, p_backend text)
    RETURNS TABLE (ok boolean, allowance_credits bigint, purchased_credits bigint, reason text)
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    a ref.account_state;
    v_split record;
BEGIN
    IF p_subject IS NULL OR p_backend IS NULL OR p_credits IS NULL THEN
        RAISE EXCEPTION 'subject, credits and backend must not be NULL'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF p_subject = '' OR octet_length(p_subject) > 256 OR p_backend = ''
       OR octet_length(p_backend) > 256 OR p_credits <= 0 THEN
        RAISE EXCEPTION 'invalid subject, credits or backend' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    ok := false; allowance_credits := 0; purchased_credits := 0;
    a := ref.account_load(p_subject, now(), true);
    IF a.subject IS NULL THEN
        reason := 'no_account';
        RETURN NEXT;
        RETURN;
    END IF;
    a := ref.account_roll_over(a);
    v_split := ref.account_split(a, p_credits, p_backend);
    ok := v_split.ok;
    reason := v_split.reason;
    IF v_split.ok THEN
        allowance_credits := v_split.allowance_credits;
        purchased_credits := v_split.purchased_credits;
        a := ref.account_spend(a, p_backend, a.scope_start, v_split.allowance_credits,
                               v_split.purchased_credits, NULL);
    END IF;
    PERFORM ref.account_save(a);
    RETURN NEXT;
END
$$;

-- Spend p_actual (default: all) of a credit hold, allowance part first, and
-- return the rest; a replay returns the first result (freetier_settle_credits).
CREATE FUNCTION ref.settle_credits(p_hold_id uuid, p_actual bigint DEFAULT NULL)
    RETURNS TABLE (allowance_credits bigint, purchased_credits bigint, returned_credits bigint)
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    v_now timestamptz := now();
    h record;
    a ref.account_state;
    v_reserved bigint;
    v_actual bigint;
    v_from_allowance bigint;
BEGIN
    IF p_hold_id IS NULL THEN
        RAISE EXCEPTION 'hold_id must not be NULL' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF p_actual < 0 THEN
        RAISE EXCEPTION 'actual_credits must not be negative' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT x.subject, x.backend, x.allowance_credits, x.purchased_credits, x.scope_start,
           x.expires_at, x.state, x.settled_credits
      INTO h FROM ref.credit_holds x WHERE x.hold_id = p_hold_id
       FOR NO KEY UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'credit hold % does not exist', p_hold_id USING ERRCODE = 'undefined_object';
    END IF;
    v_reserved := h.allowance_credits + h.purchased_credits;
    v_actual := coalesce(p_actual, v_reserved);

    IF h.state = 'settled' THEN
        IF h.settled_credits <> v_actual THEN
            RAISE EXCEPTION 'credit hold was already settled with other arguments'
                USING ERRCODE = 'object_not_in_prerequisite_state';
        END IF;
    ELSIF h.state <> 'held' THEN
        RAISE EXCEPTION 'cannot settle credit hold: it is %', h.state
            USING ERRCODE = 'object_not_in_prerequisite_state';
    ELSIF v_actual > v_reserved THEN
        RAISE EXCEPTION 'actual_credits exceeds the reservation' USING ERRCODE = 'invalid_parameter_value';
    ELSE
        v_from_allowance := least(v_actual, h.allowance_credits);
        a := ref.account_load(h.subject, v_now, true);
        IF a.subject IS NULL THEN
            RAISE EXCEPTION 'account "%" does not exist', h.subject USING ERRCODE = 'undefined_object';
        END IF;
        -- past its TTL by our clock, or by that of whoever wrote the account last
        IF h.expires_at <= v_now OR h.expires_at <= a.updated_at THEN
            RAISE EXCEPTION 'cannot settle credit hold: it is expired'
                USING ERRCODE = 'object_not_in_prerequisite_state';
        END IF;
        a := ref.account_roll_over(a);
        a := ref.account_spend(a, h.backend, h.scope_start, v_from_allowance,
                               v_actual - v_from_allowance, p_hold_id);
        PERFORM ref.account_save(a);
        UPDATE ref.credit_holds x SET state = 'settled', ended_at = v_now, settled_credits = v_actual
         WHERE x.hold_id = p_hold_id;
    END IF;

    allowance_credits := least(v_actual, h.allowance_credits);
    purchased_credits := v_actual - allowance_credits;
    returned_credits := v_reserved - v_actual;
    RETURN NEXT;
END
$$;

-- Open an account on a plan unless it exists; its chain starts with an
-- 'open' entry naming the plan.  For loading the bench's accounts.
CREATE FUNCTION ref.open_account(p_subject text, p_plan text) RETURNS boolean
    LANGUAGE plpgsql AS $$
DECLARE
    a ref.account_state;
BEGIN
    INSERT INTO ref.accounts (subject, plan, anniversary, period_start, opened_at, updated_at)
        VALUES (p_subject, p_plan, now(), now(), now(), now())
        ON CONFLICT (subject) DO NOTHING;
    IF NOT FOUND THEN
        RETURN false;
    END IF;
    a := ref.account_load(p_subject, now(), true);
    a := ref.account_append(a, 'open', 'period', 0, 0, NULL, NULL, p_plan);
    PERFORM ref.account_save(a);
    RETURN true;
END
$$;

-- Add to an account's purchased balance, once per reference.
CREATE FUNCTION ref.add_credits(p_subject text, p_credits bigint, p_ref text,
                                p_source text DEFAULT 'purchase') RETURNS bigint
    LANGUAGE plpgsql AS $$
DECLARE
    a ref.account_state;
BEGIN
    a := ref.account_load(p_subject, now(), true);
    IF a.subject IS NULL THEN
        RAISE EXCEPTION 'account "%" does not exist', p_subject USING ERRCODE = 'undefined_object';
    END IF;
    INSERT INTO ref.credit_additions (ref, subject, source, credits, created_at)
        VALUES (p_ref, p_subject, p_source, p_credits, now())
        ON CONFLICT (ref) DO NOTHING;
    IF NOT FOUND THEN
        RETURN (SELECT c.credits FROM ref.credit_additions c WHERE c.ref = p_ref);
    END IF;
    a.purchased_balance := a.purchased_balance + p_credits;
    a.lifetime_added := a.lifetime_added + p_credits;
    a := ref.account_append(a, p_source, 'purchased', p_credits, a.purchased_balance, NULL, NULL,
                            p_ref);
    PERFORM ref.account_save(a);
    RETURN p_credits;
END
$$;

-- Recompute every account chain: each entry's hash and link, each bucket's
-- running balance, and the account row against the chain's end.
CREATE FUNCTION ref.verify_account_ledger() RETURNS boolean
    LANGUAGE sql STABLE
    BEGIN ATOMIC
        SELECT coalesce(bool_and(e.ok), true)
               AND coalesce((SELECT bool_and(x.head_seq = coalesce(l.seq, 0)
                                         AND x.head_hash = coalesce(l.hash, decode(repeat('00', 32), 'hex'))
                                         AND x.period_used = coalesce(l.period, 0)
                                         AND x.lifetime_plan_used = coalesce(l.lifetime, 0)
                                         AND x.late_period_used = coalesce(l.late, 0)
                                         AND x.purchased_balance = coalesce(l.purchased, 0)
                                         AND x.lifetime_spent = coalesce(l.spent, 0)
                                         AND x.lifetime_added = coalesce(l.added, 0))
                               FROM ref.accounts x
                               LEFT JOIN LATERAL (
                                   SELECT max(y.seq) AS seq,
                                          (array_agg(y.hash ORDER BY y.seq DESC))[1] AS hash,
                                          sum(y.delta) FILTER (WHERE y.bucket = 'period') AS period,
                                          sum(y.delta) FILTER (WHERE y.bucket = 'lifetime') AS lifetime,
                                          sum(y.delta) FILTER (WHERE y.bucket = 'late') AS late,
                                          sum(y.delta) FILTER (WHERE y.bucket = 'purchased') AS purchased,
                                          sum(CASE WHEN y.bucket = 'purchased' THEN -y.delta ELSE y.delta END)
                                              FILTER (WHERE y.kind = 'spend') AS spent,
                                          sum(y.delta) FILTER (WHERE y.kind IN ('purchase', 'grant', 'trial', 'carry_in')) AS added
                                     FROM ref.account_ledger y WHERE y.subject = x.subject) l ON true),
                            true)
          FROM (SELECT l.seq = row_number() OVER w
                       AND l.prev_hash = coalesce(lag(l.hash) OVER w, decode(repeat('00', 32), 'hex'))
                       AND l.hash = ref.account_entry_hash(l.prev_hash, l.subject, l.seq, l.kind, l.bucket,
                                                           l.delta, l.balance_after, l.backend,
                                                           l.hold_id, l.ref, l.created_at)
                       AND l.balance_after = sum(l.delta) OVER b AS ok
                  FROM ref.account_ledger l
                WINDOW w AS (PARTITION BY l.subject ORDER BY l.seq),
                       b AS (PARTITION BY l.subject, l.bucket ORDER BY l.seq)) e;
    END;

-- The same for the pools' chains of bench/reference_plpgsql.sql.
CREATE FUNCTION ref.verify_ledger() RETURNS boolean
    LANGUAGE sql STABLE
    BEGIN ATOMIC
        SELECT coalesce(bool_and(e.ok), true)
               AND (SELECT bool_and(p.head_seq = l.seq AND p.head_hash = l.hash
                                    AND p.balance_sats = l.balance)
                      FROM ref.pools p,
                           LATERAL (SELECT max(y.seq) AS seq,
                                           (array_agg(y.hash ORDER BY y.seq DESC))[1] AS hash,
                                           sum(y.delta_sats) AS balance
                                      FROM ref.ledger y WHERE y.pool = p.pool) l)
          FROM (SELECT l.seq = row_number() OVER w
                       AND l.prev_hash = coalesce(lag(l.hash) OVER w, decode(repeat('00', 32), 'hex'))
                       AND l.hash = sha256(l.prev_hash || convert_to(format('%L|%s|%s|%s|%s|%s|%s',
                                        l.pool, l.seq, l.kind, l.delta_sats, l.balance_after,
                                        l.hold_id, extract(epoch FROM l.created_at)), 'UTF8'))
                       AND l.balance_after = sum(l.delta_sats) OVER w AS ok
                  FROM ref.ledger l
                WINDOW w AS (PARTITION BY l.pool ORDER BY l.seq)) e;
    END;

REVOKE ALL ON ALL TABLES IN SCHEMA ref FROM PUBLIC;
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA ref FROM PUBLIC;
