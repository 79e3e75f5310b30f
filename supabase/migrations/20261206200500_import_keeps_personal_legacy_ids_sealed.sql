-- Legacy ids outlive no erasure either: an old system's id that is an email or a phone
-- ("ann@example.org", "+1 202 555 0100") is personal data. legacy_ids now keeps each id
-- by its keyed hash (HMAC-SHA-256 under the install's secret, as the audit trail names
-- identifiers: an import rerun finds it, an erased person's old file never brings them
-- back), and the id itself only when it is not personal; a personal one is sealed with its
-- account's key, which erasure destroys. Ids imported before are converted once.

-- The keyed hash a legacy id is kept and looked up by.
create function customer_management.legacy_id_digest(legacy_id text) returns text
language plpgsql
stable
set search_path = ''
as $$
begin
    return customer_management.identifier_digest('legacy_id', legacy_id);
end;
$$;

comment on function customer_management.legacy_id_digest(text) is
'The keyed hash (HMAC-SHA-256) a legacy id is kept and looked up by.';

revoke all on function customer_management.legacy_id_digest(text)
from public, anon, authenticated, service_role;

-- Whether a legacy id is personal data: an email address, or a phone number (seven to 15
-- digits once spaces, brackets, dots, dashes and a plus are left out).
create function customer_management.is_personal_legacy_id(legacy_id text) returns boolean
language plpgsql
immutable
set search_path = ''
as $$
begin
    return legacy_id like '%@%'
        or regexp_replace(legacy_id, '[[:space:]().+-]', '', 'g') ~ '^[0-9]{7,15}$';
end;
$$;

comment on function customer_management.is_personal_legacy_id(text) is
'True for a legacy id that is an email or a phone number: kept sealed, not as it is.';

revoke all on function customer_management.is_personal_legacy_id(text)
from public, anon, authenticated, service_role;

-- The legacy ids of an account, readable: as kept, or unsealed while the person lives.
create function customer_management.legacy_ids_of(customer_id uuid) returns text[]
language plpgsql
stable
set search_path = ''
as $$
begin
    return coalesce(array(
        select coalesce(
            l.legacy_id,
            customer_management.unseal(l.customer_id, l.legacy_id_sealed) #>> '{}'
        ) as legacy_id
        from customer_management.legacy_ids as l
        where l.customer_id = legacy_ids_of.customer_id
        order by 1
    ), '{}');
end;
$$;

comment on function customer_management.legacy_ids_of(uuid) is
'The legacy ids an account came from, readable (a sealed one while its person lives).';

revoke all on function customer_management.legacy_ids_of(uuid)
from public, anon, authenticated, service_role;

alter table customer_management.legacy_ids
add column legacy_id_digest text,
add column legacy_id_sealed bytea;

comment on column customer_management.legacy_ids.legacy_id is
'The id in the old system, as it was, unless it is personal (an email or a phone): then null '
'and kept sealed in legacy_id_sealed.';
comment on column customer_management.legacy_ids.legacy_id_digest is
'Keyed hash of the legacy id (legacy_id_digest): what an import looks the id up by.';
comment on column customer_management.legacy_ids.legacy_id_sealed is
'A personal legacy id, sealed with its account''s key (unreadable once the person is erased).';

update customer_management.legacy_ids as l
set
    legacy_id_digest = customer_management.legacy_id_digest(l.legacy_id),
    legacy_id_sealed = case
        when customer_management.is_personal_legacy_id(l.legacy_id) and exists (
            select 1 from public.customers as c
            where c.id = l.customer_id
        ) then customer_management.seal(l.customer_id, to_jsonb(l.legacy_id))
    end;

alter table customer_management.legacy_ids
drop constraint legacy_ids_pkey,
alter column legacy_id drop not null,
alter column legacy_id_digest set not null,
add primary key (legacy_id_digest);

update customer_management.legacy_ids as l
set legacy_id = null
where customer_management.is_personal_legacy_id(l.legacy_id);

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
                    where l.legacy_id_digest = customer_management.legacy_id_digest(s.legacy_id)
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

    -- A legacy id that is an email or a phone is kept sealed with the account's key; any
    -- other as it is; each by its keyed hash, which a rerun looks up.
    insert into customer_management.legacy_ids (
        legacy_id, legacy_id_digest, legacy_id_sealed, customer_id
    )
    select
        case when not p.personal then s.legacy_id end,
        customer_management.legacy_id_digest(s.legacy_id),
        case
            when p.personal then customer_management.seal(s.customer_id, to_jsonb(s.legacy_id))
        end,
        s.customer_id
    from customer_management.import_customer_rows as s
    cross join lateral (
        select customer_management.is_personal_legacy_id(s.legacy_id) as personal
    ) as p
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

-- Imports the staged order rows first_line..last_line of a load, after all its customer
-- rows. An order comes in with its customer: rejected when that customer row was rejected
-- or is unknown, skipped when the customer's orders came with an earlier import.
create or replace function customer_management.import_staged_orders(
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
            l.legacy_id_digest is not null as known,
            l.legacy_id_digest is not null and l.customer_id is null as erased,
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
        left join customer_management.legacy_ids as l
            on customer_management.legacy_id_digest(o.legacy_customer_id) = l.legacy_id_digest
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
