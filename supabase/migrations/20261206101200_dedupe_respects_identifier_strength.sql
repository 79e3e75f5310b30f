-- Batch deduplication applies the online path's identifier strengths: accounts are joined
-- only by ties of equal strength; a tie of unequal strengths (a legacy number a caller's
-- verified line holds, a verified login email an unverified legacy row repeats) is planned
-- as contested and applied as a conflict for support, never as a merge. The plan names both
-- strengths of every tie, so a DBA reading it before --apply sees what a merge would hand to
-- whom.

alter table customer_management.dedupe_groups
drop constraint dedupe_groups_planned_check,
add constraint dedupe_groups_planned_check check (
    planned in (
        'merge', 'conflict', 'kept_separate', 'undone_before', 'escalated', 'too_large',
        'contested'
    )
),
drop constraint dedupe_groups_outcome_check,
add constraint dedupe_groups_outcome_check check (
    outcome in (
        'merged', 'conflict', 'kept_separate', 'undone_before', 'escalated', 'too_large',
        'already_one', 'merge_blocked', 'contested'
    )
);

comment on table customer_management.dedupe_groups is
'Deduplication scratch: the groups of a run (members, survivor first; the survivor the '
'fixed rule picks; the identifiers that tie them, as "type value strength/strength"), what the '
'plan says for each (contested: a tie of unequal strengths) and, once applied, what was done '
'(merge ids, conflict id).';

-- Finds the groups. One query finds the shared identifiers and their live holders, the ties
-- between accounts they make, and numbers the accounts in survivor order (choose_survivor's
-- rule: the auth-linked account, else the oldest, then by id); union-find joins the two ends
-- of each tie, keeping the smallest number as a set's root, so a group's root is its
-- survivor (unless two of its accounts have logins: then it has none and becomes a
-- conflict). Near-linear, one pass. Returns the groups in survivor order, with what to do
-- with each; it only reads, so a dry run changes nothing.
--
-- Only ties between equally strong holdings join accounts (the online path's rule: an
-- identifier held less than verified never opens, nor is merged into, an account that holds
-- it verified, and the reverse). A tie of unequal strengths (an imported number a caller's
-- verified line already holds, say) is listed on its own, planned as contested: applying
-- records it as a conflict for support. Each tie names the strength on both sides:
-- "phone +15551234567 vouched/verified" (the held account's, then the other's).
--
-- It always reads every held identifier at once, and the row estimates of its steps are
-- poor: JIT would compile for a cost that is not there, and a parallel plan would be chosen
-- for statements PL/pgSQL runs without workers, so both are off.
create or replace function customer_management.dedupe_plan(max_group_size integer default 10)
returns table (
    group_no bigint,
    planned text,
    survivor_id uuid,
    member_ids uuid[],
    ties text[]
)
language plpgsql
stable
set search_path = ''
set work_mem = '256MB'
set jit = off
set max_parallel_workers_per_gather = 0
as $$
declare
    accounts uuid[];
    logins integer[];
    end_nodes integer[];
    end_ties integer[];
    held_nodes integer[];
    tie_keys text[];
    contested_ties text[];
    contested_held uuid[];
    contested_other uuid[];
    owner integer[];
    parent integer[];
    blocked text[];
    blocked_domains text[];
    blocked_subdomains text[];
    has_decisions boolean;
    group_count bigint;
    a integer;
    b integer;
    t integer;
begin
    if max_group_size is null or max_group_size < 2 then
        perform customer_management.raise_error(
            'invalid_max_group_size', 'max_group_size must be at least 2.',
            'A group of more accounts than this is listed, not merged.'
        );
    end if;

    -- Blocked now (blocked_values may have grown since the identifiers were stored): a
    -- value, an address, or an address in a blocked domain or its subdomains, as
    -- normalize_email reads blocked_values.
    select
        coalesce(array_agg(bv.value) filter (where bv.kind <> 'email_domain'), '{}'),
        coalesce(array_agg(bv.value) filter (where bv.kind = 'email_domain'), '{}'),
        coalesce(array_agg('%.' || bv.value) filter (where bv.kind = 'email_domain'), '{}')
    into blocked, blocked_domains, blocked_subdomains
    from customer_management.blocked_values as bv;

    -- The held identifiers (not blocked), each with the account holding the same value
    -- active, if one does (an active identifier is always on a live account: a merge moves
    -- or demotes the merged account's).
    with held as materialized (
        select
            ci.id,
            ci.customer_id,
            ci.type,
            ci.value,
            ci.strength,
            a.customer_id as active_customer_id,
            a.strength as active_strength
        from customer_management.import_held_identifiers as h
        inner join customer_management.customer_identifiers as ci on h.identifier_id = ci.id
        left join customer_management.customer_identifiers as a
            on ci.value = a.value and ci.type = a.type and a.status = 'active'
        where
            ci.status = 'pending'
            and ci.type in ('phone', 'email')
            and ci.value <> all(blocked)
            and (
                ci.type <> 'email'
                or (
                    split_part(ci.value, '@', 2) <> all(blocked_domains)
                    and not split_part(ci.value, '@', 2) like any(blocked_subdomains)
                )
            )
    ),

    -- The ties: a held identifier ties its account to the account holding the value
    -- active, or, when none does, to the first live account holding it held too (that first
    -- one ties nothing itself). A tie is named "type value strength/strength".
    all_ties as materialized (
        select
            h.customer_id as held_id,
            h.active_customer_id as other_id,
            h.type || ' ' || h.value || ' ' || h.strength || '/' || h.active_strength as tie,
            h.strength = h.active_strength as equal
        from held as h
        where h.active_customer_id is not null
        union all
        select
            f.customer_id, f.first_id,
            f.type || ' ' || f.value || ' ' || f.strength || '/' || f.first_strength,
            f.strength = f.first_strength
        from (
            select
                h.customer_id,
                h.type,
                h.value,
                h.strength,
                row_number() over w as n,
                first_value(h.customer_id) over w as first_id,
                first_value(h.strength) over w as first_strength
            from held as h
            inner join public.customers as c on h.customer_id = c.id
            where h.active_customer_id is null and c.merged_into is null
            window w as (partition by h.type, h.value order by h.id)
        ) as f
        where f.n > 1
    ),

    -- The ties that join accounts, numbered.
    ties as materialized (
        select (row_number() over ())::integer as tie_no, t.held_id, t.other_id, t.tie
        from all_ties as t
        where t.equal
    ),

    -- Both ends of every joining tie; the held end carries the tie's name.
    ends as (
        select t.tie_no, t.held_id as customer_id, true as held, t.tie from ties as t
        union all
        select t.tie_no, t.other_id, false, null from ties as t
    ),

    -- The ends with their accounts, in survivor order, each account numbered by its rank in
    -- it (first marks an account's first end). A tie whose held account was merged away
    -- ties nothing: its held end is dropped (its other end then ties no one).
    ranked as (
        select
            e.tie_no,
            e.customer_id,
            e.held,
            e.tie,
            c.auth_user_id is not null as login,
            c.created_at,
            (dense_rank() over w)::integer as node,
            rank() over w = row_number() over w as first
        from ends as e
        inner join public.customers as c on e.customer_id = c.id
        where not e.held or c.merged_into is null
        window w as (order by c.auth_user_id is not null desc, c.created_at, c.id)
    )

    -- Read in survivor order (the order ranked already has: no second sort), so accounts and
    -- logins are indexed by number.
    select
        coalesce(array_agg(r.customer_id) filter (where r.first), '{}'),
        coalesce(array_agg(r.login::integer) filter (where r.first), '{}'),
        coalesce(array_agg(r.node), '{}'),
        coalesce(array_agg(r.tie_no), '{}'),
        coalesce(array_agg(r.node) filter (where r.held), '{}'),
        coalesce(array_agg(r.tie) filter (where r.held), '{}'),
        -- The ties of unequal strengths whose held account is live, each listed on its own.
        (
            select coalesce(array_agg(u.tie order by u.tie, u.held_id), '{}')
            from all_ties as u inner join public.customers as c on u.held_id = c.id
            where not u.equal and c.merged_into is null
        ),
        (
            select coalesce(array_agg(u.held_id order by u.tie, u.held_id), '{}')
            from all_ties as u inner join public.customers as c on u.held_id = c.id
            where not u.equal and c.merged_into is null
        ),
        (
            select coalesce(array_agg(u.other_id order by u.tie, u.held_id), '{}')
            from all_ties as u inner join public.customers as c on u.held_id = c.id
            where not u.equal and c.merged_into is null
        )
    into
        accounts, logins, end_nodes, end_ties, held_nodes, tie_keys, contested_ties,
        contested_held, contested_other
    from (
        select x.* from ranked as x order by x.login desc, x.created_at, x.customer_id
    ) as r;

    -- Union-find over the ends: the first end of a tie seen is its owner, the second is
    -- joined to it. A root is the smallest node of its set, so its survivor; a node's parent
    -- is never larger than itself, so one ascending pass at the end leaves every node on
    -- its root.
    parent := array(select g from generate_series(1, cardinality(accounts)) as g);
    owner := array_fill(0, array[cardinality(end_ties)]);
    for i in 1..cardinality(end_nodes) loop
        t := end_ties[i];
        a := owner[t];
        b := end_nodes[i];
        if a = 0 then
            owner[t] := b;
            continue;
        end if;
        while parent[a] <> a loop
            parent[a] := parent[parent[a]];
            a := parent[a];
        end loop;
        while parent[b] <> b loop
            parent[b] := parent[parent[b]];
            b := parent[b];
        end loop;
        if a < b then
            parent[b] := a;
        elsif b < a then
            parent[a] := b;
        end if;
    end loop;
    for i in 1..cardinality(parent) loop
        parent[i] := parent[parent[i]];
    end loop;


    -- Decisions made earlier (read below only when there are any): kept separate or
    -- escalated conflicts, merges that were undone.
    has_decisions := exists (
        select 1 from customer_management.customer_conflicts as cc
        where cc.status in ('kept_separate', 'escalated')
    ) or exists (select 1 from customer_management.merge_undos as u);

    return query
    -- Each group's members in survivor order: fed sorted by (root, number), so the
    -- aggregate needs no sort of its own per group.
    with members as (
        select
            m.root,
            array_agg(m.customer_id) as member_ids,
            sum(m.login) as login_count
        from (
            select parent[x.node] as root, x.node, x.customer_id, logins[x.node] as login
            from unnest(accounts) with ordinality as x (customer_id, node)
            order by root, x.node
        ) as m
        group by m.root
    ),

    -- Each group's ties, distinct and sorted, the same way.
    tied as (
        select k.root, array_agg(k.tie) as ties
        from (
            select distinct on (root, x.tie) parent[held_nodes[x.tie_no]] as root, x.tie
            from unnest(tie_keys) with ordinality as x (tie, tie_no)
            order by root, x.tie
        ) as k
        group by k.root
    ),

    -- Decisions made earlier about some of a group's accounts: kept separate or escalated
    -- conflicts (two or more of its accounts), merges between them that were undone.
    member_roots as (
        select x.customer_id, parent[x.node] as root
        from unnest(accounts) with ordinality as x (customer_id, node)
        where has_decisions
    ),

    decided as (
        select r.root, cc.status as decision
        from customer_management.customer_conflicts as cc
        cross join lateral unnest(cc.customer_ids) as x (customer_id)
        inner join member_roots as r on x.customer_id = r.customer_id
        where cc.status in ('kept_separate', 'escalated')
        group by r.root, cc.id, cc.status
        having count(*) >= 2
        union
        select s.root, 'undone_before' as decision
        from customer_management.merge_undos as u
        inner join customer_management.merge_log as m on u.merge_id = m.id
        inner join member_roots as s on m.survivor_id = s.customer_id
        inner join member_roots as d on m.merged_id = d.customer_id
        where s.root = d.root
    )

    -- A group is the members and ties of one root (a number in no tie is no group).
    select
        row_number() over (order by m.root),
        case
            when cardinality(m.member_ids) > max_group_size then 'too_large'
            when has_decisions and exists (
                select 1 from decided as d
                where d.root = m.root and d.decision = 'kept_separate'
            ) then 'kept_separate'
            when has_decisions and exists (
                select 1 from decided as d
                where d.root = m.root and d.decision = 'undone_before'
            ) then 'undone_before'
            when has_decisions and exists (
                select 1 from decided as d where d.root = m.root and d.decision = 'escalated'
            ) then 'escalated'
            when m.login_count > 1 then 'conflict'
            else 'merge'
        end,
        case when m.login_count <= 1 then m.member_ids[1] end,
        m.member_ids,
        t.ties
    from members as m
    inner join tied as t on m.root = t.root
    order by m.root;
    get diagnostics group_count = row_count;

    -- Then each contested tie, numbered after the groups: for support, unless these two
    -- accounts were already kept separate.
    return query
    select
        group_count + x.n,
        case when exists (
            select 1 from customer_management.customer_conflicts as cc
            where cc.status = 'kept_separate'
                and cc.customer_ids = (
                    select array_agg(y order by y)
                    from unnest(array[x.held_id, x.other_id]) as y
                )
        ) then 'kept_separate' else 'contested' end,
        null::uuid,
        array[x.held_id, x.other_id],
        array[x.tie]
    from unnest(contested_ties, contested_held, contested_other)
        with ordinality as x (tie, held_id, other_id, n)
    order by x.n;
end;
$$;

comment on function customer_management.dedupe_plan(integer) is
'Groups live accounts that share a phone or email held equally strongly (transitively, '
'blocked values skipped), then lists ties of unequal strengths as contested: members, '
'survivor, tying identifiers with both strengths and what to do. Reads only.';

-- Plans an applying run: the groups of dedupe_plan stored under a new run id, for
-- apply_dedupe_batch to work through. Returns the run id and counts.
create or replace function customer_management.plan_dedupe(max_group_size integer default 10)
returns jsonb
language plpgsql
volatile
set search_path = ''
as $$
declare
    run uuid := gen_random_uuid();
    summary jsonb;
begin
    insert into customer_management.dedupe_groups (
        run_id, group_no, planned, survivor_id, member_ids, ties
    )
    select run, p.group_no, p.planned, p.survivor_id, p.member_ids, p.ties
    from customer_management.dedupe_plan(max_group_size) as p;

    select jsonb_build_object(
        'runId', run,
        'identifiers', coalesce(sum(cardinality(g.ties)), 0),
        'accounts', coalesce(sum(cardinality(g.member_ids)), 0),
        'groups', count(*),
        'planned', jsonb_build_object(
            'merge', count(*) filter (where g.planned = 'merge'),
            'conflict', count(*) filter (where g.planned = 'conflict'),
            'kept_separate', count(*) filter (where g.planned = 'kept_separate'),
            'undone_before', count(*) filter (where g.planned = 'undone_before'),
            'escalated', count(*) filter (where g.planned = 'escalated'),
            'too_large', count(*) filter (where g.planned = 'too_large'),
            'contested', count(*) filter (where g.planned = 'contested')
        ),
        'mergesPlanned', coalesce(
            sum(cardinality(g.member_ids) - 1) filter (where g.planned = 'merge'), 0
        )
    ) into summary
    from customer_management.dedupe_groups as g
    where g.run_id = run;
    return summary;
end;
$$;

comment on function customer_management.plan_dedupe(integer) is
'Stores the groups of dedupe_plan under a new run id for apply_dedupe_batch; returns the '
'run id and counts.';

-- Applies the next groups of a run (in group order) and records what was done: merged
-- (through merge_opened_accounts, as the online path merges), recorded as a conflict
-- (different logins; a contested tie of unequal strengths), or left alone (kept separate,
-- undone before, escalated to support, too large). Accounts merged meanwhile are followed
-- to their survivor. Returns one entry per group.
create or replace function customer_management.apply_dedupe_batch(run uuid, batch_size integer)
returns jsonb
language plpgsql
volatile
set search_path = ''
as $$
declare
    caller customer_management.api_caller := row(session_user::text, null, true);
    grp customer_management.dedupe_groups;
    live uuid[];
    claims customer_management.identifier_claim[];
    group_outcome text;
    group_merge_ids bigint[];
    conflict uuid;
    survivor uuid;
    results jsonb := '[]'::jsonb;
begin
    for grp in
        select * from customer_management.dedupe_groups as d
        where d.run_id = run and d.outcome is null
        order by d.group_no
        limit batch_size
    loop
        group_merge_ids := null;
        conflict := null;
        survivor := null;
        select coalesce(array_agg(distinct x.live_id order by x.live_id), '{}') into live
        from (
            select customer_management.live_customer_id(m.member_id) as live_id
            from unnest(grp.member_ids) as m (member_id)
        ) as x
        where x.live_id is not null;

        if cardinality(live) < 2 then
            group_outcome := 'already_one';
        elsif grp.planned in ('kept_separate', 'undone_before', 'escalated', 'too_large') then
            group_outcome := grp.planned;
        elsif grp.planned = 'contested' or customer_management.choose_survivor(live) is null then
            group_outcome := case when grp.planned = 'contested' then 'contested' else 'conflict' end;
            select cc.id into conflict
            from customer_management.customer_conflicts as cc
            where cc.status in ('open', 'escalated') and cc.customer_ids = live;
            if conflict is null then
                claims := array(
                    select row(
                        split_part(t.tie, ' ', 1),
                        split_part(t.tie, ' ', 2),
                        split_part(t.tie, ' ', 2),
                        true,
                        false
                    )::customer_management.identifier_claim
                    from unnest(grp.ties) as t (tie)
                );
                conflict := customer_management.record_conflict(
                    live, claims, caller, 'dedupe',
                    case when grp.planned = 'contested' then 'contested_identifier'
                        else 'several_accounts' end,
                    array(
                        select ci.id
                        from unnest(claims) as c
                        inner join customer_management.customer_identifiers as ci
                            on c.value = ci.value and c.type = ci.type
                        where ci.customer_id = any(live)
                    )
                );
            end if;
        else
            group_merge_ids := customer_management.merge_opened_accounts(
                live, caller, 'dedupe', 'dedupe'
            );
            if group_merge_ids is null then
                group_outcome := 'merge_blocked';
            else
                group_outcome := 'merged';
                select m.survivor_id into survivor
                from customer_management.merge_log as m where m.id = group_merge_ids[1];
            end if;
        end if;

        update customer_management.dedupe_groups as d
        set outcome = group_outcome,
            merge_ids = group_merge_ids,
            conflict_id = conflict
        where d.run_id = run and d.group_no = grp.group_no;
        results := results || jsonb_build_object(
            'group', grp.group_no,
            'outcome', group_outcome,
            'survivorId', survivor,
            'mergeIds', coalesce(to_jsonb(group_merge_ids), '[]'::jsonb),
            'conflictId', conflict
        );
    end loop;
    return results;
end;
$$;

comment on function customer_management.apply_dedupe_batch(uuid, integer) is
'Merges, flags or skips the next batch_size planned groups of a run; returns what it did '
'for each.';

-- Makes active the held identifiers nothing holds back any more: no account holds the value
-- active (its holder was erased, or it left with a merge) and no other live account holds
-- it (the account then shows it as contact data if it showed none of that type). Also forgets
-- holds on identifiers that became active meanwhile (a merge activates the survivor's
-- pending copy of what the merged account held). Returns how many were activated.
create or replace function customer_management.settle_held_identifiers() returns integer
language plpgsql
volatile
set search_path = ''
as $$
declare
    caller customer_management.api_caller := row(session_user::text, null, true);
    activated_count integer;
begin
    -- A request that makes one of these values active meanwhile wins: this statement then
    -- fails on the unique index of active identifiers, and runs again without that value.
    for attempt in 1 .. 3 loop
        begin
            with held as (
                select
                    ci.id,
                    ci.customer_id,
                    ci.type,
                    ci.value,
                    ci.display_value,
                    count(*) over (partition by ci.type, ci.value) as holders
                from customer_management.import_held_identifiers as h
                inner join customer_management.customer_identifiers as ci on h.identifier_id = ci.id
                inner join public.customers as c on ci.customer_id = c.id
                where ci.status = 'pending' and c.merged_into is null
            ),

            lonely as (
                select h.* from held as h
                where
                    h.holders = 1
                    and not exists (
                        select 1 from customer_management.customer_identifiers as a
                        where a.value = h.value and a.type = h.type and a.status = 'active'
                    )
                    and not customer_management.is_blocked_identifier(h.type, h.value)
            ),

            activated as (
                update customer_management.customer_identifiers as ci
                set status = 'active'
                from lonely as l
                where ci.id = l.id
                returning ci.id, ci.customer_id, ci.type, ci.value, ci.display_value
            ),

            audited as (
                insert into customer_management.audit_log (
                    action, customer_id, actor_role, actor_uid, source, details
                )
                select
                    'link', x.customer_id, caller.role, caller.uid, 'dedupe',
                    jsonb_build_object(
                        'identifier_type', x.type,
                        'identifier', customer_management.identifier_digest(x.type, x.value),
                        'reason', 'import_hold_settled'
                    )
                from activated as x
                returning 1
            )

            -- audited runs to completion whether read or not.
            select count(*) into activated_count from activated;
            exit;
        exception when unique_violation then
            if attempt = 3 then
                raise;
            end if;
        end;
    end loop;

    delete from customer_management.import_held_identifiers as h
    using customer_management.customer_identifiers as ci
    where h.identifier_id = ci.id and ci.status = 'active';
    return activated_count;
end;
$$;

comment on function customer_management.settle_held_identifiers() is
'Activates held imported identifiers no other account holds any more, audits; forgets holds '
'on identifiers that are active. Returns the count.';

-- Ends an applying run: settles held identifiers, drops the run's scratch rows and returns
-- what the run did in total.
create or replace function customer_management.finish_dedupe(run uuid) returns jsonb
language plpgsql
volatile
set search_path = ''
as $$
declare
    activated integer := customer_management.settle_held_identifiers();
    totals jsonb;
begin
    select jsonb_build_object(
        'groups', count(*),
        'outcomes', jsonb_build_object(
            'merged', count(*) filter (where g.outcome = 'merged'),
            'conflict', count(*) filter (where g.outcome = 'conflict'),
            'kept_separate', count(*) filter (where g.outcome = 'kept_separate'),
            'undone_before', count(*) filter (where g.outcome = 'undone_before'),
            'escalated', count(*) filter (where g.outcome = 'escalated'),
            'too_large', count(*) filter (where g.outcome = 'too_large'),
            'already_one', count(*) filter (where g.outcome = 'already_one'),
            'merge_blocked', count(*) filter (where g.outcome = 'merge_blocked'),
            'contested', count(*) filter (where g.outcome = 'contested')
        ),
        'merges', coalesce(sum(cardinality(g.merge_ids)), 0),
        'identifiersActivated', activated
    ) into totals
    from customer_management.dedupe_groups as g
    where g.run_id = run;
    delete from customer_management.dedupe_groups as g where g.run_id = run;
    perform pg_catalog.pg_advisory_unlock(
        pg_catalog.hashtextextended('customer_management:dedupe', 0)
    );
    return totals;
end;
$$;

comment on function customer_management.finish_dedupe(uuid) is
'Ends an applying dedupe run: settles held identifiers, clears its scratch rows, releases '
'the run lock; returns totals.';
