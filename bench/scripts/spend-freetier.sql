-- One-shot credit spend: 3 credits through gemini on a fresh account c<s>.
\set n :n + 1
\set s 1 + permute(:start + :n * :clients + :client_id, :subjects)
SELECT ok FROM freetier_spend_credits('c' || :s, 3, 'gemini');
