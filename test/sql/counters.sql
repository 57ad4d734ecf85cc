-- The outcome counters live in shared memory, which exists only when the
-- server preloads freetier (test/t/005_counters.pl runs them so).  This
-- server does not: every function that reads or resets them refuses with
-- a hint, rather than show zeros that look real.
SELECT * FROM freetier_pool_counters();
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM freetier_account_counters();
\echo :LAST_ERROR_SQLSTATE
SELECT freetier_reset_counters();
\echo :LAST_ERROR_SQLSTATE
-- and the calls that count still work
SELECT serve, reason FROM freetier_decide(NULL, 10);
