-- Limit: one hot row.  Each transaction is one statement that updates the
-- same row and inserts an audit row (bench/limits.sql): what any design that
-- writes one shared row per transaction can reach at most.
WITH u AS (UPDATE lim.hot SET n = n + 1, updated_at = now() WHERE id = 1 RETURNING id, n)
INSERT INTO lim.hot_audit (row_id, n) SELECT id, n FROM u;
