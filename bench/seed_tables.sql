-- Tables shaped like those of the seed (/work/shared/seeds/000-free-tier.ts),
-- created in the schema first on the search_path: bench/setup.sql makes them
-- twice, in schema seed (the seed's statements, sent one by one by pgbench)
-- and in schema seedfn (the seed's logic as two PL/pgSQL functions).
--
-- The seed imports timmyConfig, nostrIdentities and freeTierGrants from
-- @workspace/db, whose drizzle schema is not among the seeds; the columns
-- here are the ones its code reads and writes, with the types its SQL
-- implies (value::int, integer counters, a text id from randomUUID()).

-- timmy_config: the key/value store; the pool is the row
-- 'generosity_pool_sats', its balance kept as text.
CREATE TABLE timmy_config (
    key        text PRIMARY KEY,
    value      text NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- nostr_identities: a subject, its trust tier and its daily counter
-- (satsAbsorbedToday, reset 24 h after absorbedResetAt).  trust_score stands
-- for the trust service's own columns (trust.ts is not in the seed).
CREATE TABLE nostr_identities (
    pubkey              text PRIMARY KEY,
    trust_score         real NOT NULL DEFAULT 0,
    tier                text NOT NULL DEFAULT 'new',
    sats_absorbed_today integer NOT NULL DEFAULT 0,
    absorbed_reset_at   timestamptz NOT NULL DEFAULT now(),
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now()
);

-- free_tier_grants: the audit row recordGrant inserts.
CREATE TABLE free_tier_grants (
    id                 text PRIMARY KEY,
    pubkey             text NOT NULL,
    request_hash       text NOT NULL,
    sats_absorbed      integer NOT NULL,
    pool_balance_after integer NOT NULL,
    created_at         timestamptz NOT NULL DEFAULT now()
);
