-- Resolving a conflict: merge its accounts (the brief's "link accounts automatically"), keep
-- them separate (they are different people: the set is not flagged again), or escalate it
-- to support.
--
-- Who may: the service role and support agents, any conflict; an end user, only a conflict
-- a request of theirs raised, and a merge only of accounts their own proofs open (their
-- login, their confirmed email, their confirmed phone, under the verified-owner rule). A
-- conflict whose accounts changed since it was recorded (one merged elsewhere or erased, a
-- tying identifier released) is not applied: it becomes outdated, and a request that still
-- meets the live accounts raises a fresh one.

-- The state of a conflict as an answer shows it.
create function customer_management.conflict_state(conflict_id uuid, unmasked boolean)
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
'A conflict for an answer: status, accounts (masked for end users), sightings, who resolved '
'it, when and (for trusted callers) why.';

revoke all on function customer_management.conflict_state(uuid, boolean)
from public, anon, authenticated, service_role;

-- The identifiers a signed-in user has proven (their login, the email and phone they
-- confirmed in Supabase Auth), judged by the caller-proof rule itself.
create function customer_management.signed_in_claims(caller customer_management.api_caller)
returns customer_management.identifier_claim[]
language plpgsql
stable
set search_path = ''
as $$
declare
    account auth.users;
    request customer_management.resolution_request;
begin
    select u.* into account from auth.users as u where u.id = caller.uid;
    request.source := 'webapp';
    if account.email_confirmed_at is not null then
        request.email := lower(btrim(account.email));
        request.email_display := btrim(account.email);
    end if;
    if account.phone_confirmed_at is not null and account.phone ~ '[0-9]' then
        request.phone := '+' || regexp_replace(account.phone, '[^0-9]', '', 'g');
    end if;
    return (
        select coalesce(array_agg(c), '{}')
        from unnest(customer_management.caller_proof(caller, request, null)) as c
        where c.proven and c.verified
    );
end;
$$;

comment on function customer_management.signed_in_claims(customer_management.api_caller) is
'The signed-in user''s proven and verified identifiers (login, confirmed email and phone).';

revoke all on function customer_management.signed_in_claims(customer_management.api_caller)
from public, anon, authenticated, service_role;

-- Whether a conflict still stands as recorded: its accounts are all live and distinct, and
-- each still holds one of the identifiers that tied them.
create function customer_management.conflict_still_stands(
    conflict customer_management.customer_conflicts
) returns boolean
language plpgsql
stable
set search_path = ''
set plan_cache_mode = force_generic_plan
as $$
begin
    return (
        select bool_and(c.id is not null and c.merged_into is null)
        from unnest(conflict.customer_ids) as x (id)
        left join public.customers as c on x.id = c.id
    ) and (
        cardinality(conflict.tying_identifier_ids) = 0
        or not exists (
            select 1 from unnest(conflict.customer_ids) as x (id)
            where not exists (
                select 1 from customer_management.customer_identifiers as ci
                where
                    ci.id = any(conflict.tying_identifier_ids)
                    and ci.customer_id = x.id
                    and ci.status = 'active'
            )
        )
    );
end;
$$;

comment on function customer_management.conflict_still_stands(
    customer_management.customer_conflicts
) is
'Re-check before resolving: every account live, each still holding a tying identifier.';

revoke all on function customer_management.conflict_still_stands(
    customer_management.customer_conflicts
) from public, anon, authenticated, service_role;

create function customer_management.resolve_conflict_for_caller(
    conflict_id uuid, action text, survivor_id uuid, reason text
) returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
    caller customer_management.api_caller := customer_management.current_caller();
    privileged boolean;
    conflict customer_management.customer_conflicts;
    source text;
    survivor uuid;
    merge_ids bigint[];
    owners customer_management.identifier_owners;
    customer public.customers;
    response jsonb;
    notices jsonb := '[]'::jsonb;
begin
    privileged := caller.trusted or customer_management.is_support_agent(caller);
    source := case when privileged then 'support' else 'webapp' end;
    if action is null or action not in ('merge', 'keep_separate', 'escalate') then
        perform customer_management.raise_error(
            'invalid_action', 'action must be merge, keep_separate or escalate.',
            'Send one of the three actions.'
        );
    end if;
    if char_length(reason) > 1000 then
        perform customer_management.raise_error(
            'invalid_reason', 'reason is longer than 1000 characters.', 'Shorten it.'
        );
    end if;
    if survivor_id is not null and action <> 'merge' then
        perform customer_management.raise_error(
            'invalid_survivor', 'survivor_id only goes with action merge.',
            'Leave survivor_id out for keep_separate and escalate.'
        );
    end if;

    -- Locks in the order every merge takes them: the accounts (in id order), then the
    -- conflict. Only the accounts of a conflict this caller may still resolve.
    if action <> 'escalate' then
        perform 1 from public.customers as c
        where c.id in (
            select unnest(cc.customer_ids)
            from customer_management.customer_conflicts as cc
            where
                cc.id = conflict_id
                and (
                    cc.status = 'open'
                    or (privileged and cc.status in ('escalated', 'kept_separate'))
                )
                and (privileged or caller.uid = any(cc.raised_by))
        )
        order by c.id
        for update;
    end if;
    select * into conflict
    from customer_management.customer_conflicts as cc
    where cc.id = conflict_id
    for update;
    -- An end user learns nothing about a conflict that is not theirs, not even whether
    -- it exists.
    if not privileged and (conflict.id is null or not caller.uid = any(conflict.raised_by)) then
        perform customer_management.raise_error(
            'forbidden', 'You may resolve only a conflict your own request raised.',
            'Contact support.', '42501'
        );
    end if;
    if conflict.id is null then
        perform customer_management.raise_error(
            'not_found', 'There is no conflict with this id.', 'Check conflict_id.', 'PT404'
        );
    end if;
    if not (
        conflict.status = 'open'
        or (privileged and conflict.status = 'escalated')
        or (privileged and conflict.status = 'kept_separate' and action = 'merge')
    ) then
        perform customer_management.raise_error(
            'conflict_closed',
            format('The conflict is %s.', replace(conflict.status, '_', ' ')),
            case when conflict.status = 'escalated' then 'Support is handling it.'
                else 'A request that still meets these accounts raises a new conflict.' end,
            'PT409'
        );
    end if;

    if action = 'escalate' then
        update customer_management.customer_conflicts as cc
        set status = 'escalated', resolved_at = now(), resolved_by_role = caller.role,
            resolved_by_uid = caller.uid, resolution_reason = reason
        where cc.id = conflict.id;
    else
        -- The accounts, locked above, are re-checked.
        if not customer_management.conflict_still_stands(conflict) then
            update customer_management.customer_conflicts as cc
            set status = 'outdated', resolved_at = now(), resolved_by_role = caller.role,
                resolved_by_uid = caller.uid,
                resolution_reason = 'accounts changed before ' || action
            where cc.id = conflict.id;
            notices := jsonb_build_array(jsonb_build_object(
                'code', 'conflict_outdated',
                'message', 'The accounts changed since this conflict was recorded; nothing '
                || 'was applied. A request that still meets them raises a new conflict.'
            ));
        elsif action = 'keep_separate' then
            update customer_management.customer_conflicts as cc
            set status = 'kept_separate', resolved_at = now(),
                resolved_by_role = caller.role, resolved_by_uid = caller.uid,
                resolution_reason = reason
            where cc.id = conflict.id;
        else
            if customer_management.choose_survivor(conflict.customer_ids) is null then
                perform customer_management.raise_error(
                    'merge_blocked',
                    'The accounts belong to different sign-in users and are never merged.',
                    'Keep them separate, or delete one of the logins first.', 'PT409'
                );
            end if;
            if not privileged then
                owners := customer_management.verified_owner_wins(
                    caller, customer_management.signed_in_claims(caller)
                );
                if not conflict.customer_ids <@ owners.matched then
                    perform customer_management.raise_error(
                        'forbidden',
                        'You may merge only accounts your sign-in, confirmed email or '
                        || 'confirmed phone opens.',
                        'Confirm the email or phone in your profile, or contact support.',
                        '42501'
                    );
                end if;
            end if;
            survivor := customer_management.live_customer_id(survivor_id);
            if survivor_id is not null
                and (survivor is null or not survivor = any(conflict.customer_ids)) then
                perform customer_management.raise_error(
                    'invalid_survivor', 'survivor_id is not one of the conflict''s accounts.',
                    'Pick the survivor among the conflict''s accounts.'
                );
            end if;
            if conflict.status = 'kept_separate' then
                -- Support overrides its earlier decision: the set may be merged now.
                update customer_management.customer_conflicts as cc
                set status = 'escalated'
                where cc.id = conflict.id;
            end if;
            merge_ids := customer_management.merge_opened_accounts(
                conflict.customer_ids, caller, source,
                coalesce(reason, 'resolve_conflict'), survivor, conflict.id
            );
            select m.survivor_id into survivor
            from customer_management.merge_log as m where m.id = merge_ids[1];
        end if;
    end if;

    perform customer_management.write_audit(
        'resolve', conflict.customer_ids[1], conflict.customer_ids[2], caller, source,
        jsonb_build_object(
            'conflict_id', conflict.id, 'action', action, 'reason', reason,
            'merge_log_ids', to_jsonb(coalesce(merge_ids, '{}'))
        )
    );

    response := jsonb_build_object(
        'conflict', customer_management.conflict_state(conflict.id, privileged),
        'mergeIds', to_jsonb(coalesce(merge_ids, '{}'))
    );
    if merge_ids is not null then
        select * into strict customer from public.customers as c where c.id = survivor;
        response := customer_management.success_response(
            customer, false, null, '[]'::jsonb, '[]'::jsonb
        ) || response;
    end if;
    if jsonb_array_length(notices) > 0 then
        response := response || jsonb_build_object('notices', notices);
    end if;
    return response;
end;
$$;

comment on function customer_management.resolve_conflict_for_caller(uuid, text, uuid, text) is
'Definer behind public.resolve_conflict: checks who may, re-checks the accounts, then '
'merges, keeps separate or escalates, and audits it.';

revoke all on function customer_management.resolve_conflict_for_caller(uuid, text, uuid, text)
from public, anon, authenticated, service_role;
grant execute on function customer_management.resolve_conflict_for_caller(
    uuid, text, uuid, text
) to authenticated, service_role;

create function public.resolve_conflict(
    conflict_id uuid,
    action text,
    survivor_id uuid default null,
    reason text default null
) returns jsonb
language plpgsql
volatile
security invoker
set search_path = ''
as $$
begin
    return customer_management.resolve_conflict_for_caller(
        conflict_id, action, survivor_id, reason
    );
end;
$$;

comment on function public.resolve_conflict(uuid, text, uuid, text) is
'Resolve a conflict: merge (optionally into survivor_id), keep_separate or escalate. See '
'docs/lifecycle.md.';

revoke all on function public.resolve_conflict(uuid, text, uuid, text) from public, anon;
grant execute on function public.resolve_conflict(uuid, text, uuid, text)
to authenticated, service_role;
