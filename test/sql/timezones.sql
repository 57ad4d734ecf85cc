-- Durations and periods do not depend on the caller's TimeZone.  The same
-- scenario runs under three zones across the United States' change to
-- daylight saving time on 2025-03-09 (07:00 UTC in New York, 08:00 UTC in
-- Chicago): a gate hold's TTL, a credit hold's TTL, a trial window, and
-- daily, weekly and monthly plan periods.  A day is 24 hours everywhere.
\set SHOW_CONTEXT never
DROP EXTENSION freetier;
CREATE EXTENSION freetier;
SELECT freetier_configure_credits(hold_ttl => '1 day', trials_per_network => 1,
                                  trial_window => '1 day');
SELECT freetier_define_plan('d', 'daily', 10);
SELECT freetier_define_plan('w', 'weekly', 10);
SELECT freetier_define_plan('m', 'monthly', 10);

-- One run of the scenario in `zone`, with names of its own.
CREATE FUNCTION scenario(zone text, n int)
RETURNS TABLE (what text, answer text) LANGUAGE plpgsql AS $$
DECLARE
    s text := 'tz' || n;
    ip inet := ('192.0.2.' || n)::inet;
    h uuid;
BEGIN
    PERFORM set_config('TimeZone', zone, false);
    PERFORM set_config('freetier.test_now', '2025-03-08 12:00:00+00', false);
    PERFORM freetier_create_pool(s, 1000, 10, '1 day');
    PERFORM freetier_set_tier(s, 'elite');
    SELECT d.hold_id INTO h FROM freetier_decide(s, 10, s) d;
    what := 'gate hold TTL, seconds';
    answer := (SELECT extract(epoch FROM expires_at - created_at) FROM freetier.holds WHERE hold_id = h);
    RETURN NEXT;

    PERFORM freetier_open_account(s || 'c', 'pro');
    SELECT r.hold_id INTO h FROM freetier_reserve_credits(s || 'c', 1, 'api') r;
    what := 'credit hold TTL, seconds';
    answer := (SELECT extract(epoch FROM expires_at - created_at) FROM freetier.credit_holds WHERE hold_id = h);
    RETURN NEXT;

    PERFORM freetier_open_account(s || 'd', 'd');
    PERFORM freetier_spend_credits(s || 'd', 10, 'api');
    PERFORM freetier_mint_trial(ip);
    PERFORM set_config('freetier.test_now', '2025-03-05 12:00:00+00', false);
    PERFORM freetier_open_account(s || 'w', 'w');
    PERFORM freetier_spend_credits(s || 'w', 10, 'api');
    PERFORM set_config('freetier.test_now', '2025-02-09 12:00:00+00', false);
    PERFORM freetier_open_account(s || 'm', 'm');
    PERFORM freetier_spend_credits(s || 'm', 10, 'api');

    -- half an hour before, and at, 24 hours (or a week, or a month) later
    FOREACH what IN ARRAY ARRAY['2025-03-09 11:30:00+00', '2025-03-09 12:00:00+00'] LOOP
        PERFORM set_config('freetier.test_now', what, false);
        answer := concat_ws(' ',
            (SELECT coalesce(reason, 'minted') FROM freetier_mint_trial(ip)),
            (SELECT coalesce(reason, 'spent') FROM freetier_spend_credits(s || 'd', 1, 'api')),
            (SELECT coalesce(reason, 'spent') FROM freetier_spend_credits(s || 'm', 1, 'api')));
        what := 'at ' || substr(what, 1, 16) || 'Z: trial, daily, monthly';
        RETURN NEXT;
    END LOOP;
    FOREACH what IN ARRAY ARRAY['2025-03-12 11:30:00+00', '2025-03-12 12:00:00+00'] LOOP
        PERFORM set_config('freetier.test_now', what, false);
        answer := (SELECT coalesce(reason, 'spent') FROM freetier_spend_credits(s || 'w', 1, 'api'));
        what := 'at ' || substr(what, 1, 16) || 'Z: weekly';
        RETURN NEXT;
    END LOOP;
    PERFORM set_config('freetier.test_now', '', false);
END $$;

CREATE TEMP TABLE runs AS
SELECT 'UTC' AS zone, * FROM scenario('UTC', 1)
UNION ALL SELECT 'America/New_York', * FROM scenario('America/New_York', 2)
UNION ALL SELECT 'America/Chicago', * FROM scenario('America/Chicago', 3);
RESET TimeZone;

-- Every zone gives the same answers.
SELECT what, string_agg(DISTINCT answer, ' | ') AS answers, count(DISTINCT answer) AS differ
  FROM runs GROUP BY what ORDER BY what;
