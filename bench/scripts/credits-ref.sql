-- Two-phase credit spend on the PL/pgSQL reference
-- (bench/reference_credits_plpgsql.sql): reserve 3 credits through gemini,
-- then settle, two autocommit transactions, on a fresh account c<s>.
\set n :n + 1
\set s 1 + permute(:start + :n * :clients + :client_id, :subjects)
SELECT hold_id FROM ref.reserve_credits('c' || :s, 3, 'gemini') \gset
-- ... the backend call ...
SELECT allowance_credits FROM ref.settle_credits(:hold_id);
