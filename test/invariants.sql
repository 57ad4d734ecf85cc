-- The rules that the database no longer enforces on every write (0.3
-- dropped the CHECK constraints and foreign keys of the request path's
-- tables, 0.4 the foreign keys between the other tables, so that
-- pg_restore -j can load them in any order; the functions keep them), as a
-- view: a row for each rule that some row breaks, none when all hold.
-- Used by test/sql/invariants.sql and by
-- test/t/004_striped_crash.pl after every crash under load.
CREATE TEMP VIEW broken_rules AS
SELECT rule FROM (VALUES
  ('holds: estimated_sats > 0',
   EXISTS (SELECT FROM freetier.holds WHERE NOT estimated_sats > 0)),
  ('holds: 0 < held_sats <= estimated_sats',
   EXISTS (SELECT FROM freetier.holds WHERE NOT (held_sats > 0 AND held_sats <= estimated_sats))),
  ('holds: state is held, settled, released or expired',
   EXISTS (SELECT FROM freetier.holds
            WHERE state <> ALL (ARRAY['held', 'settled', 'released', 'expired']))),
  ('holds: ended_at is set exactly when the hold has ended',
   EXISTS (SELECT FROM freetier.holds WHERE (state = 'held') <> (ended_at IS NULL))),
  ('holds: expires_at > created_at',
   EXISTS (SELECT FROM freetier.holds WHERE NOT expires_at > created_at)),
  ('holds: end_reason is at most 256 bytes',
   EXISTS (SELECT FROM freetier.holds WHERE octet_length(end_reason) > 256)),
  ('holds: its subject exists',
   EXISTS (SELECT FROM freetier.holds h
            WHERE NOT EXISTS (SELECT FROM freetier.subjects s WHERE s.subject = h.subject))),
  ('holds: its stripe exists',
   EXISTS (SELECT FROM freetier.holds h
            WHERE NOT EXISTS (SELECT FROM freetier.pool_stripes s
                               WHERE s.pool = h.pool AND s.stripe = h.stripe))),
  ('grants: actual, absorbed, returned and charge are >= 0',
   EXISTS (SELECT FROM freetier.grants
            WHERE NOT (actual_sats >= 0 AND absorbed_sats >= 0 AND returned_sats >= 0
                       AND charge_sats >= 0))),
  ('grants: absorbed + charge = actual',
   EXISTS (SELECT FROM freetier.grants WHERE absorbed_sats + charge_sats <> actual_sats)),
  ('grants: request_hash is at most 256 bytes',
   EXISTS (SELECT FROM freetier.grants WHERE octet_length(request_hash) > 256)),
  ('grants: its hold exists, is settled, and held absorbed + returned',
   EXISTS (SELECT FROM freetier.grants g
            WHERE NOT EXISTS (SELECT FROM freetier.holds h
                               WHERE h.hold_id = g.hold_id AND h.state = 'settled'
                                 AND h.held_sats = g.absorbed_sats + g.returned_sats))),
  ('ledger: seq >= 1',
   EXISTS (SELECT FROM freetier.ledger WHERE NOT seq >= 1)),
  ('ledger: kind is seed, hold, return, release, expiry, credit, move, adjust, reversal, owed, repay, checkpoint or import',
   EXISTS (SELECT FROM freetier.ledger
            WHERE kind <> ALL (ARRAY['seed', 'hold', 'return', 'release',
                                                   'expiry', 'credit', 'move', 'adjust',
                                                   'reversal', 'owed', 'repay', 'checkpoint',
                                                   'import']))),
  ('ledger: a checkpoint moves nothing',
   EXISTS (SELECT FROM freetier.ledger WHERE kind = 'checkpoint' AND delta_sats <> 0)),
  ('ledger: balance_after >= 0',
   EXISTS (SELECT FROM freetier.ledger WHERE NOT balance_after >= 0)),
  ('ledger: its stripe exists',
   EXISTS (SELECT FROM freetier.ledger l
            WHERE NOT EXISTS (SELECT FROM freetier.pool_stripes s
                               WHERE s.pool = l.pool AND s.stripe = l.stripe))),
  ('pool_stripes: owed_sats >= 0, and only stripe 0 owes',
   EXISTS (SELECT FROM freetier.pool_stripes WHERE owed_sats < 0 OR stripe <> 0 AND owed_sats <> 0)),
  ('subjects: subject is 1 to 256 bytes',
   EXISTS (SELECT FROM freetier.subjects WHERE octet_length(subject) NOT BETWEEN 1 AND 256)),
  ('subjects: window_settled_sats >= 0',
   EXISTS (SELECT FROM freetier.subjects WHERE NOT window_settled_sats >= 0)),
  ('subjects: its tier exists',
   EXISTS (SELECT FROM freetier.subjects s
            WHERE NOT EXISTS (SELECT FROM freetier.tiers t WHERE t.tier = s.tier))),
  ('pool_stripes: its pool exists',
   EXISTS (SELECT FROM freetier.pool_stripes s
            WHERE NOT EXISTS (SELECT FROM freetier.pools p WHERE p.pool = s.pool))),
  ('credits: its pool exists',
   EXISTS (SELECT FROM freetier.credits c
            WHERE NOT EXISTS (SELECT FROM freetier.pools p WHERE p.pool = c.pool))),
  ('credit_settings: its default and trial plans exist',
   EXISTS (SELECT FROM freetier.credit_settings c
            WHERE NOT EXISTS (SELECT FROM freetier.plans p WHERE p.plan = c.default_plan)
               OR NOT EXISTS (SELECT FROM freetier.plans p WHERE p.plan = c.trial_plan))),
  ('accounts: its plan exists',
   EXISTS (SELECT FROM freetier.accounts a
            WHERE NOT EXISTS (SELECT FROM freetier.plans p WHERE p.plan = a.plan))),
  ('account_backend_use, credit_holds, credit_additions, account_ledger, trials: their account exists',
   EXISTS (SELECT FROM (SELECT subject FROM freetier.account_backend_use
                        UNION ALL SELECT subject FROM freetier.credit_holds
                        UNION ALL SELECT subject FROM freetier.credit_additions
                        UNION ALL SELECT subject FROM freetier.account_ledger
                        UNION ALL SELECT subject FROM freetier.trials
                        UNION ALL SELECT claimed_by FROM freetier.trials WHERE claimed_by IS NOT NULL) x
            WHERE NOT EXISTS (SELECT FROM freetier.accounts a WHERE a.subject = x.subject)))
) AS rules (rule, broken)
WHERE broken;
