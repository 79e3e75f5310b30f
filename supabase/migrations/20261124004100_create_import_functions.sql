-- Importing legacy customers and their orders. `customer-management import` stages the
-- raw rows (COPY from a file, or a copy of a legacy table) and then calls these functions
-- chunk by chunk, all in one transaction: the file comes in whole or not at all.
--
-- Each customer row goes through the RPC's own validation (parse_request): a row the RPC
-- would refuse is rejected whole, a placeholder phone or email is dropped and the row
-- kept. Rows come in as they are, duplicates included (deduplication merges them later);
-- an identifier another account already holds active is stored pending on the imported
-- account and listed in import_held_identifiers, so active identifiers stay unique.

create type customer_management.import_customer_check as (
    first_name text,
    last_name text,
    phone text,
    email text,
    email_display text,
    allergies text [],
    created_at timestamptz,
    placeholders integer,
    reject_column text,
    reject_code text,
    reject_detail text
);

comment on type customer_management.import_customer_check is
'One legacy customer row as the RPC''s validation reads it: clean values, how many '
'placeholders were dropped, or why the row is rejected (column, code, detail).';

create type customer_management.import_order_check as (
    total numeric (12, 2),
    currency text,
    status text,
    delivery_date date,
    created_at timestamptz,
    items jsonb,
    reject_column text,
    reject_code text,
    reject_detail text
);

comment on type customer_management.import_order_check is
'One legacy order row parsed for public.orders, or why it is rejected.';

-- Serialises imports (two loads of one file must not both pass the legacy_id check) and
-- names this load in the staging tables.
create function customer_management.begin_import() returns uuid
language plpgsql
volatile
set search_path = ''
as $$
begin
    perform pg_catalog.pg_advisory_xact_lock(
        pg_catalog.hashtextextended('customer_management:import', 0)
    );
    return gen_random_uuid();
end;
$$;

comment on function customer_management.begin_import() is
'Starts an import in the current transaction: waits for any other import, returns a load id.';

revoke all on function customer_management.begin_import()
from public, anon, authenticated, service_role;

-- A legacy customer row through parse_request, exactly as the RPC validates a request:
-- names, phone, email and allergies (";"-separated). created_at is read as UTC when it
-- has no zone; empty means now.
create function customer_management.check_import_customer(
    first_name text,
    last_name text,
    phone text,
    email text,
    allergies text,
    created_at text
) returns customer_management.import_customer_check
language plpgsql
stable
set search_path = ''
set timezone = 'UTC'
as $$
declare
    checked customer_management.import_customer_check;
    parsed customer_management.resolution_request;
    allergy_list jsonb;
    step text := 'row';
    code text;
    detail text;
begin
    select coalesce(jsonb_agg(btrim(a.allergy) order by a.position), '[]'::jsonb)
    into allergy_list
    from unnest(string_to_array(allergies, ';')) with ordinality as a (allergy, position)
    where btrim(a.allergy) <> '';
    begin
        parsed := customer_management.parse_request(jsonb_build_object(
            'phone', phone,
            'email', email,
            'firstName', first_name,
            'lastName', last_name,
            'allergies', allergy_list,
            'source', 'chatbot'
        ));
        step := 'created_at';
        checked.created_at := coalesce(nullif(btrim(created_at), '')::timestamptz, now());
        if not isfinite(checked.created_at) then
            perform customer_management.raise_error(
                'invalid_created_at', 'created_at must be a finite date and time.', null
            );
        end if;
    exception
        when raise_exception or data_exception or sqlstate 'PT413' then
            get stacked diagnostics code = message_text, detail = pg_exception_detail;
            checked.reject_column := case
                when step = 'created_at' then 'created_at'
                when code = 'invalid_phone' then 'phone'
                when code = 'invalid_email' then 'email'
                when code = 'invalid_allergies' then 'allergies'
                when code in ('invalid_name', 'name_too_long') and detail like 'firstName%'
                    then 'first_name'
                when code in ('invalid_name', 'name_too_long') and detail like 'lastName%'
                    then 'last_name'
                else 'row'
            end;
            checked.reject_code := case
                when step = 'created_at' then 'invalid_created_at' else code
            end;
            checked.reject_detail := case
                when step = 'created_at' and code <> 'invalid_created_at'
                    then 'created_at is not a date and time (' || code || ').'
                else detail
            end;
            return checked;
    end;
    checked.first_name := parsed.first_name;
    checked.last_name := parsed.last_name;
    checked.phone := parsed.phone;
    checked.email := parsed.email;
    checked.email_display := parsed.email_display;
    checked.allergies := parsed.allergies;
    checked.placeholders := (
        select count(*) from jsonb_array_elements(parsed.notices) as n
        where n ->> 'code' = 'placeholder_ignored'
    );
    return checked;
end;
$$;

comment on function customer_management.check_import_customer(
    text, text, text, text, text, text
) is
'Validates a legacy customer row with the RPC''s parse_request; returns clean values or why '
'the row is rejected.';

revoke all on function customer_management.check_import_customer(
    text, text, text, text, text, text
) from public, anon, authenticated, service_role;

-- A legacy order row for public.orders. Empty fields take the table's defaults (total 0,
-- USD, pending, no items, now); anything else that does not fit is rejected.
create function customer_management.check_import_order(
    total text,
    currency text,
    status text,
    delivery_date text,
    created_at text,
    items text
) returns customer_management.import_order_check
language plpgsql
stable
set search_path = ''
set timezone = 'UTC'
as $$
declare
    checked customer_management.import_order_check;
    step text := 'total';
    code text;
begin
    begin
        checked.total := coalesce(nullif(btrim(total), '')::numeric(12, 2), 0);
        if checked.total < 0 or checked.total = 'NaN'::numeric then
            raise exception using errcode = '22003', message = 'negative';
        end if;
        step := 'currency';
        checked.currency := coalesce(upper(nullif(btrim(currency), '')), 'USD');
        if checked.currency !~ '^[A-Z]{3}$' then
            raise exception using errcode = '22023', message = 'not a currency code';
        end if;
        step := 'status';
        checked.status := coalesce(lower(nullif(btrim(status), '')), 'pending');
        if checked.status not in (
            'pending', 'confirmed', 'preparing', 'out_for_delivery', 'delivered', 'cancelled'
        ) then
            raise exception using errcode = '22023', message = 'unknown status';
        end if;
        step := 'delivery_date';
        checked.delivery_date := nullif(btrim(delivery_date), '')::date;
        if not isfinite(checked.delivery_date) then
            raise exception using errcode = '22008', message = 'not finite';
        end if;
        step := 'created_at';
        checked.created_at := coalesce(nullif(btrim(created_at), '')::timestamptz, now());
        if not isfinite(checked.created_at) then
            raise exception using errcode = '22008', message = 'not finite';
        end if;
        step := 'items';
        checked.items := coalesce(nullif(btrim(items), '')::jsonb, '[]'::jsonb);
        if jsonb_typeof(checked.items) <> 'array' then
            raise exception using errcode = '22023', message = 'not an array';
        end if;
    exception
        -- A malformed value, or one too deep or large to parse (a JSON nested thousands of
        -- levels deep): the row is rejected, the load goes on.
        when data_exception or program_limit_exceeded then
            get stacked diagnostics code = returned_sqlstate;
            checked := null;
            checked.reject_column := step;
            checked.reject_code := 'invalid_' || step;
            checked.reject_detail := case step
                when 'total' then 'total must be a non-negative amount below 10^10.'
                when 'currency' then 'currency must be a three-letter ISO 4217 code.'
                when 'status' then 'status must be one of pending, confirmed, preparing, '
                    || 'out_for_delivery, delivered, cancelled.'
                when 'delivery_date' then 'delivery_date must be a date.'
                when 'created_at' then 'created_at must be a date and time.'
                else 'items must be a JSON array.'
            end || ' (SQLSTATE ' || code || ')';
    end;
    return checked;
end;
$$;

comment on function customer_management.check_import_order(text, text, text, text, text, text) is
'Parses a legacy order row for public.orders; returns the values or why it is rejected.';

revoke all on function customer_management.check_import_order(
    text, text, text, text, text, text
) from public, anon, authenticated, service_role;

-- A legacy table in the same database, staged like a file: legacy_id (or id), first_name,
-- last_name, phone, email, allergies (text ";"-separated, or an array) and created_at,
-- read by name from each row; absent columns are empty. Rows are numbered in legacy_id
-- order. Returns the row count.
create function customer_management.stage_customers_from_table(
    load_id uuid, source regclass
) returns bigint
language plpgsql
volatile
set search_path = ''
as $$
declare
    staged bigint;
begin
    if not exists (
        select 1 from pg_catalog.pg_attribute as a
        where a.attrelid = source and a.attnum > 0 and not a.attisdropped
            and a.attname in ('legacy_id', 'id')
    ) then
        perform customer_management.raise_error(
            'missing_legacy_id_column',
            format('%s has neither a legacy_id nor an id column.', source),
            'Name the column that identifies a customer in the old system legacy_id.'
        );
    end if;
    execute format(
        $staging$
        insert into customer_management.import_customer_rows (
            load_id, line, legacy_id, first_name, last_name, phone, email, allergies,
            created_at
        )
        select
            $1,
            row_number() over (order by r.legacy_id),
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
            cross join lateral (select to_jsonb(s) as j) as j
        ) as r
        $staging$,
        source
    ) using load_id;
    get diagnostics staged = row_count;
    return staged;
end;
$$;

comment on function customer_management.stage_customers_from_table(uuid, regclass) is
'Stages the rows of a legacy customer table (legacy_id or id, names, phone, email, '
'allergies, created_at) for an import.';

revoke all on function customer_management.stage_customers_from_table(uuid, regclass)
from public, anon, authenticated, service_role;

-- A legacy order table, staged like a file: legacy_customer_id (or customer_id), total,
-- currency, status, delivery_date, created_at, items, read by name from each row. Rows are
-- numbered by customer and creation time.
create function customer_management.stage_orders_from_table(
    load_id uuid, source regclass
) returns bigint
language plpgsql
volatile
set search_path = ''
as $$
declare
    staged bigint;
begin
    if not exists (
        select 1 from pg_catalog.pg_attribute as a
        where a.attrelid = source and a.attnum > 0 and not a.attisdropped
            and a.attname in ('legacy_customer_id', 'customer_id')
    ) then
        perform customer_management.raise_error(
            'missing_legacy_customer_id_column',
            format('%s has neither a legacy_customer_id nor a customer_id column.', source),
            'Name the column holding the customer''s legacy id legacy_customer_id.'
        );
    end if;
    execute format(
        $staging$
        insert into customer_management.import_order_rows (
            load_id, line, legacy_customer_id, total, currency, status, delivery_date,
            created_at, items
        )
        select
            $1,
            row_number() over (order by r.legacy_customer_id, r.j ->> 'created_at'),
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
            cross join lateral (select to_jsonb(s) as j) as j
        ) as r
        $staging$,
        source
    ) using load_id;
    get diagnostics staged = row_count;
    return staged;
end;
$$;

comment on function customer_management.stage_orders_from_table(uuid, regclass) is
'Stages the rows of a legacy order table for an import.';

revoke all on function customer_management.stage_orders_from_table(uuid, regclass)
from public, anon, authenticated, service_role;

-- Imports the staged customer rows first_line..last_line of a load: each is rejected
-- (with column and reason), skipped (its legacy_id came in before) or imported as it is.
-- Rows staged already rejected (a malformed line of the file) keep their verdict.
-- An imported row whose legacy_id is a canonical UUID no account has keeps it as its id.
-- Imported phones and emails are asserted by the shop, not verified, unless their type is
-- in verified_types (the old system proved them: caller ID, confirmed addresses): then
-- they count as verified from now, and open their account for the chatbot's line or a
-- signed-in user's confirmed address. Returns counts.
create function customer_management.import_staged_customers(
    load_id uuid, first_line bigint, last_line bigint, verified_types text[] default '{}'
) returns jsonb
language plpgsql
volatile
set search_path = ''
as $$
declare
    caller customer_management.api_caller := row(session_user::text, null, true);
    counts jsonb;
    held jsonb;
begin
    if verified_types is null or not verified_types <@ array['phone', 'email'] then
        perform customer_management.raise_error(
            'invalid_verified_types', 'verified_types may hold phone and email only.',
            'Pass the identifier types the old system proved, or none.'
        );
    end if;
    with verdicts as (
        select
            s.line,
            f.id_problem,
            f.first_seen,
            f.known,
            k.*
        from customer_management.import_customer_rows as s
        cross join lateral (
            select
                case
                    when s.legacy_id is null then 'missing_legacy_id'
                    when char_length(s.legacy_id) > 200 then 'legacy_id_too_long'
                end as id_problem,
                (
                    select min(o.line) from customer_management.import_customer_rows as o
                    where o.load_id = s.load_id and o.legacy_id = s.legacy_id
                        and o.line < s.line
                ) as first_seen,
                exists (
                    select 1 from customer_management.legacy_ids as l
                    where l.legacy_id = s.legacy_id
                ) as known
        ) as f
        -- Only rows that could come in are validated: a rerun of a file is fast.
        left join lateral (
            select c.* from customer_management.check_import_customer(
                s.first_name, s.last_name, s.phone, s.email, s.allergies, s.created_at
            ) as c
            where f.id_problem is null and f.first_seen is null and not f.known
        ) as k on true
        where s.load_id = import_staged_customers.load_id
            and s.line between first_line and last_line
            and s.outcome is null
    )

    update customer_management.import_customer_rows as s
    set
        outcome = case
            when v.id_problem is not null or v.first_seen is not null then 'rejected'
            when v.known then 'skipped'
            when v.reject_code is not null then 'rejected'
            else 'imported'
        end,
        reject_column = case
            when v.id_problem is not null or v.first_seen is not null then 'legacy_id'
            when v.known then null
            else v.reject_column
        end,
        reject_code = case
            when v.id_problem is not null then v.id_problem
            when v.first_seen is not null then 'duplicate_legacy_id'
            when v.known then null
            else v.reject_code
        end,
        reject_detail = case
            when v.id_problem = 'missing_legacy_id' then 'Every row needs a legacy_id.'
            when v.id_problem is not null then 'A legacy_id has at most 200 characters.'
            when v.first_seen is not null
                then format('The same legacy_id is on line %s.', v.first_seen)
            when v.known then null
            else v.reject_detail
        end,
        customer_id = case
            when v.id_problem is null and v.first_seen is null and not v.known
                and v.reject_code is null
                then case
                    -- A legacy uuid is kept as the customer's id when it is free (the
                    -- nested case casts only what the pattern admits; the primary key
                    -- answers the lookup).
                    when s.legacy_id ~ '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
                        then case
                            when not exists (
                                select 1 from public.customers as c
                                where c.id = s.legacy_id::uuid
                            )
                                then s.legacy_id::uuid
                            else gen_random_uuid()
                        end
                    else gen_random_uuid()
                end
        end,
        clean_first_name = v.first_name,
        clean_last_name = v.last_name,
        phone_value = v.phone,
        email_value = v.email,
        email_display = v.email_display,
        allergy_list = v.allergies,
        created_at_value = v.created_at,
        placeholders = coalesce(v.placeholders, 0)
    from verdicts as v
    where s.load_id = import_staged_customers.load_id and s.line = v.line;

    insert into public.customers (
        id, first_name, last_name, phone, email, allergies, preferences, created_at,
        updated_at
    )
    select
        s.customer_id, s.clean_first_name, s.clean_last_name, s.phone_value, s.email_display,
        s.allergy_list,
        '{"account_sources": [], "created_via": "import", "last_updated_via": "import"}',
        s.created_at_value, now()
    from customer_management.import_customer_rows as s
    where s.load_id = import_staged_customers.load_id
        and s.line between first_line and last_line and s.outcome = 'imported';

    insert into customer_management.legacy_ids (legacy_id, customer_id)
    select s.legacy_id, s.customer_id
    from customer_management.import_customer_rows as s
    where s.load_id = import_staged_customers.load_id
        and s.line between first_line and last_line and s.outcome = 'imported';

    -- Identifiers: active unless another account holds the value active already (now, or
    -- a row of this chunk that comes first: the oldest record keeps it); then pending and
    -- held for deduplication, and not shown as the account's contact data.
    with candidates as (
        select s.customer_id, 'phone' as type, s.phone_value as value,
            s.phone_value as display_value, s.created_at_value, s.line
        from customer_management.import_customer_rows as s
        where s.load_id = import_staged_customers.load_id
            and s.line between first_line and last_line and s.outcome = 'imported'
            and s.phone_value is not null
        union all
        select s.customer_id, 'email', s.email_value, s.email_display, s.created_at_value,
            s.line
        from customer_management.import_customer_rows as s
        where s.load_id = import_staged_customers.load_id
            and s.line between first_line and last_line and s.outcome = 'imported'
            and s.email_value is not null
    ),

    activated as (
        insert into customer_management.customer_identifiers as ci (
            customer_id, type, value, display_value, status, verified_at, source
        )
        select
            c.customer_id, c.type, c.value, c.display_value, 'active',
            case when c.type = any(verified_types) then now() end, 'import'
        from candidates as c
        order by c.created_at_value, c.line, c.type
        on conflict (value, type) where status = 'active' do nothing
        returning ci.customer_id, ci.type
    ),

    held_rows as (
        insert into customer_management.customer_identifiers as ci (
            customer_id, type, value, display_value, status, verified_at, source
        )
        select
            c.customer_id, c.type, c.value, c.display_value, 'pending',
            case when c.type = any(verified_types) then now() end, 'import'
        from candidates as c
        where not exists (
            select 1 from activated as a
            where a.customer_id = c.customer_id and a.type = c.type
        )
        returning ci.id, ci.customer_id, ci.type
    ),

    marked as (
        insert into customer_management.import_held_identifiers (identifier_id)
        select h.id from held_rows as h
        returning identifier_id
    ),

    cleared as (
        update public.customers as cu
        set
            phone = case when x.held_phone then null else cu.phone end,
            email = case when x.held_email then null else cu.email end
        from (
            select h.customer_id, bool_or(h.type = 'phone') as held_phone,
                bool_or(h.type = 'email') as held_email
            from held_rows as h
            group by h.customer_id
        ) as x
        where cu.id = x.customer_id
        returning cu.id
    )

    select jsonb_build_object(
        'identifiersActive', (select count(*) from activated),
        'identifiersHeld', (select count(*) from marked),
        'accountsWithHeldIdentifiers', (select count(*) from cleared)
    ) into held;

    -- One create event per account, like the RPC's, naming identifiers by keyed hash.
    insert into customer_management.audit_log (
        action, customer_id, actor_role, actor_uid, source, details
    )
    select
        'create', s.customer_id, caller.role, caller.uid, 'import',
        jsonb_build_object(
            'imported', true,
            'identifiers', coalesce((
                select jsonb_agg(jsonb_build_object(
                    'type', ci.type,
                    'digest', customer_management.identifier_digest(ci.type, ci.value),
                    'status', ci.status
                ) order by ci.id)
                from customer_management.customer_identifiers as ci
                where ci.customer_id = s.customer_id
            ), '[]'::jsonb)
        )
    from customer_management.import_customer_rows as s
    where s.load_id = import_staged_customers.load_id
        and s.line between first_line and last_line and s.outcome = 'imported';

    select jsonb_build_object(
        'rows', count(*),
        'imported', count(*) filter (where s.outcome = 'imported'),
        'skipped', count(*) filter (where s.outcome = 'skipped'),
        'rejected', count(*) filter (where s.outcome = 'rejected'),
        'placeholdersDropped', coalesce(sum(s.placeholders) filter (
            where s.outcome = 'imported'
        ), 0)
    ) into counts
    from customer_management.import_customer_rows as s
    where s.load_id = import_staged_customers.load_id
        and s.line between first_line and last_line;
    return counts || held - 'accountsWithHeldIdentifiers';
end;
$$;

comment on function customer_management.import_staged_customers(uuid, bigint, bigint, text[]) is
'Imports a range of staged customer rows: rejects, skips known legacy ids, creates accounts '
'with their identifiers (held pending when taken), records legacy ids, audits; returns counts.';

revoke all on function customer_management.import_staged_customers(
    uuid, bigint, bigint, text[]
) from public, anon, authenticated, service_role;

-- Imports the staged order rows first_line..last_line of a load, after all its customer
-- rows. An order comes in with its customer: rejected when that customer row was rejected
-- or is unknown, skipped when the customer's orders came with an earlier import.
create function customer_management.import_staged_orders(
    load_id uuid, first_line bigint, last_line bigint
) returns jsonb
language plpgsql
volatile
set search_path = ''
as $$
declare
    counts jsonb;
begin
    with owners as (
        select
            o.line,
            c.outcome as customer_outcome,
            c.line as customer_line,
            coalesce(c.customer_id, l.customer_id) as customer_id,
            l.legacy_id is not null as known,
            l.legacy_id is not null and l.customer_id is null as erased,
            l.orders_load_id is not null
            and l.orders_load_id <> import_staged_orders.load_id as orders_done
        from customer_management.import_order_rows as o
        left join lateral (
            select r.outcome, r.line, r.customer_id
            from customer_management.import_customer_rows as r
            where r.load_id = o.load_id and r.legacy_id = o.legacy_customer_id
            order by r.line
            limit 1
        ) as c on true
        left join customer_management.legacy_ids as l on o.legacy_customer_id = l.legacy_id
        where o.load_id = import_staged_orders.load_id
            and o.line between first_line and last_line
            and o.outcome is null
    ),

    verdicts as (
        select
            w.*,
            case
                when w.customer_outcome = 'rejected' then 'customer_rejected'
                when not w.known then 'unknown_legacy_customer_id'
            end as owner_problem,
            w.erased or w.orders_done as skip
        from owners as w
    )

    update customer_management.import_order_rows as o
    set
        outcome = case
            when v.owner_problem is not null then 'rejected'
            when v.skip then 'skipped'
            when k.reject_code is not null then 'rejected'
            else 'imported'
        end,
        customer_id = case when v.owner_problem is null and not v.skip then v.customer_id end,
        total_value = k.total,
        currency_value = k.currency,
        status_value = k.status,
        delivery_date_value = k.delivery_date,
        created_at_value = k.created_at,
        items_value = k.items,
        reject_column = case
            when v.owner_problem is not null then 'legacy_customer_id'
            when v.skip then null
            else k.reject_column
        end,
        reject_code = case
            when v.owner_problem is not null then v.owner_problem
            when v.skip then null
            else k.reject_code
        end,
        reject_detail = case
            when v.owner_problem = 'customer_rejected'
                then format('The customer row on line %s was rejected.', v.customer_line)
            when v.owner_problem is not null then 'No customer with this legacy_id was imported.'
            when v.skip then null
            else k.reject_detail
        end
    from verdicts as v
    left join lateral (
        select c.* from customer_management.import_order_rows as r
        cross join lateral customer_management.check_import_order(
            r.total, r.currency, r.status, r.delivery_date, r.created_at, r.items
        ) as c
        where r.load_id = import_staged_orders.load_id and r.line = v.line
            and v.owner_problem is null and not v.skip
    ) as k on true
    where o.load_id = import_staged_orders.load_id and o.line = v.line;

    insert into public.orders (
        customer_id, items, total, currency, status, delivery_date, created_at, updated_at
    )
    select o.customer_id, o.items_value, o.total_value, o.currency_value, o.status_value,
        o.delivery_date_value, o.created_at_value, o.created_at_value
    from customer_management.import_order_rows as o
    where o.load_id = import_staged_orders.load_id
        and o.line between first_line and last_line and o.outcome = 'imported'
    order by o.line;

    update customer_management.legacy_ids as l
    set orders_load_id = import_staged_orders.load_id
    where l.orders_load_id is null and l.customer_id in (
        select o.customer_id from customer_management.import_order_rows as o
        where o.load_id = import_staged_orders.load_id
            and o.line between first_line and last_line and o.outcome = 'imported'
    );

    select jsonb_build_object(
        'rows', count(*),
        'imported', count(*) filter (where o.outcome = 'imported'),
        'skipped', count(*) filter (where o.outcome = 'skipped'),
        'rejected', count(*) filter (where o.outcome = 'rejected')
    ) into counts
    from customer_management.import_order_rows as o
    where o.load_id = import_staged_orders.load_id
        and o.line between first_line and last_line;
    return counts;
end;
$$;

comment on function customer_management.import_staged_orders(uuid, bigint, bigint) is
'Imports a range of staged order rows onto the accounts their customers became; returns '
'counts.';

revoke all on function customer_management.import_staged_orders(uuid, bigint, bigint)
from public, anon, authenticated, service_role;

-- Ends an import: its staging rows go (they were never visible outside its transaction).
create function customer_management.finish_import(load_id uuid) returns void
language plpgsql
volatile
set search_path = ''
as $$
begin
    delete from customer_management.import_customer_rows as s
    where s.load_id = finish_import.load_id;
    delete from customer_management.import_order_rows as o
    where o.load_id = finish_import.load_id;
end;
$$;

comment on function customer_management.finish_import(uuid) is
'Deletes the staging rows of a load; the import commits after it.';

revoke all on function customer_management.finish_import(uuid)
from public, anon, authenticated, service_role;
