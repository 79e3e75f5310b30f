-- Recording conflicts (one request, several accounts) and masking what an end user may
-- see of the accounts involved.

-- Records a conflict, or another sighting of it between accounts; one open conflict per set.
create function private.record_conflict(
    conflicting_customer_ids uuid[],
    identifier_types text[],
    caller private.api_caller,
    source text
) returns uuid
language plpgsql
volatile
set search_path = ''
as $$
declare
    sorted_ids uuid [] := (select array_agg(distinct x order by x) from unnest(conflicting_customer_ids) as x);
    conflict_id uuid;
begin
    insert into private.customer_conflicts as cc (
        customer_ids, identifier_types, source, actor_role, actor_uid
    ) values (
        sorted_ids,
        (select array_agg(distinct t order by t) from unnest(identifier_types) as t),
        source, caller.role, caller.uid
    )
    on conflict (customer_ids) where status = 'open' do update
    set occurrences = cc.occurrences + 1, last_seen_at = now()
    returning cc.id into conflict_id;

    perform private.write_audit(
        'conflict', sorted_ids[1], sorted_ids[2], caller, source,
        jsonb_build_object('conflict_id', conflict_id, 'accounts', cardinality(sorted_ids))
    );
    return conflict_id;
end;
$$;

comment on function private.record_conflict(uuid[], text[], private.api_caller, text) is
'Opens a conflict for a set of accounts, or counts another sighting of the open one.';

-- c•••••@gmail.com: enough for a person to recognise their own address, no more.
create function private.mask_email(email text) returns text
language sql
immutable
set search_path = ''
as $$
    select case when email is null then null
        else left(email, 1) || repeat('*', greatest(length(split_part(email, '@', 1)) - 1, 3))
            || '@' || split_part(email, '@', 2)
    end
$$;

comment on function private.mask_email(text) is
'Masks an email for end users: first letter and domain only.';

-- +1*******4567: the country code and the last four digits.
create function private.mask_phone(phone text) returns text
language sql
immutable
set search_path = ''
as $$
    select case when phone is null then null
        else left(phone, 2) || repeat('*', greatest(length(phone) - 6, 3)) || right(phone, 4)
    end
$$;

comment on function private.mask_phone(text) is
'Masks a phone for end users: country code and last four digits only.';
