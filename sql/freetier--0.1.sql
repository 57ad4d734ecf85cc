/*
 * freetier 0.1: the free-tier gate.
 *
 * State lives in schema freetier and is written only by the functions below,
 * which run with the extension owner's rights and a pinned search_path.  The
 * SQL-callable functions are created in the extension's schema (public by
 * default) so that they work unqualified with the default search_path.
 */
\echo Use "CREATE EXTENSION freetier" to load this file. \quit

CREATE SCHEMA freetier;
REVOKE ALL ON SCHEMA freetier FROM PUBLIC;
COMMENT ON SCHEMA freetier IS 'state of the freetier extension; written only through the freetier_* functions';

-- A TTL is a duration: positive, no month or year part, no negative part,
-- so that now + ttl is later than now on every date.  In C: it is checked
-- on every write of a pool row.
CREATE FUNCTION freetier.is_duration(i interval) RETURNS boolean
    AS 'MODULE_PATHNAME', 'freetier_is_duration'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
REVOKE ALL ON FUNCTION freetier.is_duration(interval) FROM PUBLIC;
COMMENT ON FUNCTION freetier.is_duration(interval) IS
    'a positive interval with no month part and no negative part';

-- Trust levels and what each may absorb in a rolling 24 h window.
CREATE TABLE freetier.tiers (
    tier              text PRIMARY KEY CHECK (octet_length(tier) BETWEEN 1 AND 256),
    daily_budget_sats bigint NOT NULL CHECK (daily_budget_sats >= 0)
);

-- Shared generosity balances.  head_seq and head_hash are the end of the
-- pool's ledger chain; balance_sats always equals the ledger's last
-- balance_after.
CREATE TABLE freetier.pools (
    pool         text PRIMARY KEY CHECK (octet_length(pool) BETWEEN 1 AND 256),
    balance_sats bigint NOT NULL CHECK (balance_sats >= 0),
    credit_pct   numeric NOT NULL DEFAULT 10 CHECK (credit_pct >= 0 AND credit_pct <= 100),
    hold_ttl     interval NOT NULL DEFAULT interval '15 minutes' CHECK (freetier.is_duration(hold_ttl)),
    head_seq     bigint NOT NULL DEFAULT 0 CHECK (head_seq >= 0),
    head_hash    bytea NOT NULL DEFAULT pg_catalog.decode(pg_catalog.repeat('00', 32), 'hex')
                 CHECK (octet_length(head_hash) = 32),
    created_at   timestamptz NOT NULL DEFAULT pg_catalog.now()
);

-- Whoever asks.  window_settled_sats is what settled grants absorbed in the
-- window that began at window_start; sats still on hold are counted from
-- freetier.holds, so a release or an expiry never has to touch this row.
-- last_hold_at is the instant of the latest decide that placed a hold: it
-- may have counted a hold past its TTL as returned, so from then on such a
-- hold can no longer be settled, even by a transaction whose clock started
-- before the TTL ran out.
CREATE TABLE freetier.subjects (
    subject             text PRIMARY KEY CHECK (octet_length(subject) BETWEEN 1 AND 256),
    tier                text NOT NULL REFERENCES freetier.tiers (tier),
    window_start        timestamptz,
    window_settled_sats bigint NOT NULL DEFAULT 0 CHECK (window_settled_sats >= 0),
    last_hold_at        timestamptz,
    created_at          timestamptz NOT NULL DEFAULT pg_catalog.now(),
    updated_at          timestamptz NOT NULL DEFAULT pg_catalog.now()
);

-- Reservations placed by freetier_decide.  A hold in state 'held' whose
-- expires_at has passed counts as returned even before it is swept.
CREATE TABLE freetier.holds (
    hold_id        uuid PRIMARY KEY DEFAULT pg_catalog.gen_random_uuid(),
    subject        text NOT NULL REFERENCES freetier.subjects (subject),
    pool           text NOT NULL REFERENCES freetier.pools (pool),
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
CREATE INDEX holds_held_by_subject ON freetier.holds (subject) WHERE state = 'held';
CREATE INDEX holds_held_by_expiry ON freetier.holds (pool, expires_at) WHERE state = 'held';

-- One row per settled hold: what was absorbed and what the user still owes.
CREATE TABLE freetier.grants (
    grant_id           bigserial PRIMARY KEY,
    hold_id            uuid NOT NULL UNIQUE REFERENCES freetier.holds (hold_id),
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

-- Paid invoices credited to a pool, so that a payment reference is applied once.
CREATE TABLE freetier.credits (
    payment_ref   text PRIMARY KEY CHECK (octet_length(payment_ref) BETWEEN 1 AND 256),
    pool          text NOT NULL REFERENCES freetier.pools (pool),
    paid_sats     bigint NOT NULL CHECK (paid_sats >= 0),
    credited_sats bigint NOT NULL CHECK (credited_sats >= 0),
    created_at    timestamptz NOT NULL
);

-- Every movement of every pool's balance, chained per pool by BLAKE2b-256.
CREATE TABLE freetier.ledger (
    pool          text NOT NULL REFERENCES freetier.pools (pool),
    seq           bigint NOT NULL CHECK (seq >= 1),
    kind          text NOT NULL
                  CHECK (kind IN ('seed', 'hold', 'return', 'release', 'expiry', 'credit')),
    delta_sats    bigint NOT NULL,
    balance_after bigint NOT NULL CHECK (balance_after >= 0),
    hold_id       uuid,
    payment_ref   text,
    created_at    timestamptz NOT NULL,
    prev_hash     bytea NOT NULL,
    hash          bytea NOT NULL,
    PRIMARY KEY (pool, seq)
);

-- The ledger and the grants are append-only for every role, superusers
-- included, and also under session_replication_role = replica.
CREATE FUNCTION freetier.refuse_change() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    RAISE EXCEPTION 'freetier.% is append-only', TG_TABLE_NAME
        USING ERRCODE = 'object_not_in_prerequisite_state',
              DETAIL = format('%s on freetier.%s is refused; corrections are made by new entries.',
                              TG_OP, TG_TABLE_NAME);
END
$$;
REVOKE ALL ON FUNCTION freetier.refuse_change() FROM PUBLIC;

CREATE TRIGGER ledger_append_only BEFORE UPDATE OR DELETE ON freetier.ledger
    FOR EACH ROW EXECUTE FUNCTION freetier.refuse_change();
CREATE TRIGGER ledger_no_truncate BEFORE TRUNCATE ON freetier.ledger
    FOR EACH STATEMENT EXECUTE FUNCTION freetier.refuse_change();
CREATE TRIGGER grants_append_only BEFORE UPDATE OR DELETE ON freetier.grants
    FOR EACH ROW EXECUTE FUNCTION freetier.refuse_change();
CREATE TRIGGER grants_no_truncate BEFORE TRUNCATE ON freetier.grants
    FOR EACH STATEMENT EXECUTE FUNCTION freetier.refuse_change();
ALTER TABLE freetier.ledger ENABLE ALWAYS TRIGGER ledger_append_only;
ALTER TABLE freetier.ledger ENABLE ALWAYS TRIGGER ledger_no_truncate;
ALTER TABLE freetier.grants ENABLE ALWAYS TRIGGER grants_append_only;
ALTER TABLE freetier.grants ENABLE ALWAYS TRIGGER grants_no_truncate;

REVOKE ALL ON ALL TABLES IN SCHEMA freetier FROM PUBLIC;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA freetier FROM PUBLIC;

-- The instant freetier works at: the transaction's start, or freetier.test_now
-- when a superuser has set it.
CREATE FUNCTION freetier.clock() RETURNS timestamptz
    AS 'MODULE_PATHNAME', 'freetier_clock'
    LANGUAGE C STABLE PARALLEL SAFE;
REVOKE ALL ON FUNCTION freetier.clock() FROM PUBLIC;
COMMENT ON FUNCTION freetier.clock() IS 'the instant freetier decides at: transaction start, or freetier.test_now';

-- The pool's name; 22023 when NULL, 42704 when there is no such pool.
CREATE FUNCTION freetier.require_pool(pool text) RETURNS text
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF pool IS NULL THEN
        RAISE EXCEPTION 'pool must not be NULL' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF NOT EXISTS (SELECT FROM freetier.pools p WHERE p.pool = require_pool.pool) THEN
        RAISE EXCEPTION 'pool "%" does not exist', pool
            USING ERRCODE = 'undefined_object',
                  DETAIL = 'Pools are created with freetier_create_pool.';
    END IF;
    RETURN pool;
END
$$;
REVOKE ALL ON FUNCTION freetier.require_pool(text) FROM PUBLIC;

------------------------------------------------------------------------------
-- The gate
------------------------------------------------------------------------------

CREATE FUNCTION freetier_decide(subject text, estimated_sats bigint, pool text DEFAULT 'default')
    RETURNS TABLE (serve text, absorb_sats bigint, charge_sats bigint, hold_id uuid, reason text)
    AS 'MODULE_PATHNAME', 'freetier_decide'
    LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION freetier_decide(text, bigint, text) IS
    'decide free, partial or gate for a request and hold the subsidy until it is settled, released or expires';

CREATE FUNCTION freetier_estimate(subject text, estimated_sats bigint, pool text DEFAULT 'default')
    RETURNS TABLE (serve text, absorb_sats bigint, charge_sats bigint, reason text)
    AS 'MODULE_PATHNAME', 'freetier_estimate'
    LANGUAGE C STABLE PARALLEL RESTRICTED SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION freetier_estimate(text, bigint, text) IS
    'what freetier_decide would answer now, without locks or writes (works on a standby)';

CREATE FUNCTION freetier_record_grant(hold_id uuid, actual_sats bigint, request_hash text DEFAULT NULL)
    RETURNS TABLE (grant_id bigint, absorbed_sats bigint, returned_sats bigint,
                   charge_sats bigint, pool_balance_after bigint)
    AS 'MODULE_PATHNAME', 'freetier_record_grant'
    LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION freetier_record_grant(uuid, bigint, text) IS
    'settle a hold at the actual cost: absorb up to the held amount, return the rest; idempotent';

CREATE FUNCTION freetier_release(hold_id uuid, reason text DEFAULT NULL)
    RETURNS bigint
    AS 'MODULE_PATHNAME', 'freetier_release'
    LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION freetier_release(uuid, text) IS
    'return everything a hold took to its pool and window; returns the sats returned (0 when already returned)';

CREATE FUNCTION freetier_credit(paid_sats bigint, pool text DEFAULT 'default', payment_ref text DEFAULT NULL)
    RETURNS bigint
    AS 'MODULE_PATHNAME', 'freetier_credit'
    LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION freetier_credit(bigint, text, text) IS
    'add floor(paid_sats * credit_pct / 100) to a pool, once per payment_ref; returns the sats added';

CREATE FUNCTION freetier_expire_holds()
    RETURNS bigint
    AS 'MODULE_PATHNAME', 'freetier_expire_holds'
    LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION freetier_expire_holds() IS
    'return every hold past its TTL to its pool; returns the number of holds expired';

CREATE FUNCTION freetier_verify_ledger(pool text DEFAULT NULL)
    RETURNS TABLE (pool text, entries bigint, ok boolean, first_bad_entry bigint)
    AS 'MODULE_PATHNAME', 'freetier_verify_ledger'
    LANGUAGE C STABLE PARALLEL RESTRICTED SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION freetier_verify_ledger(text) IS
    'recompute each pool''s hash chain and balances; first_bad_entry is the seq of the first entry that does not match';

CREATE FUNCTION freetier_create_pool(pool text, initial_sats bigint DEFAULT 0,
                                     credit_pct numeric DEFAULT 10,
                                     hold_ttl interval DEFAULT interval '15 minutes')
    RETURNS void
    AS 'MODULE_PATHNAME', 'freetier_create_pool'
    LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION freetier_create_pool(text, bigint, numeric, interval) IS
    'create a pool with its seed ledger entry';

CREATE FUNCTION next_renewal_after(ts timestamptz, anchor_day int DEFAULT NULL)
    RETURNS timestamptz
    AS 'MODULE_PATHNAME', 'freetier_next_renewal_after'
    LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION next_renewal_after(timestamptz, int) IS
    'one calendar month after ts (UTC), on anchor_day clamped to the month''s last day, time of day kept';

------------------------------------------------------------------------------
-- Operator functions (plain SQL over the tables)
------------------------------------------------------------------------------

CREATE FUNCTION freetier_set_tier(subject text, tier text) RETURNS void
    LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF subject IS NULL OR subject = '' OR octet_length(subject) > 256 THEN
        RAISE EXCEPTION 'invalid subject'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'A subject must be a non-empty string of at most 256 bytes.';
    END IF;
    IF tier IS NULL THEN
        RAISE EXCEPTION 'tier must not be NULL' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF NOT EXISTS (SELECT FROM freetier.tiers t WHERE t.tier = freetier_set_tier.tier) THEN
        RAISE EXCEPTION 'tier "%" does not exist', tier
            USING ERRCODE = 'undefined_object',
                  DETAIL = 'Tiers are rows of freetier.tiers; add one with freetier_set_tier_budget.';
    END IF;
    INSERT INTO freetier.subjects AS s (subject, tier)
        VALUES (freetier_set_tier.subject, freetier_set_tier.tier)
        ON CONFLICT ON CONSTRAINT subjects_pkey
        DO UPDATE SET tier = EXCLUDED.tier, updated_at = pg_catalog.now();
END
$$;
COMMENT ON FUNCTION freetier_set_tier(text, text) IS
    'give a subject a tier (creating the subject); its current window is kept';

CREATE FUNCTION freetier_set_tier_budget(tier text, daily_budget_sats bigint) RETURNS void
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
    INSERT INTO freetier.tiers AS t (tier, daily_budget_sats)
        VALUES (freetier_set_tier_budget.tier, freetier_set_tier_budget.daily_budget_sats)
        ON CONFLICT ON CONSTRAINT tiers_pkey
        DO UPDATE SET daily_budget_sats = EXCLUDED.daily_budget_sats;
END
$$;
COMMENT ON FUNCTION freetier_set_tier_budget(text, bigint) IS
    'create a tier or change its daily budget; subjects mid-window keep max(0, budget - used)';

CREATE FUNCTION freetier_configure_pool(pool text, credit_pct numeric DEFAULT NULL,
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
                  DETAIL = format('hold_ttl was %s; give days, hours, minutes or seconds, none negative.', hold_ttl);
    END IF;
    UPDATE freetier.pools p
       SET credit_pct = coalesce(freetier_configure_pool.credit_pct, p.credit_pct),
           hold_ttl = coalesce(freetier_configure_pool.hold_ttl, p.hold_ttl)
     WHERE p.pool = freetier.require_pool(freetier_configure_pool.pool);
END
$$;
COMMENT ON FUNCTION freetier_configure_pool(text, numeric, interval) IS
    'change a pool''s credit_pct or hold_ttl (NULL keeps the current value); new holds use the new TTL';

CREATE FUNCTION freetier_pool_status(pool text DEFAULT 'default')
    RETURNS TABLE (pool text, balance_sats bigint, held_sats bigint, credit_pct numeric,
                   hold_ttl interval, daily_budgets jsonb)
    LANGUAGE sql STABLE PARALLEL RESTRICTED SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
    SELECT p.pool,
           p.balance_sats + coalesce(h.expired, 0)::bigint,
           coalesce(h.live, 0)::bigint,
           p.credit_pct,
           p.hold_ttl,
           (SELECT coalesce(jsonb_object_agg(t.tier, t.daily_budget_sats), '{}'::jsonb)
              FROM freetier.tiers t)
      FROM freetier.pools p
      CROSS JOIN freetier.clock() AS at
      LEFT JOIN LATERAL (
            SELECT sum(x.held_sats) FILTER (WHERE x.expires_at > at) AS live,
                   sum(x.held_sats) FILTER (WHERE x.expires_at <= at) AS expired
              FROM freetier.holds x
             WHERE x.pool = p.pool AND x.state = 'held') h ON true
     WHERE p.pool = freetier.require_pool($1)
$$;
COMMENT ON FUNCTION freetier_pool_status(text) IS
    'a pool as decide sees it: balance (holds past their TTL counted as returned), sats on hold, settings, tier budgets';

------------------------------------------------------------------------------
-- Privileges: nothing but the pure function is executable by PUBLIC.
------------------------------------------------------------------------------

REVOKE ALL ON FUNCTION freetier_decide(text, bigint, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION freetier_estimate(text, bigint, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION freetier_record_grant(uuid, bigint, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION freetier_release(uuid, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION freetier_credit(bigint, text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION freetier_expire_holds() FROM PUBLIC;
REVOKE ALL ON FUNCTION freetier_verify_ledger(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION freetier_create_pool(text, bigint, numeric, interval) FROM PUBLIC;
REVOKE ALL ON FUNCTION freetier_set_tier(text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION freetier_set_tier_budget(text, bigint) FROM PUBLIC;
REVOKE ALL ON FUNCTION freetier_configure_pool(text, numeric, interval) FROM PUBLIC;
REVOKE ALL ON FUNCTION freetier_pool_status(text) FROM PUBLIC;

------------------------------------------------------------------------------
-- pg_dump carries the state.  CREATE EXTENSION makes the defaults again
-- before a restore loads the dumped rows, so: a dumped tier or pool row
-- replaces the default one of the same name (the triggers below), and the
-- default pool's install-time seed entry, which is the same in every
-- install (dated -infinity), is left out of the dump.  A row is replaced
-- only while it is still exactly as CREATE EXTENSION made it, so a dump
-- loaded into a database that has moved on fails on the primary key
-- instead of silently winding it back.  Restore into a fresh database.
------------------------------------------------------------------------------

CREATE FUNCTION freetier.restore_tier() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    UPDATE freetier.tiers t SET daily_budget_sats = NEW.daily_budget_sats
     WHERE t.tier = NEW.tier
       AND (t.tier, t.daily_budget_sats) IN (VALUES ('new', 0::bigint), ('established', 50),
                                                    ('trusted', 200), ('elite', 1000));
    IF FOUND THEN
        RETURN NULL;
    END IF;
    RETURN NEW;
END
$$;

-- Only a restored row carries a chain (head_seq > 0; freetier_create_pool
-- inserts head_seq 0), and only a pool whose chain is still its install-time
-- seed alone is replaced.
CREATE FUNCTION freetier.restore_pool() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF NEW.head_seq > 0 THEN
        UPDATE freetier.pools p
           SET balance_sats = NEW.balance_sats, credit_pct = NEW.credit_pct,
               hold_ttl = NEW.hold_ttl, head_seq = NEW.head_seq,
               head_hash = NEW.head_hash, created_at = NEW.created_at
         WHERE p.pool = NEW.pool AND p.head_seq = 1
           AND EXISTS (SELECT FROM freetier.ledger l
                        WHERE l.pool = p.pool AND l.seq = 1 AND l.created_at = '-infinity');
        IF FOUND THEN
            RETURN NULL;
        END IF;
    END IF;
    RETURN NEW;
END
$$;
REVOKE ALL ON FUNCTION freetier.restore_tier() FROM PUBLIC;
REVOKE ALL ON FUNCTION freetier.restore_pool() FROM PUBLIC;

CREATE TRIGGER tiers_restore BEFORE INSERT ON freetier.tiers
    FOR EACH ROW EXECUTE FUNCTION freetier.restore_tier();
CREATE TRIGGER pools_restore BEFORE INSERT ON freetier.pools
    FOR EACH ROW EXECUTE FUNCTION freetier.restore_pool();
ALTER TABLE freetier.tiers ENABLE ALWAYS TRIGGER tiers_restore;
ALTER TABLE freetier.pools ENABLE ALWAYS TRIGGER pools_restore;

SELECT pg_catalog.pg_extension_config_dump('freetier.tiers', '');
SELECT pg_catalog.pg_extension_config_dump('freetier.pools', '');
SELECT pg_catalog.pg_extension_config_dump('freetier.subjects', '');
SELECT pg_catalog.pg_extension_config_dump('freetier.holds', '');
SELECT pg_catalog.pg_extension_config_dump('freetier.grants', '');
SELECT pg_catalog.pg_extension_config_dump('freetier.grants_grant_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('freetier.credits', '');
SELECT pg_catalog.pg_extension_config_dump('freetier.ledger',
    $$WHERE NOT (seq = 1 AND kind = 'seed' AND created_at = '-infinity')$$);

------------------------------------------------------------------------------
-- Defaults
------------------------------------------------------------------------------

INSERT INTO freetier.tiers (tier, daily_budget_sats) VALUES
    ('new', 0), ('established', 50), ('trusted', 200), ('elite', 1000);
SELECT freetier_create_pool('default', 10000, 10, interval '15 minutes');
