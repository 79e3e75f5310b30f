-- Locking, attaching and releasing identifiers: the places that keep "one active owner
-- per identifier" true under concurrency.

-- Serialises requests that share an identifier: transaction-scoped advisory locks on
-- each normalised identifier, taken in sorted order so two requests cannot deadlock.
create function customer_management.lock_identifiers(
    claims customer_management.identifier_claim[]
) returns void
language plpgsql
volatile
set search_path = ''
set plan_cache_mode = force_generic_plan
as $$
begin
    perform pg_catalog.pg_advisory_xact_lock(
        pg_catalog.hashtextextended('customer_identifier:' || k.lock_key, 0)
    )
    from (
        select distinct c.type || ':' || c.value as lock_key
        from unnest(claims) as c
        order by 1
    ) as k;
end;
$$;

comment on function customer_management.lock_identifiers(customer_management.identifier_claim[]) is
'Advisory locks on the request''s identifiers, in sorted order: serialises shared identities.';

revoke all on function customer_management.lock_identifiers(
    customer_management.identifier_claim[]
) from public, anon, authenticated, service_role;

-- Gives a customer an identifier, within the per-type limits. Returns what happened:
-- 'present' (already there), 'attached', 'pending' (stored, awaiting proof) or
-- 'limit_reached'. A proven identifier replaces the customer's own pending copy;
-- verified_at records when ownership was established.
create function customer_management.attach_identifier(
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
        -- Proof now of an identifier held as asserted makes it verified; a verified line's
        -- use is recorded at most once a day.
        if claim.verified and (
            existing.verified_at is null
            or coalesce(existing.last_used_at, existing.verified_at) < now() - interval '1 day'
        ) then
            update customer_management.customer_identifiers
            set verified_at = coalesce(verified_at, now()), last_used_at = now()
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
                verified_at = case when claim.verified then now() end,
                last_used_at = case when claim.verified then now() end,
                source = identifier_source
            where id = existing.id;
        else
            insert into customer_management.customer_identifiers (
                customer_id, type, value, display_value, status, verified_at, last_used_at,
                source
            ) values (
                target_customer_id, claim.type, claim.value, claim.display_value, 'active',
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
        customer_id, type, value, display_value, status, source
    ) values (
        target_customer_id, claim.type, claim.value, claim.display_value, 'pending',
        identifier_source
    );
    return 'pending';
end;
$$;

comment on function customer_management.attach_identifier(
    uuid, customer_management.identifier_claim, text
) is
'Attaches an identifier to a customer within limits: present, attached, pending or limit_reached.';

revoke all on function customer_management.attach_identifier(
    uuid, customer_management.identifier_claim, text
) from public, anon, authenticated, service_role;
