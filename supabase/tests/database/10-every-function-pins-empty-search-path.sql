-- Supabase's database linter (splinter, the dashboard's Security Advisor) warns about every
-- function outside the platform's schemas whose search_path is not pinned to the empty
-- string (function_search_path_mutable), definer or not: every function of the kit pins it.
begin;
set local client_min_messages = warning;
create extension if not exists pgtap with schema extensions;

select plan(3);

-- The linter's own selection, limited to the kit's schema and its RPCs in public.
create temporary view functions_without_empty_search_path as
select p.oid::regprocedure::text as offender
from pg_catalog.pg_proc as p
inner join pg_catalog.pg_namespace as n on p.pronamespace = n.oid
left join pg_catalog.pg_depend as extension_member
    on p.oid = extension_member.objid and extension_member.deptype = 'e'
where
    n.nspname in ('public', 'customer_management', 'analytics')
    and extension_member.objid is null
    and not coalesce(p.proconfig, '{}') && array['search_path=""']
order by 1;

select isnt_empty(
    $$select 1 from pg_catalog.pg_proc as p
      inner join pg_catalog.pg_namespace as n on n.oid = p.pronamespace
      where n.nspname = 'customer_management' and not p.prosecdef$$,
    'the kit has invoker functions to check'
);

select is_empty(
    'select offender from functions_without_empty_search_path',
    'every function of the kit sets search_path to the empty string'
);

-- The check can fail: a function without a pinned search_path is named.
create function customer_management.mutable_path_canary() returns integer
language sql as 'select 1';

select is(
    array(
        select offender from functions_without_empty_search_path
        where offender like '%canary%'
    ),
    array['customer_management.mutable_path_canary()']::text[],
    'functions without an empty search_path are reported by name'
);

select * from finish();
rollback;
