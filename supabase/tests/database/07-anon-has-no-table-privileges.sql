-- anon has no privilege on any table, view or sequence of the kit, in public or customer_management,
-- neither on the whole relation nor on any column.
begin;
set local client_min_messages = warning;
create extension if not exists pgtap with schema extensions;

select plan(4);

select table_privs_are(
    'public', 'customers', 'anon', '{}'::name[], 'anon has no privileges on public.customers'
);
select table_privs_are(
    'public', 'orders', 'anon', '{}'::name[], 'anon has no privileges on public.orders'
);

create temporary view anon_relation_privileges as
select format('%I.%I %s', n.nspname, c.relname, p.privilege) as offender
from pg_catalog.pg_class as c
inner join pg_catalog.pg_namespace as n on c.relnamespace = n.oid
cross join
    unnest(array[
        'SELECT', 'INSERT', 'UPDATE', 'DELETE', 'TRUNCATE', 'REFERENCES', 'TRIGGER'
    ]) as p (privilege)
where
    n.nspname in ('public', 'customer_management')
    and c.relkind in ('r', 'p', 'v', 'm', 'f')
    and (
        pg_catalog.has_table_privilege('anon', c.oid, p.privilege)
        or (
            p.privilege in ('SELECT', 'INSERT', 'UPDATE', 'REFERENCES')
            and pg_catalog.has_any_column_privilege('anon', c.oid, p.privilege)
        )
    )
union all
select format('%I.%I USAGE', n.nspname, c.relname)
from pg_catalog.pg_class as c
inner join pg_catalog.pg_namespace as n on c.relnamespace = n.oid
where
    n.nspname in ('public', 'customer_management')
    and case
        when c.relkind = 'S'
            then pg_catalog.has_sequence_privilege('anon', c.oid, 'USAGE,SELECT,UPDATE')
        else false
    end
order by 1;

select is_empty(
    'select offender from anon_relation_privileges',
    'anon has no table, column or sequence privilege in public or customer_management'
);

-- The check can fail: a single column grant is enough to be reported.
grant select (first_name) on public.customers to anon;

select is(
    array(
        select offender from anon_relation_privileges
        where offender like 'public.customers%'
    ),
    array['public.customers SELECT']::text[],
    'a column privilege of anon is reported by table and privilege'
);

select * from finish();
rollback;
