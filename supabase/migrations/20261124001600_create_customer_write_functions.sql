-- Creating and updating accounts, and recording each change in the audit log.

-- Appends one audit event. Details name fields and identifier types, never their values.
create function customer_management.write_audit(
    action text,
    customer_id uuid,
    related_customer_id uuid,
    caller customer_management.api_caller,
    source text,
    details jsonb default '{}'::jsonb
) returns void
language plpgsql
volatile
set search_path = ''
as $$
begin
    insert into customer_management.audit_log (
        action, customer_id, related_customer_id, actor_role, actor_uid, source, details
    ) values (
        action, customer_id, related_customer_id, caller.role, caller.uid, source, details
    );
end;
$$;

comment on function customer_management.write_audit(text, uuid, uuid, customer_management.api_caller, text, jsonb) is
'Appends an audit event: action, accounts, actor role and auth.uid(), channel, details.';

revoke all on function customer_management.write_audit(
    text, uuid, uuid, customer_management.api_caller, text, jsonb
) from public, anon, authenticated, service_role;

-- The audit trail's view of some identifier rows: type and keyed hash, never the value.
create function customer_management.identifier_digests(identifier_ids bigint[]) returns jsonb
language plpgsql
stable
set search_path = ''
set plan_cache_mode = force_generic_plan
as $$
begin
    return coalesce((
        select jsonb_agg(jsonb_build_object(
            'type', ci.type,
            'digest', customer_management.identifier_digest(ci.type, ci.value)
        ) order by ci.id)
        from customer_management.customer_identifiers as ci
        where ci.id = any(identifier_ids)
    ), '[]'::jsonb);
end;
$$;

comment on function customer_management.identifier_digests(bigint[]) is
'Identifier rows as the audit trail names them: [{type, digest}], no values.';

revoke all on function customer_management.identifier_digests(bigint[])
from public, anon, authenticated, service_role;

-- A customer's full before-image: the row and all of its identifiers.
create function customer_management.customer_snapshot(target_customer_id uuid) returns jsonb
language plpgsql
stable
set search_path = ''
as $$
begin
    return (
        select jsonb_build_object(
            'customer', to_jsonb(c),
            'identifiers', coalesce((
                select jsonb_agg(to_jsonb(ci) order by ci.id)
                from customer_management.customer_identifiers as ci
                where ci.customer_id = c.id
            ), '[]'::jsonb)
        )
        from public.customers as c
        where c.id = target_customer_id
    );
end;
$$;

comment on function customer_management.customer_snapshot(uuid) is
'Before-image of an account (row and identifiers) as kept in the merge log for undo.';

revoke all on function customer_management.customer_snapshot(uuid)
from public, anon, authenticated, service_role;

-- Allergies of both lists, first spelling kept, compared case-insensitively.
create function customer_management.union_allergies(
    current_allergies text[], added text[]
) returns text[]
language plpgsql
immutable
set search_path = ''
as $$
begin
    return (
        select coalesce(array_agg(a.allergy order by a.first_seen), '{}')
        from (
            select distinct on (lower(x.allergy)) x.allergy, x.ordinality as first_seen
            from unnest(coalesce(current_allergies, '{}') || coalesce(added, '{}'))
                with ordinality as x (allergy, ordinality)
            order by lower(x.allergy), x.ordinality
        ) as a
    );
end;
$$;

comment on function customer_management.union_allergies(text[], text[]) is
'Union of two allergy lists, case-insensitive, in first-seen order.';

revoke all on function customer_management.union_allergies(text[], text[])
from public, anon, authenticated, service_role;

-- The customer row as the request would leave it: empty names filled from the request,
-- empty contact columns (phone, email, login) from the identifiers of the request that
-- the account now holds, allergies unioned, the channel added to account_sources and
-- recorded as last_updated_via. It runs no query (a returning customer's lookup calls
-- it); the allergy union runs only when the request brings allergies. An account whose
-- contact column is empty holds no active identifier of that type (release_identifier
-- and merges keep it so), so the request's are the only ones that can fill it.
create function customer_management.refreshed_customer(
    current_row public.customers,
    request customer_management.resolution_request,
    held customer_management.identifier_claim[]
) returns public.customers
language plpgsql
stable
set search_path = ''
as $$
declare
    after_row public.customers := current_row;
    sources jsonb := coalesce(current_row.preferences -> 'account_sources', '[]'::jsonb);
    claim customer_management.identifier_claim;
begin
    after_row.first_name := coalesce(current_row.first_name, request.first_name);
    after_row.last_name := coalesce(current_row.last_name, request.last_name);
    if cardinality(request.allergies) > 0 then
        after_row.allergies := customer_management.union_allergies(
            current_row.allergies, request.allergies
        );
    end if;
    after_row.preferences := current_row.preferences || jsonb_build_object(
        'account_sources',
        case when sources ? request.source then sources
            else sources || jsonb_build_array(request.source) end,
        'created_via', coalesce(current_row.preferences -> 'created_via', to_jsonb(request.source)),
        'last_updated_via', to_jsonb(request.source)
    );
    foreach claim in array held loop
        if claim.type = 'phone' then
            after_row.phone := coalesce(after_row.phone, claim.display_value);
        elsif claim.type = 'email' then
            after_row.email := coalesce(after_row.email, claim.display_value);
        else
            after_row.auth_user_id := coalesce(after_row.auth_user_id, claim.value::uuid);
        end if;
    end loop;
    return after_row;
end;
$$;

comment on function customer_management.refreshed_customer(
    public.customers, customer_management.resolution_request,
    customer_management.identifier_claim[]
) is
'A customer row with empty fields filled and allergies and sources unioned; writes nothing.';

revoke all on function customer_management.refreshed_customer(
    public.customers, customer_management.resolution_request,
    customer_management.identifier_claim[]
) from public, anon, authenticated, service_role;

-- Applies refreshed_customer to an account. The row is read without a lock first and
-- locked only when something changes, so a returning customer's lookup writes nothing
-- (no row lock, no WAL) and commits without waiting for a flush. Returns changed fields.
-- An account erased meanwhile has nothing to refresh: the caller's ensure_live_customers
-- then notices it is gone.
create function customer_management.refresh_customer(
    target_customer_id uuid,
    request customer_management.resolution_request,
    held customer_management.identifier_claim[]
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
    select * into before_row from public.customers where id = target_customer_id;
    if not found then
        return '{}'::text [];
    end if;
    after_row := customer_management.refreshed_customer(before_row, request, held);
    if to_jsonb(after_row) = to_jsonb(before_row) then
        return '{}'::text [];
    end if;

    select * into before_row from public.customers where id = target_customer_id
    for no key update;
    if not found then
        return '{}'::text [];
    end if;
    after_row := customer_management.refreshed_customer(before_row, request, held);
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

comment on function customer_management.refresh_customer(
    uuid, customer_management.resolution_request, customer_management.identifier_claim[]
) is
'Fills empty fields, unions allergies and sources; locks and writes only if something changed.';

revoke all on function customer_management.refresh_customer(
    uuid, customer_management.resolution_request, customer_management.identifier_claim[]
) from public, anon, authenticated, service_role;

-- Takes an identifier away from its account: the row stays as pending (it no longer
-- matches anyone), the account stops showing it as primary contact or login, and the
-- audit log says why. Used when its verified owner claims it and when a login is deleted.
create function customer_management.release_identifier(
    identifier_id bigint,
    caller customer_management.api_caller,
    source text,
    reason text
) returns void
language plpgsql
volatile
set search_path = ''
as $$
declare
    released customer_management.customer_identifiers;
begin
    update customer_management.customer_identifiers
    set status = 'pending'
    where id = identifier_id and status = 'active'
    returning * into released;
    if released.id is null then
        return;
    end if;

    -- The account's next active identifier of that type, if any, becomes primary.
    update public.customers as c
    set phone = case when released.type = 'phone' and c.phone = released.value
            then next_active.display_value else c.phone end,
        email = case when released.type = 'email' and lower(c.email) = released.value
            then next_active.display_value else c.email end,
        auth_user_id = case
            when released.type = 'auth_user' and c.auth_user_id::text = released.value
                then next_active.value::uuid
            else c.auth_user_id
        end,
        updated_at = now()
    from (
        select (
            select ci.display_value from customer_management.customer_identifiers as ci
            where ci.customer_id = released.customer_id and ci.type = released.type
                and ci.status = 'active'
            order by ci.id limit 1
        ) as display_value,
        (
            select ci.value from customer_management.customer_identifiers as ci
            where ci.customer_id = released.customer_id and ci.type = released.type
                and ci.status = 'active'
            order by ci.id limit 1
        ) as value
    ) as next_active
    where c.id = released.customer_id;

    perform customer_management.write_audit(
        'update', released.customer_id, null, caller, source,
        jsonb_build_object(
            'released_identifier_type', released.type,
            'released_identifier', customer_management.identifier_digest(
                released.type, released.value
            ),
            'reason', reason
        )
    );
end;
$$;

comment on function customer_management.release_identifier(bigint, customer_management.api_caller, text, text) is
'Demotes an identifier to pending, clears it as primary contact or login, audits why.';

revoke all on function customer_management.release_identifier(
    bigint, customer_management.api_caller, text, text
) from public, anon, authenticated, service_role;

-- Creates an account for a request that matched nobody.
create function customer_management.create_customer(
    request customer_management.resolution_request,
    claims customer_management.identifier_claim[]
) returns uuid
language plpgsql
volatile
set search_path = ''
as $$
declare
    new_customer_id uuid;
    claim customer_management.identifier_claim;
    phone text;
    email text;
    auth_user_id uuid;
begin
    -- Every proven identifier will be attached to the new account: they are its primary
    -- contact data from the start, so the row is written once.
    foreach claim in array claims loop
        if claim.proven and claim.type = 'phone' then
            phone := coalesce(phone, claim.display_value);
        elsif claim.proven and claim.type = 'email' then
            email := coalesce(email, claim.display_value);
        elsif claim.proven and claim.type = 'auth_user' then
            auth_user_id := coalesce(auth_user_id, claim.value::uuid);
        end if;
    end loop;
    insert into public.customers (
        first_name, last_name, phone, email, auth_user_id, allergies, preferences
    )
    values (
        request.first_name,
        request.last_name,
        phone,
        email,
        auth_user_id,
        request.allergies,
        jsonb_build_object(
            'account_sources', jsonb_build_array(request.source),
            'created_via', request.source,
            'last_updated_via', request.source
        )
    )
    returning id into new_customer_id;
    -- Audited by the caller once the identifiers are attached.
    return new_customer_id;
end;
$$;

comment on function customer_management.create_customer(
    customer_management.resolution_request, customer_management.identifier_claim[]
) is
'Inserts a new account with its proven contact data and its channel recorded as '
'created_via and account_sources.';

revoke all on function customer_management.create_customer(
    customer_management.resolution_request, customer_management.identifier_claim[]
) from public, anon, authenticated, service_role;
