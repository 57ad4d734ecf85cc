-- The anchors, daily at 03:00, to the server log, as the operator role
-- (README, "Operations").  Run as that role, connected to the database in
-- cron.database_name; pg_cron then runs the job as that role.  Scheduling
-- it again under the same name replaces it.  Each run writes one line per
-- chain (freetier_log_anchors); ship the server log off the machine and
-- keep the lines: freetier_verify_anchor checks one.
SELECT cron.schedule('freetier-anchors', '0 3 * * *', 'SELECT freetier_log_anchors()');
