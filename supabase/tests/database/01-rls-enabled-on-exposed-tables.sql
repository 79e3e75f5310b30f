-- Every table in a schema the API exposes (public, graphql_public) has row level security
-- on: without it, Supabase's default grants would hand every row to anon and authenticated.
begin;
set local client_min_messages = warning;
create extension if not exists pgtap with schema extensions;

select plan(2);

create temporary view tables_without_rls as
select format('%I.%I', n.nspname, c.relname) as offender
from pg_catalog.pg_class as c
inner join pg_catalog.pg_namespace as n on c.relnamespace = n.oid
where
    n.nspname in ('public', 'graphql_public')
    and c.relkind in ('r', 'p')
    and not c.relrowsecurity
order by 1;

select is_empty(
    'select offender from tables_without_rls',
    'every table in an exposed schema has row level security enabled'
);

-- The check can fail: a table created without RLS is named.
create table public.rls_canary (id integer);

select is(
    array(
        select offender from tables_without_rls
        where offender like '%canary%'
    ),
    array['public.rls_canary']::text[],
    'a table without row level security is reported by name'
);

select * from finish();
rollback;
