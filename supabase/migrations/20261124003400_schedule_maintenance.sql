-- Where pg_cron is installed (it is on Supabase; Debian packages it as
-- postgresql-15-cron), maintenance runs every 15 minutes from the start. Without it this
-- does nothing: docs/operations.md says how to run or schedule maintenance instead.

select customer_management.schedule_maintenance();
