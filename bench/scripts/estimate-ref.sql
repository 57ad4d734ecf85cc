-- Read-only estimate for a random known subject.
\set s random(1, 10000)
SELECT serve FROM ref.estimate('u' || :s, 10, 'bench');
