-- The seed's logic (/work/shared/seeds/000-free-tier.ts, FreeTierService) as
-- two PL/pgSQL functions over its tables in schema seedfn: the same
-- statements as bench/scripts/request-seedsql.sql, with the decisions the
-- TypeScript takes between them, one function call per transaction.
--
--   seedfn.decide(pubkey, estimated_sats)   decide(), with getPoolBalance() and
--                                           _atomicPoolDebit() inside it
--   seedfn.record_grant(pubkey, request_hash, actual, reserved)
--                                           recordGrant()
--
-- The seed's flaws are kept on purpose (DESIGN.md, "What the seeds get
-- wrong"): the daily counter moves only in recordGrant, a partial decision is
-- advisory, the pool is text.  Unlike freetier and bench's ref, these are
-- plain functions (no SECURITY DEFINER), as the seed has no privilege split.

-- dailyBudgetForTier: the seed reads the budgets from environment variables;
-- the bench runs it with FREE_TIER_BUDGET_ELITE so large that no subject
-- runs out during a run (the other tiers keep the seed's defaults).
CREATE FUNCTION seedfn.daily_budget_for_tier(p_tier text) RETURNS integer
    LANGUAGE sql IMMUTABLE
    RETURN CASE p_tier WHEN 'elite' THEN 2000000000 WHEN 'trusted' THEN 200
                       WHEN 'established' THEN 50 ELSE 0 END;

-- decide(pubkey, estimatedSats) for serve = free debits the pool at once
-- (_atomicPoolDebit); partial is advisory (no debit); gate does nothing.
CREATE FUNCTION seedfn.decide(p_pubkey text, p_estimated_sats integer)
    RETURNS TABLE (serve text, absorb_sats integer, charge_sats integer)
    LANGUAGE plpgsql VOLATILE
AS $$
#variable_conflict use_column
DECLARE
    v_identity record;
    v_budget integer;
    v_today integer;
    v_remaining integer;
    v_pool integer;
    v_can integer;
    v_balance integer;
    v_debited integer := 0;
BEGIN
    serve := 'gate'; absorb_sats := 0; charge_sats := p_estimated_sats;
    IF p_pubkey IS NULL OR p_pubkey = '' OR p_estimated_sats <= 0 THEN
        RETURN NEXT; RETURN;
    END IF;

    -- trustService.getIdentityWithDecay(pubkey) (trust.ts is not in the seed)
    SELECT i.tier, i.sats_absorbed_today, i.absorbed_reset_at INTO v_identity
      FROM seedfn.nostr_identities i WHERE i.pubkey = p_pubkey;
    IF NOT FOUND THEN
        RETURN NEXT; RETURN;
    END IF;
    v_budget := seedfn.daily_budget_for_tier(v_identity.tier);
    IF v_budget = 0 THEN
        RETURN NEXT; RETURN;
    END IF;
    v_today := CASE WHEN now() - v_identity.absorbed_reset_at >= interval '24 hours'
                    THEN 0 ELSE v_identity.sats_absorbed_today END;
    v_remaining := greatest(0, v_budget - v_today);
    IF v_remaining = 0 THEN
        RETURN NEXT; RETURN;
    END IF;

    -- getPoolBalance(): seeds the pool on first use
    SELECT c.value::integer INTO v_pool FROM seedfn.timmy_config c
     WHERE c.key = 'generosity_pool_sats' LIMIT 1;
    IF NOT FOUND THEN
        INSERT INTO seedfn.timmy_config (key, value) VALUES ('generosity_pool_sats', '10000')
            ON CONFLICT DO NOTHING;
        v_pool := 10000;
    END IF;
    IF coalesce(v_pool, 0) <= 0 THEN
        RETURN NEXT; RETURN;
    END IF;

    v_can := least(v_remaining, v_pool, p_estimated_sats);
    IF v_can <= 0 THEN
        RETURN NEXT; RETURN;
    END IF;
    IF v_can < p_estimated_sats THEN            -- partial: advisory only
        serve := 'partial'; absorb_sats := v_can; charge_sats := p_estimated_sats - v_can;
        RETURN NEXT; RETURN;
    END IF;

    -- _atomicPoolDebit(canAbsorb)
    INSERT INTO seedfn.timmy_config (key, value) VALUES ('generosity_pool_sats', '10000')
        ON CONFLICT DO NOTHING;
    SELECT c.value::integer INTO v_balance FROM seedfn.timmy_config c
     WHERE c.key = 'generosity_pool_sats' FOR UPDATE;
    IF coalesce(v_balance, 0) > 0 THEN
        v_debited := least(v_can, v_balance);
        UPDATE seedfn.timmy_config SET value = (v_balance - v_debited)::text, updated_at = now()
         WHERE key = 'generosity_pool_sats';
    END IF;
    IF v_debited <= 0 THEN                      -- drained between read and debit
        RETURN NEXT; RETURN;
    END IF;
    serve := 'free'; absorb_sats := v_debited; charge_sats := 0;
    RETURN NEXT;
END
$$;

-- recordGrant(pubkey, requestHash, actualAbsorbed, reservedAbsorbed): returns
-- the over-reservation to the pool, raises the daily counter, writes the
-- audit row with the pool's balance after.
CREATE FUNCTION seedfn.record_grant(p_pubkey text, p_request_hash text,
                                    p_actual_absorbed integer, p_reserved_absorbed integer)
    RETURNS void
    LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    v_to_record integer := greatest(0, p_actual_absorbed);
    v_over integer := greatest(0, p_reserved_absorbed - greatest(0, p_actual_absorbed));
    v_after integer;
BEGIN
    IF v_to_record <= 0 AND v_over <= 0 THEN
        RETURN;
    END IF;
    IF v_over > 0 THEN
        UPDATE seedfn.timmy_config SET value = (value::integer + v_over)::text, updated_at = now()
         WHERE key = 'generosity_pool_sats';
    END IF;
    IF v_to_record > 0 THEN
        UPDATE seedfn.nostr_identities
           SET sats_absorbed_today =
                   CASE WHEN extract(epoch FROM (now() - absorbed_reset_at)) * 1000 >= 86400000
                        THEN v_to_record ELSE sats_absorbed_today + v_to_record END,
               absorbed_reset_at =
                   CASE WHEN extract(epoch FROM (now() - absorbed_reset_at)) * 1000 >= 86400000
                        THEN now() ELSE absorbed_reset_at END,
               updated_at = now()
         WHERE pubkey = p_pubkey;
        SELECT c.value::integer INTO v_after FROM seedfn.timmy_config c
         WHERE c.key = 'generosity_pool_sats' LIMIT 1;
        INSERT INTO seedfn.free_tier_grants (id, pubkey, request_hash, sats_absorbed,
                                             pool_balance_after)
            VALUES (gen_random_uuid()::text, p_pubkey, p_request_hash, v_to_record,
                    coalesce(v_after, 0));
    END IF;
END
$$;
