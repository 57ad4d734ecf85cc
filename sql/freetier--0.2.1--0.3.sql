/*
 * freetier 0.2.1 -> 0.3: striped pools and a leaner request path.
 *
 * A pool's balance and hash chain move from its pools row to its stripes
 * (freetier.pool_stripes): rows with their own balance and their own chain,
 * so that concurrent requests lock different rows.  A pool's balance is the
 * sum of its stripes'.  The pool's row keeps its settings, now with the
 * number of active stripes (16 unless configured).  An existing pool's row
 * becomes its stripe 0, chain and all, and its other stripes start empty:
 * the first decide that has to lock every stripe evens them out (ledger
 * entries of kind 'move').
 *
 * Ledger entries and holds name their stripe.  Stripe 0's entries hash as a
 * pool's one chain always has; the other stripes' hash their stripe number
 * too, under their own domain tag (README, "The ledger").
 *
 * The foreign keys and CHECK constraints that every request checked are
 * gone from the tables a request writes (holds, grants, ledger, subjects):
 * the server rebuilt each CHECK expression for every statement, a fifth of
 * a request's time.  The C code writes those rows only for rows it has
 * locked, from checked arguments; test/invariants.sql states every rule
 * they enforced, and test/sql/invariants.sql and the TAP crash test check
 * it over every row.  A stripe's balance keeps its CHECK (>= 0), the last
 * guard against an overdraft, and so do the tables that only the
 * operator's functions write.
 */
\echo Use "ALTER EXTENSION freetier UPDATE TO '0.3'" to load this file. \quit

-- The stripes, starting with each pool's row as its stripe 0.
CREATE TABLE freetier.pool_stripes (
    pool         text NOT NULL REFERENCES freetier.pools (pool),
    stripe       int NOT NULL CHECK (stripe >= 0 AND stripe < 64),
    balance_sats bigint NOT NULL CHECK (balance_sats >= 0),
    head_seq     bigint NOT NULL DEFAULT 0,
    head_hash    bytea NOT NULL DEFAULT pg_catalog.decode(pg_catalog.repeat('00', 32), 'hex'),
    PRIMARY KEY (pool, stripe)
);
COMMENT ON TABLE freetier.pool_stripes IS
    'a pool''s balance, spread over rows with their own hash chain; the pool''s balance is their sum';
INSERT INTO freetier.pool_stripes (pool, stripe, balance_sats, head_seq, head_hash)
    SELECT pool, 0, balance_sats, head_seq, head_hash FROM freetier.pools;

ALTER TABLE freetier.pools
    ADD COLUMN stripes int NOT NULL DEFAULT 16 CHECK (stripes >= 1 AND stripes <= 64);
COMMENT ON COLUMN freetier.pools.stripes IS
    'active stripes: decides and credits use stripes 0 to stripes - 1';
ALTER TABLE freetier.pools
    DROP COLUMN balance_sats, DROP COLUMN head_seq, DROP COLUMN head_hash;
INSERT INTO freetier.pool_stripes (pool, stripe, balance_sats)
    SELECT p.pool, s, 0 FROM freetier.pools p, pg_catalog.generate_series(1, 15) s;

-- Ledger entries name their stripe; a chain is (pool, stripe).
ALTER TABLE freetier.ledger
    ADD COLUMN stripe int NOT NULL DEFAULT 0,
    DROP CONSTRAINT ledger_pool_fkey,
    DROP CONSTRAINT ledger_pkey,
    ADD PRIMARY KEY (pool, stripe, seq),
    DROP CONSTRAINT ledger_kind_check,
    DROP CONSTRAINT ledger_seq_check,
    DROP CONSTRAINT ledger_balance_after_check;

-- A hold draws from its stripe (and from others when one was not enough);
-- what it gives back goes to its stripe.
ALTER TABLE freetier.holds
    ADD COLUMN stripe int NOT NULL DEFAULT 0,
    DROP CONSTRAINT holds_subject_fkey,
    DROP CONSTRAINT holds_pool_fkey,
    DROP CONSTRAINT holds_estimated_sats_check,
    DROP CONSTRAINT holds_check,
    DROP CONSTRAINT holds_state_check,
    DROP CONSTRAINT holds_end_reason_check,
    DROP CONSTRAINT holds_check1,
    DROP CONSTRAINT holds_check2;
DROP INDEX freetier.holds_held_by_expiry;
CREATE INDEX holds_held_by_expiry ON freetier.holds (pool, stripe, expires_at) WHERE state = 'held';
ALTER TABLE freetier.grants
    DROP CONSTRAINT grants_hold_id_fkey,
    DROP CONSTRAINT grants_actual_sats_check,
    DROP CONSTRAINT grants_absorbed_sats_check,
    DROP CONSTRAINT grants_returned_sats_check,
    DROP CONSTRAINT grants_charge_sats_check,
    DROP CONSTRAINT grants_request_hash_check;
ALTER TABLE freetier.subjects
    DROP CONSTRAINT subjects_subject_check,
    DROP CONSTRAINT subjects_window_settled_sats_check;

-- Restores.  CREATE EXTENSION makes pool default again before a restore
-- loads the dump: a dumped pool row replaces it while its settings are
-- still as installed, and a dumped stripe row replaces one while its chain
-- is still as installed (empty, or the install-time seed alone, dated
-- -infinity).  Only a restored stripe row carries a chain (head_seq > 0;
-- freetier's own inserts make empty ones); an empty one is dropped when
-- the stripe exists already.
CREATE OR REPLACE FUNCTION freetier.restore_pool() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    UPDATE freetier.pools p
       SET credit_pct = NEW.credit_pct, hold_ttl = NEW.hold_ttl,
           stripes = NEW.stripes, created_at = NEW.created_at
     WHERE p.pool = NEW.pool
       AND (p.pool, p.credit_pct, p.hold_ttl, p.stripes) = ('default', 10, interval '15 minutes', 16);
    IF FOUND THEN
        RETURN NULL;
    END IF;
    RETURN NEW;
END
$$;
CREATE FUNCTION freetier.restore_pool_stripe() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF NEW.head_seq > 0 THEN
        UPDATE freetier.pool_stripes s
           SET balance_sats = NEW.balance_sats, head_seq = NEW.head_seq, head_hash = NEW.head_hash
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
REVOKE ALL ON FUNCTION freetier.restore_pool_stripe() FROM PUBLIC;
CREATE TRIGGER pool_stripes_restore BEFORE INSERT ON freetier.pool_stripes
    FOR EACH ROW EXECUTE FUNCTION freetier.restore_pool_stripe();
ALTER TABLE freetier.pool_stripes ENABLE ALWAYS TRIGGER pool_stripes_restore;
SELECT pg_catalog.pg_extension_config_dump('freetier.pool_stripes', '');
REVOKE ALL ON ALL TABLES IN SCHEMA freetier FROM PUBLIC;

------------------------------------------------------------------------------
-- The functions that touch pools, on the striped layout.
------------------------------------------------------------------------------

CREATE OR REPLACE FUNCTION freetier_decide(subject text, estimated_sats bigint, pool text DEFAULT 'default')
    RETURNS TABLE (serve text, absorb_sats bigint, charge_sats bigint, hold_id uuid, reason text)
    AS 'MODULE_PATHNAME', 'freetier_decide_v3'
    LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp;
CREATE OR REPLACE FUNCTION freetier_estimate(subject text, estimated_sats bigint, pool text DEFAULT 'default')
    RETURNS TABLE (serve text, absorb_sats bigint, charge_sats bigint, reason text)
    AS 'MODULE_PATHNAME', 'freetier_estimate_v3'
    LANGUAGE C STABLE PARALLEL RESTRICTED SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp;
CREATE OR REPLACE FUNCTION freetier_record_grant(hold_id uuid, actual_sats bigint, request_hash text DEFAULT NULL)
    RETURNS TABLE (grant_id bigint, absorbed_sats bigint, returned_sats bigint,
                   charge_sats bigint, pool_balance_after bigint)
    AS 'MODULE_PATHNAME', 'freetier_record_grant_v3'
    LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp;
CREATE OR REPLACE FUNCTION freetier_release(hold_id uuid, reason text DEFAULT NULL)
    RETURNS bigint
    AS 'MODULE_PATHNAME', 'freetier_release_v3'
    LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp;
CREATE OR REPLACE FUNCTION freetier_credit(paid_sats bigint, pool text DEFAULT 'default', payment_ref text DEFAULT NULL)
    RETURNS bigint
    AS 'MODULE_PATHNAME', 'freetier_credit_v3'
    LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION freetier_credit(bigint, text, text) IS
    'add floor(paid_sats * credit_pct / 100) to a pool (its emptiest stripe), once per payment_ref; returns the sats added';
CREATE OR REPLACE FUNCTION freetier_expire_holds()
    RETURNS bigint
    AS 'MODULE_PATHNAME', 'freetier_expire_holds_v3'
    LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp;
CREATE OR REPLACE FUNCTION freetier_verify_ledger(pool text DEFAULT NULL)
    RETURNS TABLE (pool text, entries bigint, ok boolean, first_bad_entry bigint)
    AS 'MODULE_PATHNAME', 'freetier_verify_ledger_v3'
    LANGUAGE C STABLE PARALLEL RESTRICTED SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION freetier_verify_ledger(text) IS
    'recompute the hash chain and balances of every stripe of each pool; first_bad_entry is the seq of the first entry that does not match, on the pool''s first bad stripe';

-- create_pool and configure_pool take the number of stripes: new
-- signatures, so GRANTs on the old ones must be given again (CHANGELOG).
DROP FUNCTION freetier_create_pool(text, bigint, numeric, interval);
CREATE FUNCTION freetier_create_pool(pool text, initial_sats bigint DEFAULT 0,
                                     credit_pct numeric DEFAULT 10,
                                     hold_ttl interval DEFAULT interval '15 minutes',
                                     stripes int DEFAULT 16)
    RETURNS void
    AS 'MODULE_PATHNAME', 'freetier_create_pool_v3'
    LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION freetier_create_pool(text, bigint, numeric, interval, int) IS
    'create a pool over `stripes` stripes, each with a seed ledger entry of its share of initial_sats';
REVOKE ALL ON FUNCTION freetier_create_pool(text, bigint, numeric, interval, int) FROM PUBLIC;

DROP FUNCTION freetier_configure_pool(text, numeric, interval);
CREATE FUNCTION freetier_configure_pool(pool text, credit_pct numeric DEFAULT NULL,
                                        hold_ttl interval DEFAULT NULL,
                                        stripes int DEFAULT NULL)
    RETURNS void
    AS 'MODULE_PATHNAME', 'freetier_configure_pool'
    LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION freetier_configure_pool(text, numeric, interval, int) IS
    'change a pool''s credit_pct, hold_ttl (new holds only) or number of active stripes; NULL keeps a value';
REVOKE ALL ON FUNCTION freetier_configure_pool(text, numeric, interval, int) FROM PUBLIC;

CREATE OR REPLACE FUNCTION freetier_pool_status(pool text DEFAULT 'default')
    RETURNS TABLE (pool text, balance_sats bigint, held_sats bigint, credit_pct numeric,
                   hold_ttl interval, daily_budgets jsonb)
    LANGUAGE sql STABLE PARALLEL RESTRICTED SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
    SELECT p.pool,
           ((SELECT sum(s.balance_sats) FROM freetier.pool_stripes s WHERE s.pool = p.pool)
            + coalesce(h.expired, 0))::bigint,
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
