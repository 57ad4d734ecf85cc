-- decide for a subject that does not exist: gated with reason unknown_subject.
\set s random(1, 10000)
SELECT reason FROM ref.decide('ghost' || :s, 10, 'bench');
