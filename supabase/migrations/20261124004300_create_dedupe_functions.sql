-- Batch deduplication ("run account merge process manually", done right): groups of live
-- accounts that share a normalised phone or email, transitively, merged the way the online
-- path merges them. `customer-management dedupe` drives these functions: dedupe_plan finds
-- the groups and writes nothing (the dry run reads it); an applying run stores them with
-- plan_dedupe, apply_dedupe_batch merges a few groups per transaction through
-- merge_opened_accounts (merge log, undo data, audit, events), and finish_dedupe settles
-- what is left. Groups whose accounts belong to different logins are never merged: they
-- become conflicts.
--
-- Active identifiers are unique, so two live accounts share one only when an import held
-- it back (import_held_identifiers): the groups are found from those, without reading the
-- whole identifier table.

-- Whether a normalised identifier is blocked now (blocked_values may have grown since it
-- was stored): such a value ties no accounts together.
create function customer_management.is_blocked_identifier(
    identifier_type text, identifier_value text
) returns boolean
language plpgsql
stable
set search_path = ''
as $$
declare
    email_domain text := split_part(identifier_value, '@', 2);
begin
    return exists (
        select 1 from customer_management.blocked_values as b
        where
            (b.kind in ('any', identifier_type) and b.value = identifier_value)
            or (
                identifier_type = 'email' and b.kind = 'email_domain'
                and (email_domain = b.value or email_domain like '%.' || b.value)
            )
    );
end;
$$;

comment on function customer_management.is_blocked_identifier(text, text) is
'True when a stored phone or email is now a blocked value (it then ties no accounts).';

revoke all on function customer_management.is_blocked_identifier(text, text)
from public, anon, authenticated, service_role;

-- Finds the groups. One query finds the shared identifiers and their live holders and
-- numbers the holders in survivor order (choose_survivor's rule: the auth-linked account,
-- else the oldest, then by id); union-find joins the holders of each identifier, keeping
-- the smallest number as a set's root, so a group's root is its survivor (unless two of
-- its accounts have logins: then it has none and becomes a conflict). Near-linear, one
-- pass. Returns the groups in survivor order, with what to do with each; it only reads, so
-- a dry run changes nothing.
create function customer_management.dedupe_plan(max_group_size integer default 10)
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
as $$
declare
    edges integer[];
    tie_keys text[];
    accounts uuid[];
    logins integer[];
    parent integer[];
    node_count integer;
    blocked text[];
    blocked_domains text[];
    blocked_subdomains text[];
    a integer;
    b integer;
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

    -- The held identifiers of live accounts (not blocked). Each ties its account to the
    -- account holding the same value active (an active identifier is always on a live
    -- account: a merge moves or demotes the merged account's), or, when none does, to the
    -- first account holding it held too. The tying identifier is named by that active row,
    -- or that first held row. The accounts are numbered in survivor order.
    with held as materialized (
        select
            ci.id,
            ci.customer_id,
            ci.type,
            ci.value,
            c.created_at,
            c.auth_user_id is not null as login,
            a.id as active_id,
            a.customer_id as active_customer_id
        from customer_management.import_held_identifiers as h
        inner join customer_management.customer_identifiers as ci on h.identifier_id = ci.id
        inner join public.customers as c on ci.customer_id = c.id
        left join customer_management.customer_identifiers as a
            on ci.value = a.value and ci.type = a.type and a.status = 'active'
        where
            ci.status = 'pending'
            and ci.type in ('phone', 'email')
            and c.merged_into is null
            and ci.value <> all(blocked)
            and (
                ci.type <> 'email'
                or (
                    split_part(ci.value, '@', 2) <> all(blocked_domains)
                    and not split_part(ci.value, '@', 2) like any(blocked_subdomains)
                )
            )
    ),

    ties as materialized (
        select
            h.customer_id as held_id,
            h.created_at as held_created,
            h.login as held_login,
            h.active_customer_id as other_id,
            o.created_at as other_created,
            o.auth_user_id is not null as other_login,
            h.type || ' ' || h.value as tie
        from held as h
        inner join public.customers as o on h.active_customer_id = o.id
        union all
        select
            r.customer_id,
            r.created_at,
            r.login,
            f.customer_id,
            f.created_at,
            f.login,
            f.type || ' ' || f.value
        from (
            select
                h.id,
                h.customer_id,
                h.created_at,
                h.login,
                min(h.id) over (partition by h.type, h.value) as first_id
            from held as h
            where h.active_id is null
        ) as r
        inner join held as f on r.first_id = f.id
        where r.id <> r.first_id
    ),

    numbered_ties as materialized (
        select (row_number() over ())::integer as tie_no, t.* from ties as t
    ),

    -- Both ends of every tie, each account numbered by its rank in survivor order.
    ends as materialized (
        select
            e.tie_no,
            e.side,
            e.customer_id,
            e.login,
            e.tie,
            dense_rank() over (
                order by e.login desc, e.created_at, e.customer_id
            )::integer as node
        from (
            select
                t.tie_no,
                0 as side,
                t.held_id as customer_id,
                t.held_created as created_at,
                t.held_login as login,
                t.tie
            from numbered_ties as t
            union all
            select t.tie_no, 1, t.other_id, t.other_created, t.other_login, t.tie
            from numbered_ties as t
        ) as e
    ),

    nodes as (
        select distinct on (e.node) e.node, e.customer_id, e.login
        from ends as e
        order by e.node
    )

    select
        (select coalesce(array_agg(e.node order by e.tie_no, e.side), '{}') from ends as e),
        (
            select coalesce(array_agg(e.tie order by e.tie_no), '{}')
            from ends as e where e.side = 0
        ),
        n.accounts,
        n.logins
    into edges, tie_keys, accounts, logins
    from (
        select
            coalesce(array_agg(d.customer_id order by d.node), '{}') as accounts,
            coalesce(array_agg(d.login::integer order by d.node), '{}') as logins
        from nodes as d
    ) as n;

    -- Union-find: a root is the smallest node of its set, so its survivor; a node's parent
    -- is never larger than itself, so one ascending pass at the end leaves every node on
    -- its root.
    node_count := cardinality(accounts);
    parent := array(select g from generate_series(1, node_count) as g);
    for i in 1..cardinality(tie_keys) loop
        a := edges[2 * i - 1];
        while parent[a] <> a loop
            parent[a] := parent[parent[a]];
            a := parent[a];
        end loop;
        b := edges[2 * i];
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
    for i in 1..node_count loop
        parent[i] := parent[parent[i]];
    end loop;

    return query
    with members as (
        select
            parent[m.node] as root,
            array_agg(m.customer_id order by m.node) as member_ids,
            sum(logins[m.node]) as login_count
        from unnest(accounts) with ordinality as m (customer_id, node)
        group by parent[m.node]
    ),

    tied as (
        select
            parent[edges[2 * k.tie_no - 1]] as root,
            array_agg(distinct k.tie order by k.tie) as ties
        from unnest(tie_keys) with ordinality as k (tie, tie_no)
        group by parent[edges[2 * k.tie_no - 1]]
    ),

    -- Decisions made earlier about some of a group's accounts: kept separate or escalated
    -- conflicts (two or more of its accounts), merges between them that were undone.
    member_roots as (
        select x.customer_id, parent[x.node] as root
        from unnest(accounts) with ordinality as x (customer_id, node)
        where
            exists (select 1 from customer_management.customer_conflicts as cc
                where cc.status in ('kept_separate', 'escalated'))
            or exists (select 1 from customer_management.merge_undos as u)
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

    select
        row_number() over (order by m.root),
        case
            when cardinality(m.member_ids) > max_group_size then 'too_large'
            when exists (
                select 1 from decided as d
                where d.root = m.root and d.decision = 'kept_separate'
            ) then 'kept_separate'
            when exists (
                select 1 from decided as d
                where d.root = m.root and d.decision = 'undone_before'
            ) then 'undone_before'
            when exists (
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

end;
$$;

comment on function customer_management.dedupe_plan(integer) is
'Groups live accounts that share a phone or email (transitively, blocked values skipped): '
'each group''s members, survivor, tying identifiers and what to do. Reads only.';

revoke all on function customer_management.dedupe_plan(integer)
from public, anon, authenticated, service_role;

-- Plans an applying run: the groups of dedupe_plan stored under a new run id, for
-- apply_dedupe_batch to work through. Returns the run id and counts.
create function customer_management.plan_dedupe(max_group_size integer default 10)
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
            'too_large', count(*) filter (where g.planned = 'too_large')
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

revoke all on function customer_management.plan_dedupe(integer)
from public, anon, authenticated, service_role;

-- Applies the next groups of a run (in group order) and records what was done: merged
-- (through merge_opened_accounts, as the online path merges), recorded as a conflict
-- (different logins), or left alone (kept separate, undone before, escalated to support,
-- too large). Accounts merged meanwhile are followed to their survivor. Returns one entry
-- per group.
create function customer_management.apply_dedupe_batch(run uuid, batch_size integer)
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
        elsif customer_management.choose_survivor(live) is null then
            group_outcome := 'conflict';
            select cc.id into conflict
            from customer_management.customer_conflicts as cc
            where cc.status in ('open', 'escalated') and cc.customer_ids = live;
            if conflict is null then
                claims := array(
                    select row(
                        split_part(t.tie, ' ', 1),
                        substr(t.tie, strpos(t.tie, ' ') + 1),
                        substr(t.tie, strpos(t.tie, ' ') + 1),
                        true,
                        false
                    )::customer_management.identifier_claim
                    from unnest(grp.ties) as t (tie)
                );
                conflict := customer_management.record_conflict(live, claims, caller, 'dedupe');
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

revoke all on function customer_management.apply_dedupe_batch(uuid, integer)
from public, anon, authenticated, service_role;

-- Makes active the held identifiers nothing holds back any more: no account holds the value
-- active (its holder was erased, or it left with a merge) and no other live account holds
-- it. The account shows it as contact data if it showed none of that type. Also forgets
-- holds on identifiers that became active meanwhile (a merge activates the survivor's
-- pending copy of what the merged account held). Returns how many were activated.
create function customer_management.settle_held_identifiers() returns integer
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

            shown as (
                update public.customers as c
                set
                    phone = coalesce(c.phone, a.phone),
                    email = coalesce(c.email, a.email),
                    updated_at = now()
                from (
                    select
                        x.customer_id,
                        min(x.display_value) filter (where x.type = 'phone') as phone,
                        min(x.display_value) filter (where x.type = 'email') as email
                    from activated as x
                    group by x.customer_id
                ) as a
                where c.id = a.customer_id
                returning c.id
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

            -- shown and audited run to completion whether read or not.
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
'Activates held imported identifiers no other account holds any more, shows them as '
'contact data, audits; forgets holds on identifiers that are active. Returns the count.';

revoke all on function customer_management.settle_held_identifiers()
from public, anon, authenticated, service_role;

-- One applying run at a time: a session lock, held until the run's connection ends, and
-- the scratch rows any earlier, interrupted run left behind are cleared.
create function customer_management.start_dedupe() returns void
language plpgsql
volatile
set search_path = ''
as $$
begin
    perform pg_catalog.pg_advisory_lock(
        pg_catalog.hashtextextended('customer_management:dedupe', 0)
    );
    delete from customer_management.dedupe_groups;
end;
$$;

comment on function customer_management.start_dedupe() is
'Waits for any other applying dedupe run (session lock), then clears stale scratch rows.';

revoke all on function customer_management.start_dedupe()
from public, anon, authenticated, service_role;

-- Ends an applying run: settles held identifiers, drops the run's scratch rows and returns
-- what the run did in total.
create function customer_management.finish_dedupe(run uuid) returns jsonb
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
            'merge_blocked', count(*) filter (where g.outcome = 'merge_blocked')
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

revoke all on function customer_management.finish_dedupe(uuid)
from public, anon, authenticated, service_role;
