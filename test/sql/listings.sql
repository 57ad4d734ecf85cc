-- Operator listings: subjects and accounts a page at a time, in subject
-- order, each row as the next call would see it.
SET freetier.test_now = '2026-03-01 12:00:00+00';
SELECT freetier_set_tier_budget('lst', 100);
SELECT freetier_set_tier('lst-a', 'lst'), freetier_set_tier('lst-b', 'lst'),
       freetier_set_tier('lst-c', 'lst'), freetier_set_tier('lst-d', 'lst');
-- lst-a: 30 settled and 20 on hold in its window; lst-b: a hold past its
-- TTL (holds nothing); lst-c: a window that has ended; lst-d: never asked.
SELECT absorbed_sats FROM freetier_record_grant(
    (SELECT hold_id FROM freetier_decide('lst-a', 30)), 30);
SELECT absorb_sats FROM freetier_decide('lst-a', 20);
SET freetier.test_now = '2026-03-01 11:00:00+00';
SELECT absorb_sats FROM freetier_decide('lst-b', 40);
SET freetier.test_now = '2026-02-27 12:00:00+00';
SELECT absorbed_sats FROM freetier_record_grant(
    (SELECT hold_id FROM freetier_decide('lst-c', 70)), 70);
SET freetier.test_now = '2026-03-01 12:00:00+00';
SELECT * FROM freetier_list_subjects('lst-', 2);
SELECT * FROM freetier_list_subjects('lst-a', 2);
SELECT * FROM freetier_list_subjects('lst-c', 2);
SELECT count(*) FROM freetier_list_subjects('lst-d');
-- What left_sats says is what decide absorbs.
SELECT subject, left_sats FROM freetier_list_subjects('lst-', 1);
SELECT absorb_sats FROM freetier_decide('lst-a', 1000);
-- A page size outside 1 .. 10000 is 22023.
SELECT * FROM freetier_list_subjects(NULL, 0);
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM freetier_list_subjects(NULL, 10001);
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM freetier_list_subjects(NULL, NULL);
\echo :LAST_ERROR_SQLSTATE

-- Accounts, each as freetier_account_status shows it: a due rollover
-- counted as done, credits on hold taken out of the purchased balance.
SELECT freetier_define_plan('lst-monthly', 'monthly', 50, '{"api": 20}');
SELECT opened FROM freetier_open_account('lst-x', 'lst-monthly');
SELECT opened FROM freetier_open_account('lst-y', 'lst-monthly');
SELECT freetier_add_credits('lst-y', 100, 'lst-inv-1');
SELECT ok FROM freetier_spend_credits('lst-x', 15, 'api');
SELECT reason FROM freetier_reserve_credits('lst-y', 60, 'other');
SELECT * FROM freetier_list_accounts('lst-', 2);
SELECT a.* IS NOT DISTINCT FROM s.* AS same_as_status
  FROM freetier_list_accounts('lst-', 2) a,
       LATERAL freetier_account_status(a.subject) s;
-- a month later lst-x's period has rolled over: its use is gone
SET freetier.test_now = '2026-04-02 12:00:00+00';
SELECT subject, period_start, allowance_left, backend_left FROM freetier_list_accounts('lst-', 1);
SELECT * FROM freetier_list_accounts(NULL, -1);
\echo :LAST_ERROR_SQLSTATE
-- Only operators list.
SELECT has_function_privilege('public', 'freetier_list_subjects(text, int)', 'EXECUTE') AS public_subjects,
       has_function_privilege('public', 'freetier_list_accounts(text, int)', 'EXECUTE') AS public_accounts;
RESET freetier.test_now;
