-- Imports mark how strongly each identifier is held (vouched by the shop, or verified when
-- the old system proved that type), and leave contact columns to the identifiers.

-- Imports the staged customer rows first_line..last_line of a load: each is rejected
-- (with column and reason), skipped (its legacy_id came in before) or imported as it is.
-- Rows staged already rejected (a malformed line of the file) keep their verdict.
-- An imported row whose legacy_id is a canonical UUID no account has keeps it as its id.
-- Imported phones and emails are vouched for by the shop (a code or a confirmed login
-- opens their account, the chatbot's line after a second proof), unless their type is in
-- verified_types (the old system proved them: caller ID, confirmed addresses): then they
-- are verified from now, and the line alone opens the account. An account shows the
-- identifiers it holds active. Returns counts.
create or replace function customer_management.import_staged_customers(
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
        id, first_name, last_name, allergies, preferences, created_at, updated_at
    )
    select
        s.customer_id, s.clean_first_name, s.clean_last_name, s.allergy_list,
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
    -- held for deduplication (and so not shown as the account's contact data).
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
            customer_id, type, value, display_value, status, strength, verified_at, source
        )
        select
            c.customer_id, c.type, c.value, c.display_value, 'active',
            case when c.type = any(verified_types) then 'verified' else 'vouched' end,
            case when c.type = any(verified_types) then now() end, 'import'
        from candidates as c
        order by c.created_at_value, c.line, c.type
        on conflict (value, type) where status = 'active' do nothing
        returning ci.customer_id, ci.type
    ),

    held_rows as (
        insert into customer_management.customer_identifiers as ci (
            customer_id, type, value, display_value, status, strength, verified_at, source
        )
        select
            c.customer_id, c.type, c.value, c.display_value, 'pending',
            case when c.type = any(verified_types) then 'verified' else 'vouched' end,
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
    )

    select jsonb_build_object(
        'identifiersActive', (select count(*) from activated),
        'identifiersHeld', (select count(*) from marked)
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
    return counts || held;
end;
$$;

comment on function customer_management.import_staged_customers(uuid, bigint, bigint, text[]) is
'Imports a range of staged customer rows: rejects, skips known legacy ids, creates accounts '
'with their identifiers (vouched, or verified for verified_types; held pending when taken), '
'records legacy ids, audits; returns counts.';
