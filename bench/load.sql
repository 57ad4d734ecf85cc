-- Bulk loading through freetier's own functions (schema benchload), for the
-- ledger that verify_ledger is timed on (bench/run) and for the 10 million
-- subjects and ledger entries of bench/scale.  Nothing is written to
-- freetier's tables directly, so every chain stays valid, whatever their
-- layout in the version under test.
--
-- Each batch is one statement in its own transaction, with
-- synchronous_commit and JIT off for that transaction (the load is not
-- measured; a generic plan over generate_series looks so costly that JIT
-- would compile and optimise it for every batch, ~100 ms).  Request batches
-- are small: the row versions a transaction leaves on the pool row cannot be
-- pruned before it ends, and once they no longer fit on the row's page each
-- update moves to a new page that no later pruning hands back (only VACUUM
-- fills the free space map), so the pools table grows with every batch, and
-- so do the scans of it.
CREATE SCHEMA benchload;

-- Subjects <prefix><from> .. <prefix><upto> in a tier, p_batch per transaction.
CREATE PROCEDURE benchload.subjects(p_prefix text, p_tier text, p_from bigint, p_upto bigint,
                                    p_batch bigint DEFAULT 100000)
    LANGUAGE plpgsql AS $$
DECLARE
    i bigint := p_from;
BEGIN
    WHILE i <= p_upto LOOP
        PERFORM set_config('synchronous_commit', 'off', true), set_config('jit', 'off', true);
        PERFORM count(freetier_set_tier(p_prefix || k, p_tier))
           FROM generate_series(i, least(i + p_batch - 1, p_upto)) k;
        COMMIT;
        i := i + p_batch;
    END LOOP;
END
$$;

-- p_requests requests on pool p_pool, each a decide of p_estimated sats and
-- a record_grant of p_actual (two ledger entries: hold, return), request k on
-- subject <prefix><1 + (k * 1000003) % p_subjects> (distinct subjects while
-- k < p_subjects, scattered over all of them), p_batch per transaction.
-- Fails if a decide is gated.
CREATE PROCEDURE benchload.requests(p_pool text, p_prefix text, p_subjects bigint,
                                    p_requests bigint, p_estimated bigint DEFAULT 30,
                                    p_actual bigint DEFAULT 25, p_batch bigint DEFAULT 20,
                                    p_first bigint DEFAULT 1)
    LANGUAGE plpgsql AS $$
DECLARE
    i bigint := p_first;
    v_last bigint := p_first + p_requests - 1;
    v_done bigint;
    v_started timestamptz := clock_timestamp();
BEGIN
    WHILE i <= v_last LOOP
        PERFORM set_config('synchronous_commit', 'off', true), set_config('jit', 'off', true);
        SELECT count(g.grant_id) INTO v_done
          FROM generate_series(i, least(i + p_batch - 1, v_last)) k,
               LATERAL freetier_decide(p_prefix || (1 + (k * 1000003) % p_subjects), p_estimated, p_pool) d,
               LATERAL freetier_record_grant(d.hold_id, p_actual) g;
        IF v_done <> least(p_batch, v_last - i + 1) THEN
            RAISE EXCEPTION 'benchload.requests: % of % requests from % were served',
                v_done, least(p_batch, v_last - i + 1), i;
        END IF;
        COMMIT;
        i := i + p_batch;
        -- fresh statistics once the tables hold some of the load, then every
        -- million requests: the plans cached so far (freetier's and the
        -- foreign keys') were made for the tables as they were
        IF i - p_first IN (1000, 10000, 100000) OR (i - p_first) % 1000000 < p_batch THEN
            ANALYZE;
            COMMIT;
        END IF;
        IF (i - p_first) % 1000000 < p_batch AND i <= v_last THEN
            RAISE NOTICE '% requests loaded in % s', i - p_first,
                round(extract(epoch FROM clock_timestamp() - v_started));
        END IF;
    END LOOP;
END
$$;
