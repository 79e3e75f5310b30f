-- Locking and attaching identifiers: the two places that keep "one active owner per
-- identifier" true under concurrency.

-- Serialises requests that share an identifier: transaction-scoped advisory locks on
-- each normalised identifier, taken in sorted order so two requests cannot deadlock.
create function private.lock_identifiers(claims private.identifier_claim[]) returns void
language plpgsql
volatile
set search_path = ''
as $$
declare
    lock_key text;
begin
    for lock_key in
        select distinct c.type || ':' || c.value
        from unnest(claims) as c
        order by 1
    loop
        perform pg_catalog.pg_advisory_xact_lock(
            pg_catalog.hashtextextended('customer_identifier:' || lock_key, 0)
        );
    end loop;
end;
$$;

comment on function private.lock_identifiers(private.identifier_claim[]) is
'Advisory locks on the request''s identifiers, in sorted order: serialises shared identities.';

-- Gives a customer an identifier, within the per-type limits. Returns what happened:
-- 'present' (already there), 'attached', 'pending' (stored, awaiting proof) or
-- 'limit_reached'. A proven identifier replaces the customer's own pending copy;
-- verified_at records when ownership was established.
create function private.attach_identifier(
    target_customer_id uuid,
    claim private.identifier_claim,
    identifier_source text
) returns text
language plpgsql
volatile
set search_path = ''
as $$
declare
    existing private.customer_identifiers;
    type_limit integer;
    type_count bigint;
begin
    select * into existing
    from private.customer_identifiers as ci
    where ci.customer_id = target_customer_id and ci.type = claim.type and ci.value = claim.value;

    if existing.status = 'active' then
        if claim.verified and existing.verified_at is null then
            update private.customer_identifiers set verified_at = now() where id = existing.id;
        end if;
        return 'present';
    end if;

    select case claim.type
        when 'phone' then s.max_phones_per_customer
        when 'email' then s.max_emails_per_customer
        else s.max_auth_users_per_customer
    end into type_limit
    from private.settings as s;

    if claim.proven then
        select count(*) into type_count
        from private.customer_identifiers as ci
        where ci.customer_id = target_customer_id and ci.type = claim.type
            and ci.status = 'active';
        if type_count >= type_limit then
            return 'limit_reached';
        end if;
        if existing.id is not null then
            update private.customer_identifiers
            set status = 'active',
                verified_at = case when claim.verified then now() end,
                source = identifier_source
            where id = existing.id;
        else
            insert into private.customer_identifiers (
                customer_id, type, value, display_value, status, verified_at, source
            ) values (
                target_customer_id, claim.type, claim.value, claim.display_value, 'active',
                case when claim.verified then now() end, identifier_source
            );
        end if;
        return 'attached';
    end if;

    if existing.id is not null then
        return 'pending';
    end if;
    select count(*) into type_count
    from private.customer_identifiers as ci
    where ci.customer_id = target_customer_id and ci.type = claim.type;
    if type_count >= type_limit then
        return 'limit_reached';
    end if;
    insert into private.customer_identifiers (
        customer_id, type, value, display_value, status, source
    ) values (
        target_customer_id, claim.type, claim.value, claim.display_value, 'pending',
        identifier_source
    );
    return 'pending';
end;
$$;

comment on function private.attach_identifier(uuid, private.identifier_claim, text) is
'Attaches an identifier to a customer within limits: present, attached, pending or limit_reached.';
