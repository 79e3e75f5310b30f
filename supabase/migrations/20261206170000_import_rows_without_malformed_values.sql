-- A malformed phone or email no longer loses the whole customer: the row is imported
-- without the bad value (its name, the other identifier, its orders come in), and the value
-- is reported in the rejects file with its line, column and reason. A row left with neither
-- a phone nor an email is imported too (its orders are the shop's history, and possible
-- duplicates can still tie it to the same person's other account by name): nothing finds
-- it by lookup, so it is reported as unreachable. Other problems (a name without a letter,
-- too many allergies, a created_at that is no date) still reject the row.

-- The row as the RPC's validation reads it (the former check_import_customer, unchanged):
-- clean values, or the first problem.
create function customer_management.validate_import_customer(
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

comment on function customer_management.validate_import_customer(
    text, text, text, text, text, text
) is
'Validates a legacy customer row with the RPC''s parse_request; returns clean values or the '
'first problem (column, code, detail).';

revoke all on function customer_management.validate_import_customer(
    text, text, text, text, text, text
) from public, anon, authenticated, service_role;

-- The row, its malformed phone or email left out: validated again without the value that
-- failed (at most once per identifier), so only a problem elsewhere rejects it.
create or replace function customer_management.check_import_customer(
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
as $$
declare
    checked customer_management.import_customer_check;
    without_phone boolean := false;
    without_email boolean := false;
begin
    -- Once with everything, once more per malformed identifier left out: three at most.
    for attempt in 1..3 loop
        checked := customer_management.validate_import_customer(
            first_name,
            last_name,
            case when without_phone then null else phone end,
            case when without_email then null else email end,
            allergies,
            created_at
        );
        if checked.reject_column = 'phone' and not without_phone then
            without_phone := true;
        elsif checked.reject_column = 'email' and not without_email then
            without_email := true;
        else
            exit;
        end if;
    end loop;
    return checked;
end;
$$;

comment on function customer_management.check_import_customer(
    text, text, text, text, text, text
) is
'Validates a legacy customer row with the RPC''s parse_request, leaving out a malformed '
'phone or email (reported apart); returns clean values or why the row is rejected.';

-- What was dropped from imported rows, and which came in unreachable: reported in the
-- rejects file beside the rejected rows. Unlogged and cleared by finish_import, like the
-- staging rows.
create unlogged table customer_management.import_row_notes (
    load_id uuid not null,
    line bigint not null,
    legacy_id text,
    column_name text not null,
    code text not null,
    detail text not null,
    primary key (load_id, line, column_name)
);

comment on table customer_management.import_row_notes is
'Imported rows of running imports that lost a malformed phone or email, or came in with '
'neither (unreachable): line, column, code and detail, for the rejects file.';

alter table customer_management.import_row_notes enable row level security;
revoke all on customer_management.import_row_notes
from public, anon, authenticated, service_role;

-- Why a raw phone or email was left out of an imported row, or nothing when it was only a
-- placeholder (dropped silently, as the RPC drops it).
create function customer_management.import_value_problem(
    identifier_type text, raw_value text
) returns table (code text, detail text)
language plpgsql
stable
set search_path = ''
as $$
begin
    perform customer_management.parse_request(
        jsonb_build_object(identifier_type, raw_value, 'source', 'chatbot')
    );
exception
    when raise_exception or sqlstate 'PT413' then
        get stacked diagnostics code = message_text, detail = pg_exception_detail;
        detail := detail || ' The row was imported without it.';
        return next;
end;
$$;

comment on function customer_management.import_value_problem(text, text) is
'Why a raw phone or email is malformed (code, detail), or no row for a placeholder.';

revoke all on function customer_management.import_value_problem(text, text)
from public, anon, authenticated, service_role;

-- After import_staged_customers took a range of rows: the notes on its imported rows.
-- Returns how many values were dropped and how many rows came in unreachable.
create function customer_management.note_imported_customers(
    load_id uuid, first_line bigint, last_line bigint
) returns jsonb
language plpgsql
volatile
set search_path = ''
as $$
declare
    dropped bigint;
    unreachable bigint;
begin
    insert into customer_management.import_row_notes (
        load_id, line, legacy_id, column_name, code, detail
    )
    select s.load_id, s.line, s.legacy_id, n.column_name, n.code, n.detail
    from customer_management.import_customer_rows as s
    cross join lateral (
        select 'phone' as column_name, p.code, p.detail
        from customer_management.import_value_problem('phone', s.phone) as p
        where s.phone_value is null and nullif(btrim(s.phone), '') is not null
        union all
        select 'email', p.code, p.detail
        from customer_management.import_value_problem('email', s.email) as p
        where s.email_value is null and nullif(btrim(s.email), '') is not null
    ) as n
    where
        s.load_id = note_imported_customers.load_id
        and s.line between first_line and last_line
        and s.outcome = 'imported';
    get diagnostics dropped = row_count;

    insert into customer_management.import_row_notes (
        load_id, line, legacy_id, column_name, code, detail
    )
    select
        s.load_id, s.line, s.legacy_id, 'phone, email', 'unreachable',
        'Imported without a usable phone or email: no lookup finds this account (its orders '
        || 'are kept; dedupe --suggest may tie it to another account by name).'
    from customer_management.import_customer_rows as s
    where
        s.load_id = note_imported_customers.load_id
        and s.line between first_line and last_line
        and s.outcome = 'imported'
        and s.phone_value is null
        and s.email_value is null;
    get diagnostics unreachable = row_count;
    return jsonb_build_object('valuesDropped', dropped, 'unreachable', unreachable);
end;
$$;

comment on function customer_management.note_imported_customers(uuid, bigint, bigint) is
'Records, for a range of imported rows, the malformed phones and emails left out and the '
'rows with neither (unreachable); returns the counts.';

revoke all on function customer_management.note_imported_customers(uuid, bigint, bigint)
from public, anon, authenticated, service_role;

-- Ends an import: its staging rows and notes go (they were never visible outside its
-- transaction).
create or replace function customer_management.finish_import(load_id uuid) returns void
language plpgsql
volatile
set search_path = ''
as $$
begin
    delete from customer_management.import_customer_rows as s
    where s.load_id = finish_import.load_id;
    delete from customer_management.import_order_rows as o
    where o.load_id = finish_import.load_id;
    delete from customer_management.import_row_notes as n
    where n.load_id = finish_import.load_id;
end;
$$;

comment on function customer_management.finish_import(uuid) is
'Deletes the staging rows and notes of a load; the import commits after it.';
