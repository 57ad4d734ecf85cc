-- Two-phase credit spend: reserve 3 credits through backend gemini, then
-- (after the backend call) settle them, two autocommit transactions, on a
-- fresh account c<s>: odd accounts draw from a monthly allowance with a cap
-- on gemini, even ones from their purchased balance (bench/setup.sql).
\set n :n + 1
\set s 1 + permute(:start + :n * :clients + :client_id, :subjects)
SELECT hold_id FROM freetier_reserve_credits('c' || :s, 3, 'gemini') \gset
-- ... the backend call ...
SELECT allowance_credits FROM freetier_settle_credits(:hold_id);
