-- Creating and updating accounts, and recording each change in the audit log.

-- Appends one audit event. Details name fields and identifier types, never their values.
create function private.write_audit(
    action text,
    customer_id uuid,
    related_customer_id uuid,
    caller private.api_caller,
    source text,
    details jsonb default '{}'::jsonb
) returns void
language sql
volatile
set search_path = ''
as $$
    insert into private.audit_log (
        action, customer_id, related_customer_id, actor_role, actor_uid, source, details
    ) values (
        action, customer_id, related_customer_id, caller.role, caller.uid, source, details
    )
$$;

comment on function private.write_audit(text, uuid, uuid, private.api_caller, text, jsonb) is
'Appends an audit event: action, accounts, actor role and auth.uid(), channel, details.';

-- A customer's full before-image: the row and all of its identifiers.
create function private.customer_snapshot(target_customer_id uuid) returns jsonb
language sql
stable
set search_path = ''
as $$
    select jsonb_build_object(
        'customer', to_jsonb(c),
        'identifiers', coalesce((
            select jsonb_agg(to_jsonb(ci) order by ci.id)
            from private.customer_identifiers as ci
            where ci.customer_id = c.id
        ), '[]'::jsonb)
    )
    from public.customers as c
    where c.id = target_customer_id
$$;

comment on function private.customer_snapshot(uuid) is
'Before-image of an account (row and identifiers) as kept in the merge log for undo.';

-- Adds the channel to account_sources and records it as the last one used.
create function private.with_source(preferences jsonb, source text) returns jsonb
language sql
immutable
set search_path = ''
as $$
    select coalesce(preferences, '{}'::jsonb) || jsonb_build_object(
        'account_sources',
        case
            when coalesce(preferences -> 'account_sources', '[]'::jsonb) ? source
                then preferences -> 'account_sources'
            else coalesce(preferences -> 'account_sources', '[]'::jsonb)
                || jsonb_build_array(source)
        end,
        'created_via', coalesce(preferences -> 'created_via', to_jsonb(source)),
        'last_updated_via', to_jsonb(source)
    )
$$;

comment on function private.with_source(jsonb, text) is
'preferences with the channel unioned into account_sources and set as last_updated_via.';

-- Allergies of both lists, first spelling kept, compared case-insensitively.
create function private.union_allergies(current_allergies text[], added text[]) returns text[]
language sql
immutable
set search_path = ''
as $$
    select coalesce(array_agg(a.allergy order by a.first_seen), '{}')
    from (
        select distinct on (lower(x.allergy)) x.allergy, x.ordinality as first_seen
        from unnest(coalesce(current_allergies, '{}') || coalesce(added, '{}'))
            with ordinality as x (allergy, ordinality)
        order by lower(x.allergy), x.ordinality
    ) as a
$$;

comment on function private.union_allergies(text[], text[]) is
'Union of two allergy lists, case-insensitive, in first-seen order.';

-- The customer row as the request would leave it: empty fields filled from the request
-- and the account's active identifiers, allergies and sources unioned.
create function private.refreshed_customer(
    current_row public.customers,
    request private.resolution_request
) returns public.customers
language plpgsql
stable
set search_path = ''
as $$
declare
    after_row public.customers := current_row;
begin
    after_row.first_name := coalesce(current_row.first_name, request.first_name);
    after_row.last_name := coalesce(current_row.last_name, request.last_name);
    after_row.allergies := private.union_allergies(current_row.allergies, request.allergies);
    after_row.preferences := private.with_source(current_row.preferences, request.source);
    after_row.phone := coalesce(current_row.phone, (
        select ci.value from private.customer_identifiers as ci
        where ci.customer_id = current_row.id and ci.type = 'phone' and ci.status = 'active'
        order by (ci.value = request.phone) desc, ci.id
        limit 1
    ));
    after_row.email := coalesce(current_row.email, (
        select ci.display_value from private.customer_identifiers as ci
        where ci.customer_id = current_row.id and ci.type = 'email' and ci.status = 'active'
        order by (ci.value = request.email) desc, ci.id
        limit 1
    ));
    after_row.auth_user_id := coalesce(current_row.auth_user_id, (
        select ci.value::uuid from private.customer_identifiers as ci
        where ci.customer_id = current_row.id and ci.type = 'auth_user'
            and ci.status = 'active'
        order by ci.id
        limit 1
    ));
    return after_row;
end;
$$;

comment on function private.refreshed_customer(public.customers, private.resolution_request) is
'A customer row with empty fields filled and allergies and sources unioned; writes nothing.';

-- Applies refreshed_customer to an account. The row is read without a lock first and
-- locked only when something changes, so a returning customer's lookup writes nothing
-- (no row lock, no WAL) and commits without waiting for a flush. Returns changed fields.
create function private.refresh_customer(
    target_customer_id uuid,
    request private.resolution_request
) returns text[]
language plpgsql
volatile
set search_path = ''
as $$
declare
    before_row public.customers;
    after_row public.customers;
    changed text [];
begin
    select * into strict before_row from public.customers where id = target_customer_id;
    after_row := private.refreshed_customer(before_row, request);
    if to_jsonb(after_row) = to_jsonb(before_row) then
        return '{}'::text [];
    end if;

    select * into strict before_row from public.customers where id = target_customer_id
    for no key update;
    after_row := private.refreshed_customer(before_row, request);
    select coalesce(array_agg(b.key order by b.key), '{}') into changed
    from jsonb_each(to_jsonb(before_row)) as b
    where b.value is distinct from to_jsonb(after_row) -> b.key;
    if cardinality(changed) = 0 then
        return changed;
    end if;

    update public.customers
    set first_name = after_row.first_name,
        last_name = after_row.last_name,
        phone = after_row.phone,
        email = after_row.email,
        auth_user_id = after_row.auth_user_id,
        allergies = after_row.allergies,
        preferences = after_row.preferences,
        updated_at = now()
    where id = target_customer_id;
    return changed;
end;
$$;

comment on function private.refresh_customer(uuid, private.resolution_request) is
'Fills empty fields, unions allergies and sources; locks and writes only if something changed.';

-- Takes an identifier away from its account: the row stays as pending (it no longer
-- matches anyone), the account stops showing it as primary contact or login, and the
-- audit log says why. Used when its verified owner claims it and when a login is deleted.
create function private.release_identifier(
    identifier_id bigint,
    caller private.api_caller,
    source text,
    reason text
) returns void
language plpgsql
volatile
set search_path = ''
as $$
declare
    released private.customer_identifiers;
begin
    update private.customer_identifiers
    set status = 'pending'
    where id = identifier_id and status = 'active'
    returning * into released;
    if released.id is null then
        return;
    end if;

    update public.customers as c
    set phone = case when released.type = 'phone' and c.phone = released.value
            then null else c.phone end,
        email = case when released.type = 'email' and lower(c.email) = released.value
            then null else c.email end,
        auth_user_id = case
            when released.type = 'auth_user' and c.auth_user_id::text = released.value
                then null
            else c.auth_user_id
        end,
        updated_at = now()
    where c.id = released.customer_id;

    perform private.write_audit(
        'update', released.customer_id, null, caller, source,
        jsonb_build_object('released_identifier_type', released.type, 'reason', reason)
    );
end;
$$;

comment on function private.release_identifier(bigint, private.api_caller, text, text) is
'Demotes an identifier to pending, clears it as primary contact or login, audits why.';

-- Creates an account for a request that matched nobody.
create function private.create_customer(
    request private.resolution_request,
    caller private.api_caller
) returns uuid
language plpgsql
volatile
set search_path = ''
as $$
declare
    new_customer_id uuid;
begin
    insert into public.customers (first_name, last_name, allergies, preferences)
    values (
        request.first_name,
        request.last_name,
        request.allergies,
        jsonb_build_object(
            'account_sources', jsonb_build_array(request.source),
            'created_via', request.source,
            'last_updated_via', request.source
        )
    )
    returning id into new_customer_id;

    perform private.write_audit('create', new_customer_id, null, caller, request.source);
    return new_customer_id;
end;
$$;

comment on function private.create_customer(private.resolution_request, private.api_caller) is
'Inserts a new account with its channel recorded as created_via and account_sources.';
