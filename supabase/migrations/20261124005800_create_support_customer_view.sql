-- A customer as support sees it: everything the export holds (profile, identifiers with
-- status and verification, orders, verifications, audit entries), plus what support needs
-- to act and the export leaves out because it concerns other accounts: the ids on the
-- other side of each merge and conflict, who acted (role and user id), and for each merge
-- whether an undo is possible and what it would restore.

-- One merge of the merge log as support's history shows it.
create function customer_management.support_merge_entry(merge_id bigint) returns jsonb
language plpgsql
stable
set search_path = ''
set timezone = 'UTC'
as $$
declare
    m customer_management.merge_log;
    undone customer_management.merge_undos;
    survivor_image jsonb;
    merged_image jsonb;
    later bigint[];
    restorable boolean;
begin
    select * into strict m from customer_management.merge_log as l where l.id = merge_id;
    select * into undone from customer_management.merge_undos as u where u.merge_id = m.id;
    if undone.merge_id is null then
        survivor_image := customer_management.unseal(m.survivor_id, m.survivor_before);
        merged_image := customer_management.unseal(m.merged_id, m.merged_before);
        later := customer_management.merges_built_on(m.id);
        restorable := exists (
            select 1 from public.customers as c
            where c.id = m.merged_id and c.merged_into = m.survivor_id
        );
    end if;

    return jsonb_build_object(
        'id', m.id,
        'survivorId', m.survivor_id,
        'mergedId', m.merged_id,
        'conflictId', m.conflict_id,
        'reason', m.reason,
        'source', m.source,
        'actor', jsonb_build_object('role', m.actor_role, 'userId', m.actor_uid),
        'createdAt', m.created_at,
        'movedIdentifiers', coalesce((
            select jsonb_agg(jsonb_build_object(
                'id', ci.id, 'type', ci.type, 'value', ci.display_value,
                'customerId', ci.customer_id, 'status', ci.status
            ) order by ci.id)
            from customer_management.customer_identifiers as ci
            where ci.id = any(m.moved_identifier_ids)
        ), '[]'::jsonb),
        'movedOrders', cardinality(m.moved_order_ids),
        'undone', case when undone.merge_id is not null then jsonb_build_object(
            'at', undone.undone_at,
            'reason', undone.reason,
            'actor', jsonb_build_object('role', undone.actor_role, 'userId', undone.actor_uid),
            'cascadedFrom', undone.cascaded_from
        ) end,
        'undo', case when undone.merge_id is null then jsonb_build_object(
            'possible', restorable and cardinality(later) = 0
            and survivor_image is not null and merged_image is not null,
            'laterMerges', to_jsonb(later),
            'customerErased', survivor_image is null or merged_image is null,
            'restores', jsonb_build_object(
                'account', jsonb_build_object(
                    'id', m.merged_id,
                    'firstName', merged_image #>> '{customer,first_name}',
                    'lastName', merged_image #>> '{customer,last_name}',
                    'phone', merged_image #>> '{customer,phone}',
                    'email', merged_image #>> '{customer,email}'
                ),
                'survivor', jsonb_build_object(
                    'id', m.survivor_id,
                    'firstName', survivor_image #>> '{customer,first_name}',
                    'lastName', survivor_image #>> '{customer,last_name}',
                    'phone', survivor_image #>> '{customer,phone}',
                    'email', survivor_image #>> '{customer,email}'
                ),
                'identifiers', cardinality(m.moved_identifier_ids),
                'orders', (
                    select count(*) from public.orders as o
                    where o.id = any(m.moved_order_ids) and o.customer_id = m.survivor_id
                ),
                'conflicts', jsonb_array_length(m.closed_conflicts)
            )
        ) end
    );
end;
$$;

comment on function customer_management.support_merge_entry(bigint) is
'A merge for support''s history: both accounts, who merged and why, what moved, and either '
'its undo or whether an undo is possible and what it would restore.';

revoke all on function customer_management.support_merge_entry(bigint)
from public, anon, authenticated, service_role;

create function customer_management.support_customer_view_for_caller(customer_id uuid)
returns jsonb
language plpgsql
stable
security definer
set search_path = ''
set timezone = 'UTC'
as $$
declare
    live_id uuid;
    ids uuid[];
begin
    perform customer_management.support_caller();
    if customer_id is null then
        perform customer_management.raise_error(
            'invalid_request', 'customer_id is required.', 'Send the customer''s id.'
        );
    end if;
    live_id := customer_management.live_customer_id(customer_id);
    if live_id is null then
        perform customer_management.raise_error(
            'not_found', 'There is no customer with this id.', 'Check customer_id.', 'PT404'
        );
    end if;
    ids := customer_management.person_accounts(live_id);

    return (customer_management.customer_document(live_id) - 'exportedAt')
        || jsonb_build_object(
            'requestedId', customer_id,
            'account', customer_management.support_account_card(live_id),
            'claimsOnOtherAccounts', coalesce((
                select jsonb_agg(jsonb_build_object(
                    'id', other.id, 'customerId', other.customer_id, 'type', other.type,
                    'value', other.display_value, 'status', other.status,
                    'source', other.source, 'createdAt', other.created_at
                ) order by other.id)
                from customer_management.customer_identifiers as own
                inner join customer_management.customer_identifiers as other
                    on own.type = other.type and own.value = other.value
                where
                    own.customer_id = any(ids)
                    and own.status = 'active'
                    -- An active value is unique: anyone else's copy is a pending claim.
                    and other.status = 'pending'
                    and not other.customer_id = any(ids)
            ), '[]'::jsonb),
            'merges', coalesce((
                select jsonb_agg(customer_management.support_merge_entry(m.id) order by m.id desc)
                from customer_management.merge_log as m
                where m.survivor_id = any(ids) or m.merged_id = any(ids)
            ), '[]'::jsonb),
            'conflicts', coalesce((
                select jsonb_agg(
                    customer_management.conflict_state(cc.id, true)
                    order by cc.created_at desc, cc.id
                )
                from customer_management.customer_conflicts as cc
                where cc.customer_ids && ids
            ), '[]'::jsonb),
            'auditEntries', coalesce((
                select jsonb_agg(jsonb_build_object(
                    'id', a.id, 'action', a.action, 'customerId', a.customer_id,
                    'relatedCustomerId', a.related_customer_id,
                    'actor', jsonb_build_object('role', a.actor_role, 'userId', a.actor_uid),
                    'source', a.source, 'details', a.details, 'occurredAt', a.occurred_at
                ) order by a.id desc)
                from customer_management.audit_log as a
                where a.customer_id = any(ids) or a.related_customer_id = any(ids)
            ), '[]'::jsonb)
        );
end;
$$;

comment on function customer_management.support_customer_view_for_caller(uuid) is
'Definer behind public.support_customer_view: the export document plus the other side of '
'merges and conflicts, actors and undo state; service role and support agents only.';

revoke all on function customer_management.support_customer_view_for_caller(uuid)
from public, anon, authenticated, service_role;
grant execute on function customer_management.support_customer_view_for_caller(uuid)
to authenticated, service_role;

create function public.support_customer_view(customer_id uuid) returns jsonb
language plpgsql
stable
security invoker
set search_path = ''
as $$
begin
    return customer_management.support_customer_view_for_caller(customer_id);
end;
$$;

comment on function public.support_customer_view(uuid) is
'A customer as support sees it: profile, identifiers with status and verification, orders, '
'merge history with undo state, conflicts and audit entries (a merged-away id is followed to '
'its survivor). Service role and support agents only. See docs/console.md.';

revoke all on function public.support_customer_view(uuid) from public, anon;
grant execute on function public.support_customer_view(uuid) to authenticated, service_role;
