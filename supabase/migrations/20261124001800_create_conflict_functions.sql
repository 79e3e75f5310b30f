-- Recording conflicts (one request, several accounts) and masking what an end user may
-- see of the accounts involved.

-- Records a conflict, or another sighting of it: one unsettled (open or escalated) conflict
-- per set of accounts, and a set once kept separate is not flagged again (its conflict
-- only counts the sighting). Remembers which identifier rows tied the accounts, so a
-- resolution can re-check them, and which signed-in users met it, so they may resolve it.
create function customer_management.record_conflict(
    conflicting_customer_ids uuid[],
    claims customer_management.identifier_claim[],
    caller customer_management.api_caller,
    source text
) returns uuid
language plpgsql
volatile
set search_path = ''
set plan_cache_mode = force_generic_plan
as $$
declare
    sorted_ids uuid[] := (
        select array_agg(distinct x order by x) from unnest(conflicting_customer_ids) as x
    );
    tying_ids bigint[];
    tying_types text[];
    end_user uuid := case when caller.role = 'authenticated' then caller.uid end;
    conflict_id uuid;
    kept_separate boolean := false;
begin
    select
        coalesce(array_agg(ci.id order by ci.id), '{}'),
        coalesce(array_agg(distinct ci.type order by ci.type), '{}')
    into tying_ids, tying_types
    from unnest(claims) as c
    inner join customer_management.customer_identifiers as ci
        on c.value = ci.value and c.type = ci.type and ci.status = 'active'
    where c.proven and ci.customer_id = any(sorted_ids);

    update customer_management.customer_conflicts as cc
    set occurrences = cc.occurrences + 1,
        last_seen_at = now(),
        raised_by = case
            when end_user is null or end_user = any(cc.raised_by) then cc.raised_by
            else cc.raised_by || end_user
        end
    where cc.id = (
        select k.id from customer_management.customer_conflicts as k
        where k.customer_ids = sorted_ids and k.status = 'kept_separate'
        order by k.resolved_at desc, k.id
        limit 1
    )
    returning cc.id into conflict_id;
    kept_separate := conflict_id is not null;

    if not kept_separate then
        insert into customer_management.customer_conflicts as cc (
            customer_ids, identifier_types, tying_identifier_ids, raised_by, source,
            actor_role, actor_uid
        ) values (
            sorted_ids, tying_types, tying_ids,
            case when end_user is null then '{}'::uuid[] else array[end_user] end,
            source, caller.role, caller.uid
        )
        on conflict (customer_ids) where status in ('open', 'escalated') do update
        set occurrences = cc.occurrences + 1,
            last_seen_at = now(),
            tying_identifier_ids = excluded.tying_identifier_ids,
            identifier_types = excluded.identifier_types,
            raised_by = case
                when end_user is null or end_user = any(cc.raised_by) then cc.raised_by
                else cc.raised_by || end_user
            end
        returning cc.id into conflict_id;
    end if;

    perform customer_management.write_audit(
        'conflict', sorted_ids[1], sorted_ids[2], caller, source,
        jsonb_build_object(
            'conflict_id', conflict_id,
            'accounts', cardinality(sorted_ids),
            'kept_separate', kept_separate
        )
    );
    return conflict_id;
end;
$$;

comment on function customer_management.record_conflict(
    uuid[], customer_management.identifier_claim[], customer_management.api_caller, text
) is
'Opens a conflict for a set of accounts, or counts another sighting of the unsettled or '
'kept-separate one; records the tying identifiers and the end users who met it.';

revoke all on function customer_management.record_conflict(
    uuid[], customer_management.identifier_claim[], customer_management.api_caller, text
) from public, anon, authenticated, service_role;

-- Whether a set of accounts was decided to belong to different people (kept_separate):
-- then no request merges them, whatever it asks.
create function customer_management.kept_separate(account_ids uuid[]) returns boolean
language plpgsql
stable
set search_path = ''
set plan_cache_mode = force_generic_plan
as $$
begin
    return exists (
        select 1 from customer_management.customer_conflicts as cc
        where
            cc.status = 'kept_separate'
            and cc.customer_ids = (
                select array_agg(distinct x order by x) from unnest(account_ids) as x
            )
    );
end;
$$;

comment on function customer_management.kept_separate(uuid[]) is
'True when these accounts were kept separate by a conflict resolution.';

revoke all on function customer_management.kept_separate(uuid[])
from public, anon, authenticated, service_role;

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
