-- decide for a subject that does not exist: gated as unknown_subject, no writes.
\set n :n + 1
\set s 1 + permute(:start + :n * :clients + :client_id, :subjects)
SELECT reason FROM freetier_decide('ghost' || :s, 30, 'bench');
