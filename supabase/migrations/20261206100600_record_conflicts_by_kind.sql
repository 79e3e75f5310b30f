-- Conflicts say why they were recorded. A contested identifier (a proof the rule refused on
-- the account that holds it, a second proof the caller declined, a deduplication tie of
-- unequal strengths) is recorded like a request that met several accounts, but for support
-- only: no end user met it, and its tying identifiers are given, since the refused account's
-- copy has been set aside (pending) by then.

drop function customer_management.record_conflict(
    uuid[], customer_management.identifier_claim[], customer_management.api_caller, text
);

-- Records a conflict, or another sighting of it: one unsettled (open or escalated) conflict
-- per set of accounts, and a set once kept separate is not flagged again (its conflict
-- only counts the sighting). Remembers which identifier rows tied the accounts (the given
-- ones, else the active rows of the claims on those accounts), so a resolution can re-check
-- them, and which signed-in users met a several-accounts conflict, so they may resolve it.
create function customer_management.record_conflict(
    conflicting_customer_ids uuid[],
    claims customer_management.identifier_claim[],
    caller customer_management.api_caller,
    source text,
    conflict_kind text default 'several_accounts',
    tying_identifier_ids bigint[] default null
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
    tying_ids bigint[] := tying_identifier_ids;
    tying_types text[];
    end_user uuid := case
        when caller.role = 'authenticated' and conflict_kind = 'several_accounts' then caller.uid
    end;
    conflict_id uuid;
    kept_separate boolean := false;
begin
    if tying_ids is null then
        select coalesce(array_agg(ci.id order by ci.id), '{}') into tying_ids
        from unnest(claims) as c
        inner join customer_management.customer_identifiers as ci
            on c.value = ci.value and c.type = ci.type and ci.status = 'active'
        where c.proven and ci.customer_id = any(sorted_ids);
    end if;
    select coalesce(array_agg(distinct ci.type order by ci.type), '{}') into tying_types
    from customer_management.customer_identifiers as ci
    where ci.id = any(tying_ids);

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
            actor_role, actor_uid, kind
        ) values (
            sorted_ids, tying_types, tying_ids,
            case when end_user is null then '{}'::uuid[] else array[end_user] end,
            source, caller.role, caller.uid, conflict_kind
        )
        on conflict (customer_ids) where status in ('open', 'escalated') do update
        set occurrences = cc.occurrences + 1,
            last_seen_at = now(),
            tying_identifier_ids = (
                select array_agg(distinct x order by x)
                from unnest(cc.tying_identifier_ids || excluded.tying_identifier_ids) as x
            ),
            identifier_types = (
                select array_agg(distinct x order by x)
                from unnest(cc.identifier_types || excluded.identifier_types) as x
            ),
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
            'kind', conflict_kind,
            'accounts', cardinality(sorted_ids),
            'kept_separate', kept_separate
        )
    );
    return conflict_id;
end;
$$;

comment on function customer_management.record_conflict(
    uuid[], customer_management.identifier_claim[], customer_management.api_caller, text, text,
    bigint[]
) is
'Opens a conflict (several accounts, or a contested identifier) for a set of accounts, or '
'counts another sighting of the unsettled or kept-separate one; records the tying identifiers '
'and the end users who met it.';

revoke all on function customer_management.record_conflict(
    uuid[], customer_management.identifier_claim[], customer_management.api_caller, text, text,
    bigint[]
) from public, anon, authenticated, service_role;

-- The state of a conflict as an answer shows it, with why it was recorded.
create or replace function customer_management.conflict_state(conflict_id uuid, unmasked boolean)
returns jsonb
language plpgsql
stable
set search_path = ''
as $$
declare
    conflict customer_management.customer_conflicts;
begin
    select * into strict conflict
    from customer_management.customer_conflicts as cc where cc.id = conflict_id;
    return jsonb_strip_nulls(jsonb_build_object(
        'id', conflict.id,
        'kind', conflict.kind,
        'status', conflict.status,
        'accounts', customer_management.conflict_accounts(conflict.customer_ids, unmasked),
        'identifierTypes', to_jsonb(conflict.identifier_types),
        'occurrences', conflict.occurrences,
        'createdAt', conflict.created_at,
        'lastSeenAt', conflict.last_seen_at,
        'resolvedAt', conflict.resolved_at,
        'resolvedBy', case when conflict.resolved_by_role is not null then jsonb_build_object(
            'role', conflict.resolved_by_role,
            'userId', case when unmasked then conflict.resolved_by_uid end
        ) end,
        'reason', case when unmasked then conflict.resolution_reason end
    ));
end;
$$;

comment on function customer_management.conflict_state(uuid, boolean) is
'A conflict for an answer: kind, status, accounts (masked for end users), sightings, who '
'resolved it, when and (for trusted callers) why.';
