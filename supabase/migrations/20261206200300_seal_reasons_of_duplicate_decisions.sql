-- The reasons support gives for merging possible duplicates or keeping them apart are
-- words about those people: kept sealed in notes like every other reason (the decisions,
-- the merge log and the audit trail hold only the reference).

-- Merges some (or all) accounts of a group into one.
create or replace function customer_management.support_merge_duplicates_for_caller(
    account_ids uuid[], survivor_id uuid, reason text
) returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
    caller customer_management.api_caller := customer_management.support_caller();
    live uuid[];
    group_number integer;
    survivor uuid;
    merge_ids bigint[];
    customer public.customers;
begin
    if char_length(reason) > 1000 then
        perform customer_management.raise_error(
            'invalid_reason', 'reason is longer than 1000 characters.', 'Shorten it.'
        );
    end if;
    select m.live_ids, m.chosen, m.group_number into live, survivor, group_number
    from customer_management.duplicate_merge_accounts(account_ids, survivor_id) as m;
    -- The reason is about these people: kept sealed with their keys.
    reason := customer_management.keep_note(live, reason);
    merge_ids := customer_management.merge_opened_accounts(
        live, caller, 'support', coalesce(reason, 'possible_duplicate'), survivor
    );
    if merge_ids is null then
        perform customer_management.raise_error(
            'merge_blocked',
            'The accounts belong to different sign-in users, or were kept separate.',
            'Keep them separate instead.', 'PT409'
        );
    end if;
    select m.survivor_id into survivor
    from customer_management.merge_log as m where m.id = merge_ids[1];
    perform customer_management.write_audit(
        'resolve', survivor, null, caller, 'support',
        jsonb_build_object(
            'possible_duplicates', true, 'action', 'merge', 'reason', reason,
            'merge_log_ids', to_jsonb(merge_ids)
        )
    );
    select * into strict customer from public.customers as c where c.id = survivor;
    return customer_management.success_response(customer, false, null, '[]'::jsonb, '[]'::jsonb)
        || jsonb_build_object(
            'mergeIds', to_jsonb(merge_ids),
            'groups', to_jsonb(customer_management.regroup_possible_duplicates(group_number))
        );
end;
$$;

comment on function customer_management.support_merge_duplicates_for_caller(
    uuid[], uuid, text
) is
'Definer behind public.support_merge_duplicates: merges accounts of one possible-duplicate '
'group through merge_opened_accounts (undoable with undo_merge), audits, regroups the rest.';

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
            'Send ids of accounts of one group of support_possible_duplicates.'
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
