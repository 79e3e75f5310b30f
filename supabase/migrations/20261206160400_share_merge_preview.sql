-- The merge preview, shared: what merging a set of accounts would do is computed by one
-- function (merge_preview), which the conflict preview now calls and the preview of
-- possible duplicates calls too. The conflict preview answers exactly as before.

-- What merging a set of accounts into a survivor would do, as support's previews show it:
-- each account with its identifiers (and whether it survives), what each other account
-- hands over (identifiers the survivor or an account merged before it does not hold
-- already, orders) and the survivor as it would come out. It follows merge_customer's
-- rules and changes nothing. With blocked set (the merge may not happen), only the
-- accounts. Shared by the conflict preview and the possible-duplicates preview.
create function customer_management.merge_preview(
    account_ids uuid[], survivor uuid, blocked text
) returns jsonb
language plpgsql
stable
set search_path = ''
set timezone = 'UTC'
as $$
declare
    outcome public.customers;
    merged public.customers;
    sources jsonb;
    moves jsonb := '[]'::jsonb;
begin
    if blocked is null then
        -- The survivor as merge_customer leaves it, the other accounts folded in one by one
        -- in the order merge_opened_accounts merges them.
        select * into strict outcome from public.customers as c where c.id = survivor;
        sources := coalesce(outcome.preferences -> 'account_sources', '[]'::jsonb);
        for merged in
            select c.* from public.customers as c
            where c.id = any(account_ids) and c.id <> survivor
            order by c.created_at, c.id
        loop
            outcome.first_name := coalesce(outcome.first_name, merged.first_name);
            outcome.last_name := coalesce(outcome.last_name, merged.last_name);
            outcome.phone := coalesce(outcome.phone, merged.phone);
            outcome.email := coalesce(outcome.email, merged.email);
            outcome.auth_user_id := coalesce(outcome.auth_user_id, merged.auth_user_id);
            outcome.allergies := customer_management.union_allergies(
                outcome.allergies, merged.allergies
            );
            sources := sources || coalesce(merged.preferences -> 'account_sources', '[]'::jsonb);
            -- An identifier moves unless the survivor, or an account merged before this
            -- one, already holds the same type and value.
            moves := moves || jsonb_build_array(jsonb_build_object(
                'fromId', merged.id,
                'identifiers', coalesce((
                    select jsonb_agg(jsonb_build_object(
                        'id', ci.id, 'type', ci.type, 'value', ci.display_value,
                        'status', ci.status, 'verifiedAt', ci.verified_at
                    ) order by ci.id)
                    from customer_management.customer_identifiers as ci
                    where
                        ci.customer_id = merged.id
                        and not exists (
                            select 1
                            from customer_management.customer_identifiers as held
                            inner join public.customers as holder on held.customer_id = holder.id
                            where
                                held.type = ci.type
                                and held.value = ci.value
                                and held.customer_id = any(account_ids)
                                and (
                                    holder.id = survivor
                                    or (
                                        holder.id <> survivor
                                        and (holder.created_at, holder.id)
                                        < (merged.created_at, merged.id)
                                    )
                                )
                        )
                ), '[]'::jsonb),
                'orders', (
                    select count(*) from public.orders as o where o.customer_id = merged.id
                )
            ));
        end loop;
    end if;

    return jsonb_build_object(
        'accounts', coalesce((
            select jsonb_agg(
                customer_management.support_account_card(c.id) || jsonb_build_object(
                    'willSurvive', blocked is null and c.id = survivor,
                    'identifiers', coalesce((
                        select jsonb_agg(jsonb_build_object(
                            'id', ci.id, 'type', ci.type, 'value', ci.display_value,
                            'status', ci.status, 'source', ci.source,
                            'verifiedAt', ci.verified_at
                        ) order by ci.type, ci.id)
                        from customer_management.customer_identifiers as ci
                        where ci.customer_id = c.id
                    ), '[]'::jsonb)
                )
                order by c.created_at, c.id
            )
            from public.customers as c
            where c.id = any(account_ids)
        ), '[]'::jsonb),
        'moves', moves,
        'result', case when blocked is null then jsonb_build_object(
            'id', outcome.id,
            'firstName', outcome.first_name,
            'lastName', outcome.last_name,
            'phone', outcome.phone,
            'email', outcome.email,
            'authUserId', outcome.auth_user_id,
            'allergies', to_jsonb(outcome.allergies),
            'accountSources', (
                select coalesce(jsonb_agg(s.source order by s.first_seen), '[]'::jsonb)
                from (
                    select x.source, min(x.ordinality) as first_seen
                    from jsonb_array_elements(sources) with ordinality as x (source, ordinality)
                    group by x.source
                ) as s
            ),
            'orderCount', (
                select count(*) from public.orders as o
                where o.customer_id = any(account_ids)
            )
        ) end
    );
end;
$$;

comment on function customer_management.merge_preview(uuid[], uuid, text) is
'What merging accounts into a survivor would do (accounts with identifiers, what each hands '
'over, the result), following merge_customer''s rules; only the accounts when blocked.';

revoke all on function customer_management.merge_preview(uuid[], uuid, text)
from public, anon, authenticated, service_role;

create or replace function customer_management.support_merge_preview_for_caller(
    conflict_id uuid, survivor_id uuid
) returns jsonb
language plpgsql
stable
security definer
set search_path = ''
set timezone = 'UTC'
as $$
declare
    conflict customer_management.customer_conflicts;
    rule_survivor uuid;
    chosen uuid;
    survivor uuid;
    blocked text;
begin
    perform customer_management.support_caller();
    if conflict_id is null then
        perform customer_management.raise_error(
            'invalid_request', 'conflict_id is required.', 'Send the conflict''s id.'
        );
    end if;
    select * into conflict
    from customer_management.customer_conflicts as cc
    where cc.id = conflict_id;
    if conflict.id is null then
        perform customer_management.raise_error(
            'not_found', 'There is no conflict with this id.', 'Check conflict_id.', 'PT404'
        );
    end if;
    if survivor_id is not null then
        chosen := customer_management.live_customer_id(survivor_id);
        if chosen is null or not chosen = any(conflict.customer_ids) then
            perform customer_management.raise_error(
                'invalid_survivor', 'survivor_id is not one of the conflict''s accounts.',
                'Pick the survivor among the conflict''s accounts.'
            );
        end if;
    end if;

    rule_survivor := customer_management.choose_survivor(conflict.customer_ids);
    survivor := coalesce(chosen, rule_survivor);
    blocked := case
        when conflict.status not in ('open', 'escalated', 'kept_separate') then 'conflict_closed'
        when not customer_management.conflict_still_stands(conflict) then 'conflict_outdated'
        when rule_survivor is null then 'merge_blocked'
    end;

    return jsonb_build_object(
        'conflict', customer_management.conflict_state(conflict.id, true),
        'canMerge', blocked is null,
        'blockedBecause', blocked,
        'ruleSurvivorId', rule_survivor,
        'survivorId', survivor,
        'survivorChosen', chosen is not null
    ) || customer_management.merge_preview(conflict.customer_ids, survivor, blocked);
end;
$$;
