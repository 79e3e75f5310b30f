-- Writing identifiers with their strength, and accounts without touching their contact
-- columns (the identifiers own those now).

-- Gives a customer an identifier, within the per-type limits. Returns what happened:
-- 'present' (already held), 'attached', 'pending' (stored, awaiting proof) or
-- 'limit_reached'. A proof of an identifier the account holds less than verified (or holds
-- pending: a phone its login claimed, a value set aside) makes it verified and active; a
-- verified line's use is recorded at most once a day. A trusted backend's vouch never
-- raises an identifier the account holds as claimed: only a proof does.
create or replace function customer_management.attach_identifier(
    target_customer_id uuid,
    claim customer_management.identifier_claim,
    identifier_source text
) returns text
language plpgsql
volatile
set search_path = ''
as $$
declare
    existing customer_management.customer_identifiers;
    type_limit integer;
    type_count bigint;
begin
    select * into existing
    from customer_management.customer_identifiers as ci
    where ci.customer_id = target_customer_id and ci.type = claim.type and ci.value = claim.value;

    if existing.status = 'active' then
        if claim.verified and (
            existing.strength <> 'verified'
            or coalesce(existing.last_used_at, existing.verified_at) < now() - interval '1 day'
        ) then
            update customer_management.customer_identifiers
            set strength = 'verified',
                verified_at = coalesce(verified_at, now()),
                last_used_at = now()
            where id = existing.id;
        end if;
        return 'present';
    end if;

    select case claim.type
        when 'phone' then s.max_phones_per_customer
        when 'email' then s.max_emails_per_customer
        else s.max_auth_users_per_customer
    end into type_limit
    from customer_management.settings as s;

    if claim.proven then
        select count(*) into type_count
        from customer_management.customer_identifiers as ci
        where ci.customer_id = target_customer_id and ci.type = claim.type
            and ci.status = 'active';
        if type_count >= type_limit then
            return 'limit_reached';
        end if;
        if existing.id is not null then
            update customer_management.customer_identifiers
            set status = 'active',
                strength = case
                    when claim.verified or existing.strength = 'verified' then 'verified'
                    else 'vouched'
                end,
                verified_at = case
                    when claim.verified then now()
                    when existing.strength = 'verified' then existing.verified_at
                end,
                last_used_at = case when claim.verified then now() else existing.last_used_at end,
                source = identifier_source
            where id = existing.id;
        else
            insert into customer_management.customer_identifiers (
                customer_id, type, value, display_value, status, strength, verified_at,
                last_used_at, source
            ) values (
                target_customer_id, claim.type, claim.value, claim.display_value, 'active',
                case when claim.verified then 'verified' else 'vouched' end,
                case when claim.verified then now() end, case when claim.verified then now() end,
                identifier_source
            );
        end if;
        return 'attached';
    end if;

    if existing.id is not null then
        return 'pending';
    end if;
    select count(*) into type_count
    from customer_management.customer_identifiers as ci
    where ci.customer_id = target_customer_id and ci.type = claim.type;
    if type_count >= type_limit then
        return 'limit_reached';
    end if;
    insert into customer_management.customer_identifiers (
        customer_id, type, value, display_value, status, strength, source
    ) values (
        target_customer_id, claim.type, claim.value, claim.display_value, 'pending', 'claimed',
        identifier_source
    );
    return 'pending';
end;
$$;

comment on function customer_management.attach_identifier(
    uuid, customer_management.identifier_claim, text
) is
'Attaches an identifier to a customer within limits, with its strength (a proof makes it '
'verified): present, attached, pending or limit_reached.';

-- Takes an identifier away from its account: the row stays, pending and with the strength
-- it had (it no longer matches anyone; the account stops showing it), and the audit log
-- says why. Used when a proof is refused on the account that holds it, and when a login is
-- deleted.
create or replace function customer_management.release_identifier(
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
    perform customer_management.write_audit(
        'update', released.customer_id, null, caller, source,
        jsonb_build_object(
            'released_identifier_type', released.type,
            'released_identifier', customer_management.identifier_digest(
                released.type, released.value
            ),
            'released_strength', released.strength,
            'reason', reason
        )
    );
end;
$$;

comment on function customer_management.release_identifier(
    bigint, customer_management.api_caller, text, text
) is
'Sets an identifier aside (pending, strength kept) so it matches no one; audits why.';

-- Creates an account for a request that matched nobody, with the request's identifiers in
-- one statement: proven ones active (verified or vouched), the others pending as claims.
-- Its contact columns follow from them.
create or replace function customer_management.create_customer(
    request customer_management.resolution_request,
    claims customer_management.identifier_claim[]
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
    insert into customer_management.customer_identifiers (
        customer_id, type, value, display_value, status, strength, verified_at, last_used_at,
        source
    )
    select
        new_customer_id, c.type, c.value, c.display_value,
        case when c.proven then 'active' else 'pending' end,
        case when c.proven and c.verified then 'verified' when c.proven then 'vouched'
            else 'claimed' end,
        case when c.proven and c.verified then now() end,
        case when c.proven and c.verified then now() end,
        request.source
    from unnest(claims) as c;
    -- Audited by the caller.
    return new_customer_id;
end;
$$;

comment on function customer_management.create_customer(
    customer_management.resolution_request, customer_management.identifier_claim[]
) is
'Inserts a new account and its identifiers (proven active, claimed pending), its channel '
'recorded as created_via and account_sources.';

-- The customer row as the request would leave it: empty names filled from the request,
-- allergies unioned, the channel added to account_sources and recorded as
-- last_updated_via. It runs no query (a returning customer's lookup calls it); the allergy
-- union runs only when the request brings allergies. Contact columns are the identifiers'.
drop function customer_management.refreshed_customer(
    public.customers, customer_management.resolution_request,
    customer_management.identifier_claim[]
);

create function customer_management.refreshed_customer(
    current_row public.customers,
    request customer_management.resolution_request
) returns public.customers
language plpgsql
stable
set search_path = ''
as $$
declare
    after_row public.customers := current_row;
    sources jsonb := coalesce(current_row.preferences -> 'account_sources', '[]'::jsonb);
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
    return after_row;
end;
$$;

comment on function customer_management.refreshed_customer(
    public.customers, customer_management.resolution_request
) is
'A customer row with empty names filled and allergies and sources unioned; writes nothing.';

revoke all on function customer_management.refreshed_customer(
    public.customers, customer_management.resolution_request
) from public, anon, authenticated, service_role;

-- Applies refreshed_customer to an account. The row is read without a lock first and
-- locked only when something changes, so a returning customer's lookup writes nothing.
-- Returns the changed fields. An account erased meanwhile has nothing to refresh: the
-- caller's ensure_live_customers then notices it is gone.
drop function customer_management.refresh_customer(
    uuid, customer_management.resolution_request, customer_management.identifier_claim[]
);

create function customer_management.refresh_customer(
    target_customer_id uuid,
    request customer_management.resolution_request
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
    after_row := customer_management.refreshed_customer(before_row, request);
    if to_jsonb(after_row) = to_jsonb(before_row) then
        return '{}'::text [];
    end if;

    select * into before_row from public.customers where id = target_customer_id
    for no key update;
    if not found then
        return '{}'::text [];
    end if;
    after_row := customer_management.refreshed_customer(before_row, request);
    select coalesce(array_agg(b.key order by b.key), '{}') into changed
    from jsonb_each(to_jsonb(before_row)) as b
    where b.value is distinct from to_jsonb(after_row) -> b.key;
    if cardinality(changed) = 0 then
        return changed;
    end if;

    update public.customers
    set first_name = after_row.first_name,
        last_name = after_row.last_name,
        allergies = after_row.allergies,
        preferences = after_row.preferences,
        updated_at = now()
    where id = target_customer_id;
    return changed;
end;
$$;

comment on function customer_management.refresh_customer(
    uuid, customer_management.resolution_request
) is
'Fills empty names, unions allergies and sources; locks and writes only if something changed.';

revoke all on function customer_management.refresh_customer(
    uuid, customer_management.resolution_request
) from public, anon, authenticated, service_role;
