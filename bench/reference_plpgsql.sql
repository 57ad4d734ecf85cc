-- Reference implementation of freetier's request path in plain SQL + PL/pgSQL,
-- written the way an application team would: schema ref, its own tables, and
-- functions with the same semantics and lock order as the extension
-- (hold -> subject -> pool, FOR NO KEY UPDATE), the same constraints, foreign
-- keys and indexes, and a per-pool hash-chained ledger (sha256() builtin
-- instead of BLAKE2b).  Only differences: the hold_ttl CHECK is written out
-- instead of calling a function, and the functions take p_-prefixed
-- arguments.  bench/run loads it next to the extension and measures both in
-- the same cluster.  Not part of the extension; mirrors freetier 0.2 (commit
-- 4f9f8eb): decide, record_grant, estimate.

CREATE SCHEMA ref;

CREATE TABLE ref.tiers (
    tier              text PRIMARY KEY CHECK (octet_length(tier) BETWEEN 1 AND 256),
    daily_budget_sats bigint NOT NULL CHECK (daily_budget_sats >= 0)
);

CREATE TABLE ref.pools (
    pool         text PRIMARY KEY CHECK (octet_length(pool) BETWEEN 1 AND 256),
    balance_sats bigint NOT NULL CHECK (balance_sats >= 0),
    credit_pct   numeric NOT NULL DEFAULT 10 CHECK (credit_pct >= 0 AND credit_pct <= 100),
    hold_ttl     interval NOT NULL DEFAULT interval '15 minutes'
                 CHECK (hold_ttl > interval '0' AND date_part('year', hold_ttl) = 0
                        AND date_part('month', hold_ttl) = 0 AND date_part('day', hold_ttl) >= 0
                        AND hold_ttl - date_trunc('day', hold_ttl) >= interval '0'),
    head_seq     bigint NOT NULL DEFAULT 0 CHECK (head_seq >= 0),
    head_hash    bytea NOT NULL DEFAULT decode(repeat('00', 32), 'hex') CHECK (octet_length(head_hash) = 32),
    created_at   timestamptz NOT NULL DEFAULT now()
);

-- window_settled_sats: absorbed by settled grants in the window that began at
-- window_start; sats on live holds are counted from ref.holds.  last_hold_at:
-- the latest decide that placed a hold (it may have counted a hold past its
-- TTL as returned, so such a hold can no longer be settled).
CREATE TABLE ref.subjects (
    subject             text PRIMARY KEY CHECK (octet_length(subject) BETWEEN 1 AND 256),
    tier                text NOT NULL REFERENCES ref.tiers (tier),
    window_start        timestamptz,
    window_settled_sats bigint NOT NULL DEFAULT 0 CHECK (window_settled_sats >= 0),
    last_hold_at        timestamptz,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE ref.holds (
    hold_id        uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    subject        text NOT NULL REFERENCES ref.subjects (subject),
    pool           text NOT NULL REFERENCES ref.pools (pool),
    estimated_sats bigint NOT NULL CHECK (estimated_sats > 0),
    held_sats      bigint NOT NULL CHECK (held_sats > 0 AND held_sats <= estimated_sats),
    window_start   timestamptz NOT NULL,
    created_at     timestamptz NOT NULL,
    expires_at     timestamptz NOT NULL,
    state          text NOT NULL DEFAULT 'held'
                   CHECK (state IN ('held', 'settled', 'released', 'expired')),
    ended_at       timestamptz,
    end_reason     text CHECK (octet_length(end_reason) <= 256),
    CHECK ((state = 'held') = (ended_at IS NULL)),
    CHECK (expires_at > created_at)
);
CREATE INDEX holds_held_by_subject ON ref.holds (subject) WHERE state = 'held';
CREATE INDEX holds_held_by_expiry ON ref.holds (pool, expires_at) WHERE state = 'held';

CREATE TABLE ref.grants (
    grant_id           bigserial PRIMARY KEY,
    hold_id            uuid NOT NULL UNIQUE REFERENCES ref.holds (hold_id),
    subject            text NOT NULL,
    pool               text NOT NULL,
    actual_sats        bigint NOT NULL CHECK (actual_sats >= 0),
    absorbed_sats      bigint NOT NULL CHECK (absorbed_sats >= 0),
    returned_sats      bigint NOT NULL CHECK (returned_sats >= 0),
    charge_sats        bigint NOT NULL CHECK (charge_sats >= 0),
    pool_balance_after bigint NOT NULL,
    request_hash       text CHECK (octet_length(request_hash) <= 256),
    created_at         timestamptz NOT NULL
);

CREATE TABLE ref.ledger (
    pool          text NOT NULL REFERENCES ref.pools (pool),
    seq           bigint NOT NULL CHECK (seq >= 1),
    kind          text NOT NULL CHECK (kind IN ('seed', 'hold', 'return', 'release', 'expiry', 'credit')),
    delta_sats    bigint NOT NULL,
    balance_after bigint NOT NULL CHECK (balance_after >= 0),
    hold_id       uuid,
    created_at    timestamptz NOT NULL,
    prev_hash     bytea NOT NULL,
    hash          bytea NOT NULL,
    PRIMARY KEY (pool, seq)
);

INSERT INTO ref.tiers VALUES ('new', 0), ('established', 50), ('trusted', 200), ('elite', 1000);

-- Append one entry to a pool's chain and move the pool row to it.  The caller
-- holds the pool row lock and passes the head it read under that lock;
-- returns the new head hash.
CREATE FUNCTION ref.pool_append(p_pool text, p_head_seq bigint, p_head_hash bytea,
                                p_balance bigint, p_kind text, p_delta bigint,
                                p_hold_id uuid, p_at timestamptz)
    RETURNS bytea LANGUAGE plpgsql AS $$
DECLARE
    v_balance bigint := p_balance + p_delta;
    v_hash bytea := sha256(p_head_hash || convert_to(format('%L|%s|%s|%s|%s|%s|%s',
                        p_pool, p_head_seq + 1, p_kind, p_delta, v_balance, p_hold_id,
                        extract(epoch FROM p_at)), 'UTF8'));
BEGIN
    IF v_balance < 0 THEN
        RAISE EXCEPTION 'pool "%" would go negative', p_pool;
    END IF;
    INSERT INTO ref.ledger (pool, seq, kind, delta_sats, balance_after, hold_id,
                            created_at, prev_hash, hash)
        VALUES (p_pool, p_head_seq + 1, p_kind, p_delta, v_balance, p_hold_id,
                p_at, p_head_hash, v_hash);
    UPDATE ref.pools SET balance_sats = v_balance, head_seq = p_head_seq + 1, head_hash = v_hash
     WHERE pool = p_pool;
    RETURN v_hash;
END
$$;

CREATE FUNCTION ref.create_pool(p_pool text, p_initial bigint) RETURNS void
    LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO ref.pools (pool, balance_sats) VALUES (p_pool, 0);
    PERFORM ref.pool_append(p_pool, 0, decode(repeat('00', 32), 'hex'), 0, 'seed',
                            p_initial, NULL, now());
END
$$;

CREATE FUNCTION ref.decide(p_subject text, p_estimated_sats bigint, p_pool text DEFAULT 'default')
    RETURNS TABLE (serve text, absorb_sats bigint, charge_sats bigint, hold_id uuid, reason text)
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    v_now timestamptz := now();
    v_sub record;
    v_budget bigint;
    v_held bigint;
    v_pool record;
    v_exp record;
    v_used bigint := 0;
    v_remaining bigint;
    v_balance bigint;
    v_seq bigint;
    v_head bytea;
    v_current boolean;
BEGIN
    IF p_estimated_sats IS NULL OR p_estimated_sats < 0 THEN
        RAISE EXCEPTION 'estimated_sats must be zero or more' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF octet_length(p_subject) > 256 OR p_pool IS NULL THEN
        RAISE EXCEPTION 'invalid subject or pool' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    serve := 'gate'; absorb_sats := 0; charge_sats := p_estimated_sats;

    IF p_subject IS NULL OR p_subject = '' THEN
        reason := 'anonymous';
    ELSIF p_estimated_sats = 0 THEN
        reason := 'zero_cost';
    ELSE
        SELECT s.window_start, s.window_settled_sats, s.tier INTO v_sub
          FROM ref.subjects s WHERE s.subject = p_subject
           FOR NO KEY UPDATE;
        IF NOT FOUND THEN
            reason := 'unknown_subject';
        ELSE
            -- a new statement: it sees the holds of whoever had the lock before us
            SELECT (SELECT t.daily_budget_sats FROM ref.tiers t WHERE t.tier = v_sub.tier),
                   coalesce((SELECT sum(h.held_sats) FROM ref.holds h
                              WHERE h.subject = p_subject AND h.state = 'held'
                                AND h.window_start = v_sub.window_start
                                AND h.expires_at > v_now), 0)
              INTO v_budget, v_held;
            v_current := v_sub.window_start IS NOT NULL
                         AND v_now - v_sub.window_start < interval '24 hours';
            IF v_current THEN
                v_used := v_sub.window_settled_sats + v_held;
            END IF;
            IF v_budget = 0 THEN
                reason := 'no_budget';
            ELSIF v_used >= v_budget THEN
                reason := 'daily_budget_exhausted';
            END IF;
            v_remaining := v_budget - v_used;
        END IF;
    END IF;

    IF reason IS NOT NULL THEN
        IF NOT EXISTS (SELECT FROM ref.pools p WHERE p.pool = p_pool) THEN
            RAISE EXCEPTION 'pool "%" does not exist', p_pool USING ERRCODE = 'undefined_object';
        END IF;
        RETURN NEXT;
        RETURN;
    END IF;

    SELECT p.balance_sats, p.head_seq, p.head_hash, p.hold_ttl INTO v_pool
      FROM ref.pools p WHERE p.pool = p_pool
       FOR NO KEY UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'pool "%" does not exist', p_pool USING ERRCODE = 'undefined_object';
    END IF;
    v_balance := v_pool.balance_sats;
    v_seq := v_pool.head_seq;
    v_head := v_pool.head_hash;

    -- holds past their TTL go back to the pool first
    FOR v_exp IN
        UPDATE ref.holds h SET state = 'expired', ended_at = v_now, end_reason = 'ttl'
          FROM (SELECT x.hold_id FROM ref.holds x
                 WHERE x.pool = p_pool AND x.state = 'held' AND x.expires_at <= v_now
                 ORDER BY x.expires_at, x.hold_id
                   FOR NO KEY UPDATE SKIP LOCKED) e
         WHERE h.hold_id = e.hold_id
        RETURNING h.hold_id, h.held_sats
    LOOP
        v_head := ref.pool_append(p_pool, v_seq, v_head, v_balance, 'expiry',
                                  v_exp.held_sats, v_exp.hold_id, v_now);
        v_balance := v_balance + v_exp.held_sats;
        v_seq := v_seq + 1;
    END LOOP;

    IF v_balance <= 0 THEN
        reason := 'pool_empty';
        RETURN NEXT;
        RETURN;
    END IF;
    absorb_sats := least(v_remaining, v_balance, p_estimated_sats);
    charge_sats := p_estimated_sats - absorb_sats;
    serve := CASE WHEN charge_sats = 0 THEN 'free' ELSE 'partial' END;

    IF NOT v_current THEN
        v_sub.window_start := v_now;
        v_sub.window_settled_sats := 0;
    END IF;
    INSERT INTO ref.holds (subject, pool, estimated_sats, held_sats, window_start,
                           created_at, expires_at)
        VALUES (p_subject, p_pool, p_estimated_sats, absorb_sats, v_sub.window_start,
                v_now, v_now + v_pool.hold_ttl)
        RETURNING hold_id INTO hold_id;
    UPDATE ref.subjects s
       SET window_start = v_sub.window_start, window_settled_sats = v_sub.window_settled_sats,
           last_hold_at = v_now, updated_at = v_now
     WHERE s.subject = p_subject;
    PERFORM ref.pool_append(p_pool, v_seq, v_head, v_balance, 'hold', -absorb_sats,
                            hold_id, v_now);
    RETURN NEXT;
END
$$;

CREATE FUNCTION ref.record_grant(p_hold_id uuid, p_actual_sats bigint, p_request_hash text DEFAULT NULL)
    RETURNS TABLE (grant_id bigint, absorbed_sats bigint, returned_sats bigint,
                   charge_sats bigint, pool_balance_after bigint)
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    v_now timestamptz := now();
    v_hold record;
    v_grant record;
    v_pool record;
    v_last_hold_at timestamptz;
BEGIN
    IF p_hold_id IS NULL OR p_actual_sats IS NULL OR p_actual_sats < 0 THEN
        RAISE EXCEPTION 'hold_id and actual_sats >= 0 are required' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT h.subject, h.pool, h.held_sats, h.state, h.window_start, h.expires_at INTO v_hold
      FROM ref.holds h WHERE h.hold_id = p_hold_id
       FOR NO KEY UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'hold % does not exist', p_hold_id USING ERRCODE = 'undefined_object';
    END IF;

    IF v_hold.state = 'settled' THEN            -- a replay: the first result
        SELECT * INTO v_grant FROM ref.grants g WHERE g.hold_id = p_hold_id;
        IF v_grant.actual_sats <> p_actual_sats
           OR v_grant.request_hash IS DISTINCT FROM p_request_hash THEN
            RAISE EXCEPTION 'hold % was already settled with other arguments', p_hold_id
                USING ERRCODE = 'object_not_in_prerequisite_state';
        END IF;
        grant_id := v_grant.grant_id;
        absorbed_sats := v_grant.absorbed_sats;
        returned_sats := v_grant.returned_sats;
        charge_sats := v_grant.charge_sats;
        pool_balance_after := v_grant.pool_balance_after;
        RETURN NEXT;
        RETURN;
    ELSIF v_hold.state <> 'held' THEN
        RAISE EXCEPTION 'cannot settle hold %: it is %', p_hold_id, v_hold.state
            USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;

    absorbed_sats := least(p_actual_sats, v_hold.held_sats);
    returned_sats := v_hold.held_sats - absorbed_sats;
    charge_sats := p_actual_sats - absorbed_sats;
    -- lock the subject; the window gets what was absorbed if it is still the hold's
    UPDATE ref.subjects s
       SET window_settled_sats = s.window_settled_sats
                                 + CASE WHEN s.window_start = v_hold.window_start
                                        THEN absorbed_sats ELSE 0 END,
           updated_at = v_now
     WHERE s.subject = v_hold.subject
    RETURNING s.last_hold_at INTO v_last_hold_at;
    -- past its TTL by our clock, or by that of a decide that counted it as returned
    IF v_hold.expires_at <= v_now OR v_hold.expires_at <= v_last_hold_at THEN
        RAISE EXCEPTION 'cannot settle hold %: it has expired', p_hold_id
            USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;

    SELECT p.balance_sats, p.head_seq, p.head_hash INTO v_pool
      FROM ref.pools p WHERE p.pool = v_hold.pool
       FOR NO KEY UPDATE;
    PERFORM ref.pool_append(v_hold.pool, v_pool.head_seq, v_pool.head_hash,
                            v_pool.balance_sats, 'return', returned_sats, p_hold_id, v_now);
    pool_balance_after := v_pool.balance_sats + returned_sats;
    UPDATE ref.holds h SET state = 'settled', ended_at = v_now WHERE h.hold_id = p_hold_id;
    INSERT INTO ref.grants (hold_id, subject, pool, actual_sats, absorbed_sats, returned_sats,
                            charge_sats, pool_balance_after, request_hash, created_at)
        VALUES (p_hold_id, v_hold.subject, v_hold.pool, p_actual_sats, absorbed_sats,
                returned_sats, charge_sats, pool_balance_after, p_request_hash, v_now)
        RETURNING grant_id INTO grant_id;
    RETURN NEXT;
END
$$;

-- What ref.decide would answer now, without locks or writes.
CREATE FUNCTION ref.estimate(p_subject text, p_estimated_sats bigint, p_pool text DEFAULT 'default')
    RETURNS TABLE (serve text, absorb_sats bigint, charge_sats bigint, reason text)
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    v_now timestamptz := now();
    v_available bigint;
    v_sub record;
    v_remaining bigint;
BEGIN
    IF p_estimated_sats IS NULL OR p_estimated_sats < 0 THEN
        RAISE EXCEPTION 'estimated_sats must be zero or more' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT p.balance_sats + coalesce((SELECT sum(h.held_sats) FROM ref.holds h
                                       WHERE h.pool = p.pool AND h.state = 'held'
                                         AND h.expires_at <= v_now), 0)
      INTO v_available
      FROM ref.pools p WHERE p.pool = p_pool;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'pool "%" does not exist', p_pool USING ERRCODE = 'undefined_object';
    END IF;
    serve := 'gate'; absorb_sats := 0; charge_sats := p_estimated_sats;

    IF p_subject IS NULL OR p_subject = '' THEN
        reason := 'anonymous';
    ELSIF p_estimated_sats = 0 THEN
        reason := 'zero_cost';
    ELSE
        SELECT t.daily_budget_sats,
               CASE WHEN s.window_start IS NOT NULL AND v_now - s.window_start < interval '24 hours'
                    THEN s.window_settled_sats
                         + (SELECT coalesce(sum(h.held_sats), 0) FROM ref.holds h
                             WHERE h.subject = s.subject AND h.state = 'held'
                               AND h.window_start = s.window_start AND h.expires_at > v_now)
                    ELSE 0 END AS used
          INTO v_sub
          FROM ref.subjects s JOIN ref.tiers t ON t.tier = s.tier
         WHERE s.subject = p_subject;
        IF NOT FOUND THEN
            reason := 'unknown_subject';
        ELSIF v_sub.daily_budget_sats = 0 THEN
            reason := 'no_budget';
        ELSIF v_sub.used >= v_sub.daily_budget_sats THEN
            reason := 'daily_budget_exhausted';
        ELSIF v_available <= 0 THEN
            reason := 'pool_empty';
        ELSE
            v_remaining := v_sub.daily_budget_sats - v_sub.used;
            absorb_sats := least(v_remaining, v_available, p_estimated_sats);
            charge_sats := p_estimated_sats - absorb_sats;
            serve := CASE WHEN charge_sats = 0 THEN 'free' ELSE 'partial' END;
        END IF;
    END IF;
    RETURN NEXT;
END
$$;

REVOKE ALL ON ALL TABLES IN SCHEMA ref FROM PUBLIC;
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA ref FROM PUBLIC;
