-- The analyst role reads the analytics views and no contact data: no column of
-- public.customers, no identifier value, nothing it could write. The API roles cannot
-- reach the analytics schema, and its views run with the reader's rights.
begin;
set local client_min_messages = warning;
create extension if not exists pgtap with schema extensions;

select plan(5);

create temporary view analyst_contact_columns as
select format('%I.%I.%I', n.nspname, c.relname, a.attname) as offender
from pg_catalog.pg_attribute as a
inner join pg_catalog.pg_class as c on a.attrelid = c.oid
inner join pg_catalog.pg_namespace as n on c.relnamespace = n.oid
where
    a.attnum > 0
    and not a.attisdropped
    and (
        (n.nspname = 'public' and c.relname = 'customers')
        or (
            n.nspname = 'customer_management'
            and c.relname = 'customer_identifiers'
            and a.attname in ('value', 'display_value')
        )
    )
    and pg_catalog.has_column_privilege('analyst', c.oid, a.attnum, 'SELECT')
order by 1;

select is_empty(
    'select offender from analyst_contact_columns',
    'analyst reads no column of customers and no identifier value'
);

select is_empty(
    $$select format('%I.%I', n.nspname, c.relname)
      from pg_catalog.pg_class as c
      inner join pg_catalog.pg_namespace as n on c.relnamespace = n.oid
      where n.nspname in ('public', 'customer_management', 'analytics')
          and (
              pg_catalog.has_table_privilege('analyst', c.oid, 'INSERT,UPDATE,DELETE,TRUNCATE')
              or pg_catalog.has_any_column_privilege('analyst', c.oid, 'INSERT,UPDATE')
          )$$,
    'analyst writes nothing'
);

select is(
    array(
        select r.rolname::text from pg_catalog.pg_roles as r
        where
            r.rolname in ('anon', 'authenticated', 'service_role')
            and pg_catalog.has_schema_privilege(r.oid, 'analytics', 'USAGE')
    ),
    '{}'::text[],
    'no API role may use the analytics schema'
);

select is_empty(
    $$select c.relname from pg_catalog.pg_class as c
      where c.relnamespace = 'analytics'::regnamespace and c.relkind = 'v'
          and not coalesce(c.reloptions @> array['security_invoker=true'], false)$$,
    'every analytics view runs with the reader''s rights'
);

-- The check can fail: a grant of a contact column is reported by name.
grant select (email) on public.customers to analyst;

select is(
    array(select offender from analyst_contact_columns),
    array['public.customers.email']::text[],
    'a contact column granted to analyst is reported by name'
);

select * from finish();
rollback;
