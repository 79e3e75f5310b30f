-- What a signed-in end user may do to the tables directly (supabase.from(...)): read
-- customers and orders (RLS narrows it to their own), update only names, allergies and
-- preferences of customers, never insert, delete or touch identity columns.
begin;
set local client_min_messages = warning;
create extension if not exists pgtap with schema extensions;

select plan(7);

select table_privs_are(
    'public', 'customers', 'authenticated', array['SELECT'],
    'authenticated may only SELECT public.customers as a whole'
);
select table_privs_are(
    'public', 'orders', 'authenticated', array['SELECT'],
    'authenticated may only SELECT public.orders as a whole'
);

create temporary view authenticated_column_privileges as
select
    c.relname::text as table_name,
    a.attname::text as column_name,
    p.privilege
from pg_catalog.pg_attribute as a
inner join pg_catalog.pg_class as c on a.attrelid = c.oid
inner join pg_catalog.pg_namespace as n on c.relnamespace = n.oid
cross join unnest(array['INSERT', 'UPDATE', 'REFERENCES']) as p (privilege)
where
    n.nspname = 'public'
    and c.relname in ('customers', 'orders')
    and a.attnum > 0
    and not a.attisdropped
    and pg_catalog.has_column_privilege('authenticated', c.oid, a.attnum, p.privilege);

select is(
    array(
        select column_name from authenticated_column_privileges
        where table_name = 'customers' and privilege = 'UPDATE'
        order by 1
    ),
    array['allergies', 'first_name', 'last_name', 'preferences'],
    'authenticated may update exactly first_name, last_name, allergies and preferences'
);

select is_empty(
    $$select format('%s.%s %s', table_name, column_name, privilege)
      from authenticated_column_privileges
      where not (table_name = 'customers' and privilege = 'UPDATE')$$,
    'authenticated has no INSERT, REFERENCES or orders UPDATE privilege on any column'
);

select column_privs_are(
    'public', 'customers', 'auth_user_id', 'authenticated', array['SELECT'],
    'authenticated may read but not change customers.auth_user_id'
);

select column_privs_are(
    'public', 'customers', 'first_name', 'authenticated', array['SELECT', 'UPDATE'],
    'authenticated may read and change customers.first_name'
);

-- The check can fail: an extra column grant changes the list.
grant update (phone) on public.customers to authenticated;

select is(
    array(
        select column_name from authenticated_column_privileges
        where table_name = 'customers' and privilege = 'UPDATE'
        order by 1
    ),
    array['allergies', 'first_name', 'last_name', 'phone', 'preferences'],
    'an extra updatable column is listed by name'
);

select * from finish();
rollback;
