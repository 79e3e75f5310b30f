-- Staging a legacy table as a file would be: its columns may be named otherwise (a mapping
-- says which column of the table is which of the kit's, as `import --map surname=last_name`
-- does for a file), and its rows are numbered in the table's stored order from line 2 on,
-- the line each has in a CSV export of the table with a header (`\copy ... csv header`),
-- so a reported line is found where a person looks for it. Both return the last line.
-- The former two-argument forms stage with no mapping.

create function customer_management.stage_customers_from_table(
    load_id uuid, source regclass, columns jsonb
) returns bigint
language plpgsql
volatile
set search_path = ''
as $$
declare
    staged bigint;
    row_order text;
begin
    if not exists (
        select 1 from pg_catalog.pg_attribute as a
        where a.attrelid = source and a.attnum > 0 and not a.attisdropped
            and a.attname in ('legacy_id', 'id', columns ->> 'legacy_id')
    ) then
        perform customer_management.raise_error(
            'missing_legacy_id_column',
            format('%s has neither a legacy_id nor an id column.', source),
            'Name the column that identifies a customer in the old system legacy_id.'
        );
    end if;
    if jsonb_typeof(coalesce(columns, '{}'::jsonb)) <> 'object' then
        perform customer_management.raise_error(
            'invalid_columns', 'columns must map the kit''s column names to the table''s.',
            'Send for example {"last_name": "surname"}.'
        );
    end if;
    -- The table's stored order (what a plain select or a CSV export of it shows); a view
    -- keeps its own.
    row_order := case
        when (select c.relkind from pg_catalog.pg_class as c where c.oid = source) in ('r', 'm')
            then 's.ctid'
        else 'null'
    end;
    execute format(
        $staging$
        insert into customer_management.import_customer_rows (
            load_id, line, legacy_id, first_name, last_name, phone, email, allergies,
            created_at
        )
        select
            $1,
            row_number() over () + 1,
            nullif(btrim(r.legacy_id), ''),
            r.j ->> 'first_name',
            r.j ->> 'last_name',
            r.j ->> 'phone',
            r.j ->> 'email',
            case
                when jsonb_typeof(r.j -> 'allergies') = 'array'
                    then (
                        select string_agg(x.allergy, ';')
                        from jsonb_array_elements_text(r.j -> 'allergies') as x (allergy)
                    )
                else r.j ->> 'allergies'
            end,
            r.j ->> 'created_at'
        from (
            select j.j, coalesce(j.j ->> 'legacy_id', j.j ->> 'id') as legacy_id
            from %s as s
            cross join lateral (
                select to_jsonb(s) || coalesce((
                    select jsonb_object_agg(m.key, to_jsonb(s) -> m.value)
                    from jsonb_each_text($2) as m
                ), '{}'::jsonb) as j
            ) as j
            order by %s
        ) as r
        $staging$,
        source, row_order
    ) using load_id, coalesce(columns, '{}'::jsonb);
    get diagnostics staged = row_count;
    return staged + 1;
end;
$$;

comment on function customer_management.stage_customers_from_table(uuid, regclass, jsonb) is
'Stages the rows of a legacy customer table for an import, columns renamed by the mapping '
'(kit column -> table column), numbered in stored order from line 2; returns the last line.';

revoke all on function customer_management.stage_customers_from_table(uuid, regclass, jsonb)
from public, anon, authenticated, service_role;

create or replace function customer_management.stage_customers_from_table(
    load_id uuid, source regclass
) returns bigint
language plpgsql
volatile
set search_path = ''
as $$
begin
    return customer_management.stage_customers_from_table(load_id, source, '{}'::jsonb);
end;
$$;

create function customer_management.stage_orders_from_table(
    load_id uuid, source regclass, columns jsonb
) returns bigint
language plpgsql
volatile
set search_path = ''
as $$
declare
    staged bigint;
    row_order text;
begin
    if not exists (
        select 1 from pg_catalog.pg_attribute as a
        where a.attrelid = source and a.attnum > 0 and not a.attisdropped
            and a.attname in ('legacy_customer_id', 'customer_id', columns ->> 'legacy_customer_id')
    ) then
        perform customer_management.raise_error(
            'missing_legacy_customer_id_column',
            format('%s has neither a legacy_customer_id nor a customer_id column.', source),
            'Name the column holding the customer''s legacy id legacy_customer_id.'
        );
    end if;
    if jsonb_typeof(coalesce(columns, '{}'::jsonb)) <> 'object' then
        perform customer_management.raise_error(
            'invalid_columns', 'columns must map the kit''s column names to the table''s.',
            'Send for example {"last_name": "surname"}.'
        );
    end if;
    -- The table's stored order (what a plain select or a CSV export of it shows); a view
    -- keeps its own.
    row_order := case
        when (select c.relkind from pg_catalog.pg_class as c where c.oid = source) in ('r', 'm')
            then 's.ctid'
        else 'null'
    end;
    execute format(
        $staging$
        insert into customer_management.import_order_rows (
            load_id, line, legacy_customer_id, total, currency, status, delivery_date,
            created_at, items
        )
        select
            $1,
            row_number() over () + 1,
            nullif(btrim(r.legacy_customer_id), ''),
            r.j ->> 'total',
            r.j ->> 'currency',
            r.j ->> 'status',
            r.j ->> 'delivery_date',
            r.j ->> 'created_at',
            case
                when jsonb_typeof(r.j -> 'items') in ('array', 'object')
                    then (r.j -> 'items')::text
                else r.j ->> 'items'
            end
        from (
            select
                j.j,
                coalesce(j.j ->> 'legacy_customer_id', j.j ->> 'customer_id')
                as legacy_customer_id
            from %s as s
            cross join lateral (
                select to_jsonb(s) || coalesce((
                    select jsonb_object_agg(m.key, to_jsonb(s) -> m.value)
                    from jsonb_each_text($2) as m
                ), '{}'::jsonb) as j
            ) as j
            order by %s
        ) as r
        $staging$,
        source, row_order
    ) using load_id, coalesce(columns, '{}'::jsonb);
    get diagnostics staged = row_count;
    return staged + 1;
end;
$$;

comment on function customer_management.stage_orders_from_table(uuid, regclass, jsonb) is
'Stages the rows of a legacy order table for an import, columns renamed by the mapping, '
'numbered in stored order from line 2; returns the last line.';

revoke all on function customer_management.stage_orders_from_table(uuid, regclass, jsonb)
from public, anon, authenticated, service_role;

create or replace function customer_management.stage_orders_from_table(
    load_id uuid, source regclass
) returns bigint
language plpgsql
volatile
set search_path = ''
as $$
begin
    return customer_management.stage_orders_from_table(load_id, source, '{}'::jsonb);
end;
$$;

-- Rows without a created_at are ordered as the file orders them, not all at the same now():
-- each gets the import's time less one microsecond per row after it, so the first such row
-- is the oldest and the survivor rule (the oldest account) follows the file. Returns how
-- many rows were dated.
create function customer_management.date_undated_import_rows(load_id uuid) returns bigint
language plpgsql
volatile
set search_path = ''
as $$
declare
    dated bigint;
    last_line bigint;
begin
    select max(s.line) into last_line
    from customer_management.import_customer_rows as s
    where s.load_id = date_undated_import_rows.load_id;
    update customer_management.import_customer_rows as s
    set created_at = to_char(
        (now() - make_interval(secs => (last_line - s.line + 1) / 1000000.0)) at time zone 'UTC',
        'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'
    )
    where
        s.load_id = date_undated_import_rows.load_id
        and s.outcome is null
        and nullif(btrim(s.created_at), '') is null;
    get diagnostics dated = row_count;
    return dated;
end;
$$;

comment on function customer_management.date_undated_import_rows(uuid) is
'Gives staged rows without a created_at the import''s time less a microsecond per later '
'row, so they are ordered as the file orders them; returns the count.';

revoke all on function customer_management.date_undated_import_rows(uuid)
from public, anon, authenticated, service_role;
