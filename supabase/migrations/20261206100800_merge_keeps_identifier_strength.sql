-- Merges keep how strongly each identifier was held, and remember which identifiers an
-- import held back for deduplication, so an undo restores both. The merged account becomes
-- a tombstone before its identifiers move: it keeps showing what it showed, and its login
-- can pass to the survivor (one live account per login). The survivor's contact columns
-- follow from the identifiers it holds afterwards.

-- A customer's full before-image: the row and all of its identifiers, each marked with
-- whether an import held it back for deduplication.
create or replace function customer_management.customer_snapshot(target_customer_id uuid)
returns jsonb
language plpgsql
stable
set search_path = ''
as $$
begin
    return (
        select jsonb_build_object(
            'customer', to_jsonb(c),
            'identifiers', coalesce((
                select jsonb_agg(
                    to_jsonb(ci) || jsonb_build_object('held', exists (
                        select 1 from customer_management.import_held_identifiers as h
                        where h.identifier_id = ci.id
                    ))
                    order by ci.id
                )
                from customer_management.customer_identifiers as ci
                where ci.customer_id = c.id
            ), '[]'::jsonb)
        )
        from public.customers as c
        where c.id = target_customer_id
    );
end;
$$;

comment on function customer_management.customer_snapshot(uuid) is
'Before-image of an account (row, identifiers with strength and import hold) as kept in the '
'merge log for undo.';

-- Merges one account into the survivor and returns the merge-log id.
create or replace function customer_management.merge_customer(
    survivor_id uuid,
    merged_id uuid,
    caller customer_management.api_caller,
    source text,
    reason text,
    conflict_id uuid default null
) returns bigint
language plpgsql
volatile
set search_path = ''
as $$
declare
    survivor_before jsonb := customer_management.customer_snapshot(survivor_id);
    merged_before jsonb := customer_management.customer_snapshot(merged_id);
    survivor_row public.customers;
    merged_row public.customers;
    moved_identifiers bigint [];
    moved_orders uuid [];
    closed jsonb;
    log_id bigint;
begin
    select * into strict survivor_row from public.customers where id = survivor_id;
    select * into strict merged_row from public.customers where id = merged_id;

    -- The tombstone first: it keeps what it showed, and its login (if any) passes to the
    -- survivor, a login belonging to one live account at a time.
    update public.customers
    set merged_into = survivor_id, merged_at = now(), updated_at = now()
    where id = merged_id;

    -- The survivor's pending copy of an identifier the merged account holds for real
    -- becomes the active one, as strong as the stronger of the two; the merged account's
    -- copy stays behind as pending.
    update customer_management.customer_identifiers as m
    set status = 'pending'
    where m.customer_id = merged_id and m.status = 'active'
        and exists (
            select 1 from customer_management.customer_identifiers as s
            where s.customer_id = survivor_id and s.type = m.type and s.value = m.value
        );
    update customer_management.customer_identifiers as s
    set status = 'active',
        strength = case
            when 'verified' in (s.strength, m.strength) then 'verified'
            when 'vouched' in (s.strength, m.strength) then 'vouched'
            else 'claimed'
        end,
        verified_at = coalesce(s.verified_at, m.verified_at),
        last_used_at = greatest(s.last_used_at, m.last_used_at),
        source = m.source
    from customer_management.customer_identifiers as m
    where s.customer_id = survivor_id and s.status = 'pending'
        and m.customer_id = merged_id and m.type = s.type and m.value = s.value
        and (merged_before -> 'identifiers') @> jsonb_build_array(
            jsonb_build_object('id', m.id, 'status', 'active')
        );

    -- Everything the survivor does not already hold moves over.
    with moved as (
        update customer_management.customer_identifiers as m
        set customer_id = survivor_id
        where m.customer_id = merged_id
            and not exists (
                select 1 from customer_management.customer_identifiers as s
                where s.customer_id = survivor_id and s.type = m.type and s.value = m.value
            )
        returning m.id
    )
    select coalesce(array_agg(id order by id), '{}') into moved_identifiers from moved;

    -- Orders keep their own updated_at: only their owner changes, and undo restores it.
    with moved as (
        update public.orders set customer_id = survivor_id
        where customer_id = merged_id
        returning id
    )
    select coalesce(array_agg(id order by id), '{}') into moved_orders from moved;

    update public.customers as c
    set first_name = coalesce(c.first_name, merged_row.first_name),
        last_name = coalesce(c.last_name, merged_row.last_name),
        allergies = customer_management.union_allergies(c.allergies, merged_row.allergies),
        preferences = merged_row.preferences || c.preferences || jsonb_build_object(
            'account_sources', (
                select coalesce(jsonb_agg(s.source order by s.first_seen), '[]'::jsonb)
                from (
                    select x.source, min(x.ordinality) as first_seen
                    from jsonb_array_elements(
                        coalesce(c.preferences -> 'account_sources', '[]'::jsonb)
                        || coalesce(merged_row.preferences -> 'account_sources', '[]'::jsonb)
                    ) with ordinality as x (source, ordinality)
                    group by x.source
                ) as s
            ),
            'created_via', case
                when merged_row.created_at < survivor_row.created_at
                    then coalesce(
                        merged_row.preferences -> 'created_via',
                        survivor_row.preferences -> 'created_via', 'null'::jsonb
                    )
                else coalesce(
                    survivor_row.preferences -> 'created_via',
                    merged_row.preferences -> 'created_via', 'null'::jsonb
                )
            end,
            'last_updated_via', to_jsonb(source)
        ),
        updated_at = now()
    where c.id = survivor_id;

    -- Every unsettled conflict the merged account was part of is closed now: merged when
    -- all its accounts have become one, outdated when some are still apart (a request
    -- that still meets them raises a fresh conflict on the live accounts).
    with closing as (
        select
            cc.id,
            cc.status as status_before,
            (
                select count(distinct customer_management.live_customer_id(x))
                from unnest(cc.customer_ids) as x
            ) = 1 as all_one
        from customer_management.customer_conflicts as cc
        where cc.status in ('open', 'escalated') and merged_id = any(cc.customer_ids)
        for update of cc
    ),
    closed_rows as (
        update customer_management.customer_conflicts as cc
        set status = case when closing.all_one then 'merged' else 'outdated' end,
            resolved_at = now(),
            resolved_by_role = caller.role,
            resolved_by_uid = caller.uid,
            resolution_reason = left(reason, 1000)
        from closing
        where cc.id = closing.id
        returning cc.id, closing.status_before
    )
    select coalesce(
        jsonb_agg(jsonb_build_object('id', id, 'status', status_before) order by id),
        '[]'::jsonb
    ) into closed
    from closed_rows;

    insert into customer_management.merge_log (
        survivor_id, merged_id, survivor_before, merged_before, moved_identifier_ids,
        moved_order_ids, conflict_id, closed_conflicts, actor_role, actor_uid, source,
        reason
    ) values (
        survivor_id, merged_id,
        customer_management.seal(survivor_id, survivor_before),
        customer_management.seal(merged_id, merged_before),
        moved_identifiers, moved_orders, conflict_id, closed, caller.role, caller.uid,
        source, reason
    )
    returning id into log_id;

    perform customer_management.write_audit(
        'merge', survivor_id, merged_id, caller, source,
        jsonb_build_object(
            'merge_log_id', log_id, 'reason', reason,
            'moved_identifiers', customer_management.identifier_digests(moved_identifiers),
            'moved_orders', cardinality(moved_orders)
        )
    );
    perform customer_management.emit_event('merged', array[survivor_id, merged_id], log_id);
    return log_id;
end;
$$;

comment on function customer_management.merge_customer(
    uuid, uuid, customer_management.api_caller, text, text, uuid
) is
'Tombstones the merged account, moves its identifiers (strength kept) and orders to the '
'survivor, closes its conflicts, logs sealed undo data, audits and emits a merged event.';
