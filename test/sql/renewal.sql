--
-- renewal: next_renewal_after(ts timestamptz, anchor_day int DEFAULT NULL)
--
-- One calendar month after ts, in UTC, on anchor_day (default: ts's own UTC
-- day) clamped to the target month's last day, time of day kept, fractions
-- of a second kept.  Must agree with nextRenewalAfter of the credits seed
-- (003), which drops fractions of a second.
--
-- The extension is created by pg_regress (--load-extension=freetier).
--
SET timezone = 'UTC';
SET datestyle = 'ISO, YMD';

--
-- 1. The generated cases.  test/data/renewal_cases.sql is written by
--    test/data/gen-renewal-cases.js from a verbatim copy of the seed's
--    nextRenewalAfter.  pg_regress names its input directory (test/) in
--    PG_ABS_SRCDIR, so the path holds in an out-of-tree build too, where psql
--    runs in the build directory.  Echo is off while it loads (it is large).
--
\set ECHO none
\getenv abs_srcdir PG_ABS_SRCDIR
\set renewal_cases :abs_srcdir '/data/renewal_cases.sql'
\i :renewal_cases
\set ECHO all

SELECT count(*) AS cases,
       count(anchor_day) AS with_anchor,
       count(*) - count(anchor_day) AS default_anchor,
       min(ts) AS first_ts,
       max(ts) AS last_ts
  FROM renewal_cases;

-- Must be 0.
SELECT count(*) AS mismatches
  FROM renewal_cases
 WHERE next_renewal_after(ts, anchor_day) IS DISTINCT FROM expected;

-- Lists the first disagreements, if any (none expected).
SELECT ts, anchor_day, expected, next_renewal_after(ts, anchor_day) AS got
  FROM renewal_cases
 WHERE next_renewal_after(ts, anchor_day) IS DISTINCT FROM expected
 ORDER BY ts, anchor_day
 LIMIT 10;

-- The seed drops fractions of a second; freetier keeps them.  Same cases,
-- shifted by 0.999999 s: must be 0.
SELECT count(*) AS fraction_mismatches
  FROM renewal_cases
 WHERE next_renewal_after(ts + interval '0.999999 second', anchor_day)
       IS DISTINCT FROM expected + interval '0.999999 second';

-- Omitting anchor_day, passing NULL and passing ts's own UTC day agree:
-- must be 0.
SELECT count(*) AS default_mismatches
  FROM renewal_cases
 WHERE anchor_day IS NULL
   AND (next_renewal_after(ts) IS DISTINCT FROM expected
        OR next_renewal_after(ts, extract(day FROM ts)::int) IS DISTINCT FROM expected);

--
-- 2. Hand-written checks.
--
-- Month end into a leap February, and back out with the anchor.
SELECT next_renewal_after('2024-01-31 13:45:07+00') AS jan31_2024;
SELECT next_renewal_after('2024-02-29 13:45:07+00', 31) AS feb29_anchor31;
SELECT next_renewal_after('2024-02-29 13:45:07+00') AS feb29_own_day;
-- Common year.
SELECT next_renewal_after('2023-01-31 13:45:07+00') AS jan31_2023;
-- Year rollover.
SELECT next_renewal_after('2024-12-31 13:45:07+00') AS dec31_2024;
SELECT next_renewal_after('1999-12-31 23:59:59+00') AS dec31_1999;
-- Century years: 2000 is leap, 2100 is not.
SELECT next_renewal_after('2000-01-31 00:00:00+00') AS jan31_2000,
       next_renewal_after('2100-01-31 00:00:00+00') AS jan31_2100;
-- Clamping is per step: May 31 -> Jun 30 -> (anchor 31) Jul 31.
SELECT next_renewal_after('2024-05-31 08:00:00+00') AS may31,
       next_renewal_after(next_renewal_after('2024-05-31 08:00:00+00'), 31) AS jun30_anchor31,
       next_renewal_after(next_renewal_after('2024-05-31 08:00:00+00')) AS jun30_own_day;
-- Named arguments.
SELECT next_renewal_after(ts => '2024-03-15 12:00:00+00', anchor_day => 31) AS named;

-- Fractions of a second are kept.
SELECT next_renewal_after('2024-01-31 10:00:00.123456+00') AS with_fraction;
SELECT next_renewal_after('2024-12-31 23:59:59.999999+00', 31) AS last_microsecond;

-- 14 steps from 2024-01-31, with anchor 31 and without: without it the day
-- drifts to the 29th after February 2024, then to the 28th after February
-- 2025.
WITH RECURSIVE chain(step, anchored, drifting) AS (
    SELECT 0, timestamptz '2024-01-31 13:45:07+00', timestamptz '2024-01-31 13:45:07+00'
    UNION ALL
    SELECT step + 1, next_renewal_after(anchored, 31), next_renewal_after(drifting)
      FROM chain
     WHERE step < 14
)
SELECT step, anchored, drifting FROM chain ORDER BY step;

-- A timestamptz written in another zone is taken in UTC:
-- 2024-01-31 23:30 -05 is 2024-02-01 04:30 UTC, so its day is the 1st.
SELECT next_renewal_after('2024-01-31 23:30:00-05') AS from_minus_05;
-- 2024-03-01 00:30 +01 is 2024-02-29 23:30 UTC, so its day is the 29th.
SELECT next_renewal_after('2024-03-01 00:30:00+01') AS from_plus_01;

-- The session time zone does not matter (the function is IMMUTABLE).
SET timezone = 'America/New_York';
SELECT next_renewal_after('2024-01-31 23:30:00-05')
       = timestamptz '2024-03-01 04:30:00+00' AS same_in_new_york;
SET timezone = 'Pacific/Kiritimati';
SELECT next_renewal_after('2024-01-31 23:30:00-05')
       = timestamptz '2024-03-01 04:30:00+00' AS same_in_kiritimati;
SET timezone = 'UTC';

-- NULLs: ts NULL gives NULL; anchor NULL is the default.
SELECT next_renewal_after(NULL) IS NULL AS null_ts,
       next_renewal_after(NULL, 31) IS NULL AS null_ts_anchor31;
SELECT next_renewal_after('2024-01-31 13:45:07+00', NULL) AS anchor_null,
       next_renewal_after('2024-01-31 13:45:07+00') AS anchor_omitted;

-- Infinities stay as they are.
SELECT next_renewal_after('infinity') AS plus_infinity,
       next_renewal_after('-infinity', 15) AS minus_infinity;

-- anchor_day outside 1..31 is an error, SQLSTATE 22023.
SELECT next_renewal_after('2024-01-31 13:45:07+00', 0);
\echo :LAST_ERROR_SQLSTATE
SELECT next_renewal_after('2024-01-31 13:45:07+00', 32);
\echo :LAST_ERROR_SQLSTATE
SELECT next_renewal_after('2024-01-31 13:45:07+00', -1);
\echo :LAST_ERROR_SQLSTATE
-- The same, caught by condition name (22023 is invalid_parameter_value).
DO $$
DECLARE
    a int;
    state text;
    msg text;
BEGIN
    FOREACH a IN ARRAY ARRAY[0, 32, -1, -2147483648, 2147483647] LOOP
        BEGIN
            PERFORM next_renewal_after('2024-01-31 13:45:07+00', a);
            RAISE NOTICE 'anchor_day %: no error', a;
        EXCEPTION WHEN invalid_parameter_value THEN
            GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, msg = MESSAGE_TEXT;
            RAISE NOTICE 'anchor_day %: % %', a, state, msg;
        END;
    END LOOP;
END
$$;

-- IMMUTABLE, PARALLEL SAFE, and executable by PUBLIC.
SELECT provolatile, proparallel
  FROM pg_proc
 WHERE oid = 'next_renewal_after(timestamptz, int)'::regprocedure;
CREATE ROLE renewal_user;
SELECT has_function_privilege('renewal_user',
       'next_renewal_after(timestamptz, int)', 'EXECUTE') AS renewal_user_can_execute;
SET ROLE renewal_user;
SELECT current_user, next_renewal_after('2024-01-31 13:45:07+00') AS as_renewal_user,
       next_renewal_after('2024-02-29 13:45:07+00', 31) AS as_renewal_user_anchor31;
RESET ROLE;
DROP ROLE renewal_user;

DROP TABLE renewal_cases;
