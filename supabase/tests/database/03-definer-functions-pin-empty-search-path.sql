-- Every SECURITY DEFINER function of the kit pins search_path to '' so a caller cannot
-- shadow an unqualified name with an object of their own.
begin;
set local client_min_messages = warning;
create extension if not exists pgtap with schema extensions;

select plan(3);

create temporary view definers_without_empty_search_path as
select p.oid::regprocedure::text as offender
from pg_catalog.pg_proc as p
inner join pg_catalog.pg_namespace as n on p.pronamespace = n.oid
where
    n.nspname in ('public', 'customer_management')
    and p.prosecdef
    and not coalesce(p.proconfig @> array['search_path=""'], false)
order by 1;

select isnt_empty(
    $$select 1 from pg_catalog.pg_proc as p
      inner join pg_catalog.pg_namespace as n on n.oid = p.pronamespace
      where n.nspname = 'customer_management' and p.prosecdef$$,
    'the kit has definer functions to check'
);

select is_empty(
    'select offender from definers_without_empty_search_path',
    'every SECURITY DEFINER function sets search_path to the empty string'
);

-- The check can fail: definers with no search_path, or a non-empty one, are named.
create function customer_management.no_path_canary() returns integer
language sql security definer as 'select 1';
create function customer_management.public_path_canary() returns integer
language sql security definer set search_path = public as 'select 1';

select is(
    array(
        select offender from definers_without_empty_search_path
        where offender like '%canary%'
    ),
    array[
        'customer_management.no_path_canary()',
        'customer_management.public_path_canary()'
    ]::text[],
    'definer functions without an empty search_path are reported by name'
);

select * from finish();
rollback;
