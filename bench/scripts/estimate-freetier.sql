-- Read-only estimate for a random known subject.
\set s random(1, 10000)
SELECT serve FROM freetier_estimate('u' || :s, 10, 'bench');
