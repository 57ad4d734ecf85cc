-- One-shot credit spend on the PL/pgSQL reference: 3 credits through gemini.
\set n :n + 1
\set s 1 + permute(:start + :n * :clients + :client_id, :subjects)
SELECT ok FROM ref.spend_credits('c' || :s, 3, 'gemini');
