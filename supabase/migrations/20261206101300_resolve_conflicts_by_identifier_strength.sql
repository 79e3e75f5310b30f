-- Conflict resolution under the identifier-strength rule: an end user merges only accounts
-- their own proofs open under that rule, and a contested-identifier conflict still stands
-- while its refused account keeps the copy that was set aside.

-- Whether a conflict still stands as recorded: its accounts are all live and distinct, and
-- each still holds one of the identifiers that tied them (for a contested identifier, the
-- copy set aside on the refused account counts: it is still there, pending).
create or replace function customer_management.conflict_still_stands(
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
                    and (ci.status = 'active' or conflict.kind = 'contested_identifier')
            )
        )
    );
end;
$$;

comment on function customer_management.conflict_still_stands(
    customer_management.customer_conflicts
) is
'Re-check before resolving: every account live, each still holding a tying identifier.';

create or replace function customer_management.resolve_conflict_for_caller(
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
    signed_in customer_management.resolution_request;
    opened uuid[];
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
                signed_in.source := 'webapp';
                opened := (customer_management.identifier_strength_rule(
                    caller, signed_in, customer_management.signed_in_claims(caller), null
                )).matched;
                if not conflict.customer_ids <@ opened then
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
