-- A person's data, on request (GDPR Art. 15 access and Art. 20 portability), as one JSON
-- document: also how a web app shows a signed-in user everything about their account
-- through the RPC alone. A person is the live account and every account merged into it.
-- The document holds what the kit keeps about that person and nothing about anyone else:
-- other accounts appear neither by id nor by contact data. docs/lifecycle.md describes it
-- field by field.

-- The account a lifecycle RPC acts on, resolved for the caller: an end user's own live
-- account (the argument absent or one of their ids); for the service role (and support,
-- where allowed) any id followed to its live account. An end user asking for anything else
-- gets forbidden, whether or not it exists.
create function customer_management.target_customer(customer_id uuid, privileged boolean)
returns uuid
language plpgsql
stable
set search_path = ''
as $$
declare
    live_id uuid := customer_management.live_customer_id(customer_id);
    own_id uuid;
begin
    if privileged then
        if customer_id is null then
            perform customer_management.raise_error(
                'invalid_request', 'customer_id is required.', 'Send the customer''s id.'
            );
        end if;
        if live_id is null then
            perform customer_management.raise_error(
                'not_found', 'There is no customer with this id.', 'Check customer_id.',
                'PT404'
            );
        end if;
        return live_id;
    end if;
    own_id := customer_management.signed_in_customer_id();
    if customer_id is not null and live_id is distinct from own_id then
        perform customer_management.raise_error(
            'forbidden', 'You may act only on your own account.',
            'Leave customer_id out to use your own.', '42501'
        );
    end if;
    if own_id is null then
        perform customer_management.raise_error(
            'not_found', 'You have no customer account.',
            'customer_management creates one.', 'PT404'
        );
    end if;
    return own_id;
end;
$$;

comment on function customer_management.target_customer(uuid, boolean) is
'The live account a lifecycle RPC acts on: the end user''s own, or (privileged) any id '
'followed through merges; raises forbidden or not_found.';

revoke all on function customer_management.target_customer(uuid, boolean)
from public, anon, authenticated, service_role;

-- The live account and every account merged into it, directly or through other merges.
create function customer_management.person_accounts(live_id uuid) returns uuid[]
language plpgsql
stable
set search_path = ''
as $$
begin
    return (
        with recursive accounts as (
            select live_id as id
            union
            select c.id from public.customers as c
            inner join accounts as a on c.merged_into = a.id
        )
        select array_agg(id order by id) from accounts
    );
end;
$$;

comment on function customer_management.person_accounts(uuid) is
'A person''s accounts: the live one and its tombstones (merged into it, transitively).';

revoke all on function customer_management.person_accounts(uuid)
from public, anon, authenticated, service_role;

create function customer_management.customer_document(live_id uuid) returns jsonb
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
                'reason', m.reason, 'source', m.source, 'actorRole', m.actor_role,
                'movedIdentifiers', cardinality(m.moved_identifier_ids),
                'movedOrders', cardinality(m.moved_order_ids),
                'createdAt', m.created_at,
                'undoneAt', u.undone_at, 'undoReason', u.reason
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

revoke all on function customer_management.customer_document(uuid)
from public, anon, authenticated, service_role;

create function customer_management.export_customer_data_for_caller(customer_id uuid)
returns jsonb
language plpgsql
stable
security definer
set search_path = ''
as $$
declare
    caller customer_management.api_caller := customer_management.current_caller();
begin
    return customer_management.customer_document(
        customer_management.target_customer(
            customer_id, caller.trusted or customer_management.is_support_agent(caller)
        )
    );
end;
$$;

comment on function customer_management.export_customer_data_for_caller(uuid) is
'Definer behind public.export_customer_data: the caller''s own document, or (service role, '
'support) anyone''s.';

revoke all on function customer_management.export_customer_data_for_caller(uuid)
from public, anon, authenticated, service_role;
grant execute on function customer_management.export_customer_data_for_caller(uuid)
to authenticated, service_role;

create function public.export_customer_data(customer_id uuid default null) returns jsonb
language plpgsql
stable
security invoker
set search_path = ''
as $$
begin
    return customer_management.export_customer_data_for_caller(customer_id);
end;
$$;

comment on function public.export_customer_data(uuid) is
'Everything kept about a customer as one JSON document (GDPR access and portability): an '
'end user their own, the service role and support anyone. See docs/lifecycle.md.';

revoke all on function public.export_customer_data(uuid) from public, anon;
grant execute on function public.export_customer_data(uuid) to authenticated, service_role;
