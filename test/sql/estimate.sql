-- freetier_estimate answers what freetier_decide would answer right now,
-- takes no locks, writes nothing, and works in a read-only transaction.
SET timezone = 'UTC';
\set SHOW_CONTEXT never
DROP EXTENSION freetier;
CREATE EXTENSION freetier;
SET freetier.test_now = '2026-04-01 09:00:00+00';
SELECT freetier_set_tier('erin', 'established');
SELECT freetier_set_tier('nils', 'new');
SELECT freetier_create_pool('small', 40);

-- A table of requests; each is estimated, then decided, in order.
CREATE TEMP TABLE req (n int, subject text, sats bigint, pool text);
INSERT INTO req VALUES
  (1, NULL, 10, 'default'), (2, 'erin', 0, 'default'), (3, 'ghost', 10, 'default'),
  (4, 'nils', 10, 'default'), (5, 'erin', 30, 'default'), (6, 'erin', 30, 'default'),
  (7, 'erin', 30, 'default'), (8, 'erin', 5, 'small');

CREATE TEMP TABLE seen (n int, via text, serve text, absorb_sats bigint, charge_sats bigint, reason text);
DO $$
DECLARE r record;
BEGIN
  FOR r IN SELECT * FROM req ORDER BY n LOOP
    INSERT INTO seen SELECT r.n, 'estimate', e.* FROM freetier_estimate(r.subject, r.sats, r.pool) e;
    INSERT INTO seen SELECT r.n, 'decide', d.serve, d.absorb_sats, d.charge_sats, d.reason
      FROM freetier_decide(r.subject, r.sats, r.pool) d;
  END LOOP;
END $$;
SELECT n, via, serve, absorb_sats, charge_sats, reason FROM seen ORDER BY n, via DESC;
-- estimate and decide never disagree:
SELECT count(*) AS disagreements FROM seen e JOIN seen d USING (n)
 WHERE e.via = 'estimate' AND d.via = 'decide'
   AND (e.serve, e.absorb_sats, e.charge_sats, e.reason)
       IS DISTINCT FROM (d.serve, d.absorb_sats, d.charge_sats, d.reason);

-- The pool side: estimate sees pool_empty and partial too.
SELECT freetier_set_tier('tess', 'trusted');
SELECT * FROM freetier_estimate('tess', 50, 'small');
SELECT freetier_set_tier('tom', 'trusted');
SELECT serve, absorb_sats FROM freetier_decide('tom', 35, 'small');
SELECT * FROM freetier_estimate('tess', 50, 'small');

-- Estimate writes nothing and works in a read-only transaction.
SELECT count(*) AS entries_before FROM freetier.ledger \gset
BEGIN READ ONLY;
SELECT * FROM freetier_estimate('erin', 10);
SELECT * FROM freetier_estimate('tess', 10, 'small');
COMMIT;
SELECT count(*) - :entries_before AS new_entries FROM freetier.ledger;

-- decide is refused in a read-only transaction.
BEGIN READ ONLY;
SELECT * FROM freetier_decide('tess', 10, 'small');
ROLLBACK;

-- A hold past its TTL counts as returned for estimate before any sweep:
-- erin's holds expire at 09:15, tom's at 09:15 too.
SET freetier.test_now = '2026-04-01 09:15:00+00';
SELECT * FROM freetier_estimate('erin', 30);
SELECT * FROM freetier_estimate('tess', 50, 'small');
SELECT * FROM freetier_pool_status('small');
-- ... while the rows still say 'held' (nothing has swept them).
SELECT state, count(*) FROM freetier.holds GROUP BY state;

-- A live hold charged to an earlier window does not count against the
-- subject's current one: olga's 20 sats held on day 1 for two days, then
-- a day later a decide of 5 begins her new window.
SET freetier.test_now = '2026-04-02 09:00:00+00';
SELECT freetier_set_tier('olga', 'established');
SELECT serve, absorb_sats FROM freetier_decide('olga', 20, hold_ttl => '2 days');
SET freetier.test_now = '2026-04-03 10:00:00+00';
SELECT serve, absorb_sats FROM freetier_decide('olga', 5);
SELECT h.held_sats, h.window_start, h.window_start = s.window_start AS current_window
  FROM freetier.holds h JOIN freetier.subjects s USING (subject)
 WHERE subject = 'olga' AND h.state = 'held' ORDER BY h.created_at;
SELECT t.daily_budget_sats FROM freetier.tiers t WHERE tier = 'established';
-- only the 5 count: estimate and decide agree on the rest of the budget
SELECT * FROM freetier_estimate('olga', 1000);
SELECT serve, absorb_sats, charge_sats, reason FROM freetier_decide('olga', 1000);
