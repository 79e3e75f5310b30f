-- Where the history is shown, reasons are read from their notes: support reads them in
-- full while the people live; a person's own export shows only notes about nobody else.

create or replace function customer_management.customer_document(live_id uuid) returns jsonb
language plpgsql
stable
set search_path = ''
set timezone = 'UTC'
as $$
declare
    ids uuid[] := customer_management.person_accounts(live_id);
    own_types text[];
    own_values text[];
begin
    -- The identifiers that are theirs (active on their accounts), as parallel arrays so
    -- the lookups below use the (value, type) indexes.
    select coalesce(array_agg(ci.type), '{}'), coalesce(array_agg(ci.value), '{}')
    into own_types, own_values
    from customer_management.customer_identifiers as ci
    where ci.customer_id = any(ids) and ci.status = 'active';

    return jsonb_build_object(
        'exportedAt', now(),
        'customerId', live_id,
        'profile', (
            select jsonb_build_object(
                'id', c.id, 'firstName', c.first_name, 'lastName', c.last_name,
                'phone', c.phone, 'email', c.email, 'authUserId', c.auth_user_id,
                'allergies', to_jsonb(c.allergies), 'preferences', c.preferences,
                'createdAt', c.created_at, 'updatedAt', c.updated_at
            )
            from public.customers as c where c.id = live_id
        ),
        'mergedAccounts', coalesce((
            select jsonb_agg(jsonb_build_object(
                'id', c.id, 'firstName', c.first_name, 'lastName', c.last_name,
                'phone', c.phone, 'email', c.email, 'authUserId', c.auth_user_id,
                'allergies', to_jsonb(c.allergies), 'preferences', c.preferences,
                'createdAt', c.created_at, 'mergedInto', c.merged_into, 'mergedAt', c.merged_at
            ) order by c.merged_at, c.id)
            from public.customers as c where c.id = any(ids) and c.id <> live_id
        ), '[]'::jsonb),
        'identifiers', coalesce((
            select jsonb_agg(jsonb_build_object(
                'id', ci.id, 'customerId', ci.customer_id, 'type', ci.type, 'value', ci.value,
                'displayValue', ci.display_value, 'status', ci.status, 'source', ci.source,
                'verifiedAt', ci.verified_at, 'lastUsedAt', ci.last_used_at,
                'createdAt', ci.created_at
            ) order by ci.id)
            from customer_management.customer_identifiers as ci
            where ci.customer_id = any(ids)
        ), '[]'::jsonb),
        'claimsOnOtherAccounts', coalesce((
            select jsonb_agg(jsonb_build_object(
                'id', ci.id, 'type', ci.type, 'value', ci.value, 'status', ci.status,
                'source', ci.source, 'createdAt', ci.created_at
            ) order by ci.id)
            from unnest(own_types, own_values) as o (type, value)
            inner join customer_management.customer_identifiers as ci
                on o.value = ci.value and o.type = ci.type
            where not ci.customer_id = any(ids)
        ), '[]'::jsonb),
        'orders', coalesce((
            select jsonb_agg(jsonb_build_object(
                'id', o.id, 'customerId', o.customer_id, 'items', o.items, 'total', o.total,
                'currency', o.currency, 'status', o.status, 'deliveryDate', o.delivery_date,
                'createdAt', o.created_at, 'updatedAt', o.updated_at
            ) order by o.created_at desc, o.id)
            from public.orders as o where o.customer_id = any(ids)
        ), '[]'::jsonb),
        'merges', coalesce((
            select jsonb_agg(jsonb_build_object(
                'id', m.id,
                'survivorId', case when m.survivor_id = any(ids) then m.survivor_id end,
                'mergedId', case when m.merged_id = any(ids) then m.merged_id end,
                'reason', customer_management.read_note(m.reason, ids), 'source', m.source,
                'actorRole', m.actor_role,
                'movedIdentifiers', cardinality(m.moved_identifier_ids),
                'movedOrders', cardinality(m.moved_order_ids),
                'createdAt', m.created_at,
                'undoneAt', u.undone_at,
                'undoReason', customer_management.read_note(u.reason, ids)
            ) order by m.id)
            from customer_management.merge_log as m
            left join customer_management.merge_undos as u on m.id = u.merge_id
            where m.survivor_id = any(ids) or m.merged_id = any(ids)
        ), '[]'::jsonb),
        'conflicts', coalesce((
            select jsonb_agg(jsonb_build_object(
                'id', cc.id, 'status', cc.status,
                'yourAccounts', (
                    select coalesce(jsonb_agg(x), '[]'::jsonb)
                    from unnest(cc.customer_ids) as x where x = any(ids)
                ),
                'otherAccounts', (
                    select count(*) from unnest(cc.customer_ids) as x where not x = any(ids)
                ),
                'identifierTypes', to_jsonb(cc.identifier_types),
                'occurrences', cc.occurrences, 'createdAt', cc.created_at,
                'lastSeenAt', cc.last_seen_at, 'resolvedAt', cc.resolved_at
            ) order by cc.created_at, cc.id)
            from customer_management.customer_conflicts as cc
            where cc.customer_ids && ids
        ), '[]'::jsonb),
        'verifications', coalesce((
            select jsonb_agg(jsonb_build_object(
                'id', v.id,
                'identifierType', v.identifier_type, 'identifierValue', v.identifier_value,
                'createdAt', v.created_at, 'expiresAt', v.expires_at,
                'consumedAt', v.consumed_at, 'failedAttempts', v.failed_attempts
            ) order by v.created_at)
            from unnest(own_types, own_values) as o (type, value)
            inner join customer_management.verifications as v
                on o.value = v.identifier_value and o.type = v.identifier_type
        ), '[]'::jsonb),
        'rateLimitCounters', coalesce((
            select jsonb_agg(jsonb_build_object(
                'bucket', r.bucket, 'windowStart', r.window_start, 'calls', r.calls
            ) order by r.window_start, r.bucket)
            from customer_management.rate_limit_counters as r
            where r.bucket in (
                select 'identifier:' || o.type || ':' || o.value
                from unnest(own_types, own_values) as o (type, value)
                union all
                select 'user:' || ci.value
                from customer_management.customer_identifiers as ci
                where ci.customer_id = any(ids) and ci.type = 'auth_user'
            )
        ), '[]'::jsonb),
        'auditEntries', coalesce((
            select jsonb_agg(jsonb_build_object(
                'id', a.id, 'action', a.action,
                'customerId', case when a.customer_id = any(ids) then a.customer_id end,
                'relatedCustomerId', case when a.related_customer_id = any(ids)
                    then a.related_customer_id end,
                'actorRole', a.actor_role, 'source', a.source, 'details', a.details,
                'occurredAt', a.occurred_at
            ) order by a.id)
            from customer_management.audit_log as a
            where a.customer_id = any(ids) or a.related_customer_id = any(ids)
        ), '[]'::jsonb),
        'events', coalesce((
            select jsonb_agg(jsonb_build_object(
                'id', e.id, 'event', e.event, 'mergeId', e.merge_id,
                'customerIds', (
                    select jsonb_agg(x) from unnest(e.customer_ids) as x where x = any(ids)
                ),
                'occurredAt', e.occurred_at
            ) order by e.id)
            from public.customer_events as e where e.customer_ids && ids
        ), '[]'::jsonb)
    );
end;
$$;

comment on function customer_management.customer_document(uuid) is
'Everything the kit keeps about the person behind a live account, and nothing about anyone '
'else: the export document.';

-- One merge of the merge log as support's history shows it.
create or replace function customer_management.support_merge_entry(merge_id bigint) returns jsonb
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
        'reason', customer_management.read_note(m.reason),
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
            'reason', customer_management.read_note(undone.reason),
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
