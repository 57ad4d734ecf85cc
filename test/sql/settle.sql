-- The end of a hold: freetier_record_grant, freetier_release and expiry.
SET timezone = 'UTC';
\set SHOW_CONTEXT never
DROP EXTENSION freetier;
CREATE EXTENSION freetier;
SELECT freetier_configure_pool('default', stripes => 1);   -- one chain to read
SET freetier.test_now = '2026-05-01 10:00:00+00';
SELECT freetier_set_tier('sam', 'trusted');   -- 200 a day

CREATE TEMP TABLE d (tag text, serve text, absorb_sats bigint, charge_sats bigint,
                     hold_id uuid, reason text);
-- Runs a statement that must fail; prints its SQLSTATE, message and detail
-- with hold ids masked (they are random).
CREATE FUNCTION expect_error(stmt text) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    state text; msg text; detail text;
BEGIN
    EXECUTE stmt;
    RAISE EXCEPTION 'expected an error from: %', stmt;
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, msg = MESSAGE_TEXT, detail = PG_EXCEPTION_DETAIL;
    IF msg LIKE 'expected an error from:%' THEN RAISE; END IF;
    RAISE NOTICE '% %: %', state,
        regexp_replace(msg, '[0-9a-f]{8}-[0-9a-f-]{27}', '<hold>', 'g'), detail;
END $$;
CREATE FUNCTION pool_balance() RETURNS bigint LANGUAGE sql
    AS $$ SELECT sum(balance_sats)::bigint FROM freetier.pool_stripes WHERE pool = 'default' $$;

-- Cheaper than held: absorbed = actual, the rest returns to pool and window.
INSERT INTO d SELECT 'cheaper', * FROM freetier_decide('sam', 50);
SELECT pool_balance();
SELECT * FROM freetier_record_grant((SELECT hold_id FROM d WHERE tag = 'cheaper'), 20, 'req-1');
SELECT pool_balance();
SELECT window_settled_sats FROM freetier.subjects WHERE subject = 'sam';

-- Exactly the held amount: nothing returned.
INSERT INTO d SELECT 'exact', * FROM freetier_decide('sam', 40);
SELECT * FROM freetier_record_grant((SELECT hold_id FROM d WHERE tag = 'exact'), 40);

-- Dearer than held: absorbed = held, charge = what the user still owes.
INSERT INTO d SELECT 'dearer', * FROM freetier_decide('sam', 30);
SELECT * FROM freetier_record_grant((SELECT hold_id FROM d WHERE tag = 'dearer'), 100);

-- Nothing used at all: everything returns.
INSERT INTO d SELECT 'unused', * FROM freetier_decide('sam', 10);
SELECT * FROM freetier_record_grant((SELECT hold_id FROM d WHERE tag = 'unused'), 0);

-- A partial hold settled at its estimate: absorbed = held, charge = the rest.
SELECT window_settled_sats FROM freetier.subjects WHERE subject = 'sam';  -- 20+40+30 = 90
INSERT INTO d SELECT 'partial', * FROM freetier_decide('sam', 150);        -- 110 left
SELECT serve, absorb_sats, charge_sats FROM d WHERE tag = 'partial';
SELECT * FROM freetier_record_grant((SELECT hold_id FROM d WHERE tag = 'partial'), 150);

-- Replaying a settle with the same arguments returns the first result and
-- changes nothing; other arguments are an error.
SELECT count(*) AS grants, pool_balance() FROM freetier.grants;
SELECT * FROM freetier_record_grant((SELECT hold_id FROM d WHERE tag = 'cheaper'), 20, 'req-1');
SELECT count(*) AS grants, pool_balance() FROM freetier.grants;
SELECT expect_error($$SELECT * FROM freetier_record_grant((SELECT hold_id FROM d WHERE tag = 'cheaper'), 21, 'req-1')$$);
SELECT expect_error($$SELECT * FROM freetier_record_grant((SELECT hold_id FROM d WHERE tag = 'cheaper'), 20, 'req-2')$$);
SELECT expect_error($$SELECT * FROM freetier_record_grant((SELECT hold_id FROM d WHERE tag = 'cheaper'), 20)$$);

-- The grant rows.
SELECT g.grant_id, d.tag, g.actual_sats, g.absorbed_sats, g.returned_sats, g.charge_sats,
       g.pool_balance_after, g.request_hash
  FROM freetier.grants g JOIN d USING (hold_id) ORDER BY g.grant_id;

-- Release returns everything; twice returns 0; settling it then is an error.
SET freetier.test_now = '2026-05-02 10:00:00+00';   -- a fresh window
INSERT INTO d SELECT 'released', * FROM freetier_decide('sam', 70);
SELECT pool_balance();
SELECT freetier_release((SELECT hold_id FROM d WHERE tag = 'released'), 'backend failed');
SELECT pool_balance();
SELECT freetier_release((SELECT hold_id FROM d WHERE tag = 'released'));
SELECT state, end_reason FROM freetier.holds WHERE hold_id = (SELECT hold_id FROM d WHERE tag = 'released');
SELECT expect_error($$SELECT * FROM freetier_record_grant((SELECT hold_id FROM d WHERE tag = 'released'), 10)$$);
-- ... and the window got it back: sam still has his whole 200.
SELECT serve, absorb_sats FROM freetier_estimate('sam', 200);

-- Releasing a settled hold is an error.
SELECT expect_error($$SELECT freetier_release((SELECT hold_id FROM d WHERE tag = 'exact'))$$);

-- Expiry: a hold past its TTL cannot be settled, and the sweep returns it.
INSERT INTO d SELECT 'expires', * FROM freetier_decide('sam', 25);
SET freetier.test_now = '2026-05-02 10:14:59.999999+00';
SELECT serve, absorb_sats FROM freetier_estimate('sam', 200);   -- 175: still live
SET freetier.test_now = '2026-05-02 10:15:00+00';
SELECT serve, absorb_sats FROM freetier_estimate('sam', 200);   -- 200: counts as returned
SELECT expect_error($$SELECT * FROM freetier_record_grant((SELECT hold_id FROM d WHERE tag = 'expires'), 25)$$);
SELECT pool_balance();
SELECT freetier_expire_holds();
SELECT pool_balance();
SELECT freetier_expire_holds();   -- nothing left to expire
SELECT state, end_reason FROM freetier.holds WHERE hold_id = (SELECT hold_id FROM d WHERE tag = 'expires');
SELECT expect_error($$SELECT * FROM freetier_record_grant((SELECT hold_id FROM d WHERE tag = 'expires'), 25)$$);
SELECT freetier_release((SELECT hold_id FROM d WHERE tag = 'expires'));   -- already returned: 0

-- A hold settled after its window restarted does not count in the new window.
SET freetier.test_now = '2026-05-03 09:59:00+00';
INSERT INTO d SELECT 'late', * FROM freetier_decide('sam', 30);
SET freetier.test_now = '2026-05-03 10:05:00+00';
SELECT serve, absorb_sats FROM freetier_decide('sam', 10);   -- first use of a new window
SELECT * FROM freetier_record_grant((SELECT hold_id FROM d WHERE tag = 'late'), 30);
SELECT window_start, window_settled_sats FROM freetier.subjects WHERE subject = 'sam';

-- A decide whose clock is past a hold's TTL counts the hold as returned and
-- may hand its sats out again; from then on a settle whose clock is earlier
-- (a transaction that began before the TTL ran out) is refused as well.
-- The later decide is on another pool, so it does not sweep H itself.
SELECT freetier_set_tier('kim', 'established');                  -- 50 a day
SELECT freetier_create_pool('other', 1000, stripes => 1);
SET freetier.test_now = '2026-05-04 10:00:00+00';
INSERT INTO d SELECT 'skew', * FROM freetier_decide('kim', 50);
SET freetier.test_now = '2026-05-04 10:15:01+00';
SELECT serve, absorb_sats FROM freetier_decide('kim', 50, 'other');   -- the 50 again: H counts as returned
SELECT state FROM freetier.holds WHERE hold_id = (SELECT hold_id FROM d WHERE tag = 'skew');
SET freetier.test_now = '2026-05-04 10:14:59+00';
SELECT expect_error($$SELECT * FROM freetier_record_grant((SELECT hold_id FROM d WHERE tag = 'skew'), 50)$$);
SELECT window_settled_sats FROM freetier.subjects WHERE subject = 'kim';   -- 0: nothing absorbed twice

-- Unknown holds.
SELECT * FROM freetier_record_grant('00000000-0000-0000-0000-000000000000', 1);
\echo :LAST_ERROR_SQLSTATE
SELECT freetier_release('00000000-0000-0000-0000-000000000000');
\echo :LAST_ERROR_SQLSTATE

-- Every movement is in the ledger; the chain verifies and sums to the balance.
SELECT kind, count(*), sum(delta_sats) FROM freetier.ledger GROUP BY kind ORDER BY kind;
SELECT sum(delta_sats) = pool_balance() AS balance_is_sum FROM freetier.ledger WHERE pool = 'default';
SELECT * FROM freetier_verify_ledger();
DROP FUNCTION pool_balance();
DROP FUNCTION expect_error(text);
