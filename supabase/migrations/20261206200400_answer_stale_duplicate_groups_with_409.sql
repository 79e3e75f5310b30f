-- Accounts that are no longer one group of possible duplicates (merged or kept apart
-- meanwhile, by another agent) are a state of the data, not a malformed request: answered
-- 409, as a conflict already closed is.

-- The accounts of a merge of possible duplicates, checked: live (merged ids followed), at
-- least two, all of one group, and the chosen survivor (if any) among them.
create or replace function customer_management.duplicate_merge_accounts(
    account_ids uuid[], survivor_id uuid,
    out live_ids uuid[], out chosen uuid, out group_number integer
)
language plpgsql
stable
set search_path = ''
as $$
begin
    live_ids := customer_management.duplicate_accounts(account_ids);
    group_number := customer_management.duplicate_group_of(live_ids);
    if group_number is null then
        perform customer_management.raise_error(
            'not_possible_duplicates', 'These accounts are not one group of possible duplicates.',
            'Pick accounts of one group of support_possible_duplicates.', 'PT409'
        );
    end if;
    if survivor_id is not null then
        chosen := customer_management.live_customer_id(survivor_id);
        if chosen is null or not chosen = any(live_ids) then
            perform customer_management.raise_error(
                'invalid_survivor', 'survivor_id is not one of the accounts.',
                'Pick the survivor among the accounts to merge.'
            );
        end if;
    end if;
end;
$$;

comment on function customer_management.duplicate_merge_accounts(uuid[], uuid) is
'The live accounts of a merge of possible duplicates, the chosen survivor and their group; '
'invalid_accounts, not_possible_duplicates or invalid_survivor otherwise.';

-- Keeps accounts of a group apart: the accounts given are other people than the rest of
-- their group (every pair between them and the rest is decided; pairs among them stay), or,
-- when every account of the group is given, all of them are different people. Decided
-- pairs are remembered and never proposed again; what is left of the group is regrouped.
create or replace function customer_management.support_keep_duplicates_apart_for_caller(
    account_ids uuid[], reason text
) returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
    caller customer_management.api_caller := customer_management.support_caller();
    apart uuid[];
    group_number integer;
    decided integer;
begin
    if char_length(reason) > 1000 then
        perform customer_management.raise_error(
            'invalid_reason', 'reason is longer than 1000 characters.', 'Shorten it.'
        );
    end if;
    select coalesce(array_agg(distinct x.live_id), '{}') into apart
    from (
        select customer_management.live_customer_id(a) as live_id from unnest(account_ids) as a
    ) as x
    where x.live_id is not null;
    -- The reason is about these people: kept sealed with their keys.
    reason := customer_management.keep_note(apart, reason);
    group_number := customer_management.duplicate_group_of(apart);
    if cardinality(apart) = 0 or group_number is null then
        perform customer_management.raise_error(
            'not_possible_duplicates', 'These accounts are not in one group of possible duplicates.',
            'Send ids of accounts of one group of support_possible_duplicates.', 'PT409'
        );
    end if;

    with group_pairs as (
        select p.account_a, p.account_b
        from customer_management.possible_duplicates as p
        where p.group_no = group_number
    ),

    everyone as (
        select array_agg(distinct m) as ids
        from group_pairs as g
        cross join lateral unnest(array[g.account_a, g.account_b]) as m
    ),

    recorded as (
        insert into customer_management.duplicate_decisions (
            account_a, account_b, decision, decided_by_role, decided_by_uid, reason
        )
        select g.account_a, g.account_b, 'kept_separate', caller.role, caller.uid, reason
        from group_pairs as g
        cross join everyone as e
        where
            e.ids <@ apart
            or (g.account_a = any(apart)) <> (g.account_b = any(apart))
        on conflict (account_a, account_b) do nothing
        returning 1
    )

    select count(*) into decided from recorded;
    perform customer_management.write_audit(
        'resolve', apart[1], null, caller, 'support',
        jsonb_build_object(
            'possible_duplicates', true, 'action', 'keep_separate', 'reason', reason,
            'accounts', to_jsonb(apart), 'pairs', decided
        )
    );
    return jsonb_build_object(
        'keptApart', decided,
        'groups', to_jsonb(customer_management.regroup_possible_duplicates(group_number))
    );
end;
$$;

comment on function customer_management.support_keep_duplicates_apart_for_caller(uuid[], text) is
'Definer behind public.support_keep_duplicates_apart: records that accounts of a possible-'
'duplicate group are other people than the rest (or all different), audits, regroups.';
