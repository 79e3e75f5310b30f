-- Functions in exposed schemas run as the caller (SECURITY INVOKER). Privileged code lives
-- in the kit's own schema, where PostgREST cannot call it directly.
begin;
set local client_min_messages = warning;
create extension if not exists pgtap with schema extensions;

select plan(2);

create temporary view exposed_definer_functions as
select p.oid::regprocedure::text as offender
from pg_catalog.pg_proc as p
inner join pg_catalog.pg_namespace as n on p.pronamespace = n.oid
where
    n.nspname in ('public', 'graphql_public')
    and p.prosecdef
order by 1;

select is_empty(
    'select offender from exposed_definer_functions',
    'no SECURITY DEFINER function lives in an exposed schema'
);

-- The check can fail: a definer function in public is named.
create function public.definer_canary() returns integer
language sql security definer set search_path = '' as 'select 1';

select is(
    array(
        select offender from exposed_definer_functions
        where offender like '%canary%'
    ),
    array['definer_canary()']::text[],
    'a SECURITY DEFINER function in public is reported by name'
);

select * from finish();
rollback;
