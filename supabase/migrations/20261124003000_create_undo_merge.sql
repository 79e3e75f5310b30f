-- Undoing a merge, exactly: both customer rows as they were before it (every column but
-- updated_at), every identifier back on its account with its status and verification,
-- the orders it moved back on their account (orders placed on the survivor since stay
-- there), and the conflicts it closed reopened. Merges made later on the same accounts
-- are built on this one: the undo refuses, naming them, or with cascade undoes them first,
-- newest first. Each merge is undone at most once, and the undo is logged like the merge.
-- An undo is exact or refused: it never half-restores.

-- The later, not yet undone merges that involve the accounts of this one, transitively:
-- they must be undone first.
create function customer_management.merges_built_on(merge_id bigint) returns bigint[]
language plpgsql
stable
set search_path = ''
set plan_cache_mode = force_generic_plan
as $$
declare
    involved uuid[];
    found_ids bigint[] := '{}'::bigint[];
    added bigint[];
    added_accounts uuid[];
begin
    select array[m.survivor_id, m.merged_id] into strict involved
    from customer_management.merge_log as m where m.id = merge_id;
    loop
        select coalesce(array_agg(l.id), '{}'), coalesce(array_agg(l.survivor_id), '{}')
            || coalesce(array_agg(l.merged_id), '{}')
        into added, added_accounts
        from customer_management.merge_log as l
        where
            l.id > merge_id
            and (l.survivor_id = any(involved) or l.merged_id = any(involved))
            and not l.id = any(found_ids)
            and not exists (
                select 1 from customer_management.merge_undos as u where u.merge_id = l.id
            );
        exit when cardinality(added) = 0;
        found_ids := found_ids || added;
        involved := involved || added_accounts;
    end loop;
    return (select coalesce(array_agg(x order by x desc), '{}') from unnest(found_ids) as x);
end;
$$;

comment on function customer_management.merges_built_on(bigint) is
'Later merges (not undone) that involve this merge''s accounts, transitively, newest first.';

revoke all on function customer_management.merges_built_on(bigint)
from public, anon, authenticated, service_role;

-- Undoes one merge that nothing later builds on.
create function customer_management.undo_one_merge(
    merge_id bigint,
    caller customer_management.api_caller,
    reason text,
    cascaded_from bigint
) returns void
language plpgsql
volatile
set search_path = ''
set plan_cache_mode = force_generic_plan
as $$
declare
    m customer_management.merge_log;
    survivor_image jsonb;
    merged_image jsonb;
    survivor_row public.customers;
    merged_row public.customers;
    restored jsonb;
    taken text[];
    closed jsonb;
begin
    select * into strict m from customer_management.merge_log as l where l.id = merge_id;
    perform 1 from public.customers as c
    where c.id in (m.survivor_id, m.merged_id) order by c.id for update;

    survivor_image := customer_management.unseal(m.survivor_id, m.survivor_before);
    merged_image := customer_management.unseal(m.merged_id, m.merged_before);
    if survivor_image is null or merged_image is null then
        perform customer_management.raise_error(
            'customer_erased',
            format('Merge %s involves an erased customer: their data is gone.', merge_id),
            'An erased person''s merges cannot be undone.', 'PT409'
        );
    end if;
    survivor_row := jsonb_populate_record(null::public.customers, survivor_image -> 'customer');
    merged_row := jsonb_populate_record(null::public.customers, merged_image -> 'customer');
    if not exists (
        select 1 from public.customers as c
        where c.id = m.merged_id and c.merged_into = m.survivor_id
    ) or not exists (
        select 1 from public.customers as c
        where c.id = m.survivor_id and c.merged_into is null
    ) then
        perform customer_management.raise_error(
            'undo_blocked',
            format('The accounts of merge %s are no longer as that merge left them.', merge_id),
            'Undo the later changes first.', 'PT409'
        );
    end if;

    -- The identifier rows of both before-images that still exist (an erasure or the expiry
    -- of a claim may have removed some since), as they were.
    select coalesce(jsonb_agg(i), '[]'::jsonb) into restored
    from (
        select x.value as i
        from jsonb_array_elements(
            (survivor_image -> 'identifiers') || (merged_image -> 'identifiers')
        ) as x
        where exists (
            select 1 from customer_management.customer_identifiers as ci
            where ci.id = (x.value ->> 'id')::bigint
        )
    ) as rows_kept;

    -- Refused when an identifier to become active again is now active elsewhere, or a
    -- login to restore was deleted.
    select coalesce(array_agg(distinct r.type), '{}') into taken
    from jsonb_to_recordset(restored) as r (id bigint, type text, value text, status text)
    where r.status = 'active' and exists (
        select 1 from customer_management.customer_identifiers as ci
        where ci.value = r.value and ci.type = r.type and ci.status = 'active'
            and not ci.id in (
                select (y.value ->> 'id')::bigint from jsonb_array_elements(restored) as y
            )
    );
    if cardinality(taken) > 0 then
        perform customer_management.raise_error(
            'undo_blocked',
            format('Merge %s cannot be undone: its %s now belongs to another account.',
                merge_id, array_to_string(taken, ' and ')),
            'Resolve that account first.', 'PT409'
        );
    end if;
    if (survivor_row.auth_user_id is not null and not exists (
        select 1 from auth.users as u where u.id = survivor_row.auth_user_id
    )) or (merged_row.auth_user_id is not null and not exists (
        select 1 from auth.users as u where u.id = merged_row.auth_user_id
    )) then
        perform customer_management.raise_error(
            'undo_blocked',
            format('Merge %s cannot be undone: a login of its accounts was deleted.', merge_id),
            'The accounts stay merged.', 'PT409'
        );
    end if;

    -- Identifiers: out of the active set first, so no two rows ever collide on the way.
    update customer_management.customer_identifiers as ci
    set status = 'pending'
    where ci.id in (select (y.value ->> 'id')::bigint from jsonb_array_elements(restored) as y)
        and ci.status = 'active';
    update customer_management.customer_identifiers as ci
    set customer_id = r.customer_id,
        display_value = r.display_value,
        status = r.status,
        verified_at = r.verified_at,
        last_used_at = r.last_used_at,
        source = r.source
    from jsonb_to_recordset(restored) as r (
        id bigint, customer_id uuid, display_value text, status text,
        verified_at timestamptz, last_used_at timestamptz, source text
    )
    where ci.id = r.id;

    -- The survivor first: it gives back a login it received before the other account
    -- takes it again.
    update public.customers as c
    set first_name = survivor_row.first_name,
        last_name = survivor_row.last_name,
        phone = survivor_row.phone,
        email = survivor_row.email,
        auth_user_id = survivor_row.auth_user_id,
        allergies = survivor_row.allergies,
        preferences = survivor_row.preferences,
        created_at = survivor_row.created_at,
        merged_into = survivor_row.merged_into,
        merged_at = survivor_row.merged_at,
        updated_at = now()
    where c.id = m.survivor_id;
    update public.customers as c
    set first_name = merged_row.first_name,
        last_name = merged_row.last_name,
        phone = merged_row.phone,
        email = merged_row.email,
        auth_user_id = merged_row.auth_user_id,
        allergies = merged_row.allergies,
        preferences = merged_row.preferences,
        created_at = merged_row.created_at,
        merged_into = merged_row.merged_into,
        merged_at = merged_row.merged_at,
        updated_at = now()
    where c.id = m.merged_id;

    update public.orders as o
    set customer_id = m.merged_id
    where o.id = any(m.moved_order_ids) and o.customer_id = m.survivor_id;

    -- The conflicts this merge closed stand again (unless the same set is unsettled anew).
    with reopened as (
        update customer_management.customer_conflicts as cc
        set status = x.status,
            resolved_at = case when x.status = 'open' then null else now() end,
            resolved_by_role = case when x.status = 'open' then null else caller.role end,
            resolved_by_uid = case when x.status = 'open' then null else caller.uid end,
            resolution_reason = case when x.status = 'open' then null
                else format('merge %s undone', merge_id) end
        from jsonb_to_recordset(m.closed_conflicts) as x (id uuid, status text)
        where cc.id = x.id and cc.status in ('merged', 'outdated')
            and not exists (
                select 1 from customer_management.customer_conflicts as other
                where other.customer_ids = cc.customer_ids
                    and other.status in ('open', 'escalated')
            )
        returning cc.id
    )
    select coalesce(jsonb_agg(id), '[]'::jsonb) into closed from reopened;

    insert into customer_management.merge_undos (
        merge_id, cascaded_from, actor_role, actor_uid, reason
    ) values (merge_id, cascaded_from, caller.role, caller.uid, coalesce(reason, 'undo_merge'));

    perform customer_management.write_audit(
        'undo', m.survivor_id, m.merged_id, caller, 'support',
        jsonb_build_object(
            'merge_log_id', merge_id,
            'cascaded_from', cascaded_from,
            'reason', reason,
            'restored_identifiers', jsonb_array_length(restored),
            'restored_orders', cardinality(m.moved_order_ids),
            'reopened_conflicts', closed
        )
    );
    perform customer_management.emit_event(
        'merge_undone', array[m.survivor_id, m.merged_id], merge_id
    );
end;
$$;

comment on function customer_management.undo_one_merge(
    bigint, customer_management.api_caller, text, bigint
) is
'Restores both accounts, their identifiers and the moved orders from one merge''s sealed '
'before-images; reopens the conflicts it closed; logs, audits and emits merge_undone.';

revoke all on function customer_management.undo_one_merge(
    bigint, customer_management.api_caller, text, bigint
) from public, anon, authenticated, service_role;

create function customer_management.undo_merge_for_caller(
    requested_merge_id bigint, with_cascade boolean, reason text
) returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
    caller customer_management.api_caller := customer_management.current_caller();
    later bigint[];
    undone bigint[] := '{}'::bigint[];
    later_id bigint;
    accounts uuid[];
begin
    if not (caller.trusted or customer_management.is_support_agent(caller)) then
        perform customer_management.raise_error(
            'forbidden', 'Only the service role and support agents may undo merges.',
            'Contact support.', '42501'
        );
    end if;
    if char_length(reason) > 1000 then
        perform customer_management.raise_error(
            'invalid_reason', 'reason is longer than 1000 characters.', 'Shorten it.'
        );
    end if;
    -- One undo at a time: undos never race each other, only merges and erasures.
    perform pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtextextended('merge_undo', 0));
    if not exists (
        select 1 from customer_management.merge_log as m where m.id = requested_merge_id
    ) then
        perform customer_management.raise_error(
            'not_found', 'There is no merge with this id.', 'Check merge_id.', 'PT404'
        );
    end if;
    if exists (
        select 1 from customer_management.merge_undos as u where u.merge_id = requested_merge_id
    ) then
        perform customer_management.raise_error(
            'merge_already_undone', format('Merge %s was already undone.', requested_merge_id),
            'Nothing to do.', 'PT409'
        );
    end if;
    -- Lock every account of this merge and of the merges built on it, then look again: a
    -- merge on those accounts that committed while this one waited builds on it too. Then
    -- let go of those locks and start over, locking the whole list in id order (as merges
    -- lock), so two requests that both grew their lists never hold each other's rows; a
    -- deadlock with another request starts over the same way. Once the list read after
    -- locking is the list locked, no new merge can join it.
    for attempt in 1 .. 5 loop
        begin
            later := customer_management.merges_built_on(requested_merge_id);
            perform 1 from public.customers as c
            where c.id in (
                select unnest(array[m.survivor_id, m.merged_id])
                from customer_management.merge_log as m
                where m.id = requested_merge_id or m.id = any(later)
            )
            order by c.id
            for update;
            if customer_management.merges_built_on(requested_merge_id) <> later then
                raise exception using
                    errcode = '40001', message = 'merges built on this one meanwhile';
            end if;
            if cardinality(later) > 0 and not coalesce(with_cascade, false) then
                perform customer_management.raise_error(
                    'undo_blocked_by_later_merges',
                    format(
                        'Later merges build on merge %s: %s.',
                        requested_merge_id, array_to_string(later, ', ')
                    ),
                    'Undo them first, newest first, or call again with cascade => true.',
                    'PT409'
                );
            end if;
            undone := '{}'::bigint[];
            foreach later_id in array later loop
                perform customer_management.undo_one_merge(
                    later_id, caller, reason, requested_merge_id
                );
                undone := undone || later_id;
            end loop;
            perform customer_management.undo_one_merge(requested_merge_id, caller, reason, null);
            undone := undone || requested_merge_id;
            exit;
        exception when serialization_failure or deadlock_detected then
            -- This attempt's locks and undos are rolled back with it; look again.
            undone := null;
        end;
    end loop;
    if undone is null then
        perform customer_management.raise_error(
            'try_again', 'The merge''s accounts were being changed by other requests.',
            'Retry the request.', 'PT503'
        );
    end if;

    select array_agg(distinct x) into accounts
    from customer_management.merge_log as m
    cross join lateral unnest(array[m.survivor_id, m.merged_id]) as x
    where m.id = any(undone);
    return jsonb_build_object(
        'undoneMergeIds', to_jsonb(undone),
        'accounts', (
            select jsonb_agg(
                customer_management.success_response(
                    c, false, null, '[]'::jsonb, '[]'::jsonb
                ) -> 'customer'
                order by c.created_at, c.id
            )
            from public.customers as c where c.id = any(accounts)
        )
    );
end;
$$;

comment on function customer_management.undo_merge_for_caller(bigint, boolean, text) is
'Definer behind public.undo_merge: service role or support only; refuses or cascades over '
'later merges built on this one.';

revoke all on function customer_management.undo_merge_for_caller(bigint, boolean, text)
from public, anon, authenticated, service_role;
grant execute on function customer_management.undo_merge_for_caller(bigint, boolean, text)
to authenticated, service_role;

create function public.undo_merge(
    merge_id bigint,
    cascade boolean default false,
    reason text default null
) returns jsonb
language plpgsql
volatile
security invoker
set search_path = ''
as $$
begin
    -- Positional: cascade is a keyword.
    return customer_management.undo_merge_for_caller($1, $2, $3);
end;
$$;

comment on function public.undo_merge(bigint, boolean, text) is
'Undo a merge exactly (service role, support). cascade => true undoes later merges built on '
'it first. See docs/lifecycle.md.';

revoke all on function public.undo_merge(bigint, boolean, text) from public, anon;
grant execute on function public.undo_merge(bigint, boolean, text)
to authenticated, service_role;
