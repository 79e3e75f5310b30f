-- Recording conflicts (one request, several accounts) and masking what an end user may
-- see of the accounts involved.

-- Records a conflict, or another sighting of it between accounts; one open conflict per set.
create function customer_management.record_conflict(
    conflicting_customer_ids uuid[],
    identifier_types text[],
    caller customer_management.api_caller,
    source text
) returns uuid
language plpgsql
volatile
set search_path = ''
set plan_cache_mode = force_generic_plan
as $$
declare
    sorted_ids uuid [] := (select array_agg(distinct x order by x) from unnest(conflicting_customer_ids) as x);
    conflict_id uuid;
begin
    insert into customer_management.customer_conflicts as cc (
        customer_ids, identifier_types, source, actor_role, actor_uid
    ) values (
        sorted_ids,
        (select array_agg(distinct t order by t) from unnest(identifier_types) as t),
        source, caller.role, caller.uid
    )
    on conflict (customer_ids) where status = 'open' do update
    set occurrences = cc.occurrences + 1, last_seen_at = now()
    returning cc.id into conflict_id;

    perform customer_management.write_audit(
        'conflict', sorted_ids[1], sorted_ids[2], caller, source,
        jsonb_build_object('conflict_id', conflict_id, 'accounts', cardinality(sorted_ids))
    );
    return conflict_id;
end;
$$;

comment on function customer_management.record_conflict(uuid[], text[], customer_management.api_caller, text) is
'Opens a conflict for a set of accounts, or counts another sighting of the open one.';

revoke all on function customer_management.record_conflict(
    uuid[], text[], customer_management.api_caller, text
) from public, anon, authenticated, service_role;

-- c***@gmail.com: enough for a person to recognise their own address, no more. The hidden
-- part always shows as three stars, whatever its length.
create function customer_management.mask_email(email text) returns text
language plpgsql
immutable
set search_path = ''
as $$
begin
    return (
        select case when email is null then null
            else left(email, 1) || '***@' || split_part(email, '@', 2)
        end
    );
end;
$$;

comment on function customer_management.mask_email(text) is
'Masks an email for end users: first letter and domain only; the hidden part has no length.';

revoke all on function customer_management.mask_email(text)
from public, anon, authenticated, service_role;

-- +1******4567: the country code's first digit and the last four digits, six stars
-- whatever the number's length.
create function customer_management.mask_phone(phone text) returns text
language plpgsql
immutable
set search_path = ''
as $$
begin
    return (
        select case when phone is null then null
            else left(phone, 2) || '******' || right(phone, 4)
        end
    );
end;
$$;

comment on function customer_management.mask_phone(text) is
'Masks a phone for end users: first digit and last four only; the hidden part has no length.';

revoke all on function customer_management.mask_phone(text)
from public, anon, authenticated, service_role;
