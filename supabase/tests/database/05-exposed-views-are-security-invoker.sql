-- A view in an exposed schema runs with its owner's rights unless it is security_invoker;
-- such a view would bypass the RLS of the tables under it.
begin;
set local client_min_messages = warning;
create extension if not exists pgtap with schema extensions;

select plan(2);

create temporary view definer_views as
select format('%I.%I', n.nspname, c.relname) as offender
from pg_catalog.pg_class as c
inner join pg_catalog.pg_namespace as n on c.relnamespace = n.oid
where
    n.nspname in ('public', 'graphql_public')
    and c.relkind = 'v'
    and not exists (
        select 1 from unnest(c.reloptions) as o (option)
        where o.option ~* '^security_invoker=(true|on|yes|1)$'
    )
order by 1;

select is_empty(
    'select offender from definer_views',
    'every view in an exposed schema has security_invoker = true'
);

-- The check can fail: a plain view is reported; an invoker view is not.
create view public.definer_view_canary as select 1 as one;
create view public.invoker_view_canary with (security_invoker = true) as select 1 as one;

select is(
    array(
        select offender from definer_views
        where offender like '%canary%'
    ),
    array['public.definer_view_canary']::text[],
    'a view without security_invoker is reported by name'
);

select * from finish();
rollback;
