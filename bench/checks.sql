-- End-of-run consistency checks of bench/run: each implementation did the
-- work pgbench counted, and no more.  psql variables: subjects, and the
-- number of scripts pgbench completed per implementation (ft_request,
-- ref_request, seedsql_request, seedfn_request, hotrow, coldrows,
-- ft_credits, ref_credits, ft_spend, ref_spend; 0 when not run).  Every
-- request absorbed 25 sats net (30 held, 5 returned); every credit request
-- spent 3 credits.  The warm-up of bench/setup.sql (pool warmup, accounts
-- w*) is left out.  freetier is checked through its SQL interface only, so
-- that the checks hold for any version with the same interface.  Each line
-- ends in ok or MISMATCH.
\set ON_ERROR_STOP on
\pset format unaligned
\pset tuples_only on

SELECT format('freetier  request: %s by pgbench; pool bench balance %s (expected %s), %s sats on hold;'
              ' every pool ledger verifies: %s; gate created no subject: %s  %s',
              :ft_request, s.balance_sats, 1000000000000000 - 25 * :ft_request, s.held_sats, v.ok,
              g.reason = 'unknown_subject',
              CASE WHEN s.balance_sats = 1000000000000000 - 25 * :ft_request AND s.held_sats = 0
                        AND v.ok AND g.reason = 'unknown_subject' THEN 'ok' ELSE 'MISMATCH' END)
  FROM freetier_pool_status('bench') s,
       (SELECT bool_and(ok) AS ok FROM freetier_verify_ledger()) v,
       freetier_estimate('ghost1', 30, 'bench') g;

SELECT format('ref       request: %s by pgbench, %s grants on bench, %s holds not settled; pool bench balance %s'
              ' (expected %s); every pool chain verifies: %s; gate created no subject: %s  %s',
              :ref_request, n.grants, n.open_holds, p.balance_sats, 1000000000000000 - 25 * :ref_request,
              ref.verify_ledger(), n.ghosts = 0,
              CASE WHEN n.grants = :ref_request AND n.open_holds = 0 AND n.ghosts = 0
                        AND p.balance_sats = 1000000000000000 - 25 * :ref_request
                        AND ref.verify_ledger() THEN 'ok' ELSE 'MISMATCH' END)
  FROM ref.pools p,
       (SELECT (SELECT count(*) FROM ref.grants WHERE pool = 'bench') AS grants,
               (SELECT count(*) FROM ref.holds WHERE state <> 'settled') AS open_holds,
               (SELECT count(*) FROM ref.subjects WHERE subject LIKE 'ghost%') AS ghosts) n
 WHERE p.pool = 'bench';

SELECT format('%-9s request: %s by pgbench, %s audit rows absorbing %s; pool %s (expected %s);'
              ' daily counters %s (expected %s)  %s',
              x.impl, x.requests, x.grants, x.absorbed, x.pool, 2000000000 - 25 * x.requests,
              x.counters, 25 * x.requests,
              CASE WHEN x.grants = x.requests AND x.absorbed = 25 * x.requests
                        AND x.pool = 2000000000 - 25 * x.requests AND x.counters = 25 * x.requests
                   THEN 'ok' ELSE 'MISMATCH' END)
  FROM (SELECT 'seedsql' AS impl, :seedsql_request AS requests,
               (SELECT count(*) FROM seed.free_tier_grants) AS grants,
               (SELECT coalesce(sum(sats_absorbed), 0) FROM seed.free_tier_grants) AS absorbed,
               (SELECT value::bigint FROM seed.timmy_config WHERE key = 'generosity_pool_sats') AS pool,
               (SELECT sum(sats_absorbed_today) FROM seed.nostr_identities) AS counters
        UNION ALL
        SELECT 'seedfn', :seedfn_request,
               (SELECT count(*) FROM seedfn.free_tier_grants),
               (SELECT coalesce(sum(sats_absorbed), 0) FROM seedfn.free_tier_grants),
               (SELECT value::bigint FROM seedfn.timmy_config WHERE key = 'generosity_pool_sats'),
               (SELECT sum(sats_absorbed_today) FROM seedfn.nostr_identities)) x;

SELECT format('limits    hot row: %s by pgbench, n = %s, %s audit rows; cold rows: %s by pgbench,'
              ' sum(n) = %s, %s audit rows  %s',
              :hotrow, h.n, h.audit, :coldrows, c.n, c.audit,
              CASE WHEN h.n = :hotrow AND h.audit = :hotrow AND c.n = :coldrows AND c.audit = :coldrows
                   THEN 'ok' ELSE 'MISMATCH' END)
  FROM (SELECT (SELECT n FROM lim.hot) AS n, (SELECT count(*) FROM lim.hot_audit) AS audit) h,
       (SELECT (SELECT sum(n) FROM lim.cold) AS n, (SELECT count(*) FROM lim.cold_audit) AS audit) c;

SELECT format('freetier  credits: %s reserve+settle and %s spends by pgbench; accounts spent %s'
              ' (expected %s), %s on hold; every account ledger verifies: %s  %s',
              :ft_credits, :ft_spend, x.spent, 3 * (:ft_credits + :ft_spend), x.held, v.ok,
              CASE WHEN x.spent = 3 * (:ft_credits + :ft_spend) AND x.held = 0 AND v.ok
                   THEN 'ok' ELSE 'MISMATCH' END)
  FROM (SELECT sum(a.lifetime_spent) AS spent, sum(a.reserved_credits) AS held
          FROM generate_series(1, :subjects) i, LATERAL freetier_account_status('c' || i) a) x,
       (SELECT bool_and(ok) AS ok FROM freetier_verify_account_ledger()) v;

SELECT format('ref       credits: %s reserve+settle and %s spends by pgbench; accounts spent %s'
              ' (expected %s), %s holds not settled; every account chain verifies: %s  %s',
              :ref_credits, :ref_spend, x.spent, 3 * (:ref_credits + :ref_spend), x.open_holds, v.ok,
              CASE WHEN x.spent = 3 * (:ref_credits + :ref_spend) AND x.open_holds = 0 AND v.ok
                   THEN 'ok' ELSE 'MISMATCH' END)
  FROM (SELECT (SELECT sum(lifetime_spent) FROM ref.accounts WHERE subject LIKE 'c%') AS spent,
               (SELECT count(*) FROM ref.credit_holds WHERE state <> 'settled') AS open_holds) x,
       (SELECT ref.verify_account_ledger() AS ok) v;
