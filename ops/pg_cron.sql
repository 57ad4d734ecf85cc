-- The sweep, every minute, as the operator role (README, "Operations").
-- Run as that role, connected to the database in cron.database_name; pg_cron
-- then runs the job as that role.  Scheduling it again under the same name
-- replaces it.
SELECT cron.schedule('freetier-expire-holds', '* * * * *', 'SELECT freetier_expire_holds()');
