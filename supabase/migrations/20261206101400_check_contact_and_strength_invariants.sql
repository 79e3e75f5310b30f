-- check_invariants() sees what one truth for contact data and identifier strengths promise:
--
-- 20 shown_contact_unbacked: a live account's shown phone, email and login are each backed
--    by an active identifier of that type and value on that account (a lookup by what an
--    account shows finds it).
-- 21 contact_not_shown: a live account that holds an active phone, email or login shows one.
-- 22 strong_identifier_taken_unexplained: a vouched or verified identifier set aside on a
--    live account (pending) is explained: an import holds it for deduplication, a conflict
--    names it, or the audit log records its release.
--
-- The first nineteen invariants keep their function, renamed; check_invariants() returns
-- all of them.

alter function customer_management.check_invariants() rename to check_record_invariants;

comment on function customer_management.check_record_invariants() is
'Invariants 1-19 (identifiers, merges, undos, erasures, orders, the outbox): one row per '
'violation. Part of check_invariants().';

create function customer_management.check_contact_invariants()
returns table (invariant text, details jsonb)
language plpgsql
stable
set search_path = ''
as $$
begin
    -- 20: shown contact data with no active identifier behind it on that account.
    return query
    select 'shown_contact_unbacked'::text, jsonb_build_object(
        'customerId', c.id, 'type', shown.type
    )
    from public.customers as c
    cross join lateral (
        values
        ('phone', c.phone, c.phone),
        ('email', c.email, lower(btrim(c.email))),
        ('auth_user', c.auth_user_id::text, c.auth_user_id::text)
    ) as shown (type, value, match_key)
    where c.merged_into is null and shown.value is not null
        and not exists (
            select 1 from customer_management.customer_identifiers as ci
            where ci.customer_id = c.id and ci.type = shown.type and ci.status = 'active'
                and (ci.value = shown.match_key or ci.display_value = shown.value)
        )
    order by c.id, shown.type;

    -- 21: an active identifier of a type the account shows none of.
    return query
    select distinct on (c.id, ci.type) 'contact_not_shown'::text, jsonb_build_object(
        'customerId', c.id, 'type', ci.type
    )
    from public.customers as c
    inner join customer_management.customer_identifiers as ci
        on c.id = ci.customer_id and ci.status = 'active'
    where c.merged_into is null
        and case ci.type
            when 'phone' then c.phone is null
            when 'email' then c.email is null
            else c.auth_user_id is null
        end
    order by c.id, ci.type;

    -- 22: a strong identifier set aside on a live account with nothing saying why.
    return query
    select 'strong_identifier_taken_unexplained'::text, jsonb_build_object(
        'identifierId', ci.id, 'customerId', ci.customer_id, 'type', ci.type,
        'strength', ci.strength
    )
    from customer_management.customer_identifiers as ci
    inner join public.customers as c on ci.customer_id = c.id
    where ci.status = 'pending' and ci.strength in ('verified', 'vouched')
        and c.merged_into is null
        and not exists (
            select 1 from customer_management.import_held_identifiers as h
            where h.identifier_id = ci.id
        )
        and not exists (
            select 1 from customer_management.customer_conflicts as cc
            where ci.id = any(cc.tying_identifier_ids)
        )
        and not exists (
            select 1 from customer_management.audit_log as a
            where a.action = 'update'
                and a.details ->> 'released_identifier'
                = customer_management.identifier_digest(ci.type, ci.value)
        )
    order by ci.id;
end;
$$;

comment on function customer_management.check_contact_invariants() is
'Invariants 20-22 (shown contact data backed and complete, strong identifiers never taken '
'silently): one row per violation. Part of check_invariants().';

revoke all on function customer_management.check_contact_invariants()
from public, anon, authenticated, service_role;

create function customer_management.check_invariants()
returns table (invariant text, details jsonb)
language plpgsql
stable
set search_path = ''
as $$
begin
    return query select * from customer_management.check_record_invariants();
    return query select * from customer_management.check_contact_invariants();
end;
$$;

comment on function customer_management.check_invariants() is
'The kit''s promises about its data, checked: one row per violation (invariant, details), '
'none when all hold. See docs/reliability.md.';

revoke all on function customer_management.check_invariants()
from public, anon, authenticated, service_role;
