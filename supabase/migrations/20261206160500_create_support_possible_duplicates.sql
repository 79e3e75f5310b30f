-- Support works through the possible duplicates: a page of groups, a merge preview of some
-- of a group's accounts, the merge itself (through merge_opened_accounts, as every merge
-- goes: merge log, sealed undo data, audit, events; undone with undo_merge), and keeping
-- accounts apart (remembered: the pair is not proposed again). The service role and
-- support agents only (support_caller), as for the other support tools.

-- The live accounts of a set of ids (each followed to its survivor), distinct and sorted;
-- raises when fewer than two remain.
create function customer_management.duplicate_accounts(account_ids uuid[])
returns uuid[]
language plpgsql
stable
set search_path = ''
as $$
declare
    live uuid[];
begin
    select coalesce(array_agg(distinct x.live_id order by x.live_id), '{}') into live
    from (
        select customer_management.live_customer_id(a) as live_id
        from unnest(account_ids) as a
    ) as x
    where x.live_id is not null;
    if cardinality(live) < 2 then
        perform customer_management.raise_error(
            'invalid_accounts', 'Give at least two accounts that exist and are not one already.',
            'Send the ids of the accounts of a possible-duplicate group.'
        );
    end if;
    return live;
end;
$$;

comment on function customer_management.duplicate_accounts(uuid[]) is
'The distinct live accounts of a set of ids (merged ids followed); invalid_accounts when '
'fewer than two.';

revoke all on function customer_management.duplicate_accounts(uuid[])
from public, anon, authenticated, service_role;

-- The group (its number) that holds every one of these live accounts, or null.
create function customer_management.duplicate_group_of(live_ids uuid[]) returns integer
language plpgsql
stable
set search_path = ''
as $$
begin
    return (
        select g.group_no
        from (
            select p.group_no, array_agg(p.account_a) || array_agg(p.account_b) as members
            from customer_management.possible_duplicates as p
            where p.account_a = any(live_ids) or p.account_b = any(live_ids)
            group by p.group_no
        ) as g
        where g.members @> live_ids
        order by g.group_no
        limit 1
    );
end;
$$;

comment on function customer_management.duplicate_group_of(uuid[]) is
'The possible-duplicate group that holds all these accounts, or null.';

revoke all on function customer_management.duplicate_group_of(uuid[])
from public, anon, authenticated, service_role;

-- The accounts of a merge of possible duplicates, checked: live (merged ids followed), at
-- least two, all of one group, and the chosen survivor (if any) among them.
create function customer_management.duplicate_merge_accounts(
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
            'Pick accounts of one group of support_possible_duplicates.'
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

revoke all on function customer_management.duplicate_merge_accounts(uuid[], uuid)
from public, anon, authenticated, service_role;

-- After a decision or a merge: a group's pairs are moved onto the accounts' survivors,
-- pairs now inside one account or decided are dropped, and what is left is numbered anew,
-- one group per connected part (new numbers after the highest). Returns the new numbers.
create function customer_management.regroup_possible_duplicates(group_number integer)
returns integer[]
language plpgsql
volatile
set search_path = ''
as $$
declare
    pairs jsonb;
    next_group integer;
    numbers integer[];
begin
    select coalesce(jsonb_agg(to_jsonb(l)), '[]'::jsonb) into pairs
    from (
        select distinct on (least(x.a, x.b), greatest(x.a, x.b))
            least(x.a, x.b) as account_a,
            greatest(x.a, x.b) as account_b,
            x.score,
            x.reasons,
            x.found_at
        from (
            select
                customer_management.live_customer_id(p.account_a) as a,
                customer_management.live_customer_id(p.account_b) as b,
                p.score,
                p.reasons,
                p.found_at
            from customer_management.possible_duplicates as p
            where p.group_no = group_number
        ) as x
        where x.a is not null and x.b is not null and x.a <> x.b
        order by least(x.a, x.b), greatest(x.a, x.b), x.score desc
    ) as l;
    delete from customer_management.possible_duplicates as p where p.group_no = group_number;
    insert into customer_management.possible_duplicates (
        account_a, account_b, group_no, score, reasons, found_at
    )
    select r.account_a, r.account_b, -group_number, r.score, r.reasons, r.found_at
    from jsonb_to_recordset(pairs) as r (
        account_a uuid, account_b uuid, score integer, reasons text [], found_at timestamptz
    )
    where not exists (
        select 1 from customer_management.duplicate_decisions as d
        where d.account_a = r.account_a and d.account_b = r.account_b
    )
    on conflict (account_a, account_b) do nothing;

    select coalesce(max(p.group_no), 0) + 1 into next_group
    from customer_management.possible_duplicates as p;
    with ordered as (
        select
            coalesce(array_agg(p.account_a order by p.score desc, p.account_a, p.account_b), '{}')
            as pair_a,
            coalesce(array_agg(p.account_b order by p.score desc, p.account_a, p.account_b), '{}')
            as pair_b
        from customer_management.possible_duplicates as p
        where p.group_no = -group_number
    ),

    renumbered as (
        update customer_management.possible_duplicates as p
        set group_no = g.group_no
        from ordered as o
        cross join lateral customer_management.group_duplicate_pairs(
            o.pair_a, o.pair_b, next_group
        ) as g
        where p.account_a = g.account_a and p.account_b = g.account_b
        returning p.group_no
    )

    select coalesce(array_agg(distinct r.group_no order by r.group_no), '{}') into numbers
    from renumbered as r;
    return numbers;
end;
$$;

comment on function customer_management.regroup_possible_duplicates(integer) is
'Moves a group''s pairs onto the survivors, drops pairs decided or now one account, and '
'numbers each connected part as a new group; returns the new numbers.';

revoke all on function customer_management.regroup_possible_duplicates(integer)
from public, anon, authenticated, service_role;

-- The page of groups.
create function customer_management.support_possible_duplicates_for_caller(
    page_size integer, after_group integer
) returns jsonb
language plpgsql
stable
security definer
set search_path = ''
as $$
begin
    perform customer_management.support_caller();
    return customer_management.possible_duplicate_page(page_size, after_group);
end;
$$;

comment on function customer_management.support_possible_duplicates_for_caller(integer, integer) is
'Definer behind public.support_possible_duplicates: a page of possible-duplicate groups; '
'service role and support agents only.';

revoke all on function customer_management.support_possible_duplicates_for_caller(
    integer, integer
) from public, anon, authenticated, service_role;
grant execute on function customer_management.support_possible_duplicates_for_caller(
    integer, integer
) to authenticated, service_role;

create function public.support_possible_duplicates(
    page_size integer default 20,
    after_group integer default null
) returns jsonb
language plpgsql
stable
security invoker
set search_path = ''
as $$
begin
    return customer_management.support_possible_duplicates_for_caller(page_size, after_group);
end;
$$;

comment on function public.support_possible_duplicates(integer, integer) is
'Possible duplicates, for support: groups of accounts that are probably one person although '
'no identifier ties them, strongest first, each pair with score and reasons; next page with '
'after_group = nextAfter. Service role and support agents only. See docs/console.md.';

revoke all on function public.support_possible_duplicates(integer, integer) from public, anon;
grant execute on function public.support_possible_duplicates(integer, integer)
to authenticated, service_role;

-- What merging some accounts of a group would do.
create function customer_management.support_duplicate_merge_preview_for_caller(
    account_ids uuid[], survivor_id uuid
) returns jsonb
language plpgsql
stable
security definer
set search_path = ''
set timezone = 'UTC'
as $$
declare
    live uuid[];
    chosen uuid;
    rule_survivor uuid;
    survivor uuid;
    blocked text;
begin
    perform customer_management.support_caller();
    select m.live_ids, m.chosen into live, chosen
    from customer_management.duplicate_merge_accounts(account_ids, survivor_id) as m;
    rule_survivor := customer_management.choose_survivor(live);
    survivor := coalesce(chosen, rule_survivor);
    blocked := case
        when rule_survivor is null then 'merge_blocked'
        when customer_management.kept_separate(live) then 'kept_separate'
    end;
    return jsonb_build_object(
        'accountIds', to_jsonb(live),
        'canMerge', blocked is null,
        'blockedBecause', blocked,
        'ruleSurvivorId', rule_survivor,
        'survivorId', survivor,
        'survivorChosen', chosen is not null
    ) || customer_management.merge_preview(live, survivor, blocked);
end;
$$;

comment on function customer_management.support_duplicate_merge_preview_for_caller(
    uuid[], uuid
) is
'Definer behind public.support_duplicate_merge_preview: what merging these accounts of a '
'possible-duplicate group would do; changes nothing.';

revoke all on function customer_management.support_duplicate_merge_preview_for_caller(
    uuid[], uuid
) from public, anon, authenticated, service_role;
grant execute on function customer_management.support_duplicate_merge_preview_for_caller(
    uuid[], uuid
) to authenticated, service_role;

create function public.support_duplicate_merge_preview(
    account_ids uuid[],
    survivor_id uuid default null
) returns jsonb
language plpgsql
stable
security invoker
set search_path = ''
as $$
begin
    return customer_management.support_duplicate_merge_preview_for_caller(
        account_ids, survivor_id
    );
end;
$$;

comment on function public.support_duplicate_merge_preview(uuid[], uuid) is
'What support_merge_duplicates(account_ids, survivor_id) would do: the survivor (chosen, else '
'by the fixed rule), what each account hands over, the result; or why it cannot merge. '
'Changes nothing. Service role and support agents only.';

revoke all on function public.support_duplicate_merge_preview(uuid[], uuid) from public, anon;
grant execute on function public.support_duplicate_merge_preview(uuid[], uuid)
to authenticated, service_role;

-- Merges some (or all) accounts of a group into one.
create function customer_management.support_merge_duplicates_for_caller(
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

revoke all on function customer_management.support_merge_duplicates_for_caller(
    uuid[], uuid, text
) from public, anon, authenticated, service_role;
grant execute on function customer_management.support_merge_duplicates_for_caller(
    uuid[], uuid, text
) to authenticated, service_role;

create function public.support_merge_duplicates(
    account_ids uuid[],
    survivor_id uuid default null,
    reason text default null
) returns jsonb
language plpgsql
volatile
security invoker
set search_path = ''
as $$
begin
    return customer_management.support_merge_duplicates_for_caller(
        account_ids, survivor_id, reason
    );
end;
$$;

comment on function public.support_merge_duplicates(uuid[], uuid, text) is
'Merge accounts of one possible-duplicate group (into survivor_id, else the fixed rule''s '
'survivor); answers the survivor and mergeIds, each undoable with undo_merge. Service role '
'and support agents only. See docs/console.md.';

revoke all on function public.support_merge_duplicates(uuid[], uuid, text) from public, anon;
grant execute on function public.support_merge_duplicates(uuid[], uuid, text)
to authenticated, service_role;

-- Keeps accounts of a group apart: the accounts given are other people than the rest of
-- their group (every pair between them and the rest is decided; pairs among them stay), or,
-- when every account of the group is given, all of them are different people. Decided
-- pairs are remembered and never proposed again; what is left of the group is regrouped.
create function customer_management.support_keep_duplicates_apart_for_caller(
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

revoke all on function customer_management.support_keep_duplicates_apart_for_caller(uuid[], text)
from public, anon, authenticated, service_role;
grant execute on function customer_management.support_keep_duplicates_apart_for_caller(
    uuid[], text
) to authenticated, service_role;

create function public.support_keep_duplicates_apart(
    account_ids uuid[],
    reason text default null
) returns jsonb
language plpgsql
volatile
security invoker
set search_path = ''
as $$
begin
    return customer_management.support_keep_duplicates_apart_for_caller(account_ids, reason);
end;
$$;

comment on function public.support_keep_duplicates_apart(uuid[], text) is
'Keep accounts of a possible-duplicate group apart: those given are other people than the '
'rest of the group (all of them: all different). Never proposed again. Service role and '
'support agents only. See docs/console.md.';

revoke all on function public.support_keep_duplicates_apart(uuid[], text) from public, anon;
grant execute on function public.support_keep_duplicates_apart(uuid[], text)
to authenticated, service_role;

-- The RPCs in public are the kit's objects outside its schema: recorded, so uninstall drops
-- them.
insert into customer_management.shared_objects (kind, name) values
('function', 'public.support_possible_duplicates(integer, integer)'),
('function', 'public.support_duplicate_merge_preview(uuid[], uuid)'),
('function', 'public.support_merge_duplicates(uuid[], uuid, text)'),
('function', 'public.support_keep_duplicates_apart(uuid[], text)')
on conflict do nothing;
