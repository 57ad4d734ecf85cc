-- freetier_decide: every gate reason in order, free, partial, the rolling
-- window, holds, and what a decide writes.
SET timezone = 'UTC';
\set SHOW_CONTEXT never
DROP EXTENSION freetier;
CREATE EXTENSION freetier;
-- One stripe, so that the ledger below reads as one chain (stripes.sql
-- shows that a striped pool answers the same).
SELECT freetier_configure_pool('default', stripes => 1);
SET freetier.test_now = '2026-03-01 12:00:00+00';

SELECT freetier_set_tier('alice', 'established');   -- 50 a day
SELECT freetier_set_tier('nina', 'new');            -- 0 a day
SELECT freetier_set_tier('tara', 'trusted');        -- 200 a day

-- Gate reasons, in the order they are checked.
SELECT * FROM freetier_decide(NULL, 10);                     -- anonymous
SELECT * FROM freetier_decide('', 10);                       -- anonymous
SELECT * FROM freetier_decide('alice', 0);                   -- zero_cost
SELECT * FROM freetier_decide('', 0);                        -- anonymous before zero_cost
SELECT * FROM freetier_decide('nobody', 10);                 -- unknown_subject
SELECT * FROM freetier_decide('nina', 10);                   -- no_budget
-- (daily_budget_exhausted and pool_empty below)

-- Gates write nothing.
SELECT count(*) AS holds FROM freetier.holds;
SELECT count(*) AS entries FROM freetier.ledger;

-- Decisions are kept in a table so that later steps can use their hold_id.
CREATE TEMP TABLE d (tag text, serve text, absorb_sats bigint, charge_sats bigint,
                     hold_id uuid, reason text);

-- Free: the whole estimate fits the window and the pool.  absorb + charge = estimate.
INSERT INTO d SELECT 'a1', * FROM freetier_decide('alice', 30);
-- Partial: 20 left in the window.
INSERT INTO d SELECT 'a2', * FROM freetier_decide('alice', 30);
-- Exhausted: both holds count against the window before anything is settled.
INSERT INTO d SELECT 'a3', * FROM freetier_decide('alice', 30);
SELECT tag, serve, absorb_sats, charge_sats, hold_id IS NOT NULL AS held, reason,
       absorb_sats + charge_sats AS total
  FROM d ORDER BY tag;

-- What the two holds did: the pool is debited, the window charged.
SELECT subject, pool, estimated_sats, held_sats, state, expires_at - created_at AS ttl
  FROM freetier.holds ORDER BY held_sats DESC;
SELECT subject, window_start, window_settled_sats FROM freetier.subjects WHERE subject = 'alice';
SELECT balance_sats, held_sats FROM freetier_pool_status();
SELECT seq, kind, delta_sats, balance_after FROM freetier.ledger ORDER BY seq;

-- Lowering the tier's budget mid-window leaves max(0, budget - used) ...
SELECT freetier_set_tier_budget('trusted', 200);
SELECT serve, absorb_sats, charge_sats FROM freetier_decide('tara', 150);
SELECT freetier_set_tier_budget('trusted', 160);
SELECT serve, absorb_sats, charge_sats, reason FROM freetier_decide('tara', 100);  -- 10 left
SELECT freetier_set_tier_budget('trusted', 100);
SELECT serve, absorb_sats, charge_sats, reason FROM freetier_decide('tara', 5);    -- below zero: 0
SELECT freetier_set_tier_budget('trusted', 200);

-- Changing a subject's tier keeps its window.
SELECT freetier_set_tier('alice', 'trusted');
SELECT serve, absorb_sats, charge_sats FROM freetier_decide('alice', 200);   -- 200 - 50 used
SELECT freetier_set_tier('alice', 'established');

-- Settling moves the held sats into the window's settled total.
SELECT absorbed_sats FROM freetier_record_grant((SELECT hold_id FROM d WHERE tag = 'a1'), 30);
SELECT absorbed_sats FROM freetier_record_grant((SELECT hold_id FROM d WHERE tag = 'a2'), 20);
SELECT window_start, window_settled_sats FROM freetier.subjects WHERE subject = 'alice';

-- The window is rolling 24 h from its first use: one microsecond before
-- its end alice is still exhausted, at its end she has a fresh budget.
SET freetier.test_now = '2026-03-02 11:59:59.999999+00';
SELECT serve, reason FROM freetier_decide('alice', 10);
SET freetier.test_now = '2026-03-02 12:00:00+00';
SELECT serve, absorb_sats, charge_sats FROM freetier_decide('alice', 10);
SELECT window_start, window_settled_sats FROM freetier.subjects WHERE subject = 'alice';

-- A subject of 256 bytes is fine (unknown here); 257 bytes is an error.
SELECT serve, reason FROM freetier_decide(repeat('x', 256), 10);
SELECT serve, reason FROM freetier_decide(repeat('é', 128), 10);
SELECT serve, reason FROM freetier_decide(repeat('x', 257), 10);

-- pool_empty, and partial because of the pool: a pool of 100 sats.
SELECT freetier_create_pool('small', 100, stripes => 1);
SELECT serve, absorb_sats, charge_sats FROM freetier_decide('tara', 60, 'small');
SELECT serve, absorb_sats, charge_sats FROM freetier_decide('tara', 60, 'small');  -- 40 left
SELECT serve, absorb_sats, charge_sats, reason FROM freetier_decide('tara', 60, 'small');
SELECT balance_sats FROM freetier.pool_stripes WHERE pool = 'small';

-- A hold past its TTL counts as returned at once, and the next decide on
-- its pool returns it (one 'expiry' entry per hold).
SET freetier.test_now = '2026-03-02 12:15:00+00';   -- the 'small' holds expire now
SELECT serve, absorb_sats, charge_sats, reason FROM freetier_decide('tara', 60, 'small');
SELECT state, count(*), sum(held_sats) FROM freetier.holds WHERE pool = 'small' GROUP BY state ORDER BY state;
SELECT kind, count(*), sum(delta_sats) FROM freetier.ledger WHERE pool = 'small'
 GROUP BY kind ORDER BY min(seq);
SELECT balance_sats, head_seq FROM freetier.pool_stripes WHERE pool = 'small';

SELECT pool, ok FROM freetier_verify_ledger();
