-- An undo restores identifiers as strong as they were and holds imported copies again, and
-- shows on both accounts what they showed, as far as the identifiers they hold back it:
-- after any amount of maintenance (which no longer deletes what a merge set aside), each
-- account is found by the same lookups as before the merge and shows what finds it.

-- Undoes one merge that nothing later builds on.
create or replace function customer_management.undo_one_merge(
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
    -- Each row as strong as it was (a before-image taken before strengths were recorded
    -- says it through its verification date, status and source).
    update customer_management.customer_identifiers as ci
    set customer_id = r.customer_id,
        display_value = r.display_value,
        status = r.status,
        strength = coalesce(r.strength, case
            when r.verified_at is not null then 'verified'
            when r.status = 'active' or r.source = 'import' then 'vouched'
            else 'claimed'
        end),
        verified_at = r.verified_at,
        last_used_at = r.last_used_at,
        source = r.source
    from jsonb_to_recordset(restored) as r (
        id bigint, customer_id uuid, display_value text, status text, strength text,
        verified_at timestamptz, last_used_at timestamptz, source text
    )
    where ci.id = r.id;
    -- Imported copies the import held back for deduplication are held again, so a later
    -- dedupe plans them again (a before-image without the mark: a pending imported row).
    insert into customer_management.import_held_identifiers (identifier_id)
    select r.id
    from jsonb_to_recordset(restored) as r (id bigint, status text, source text, held boolean)
    where r.status = 'pending' and coalesce(r.held, r.source = 'import')
    on conflict do nothing;

    -- Both rows as they were, the survivor first: it gives back a login it received
    -- before the other account shows it again. What each showed is restored as it was
    -- (the identifiers' own changes above passed through states that show less), then
    -- checked against the identifiers each holds now, the one rule that decides it.
    perform pg_catalog.set_config('customer_management.syncing_contact_columns', 'on', true);
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
    perform pg_catalog.set_config('customer_management.syncing_contact_columns', 'off', true);
    perform customer_management.sync_contact_columns(array[m.survivor_id, m.merged_id]);

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
