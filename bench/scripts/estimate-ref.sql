-- Read-only estimate for a fresh known subject: one statement.
\set n :n + 1
\set s 1 + permute(:start + :n * :clients + :client_id, :subjects)
SELECT serve FROM ref.estimate('u' || :s, 30, 'bench');
