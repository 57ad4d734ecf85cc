-- One request: decide holds 10 sats for subject u<s>, record_grant settles it at 7
-- (7 absorbed, 3 back to the pool), one transaction.  -D lo/hi pick the subjects.
\set s random(:lo, :hi)
BEGIN;
SELECT hold_id FROM freetier_decide('u' || :s, 10, 'bench') \gset
SELECT grant_id FROM freetier_record_grant(:hold_id, 7);
COMMIT;
