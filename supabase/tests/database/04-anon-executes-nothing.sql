-- anon (a request with no JWT) can execute none of the kit's functions, in public or
-- customer_management. Functions owned by an extension (pgTAP, plpgsql_check) are not the kit's.
begin;
set local client_min_messages = warning;
create extension if not exists pgtap with schema extensions;

select plan(2);

create temporary view anon_executable_functions as
select p.oid::regprocedure::text as offender
from pg_catalog.pg_proc as p
inner join pg_catalog.pg_namespace as n on p.pronamespace = n.oid
where
    n.nspname in ('public', 'customer_management')
    and pg_catalog.has_function_privilege('anon', p.oid, 'EXECUTE')
    and not exists (
        select 1 from pg_catalog.pg_depend as d
        where
            d.classid = 'pg_catalog.pg_proc'::regclass
            and d.objid = p.oid
            and d.deptype = 'e'
    )
order by 1;

select is_empty(
    'select offender from anon_executable_functions',
    'anon cannot execute any function of the kit'
);

-- The check can fail: a new public function gets Supabase's default grants (and PUBLIC's).
create function public.anon_canary() returns integer language sql as 'select 1';

select is(
    array(
        select offender from anon_executable_functions
        where offender like '%canary%'
    ),
    array['anon_canary()']::text[],
    'a function anon can execute is reported by name'
);

select * from finish();
rollback;
