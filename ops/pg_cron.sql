-- The sweep, every minute, as the operator role (README, "Operations").
-- Run as that role, connected to the database in cron.database_name; pg_cron
-- then runs the job as that role.  Scheduling it again under the same name
-- replaces it.
SELECT cron.schedule('freetier-expire-holds', '* * * * *', 'SELECT freetier_expire_holds()');
-- Request keys past their retention (freetier.request_key_retention), hourly;
-- a key whose hold is still live is kept (README, "Request keys").
SELECT cron.schedule('freetier-prune-request-keys', '17 * * * *', 'SELECT freetier_prune_request_keys()');
