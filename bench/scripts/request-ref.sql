-- One request on the PL/pgSQL reference (bench/reference_plpgsql.sql): decide
-- 30 sats, then record_grant 25, two autocommit transactions, on a fresh
-- subject u<s> out of :subjects.
\set n :n + 1
\set s 1 + permute(:start + :n * :clients + :client_id, :subjects)
SELECT hold_id FROM ref.decide('u' || :s, 30, 'bench') \gset
-- ... the work ...
SELECT grant_id FROM ref.record_grant(:hold_id, 25);
