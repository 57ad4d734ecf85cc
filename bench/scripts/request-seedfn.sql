-- The seed's logic as two PL/pgSQL functions (bench/seed_plpgsql.sql): one
-- request is decide(pubkey, 30) and, after the work, recordGrant(pubkey,
-- hash, 25, 30), each one autocommit transaction, on a fresh subject.
\set n :n + 1
\set s 1 + permute(:start + :n * :clients + :client_id, :subjects)
SELECT serve FROM seedfn.decide('u' || :s, 30);
-- ... the work ...
SELECT seedfn.record_grant('u' || :s, 'req-' || :client_id || '-' || :n, 25, 30);
