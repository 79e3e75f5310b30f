-- Every foreign key of the kit's tables has an index whose leading columns are the
-- foreign key's columns, so merges, deletes and joins on it never scan the whole table.
begin;
set local client_min_messages = warning;
create extension if not exists pgtap with schema extensions;

select plan(3);

create temporary view unindexed_foreign_keys as
select format('%I.%I.%I', n.nspname, t.relname, c.conname) as offender
from pg_catalog.pg_constraint as c
inner join pg_catalog.pg_class as t on c.conrelid = t.oid
inner join pg_catalog.pg_namespace as n on t.relnamespace = n.oid
where
    c.contype = 'f'
    and n.nspname in ('public', 'customer_management')
    and not exists (
        select 1 from pg_catalog.pg_index as i
        where
            i.indrelid = c.conrelid
            and i.indpred is null
            and i.indnkeyatts >= cardinality(c.conkey)
            and (
                select array_agg(k order by k)
                from unnest((i.indkey::int2[])[0:cardinality(c.conkey) - 1]) as k
            ) = (select array_agg(k order by k) from unnest(c.conkey) as k)
    )
order by 1;

select isnt_empty(
    $$select 1 from pg_catalog.pg_constraint as c
      inner join pg_catalog.pg_class as t on t.oid = c.conrelid
      inner join pg_catalog.pg_namespace as n on n.oid = t.relnamespace
      where c.contype = 'f' and n.nspname in ('public', 'customer_management')$$,
    'the kit has foreign keys to check'
);

select is_empty(
    'select offender from unindexed_foreign_keys',
    'every foreign key has an index leading with its columns'
);

-- The check can fail: a foreign key whose column is indexed only second is reported.
create table customer_management.fk_canary (
    id integer primary key,
    customer_id uuid references public.customers (id)
);
create index fk_canary_wrong_order_idx on customer_management.fk_canary (id, customer_id);

select is(
    array(
        select offender from unindexed_foreign_keys
        where offender like '%canary%'
    ),
    array['customer_management.fk_canary.fk_canary_customer_id_fkey']::text[],
    'an unindexed foreign key is reported by table and constraint name'
);

select * from finish();
rollback;
