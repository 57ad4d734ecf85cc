-- One request as a new user would make it: decide 30 sats, then (after the
-- work) record_grant 25 of them, two autocommit transactions, on a fresh
-- subject u<s> out of :subjects (see bench/README.md, "Subjects").
\set n :n + 1
\set s 1 + permute(:start + :n * :clients + :client_id, :subjects)
SELECT hold_id FROM freetier_decide('u' || :s, 30, 'bench') \gset
-- ... the work ...
SELECT grant_id FROM freetier_record_grant(:hold_id, 25);
