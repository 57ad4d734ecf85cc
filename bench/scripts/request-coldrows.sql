-- Limit: the same statement as request-hotrow.sql over :subjects cold rows, a
-- fresh one each time: one commit per transaction and no shared row.
\set n :n + 1
\set s 1 + permute(:start + :n * :clients + :client_id, :subjects)
WITH u AS (UPDATE lim.cold SET n = n + 1, updated_at = now() WHERE id = :s RETURNING id, n)
INSERT INTO lim.cold_audit (row_id, n) SELECT id, n FROM u;
