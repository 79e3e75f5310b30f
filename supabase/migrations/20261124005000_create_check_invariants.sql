-- The kit's promises about its own data, checked in one call. After a crash, a restore, a
-- hand edit or an upgrade, a DBA runs `select * from customer_management.check_invariants()`:
-- one row per violation (which invariant, which rows), none when every promise holds. The
-- invariants, each a query below (docs/reliability.md explains them for operators):
--
--  1 identifier_active_on_tombstone: an active identifier belongs to a live account (a
--    merge moves or demotes every active identifier of the account it merges).
--  2 identifier_active_twice: a (value, type) is active on at most one row (the unique
--    index's promise, checked without trusting the index).
--  3 merge_chain_broken: every tombstone's merged_into leads, through tombstones, to a
--    live account (merged_into null), without a cycle.
--  4 tombstone_unexplained: every tombstone has exactly one merge-log row not undone that
--    merged it (merged_id = the tombstone), and its survivor is the tombstone's merged_into.
--  5 merge_not_in_effect: every merge not undone still holds: its merged account is a
--    tombstone pointing at its survivor, or both accounts were erased together.
--  6 undone_merge_not_restored: every undo names a merge of the log (and a cascade an
--    undone merge), and left both accounts live again, unless a later merge, not undone,
--    merged one of them since.
--  7 account_lost: an account the merge log or the audit names still exists, unless an
--    erasure entry lists it (erasure is the only way the kit deletes an account).
--  8 erased_account_present: an account an erasure entry lists is gone.
--  9 order_orphaned: every order belongs to an existing account (live or tombstone), or
--    has no customer and customer_erased_at set.
-- 10 order_lost: every order a merge moved still exists.
-- 11 order_misplaced: every order a merge moved is with the person the merges left it
--    with: on the chain of the survivor of the latest standing merge that moved it, or,
--    when every merge that moved it was undone, on the chain of its first owner (the
--    merged account of the first of them).
-- 12 identifier_misplaced: the same for the identifier rows a merge moved (those that
--    still exist: erasure and claim expiry delete identifiers).
-- 13 merge_audit_mismatch: each merge-log row has exactly one audit 'merge' entry (same
--    merge_log_id and accounts), and each such entry a merge-log row.
-- 14 undo_audit_mismatch: the same between merge_undos and audit 'undo' entries.
-- 15 erasure_audit_mismatch: as many 'erased' outbox events as audit 'erasure' entries
--    list each set of accounts (one of each, unless 19 is violated too).
-- 16 merge_event_mismatch: each merge-log row has exactly one 'merged' outbox event (same
--    merge_id, customer_ids = survivor, merged), and each such event a merge-log row.
-- 17 undo_event_mismatch: the same between merge_undos and 'merge_undone' events.
-- 18 undo_skipped_later_merge: no merge was undone while a later merge of one of its
--    accounts stood (undo_merge refuses that, or undoes the later one first). Merges and
--    undos of the same accounts are serialised by row locks, so their audit entries' ids
--    tell which came first.
-- 19 erasure_repeated: no account is listed by two erasure entries (a second erasure of
--    the same account erased nothing, yet says it did).
--
-- Read-only and STABLE: every query sees the same snapshot, so it may run on a live
-- database and reports a consistent state. It scans the kit's tables (the audit log and
-- orders in full): run it off-peak on a large database.

create function customer_management.check_invariants()
returns table (invariant text, details jsonb)
language plpgsql
stable
set search_path = ''
as $$
begin
    -- 1: active identifiers on tombstones.
    return query
    select 'identifier_active_on_tombstone'::text, jsonb_build_object(
        'identifierId', ci.id, 'type', ci.type, 'customerId', ci.customer_id,
        'mergedInto', c.merged_into
    )
    from customer_management.customer_identifiers as ci
    inner join public.customers as c on ci.customer_id = c.id
    where ci.status = 'active' and c.merged_into is not null
    order by ci.id;

    -- 2: one (value, type) active on several rows (values are not shown: personal data).
    return query
    select 'identifier_active_twice'::text, jsonb_build_object(
        'type', ci.type,
        'identifierIds', jsonb_agg(ci.id order by ci.id),
        'customerIds', jsonb_agg(ci.customer_id order by ci.id)
    )
    from customer_management.customer_identifiers as ci
    where ci.status = 'active'
    group by ci.type, ci.value
    having count(*) > 1
    order by min(ci.id);

    -- 3: tombstones not reached by walking merged_into back from the live accounts.
    return query
    with recursive reached as (
        select c.id from public.customers as c where c.merged_into is null
        union all
        select t.id from public.customers as t
        inner join reached as r on t.merged_into = r.id
    )
    select 'merge_chain_broken'::text, jsonb_build_object(
        'customerId', t.id, 'mergedInto', t.merged_into
    )
    from public.customers as t
    where t.merged_into is not null
        and not exists (select 1 from reached as r where r.id = t.id)
    order by t.id;

    -- 4: tombstones without exactly one standing merge that made them.
    return query
    select 'tombstone_unexplained'::text, jsonb_build_object(
        'customerId', t.id, 'mergedInto', t.merged_into, 'standingMergeIds', e.ids
    )
    from public.customers as t
    cross join lateral (
        select
            coalesce(jsonb_agg(m.id order by m.id), '[]'::jsonb) as ids,
            count(*) as standing,
            coalesce(bool_and(m.survivor_id = t.merged_into), false) as right_survivor
        from customer_management.merge_log as m
        where m.merged_id = t.id
            and not exists (
                select 1 from customer_management.merge_undos as u where u.merge_id = m.id
            )
    ) as e
    where t.merged_into is not null and (e.standing <> 1 or not e.right_survivor)
    order by t.id;

    -- 5: standing merges whose merged account is not (or no longer) their tombstone.
    return query
    select 'merge_not_in_effect'::text, jsonb_build_object(
        'mergeId', m.id, 'survivorId', m.survivor_id, 'mergedId', m.merged_id,
        'survivorExists', s.id is not null, 'mergedExists', x.id is not null,
        'mergedInto', x.merged_into
    )
    from customer_management.merge_log as m
    left join public.customers as s on m.survivor_id = s.id
    left join public.customers as x on m.merged_id = x.id
    where not exists (
        select 1 from customer_management.merge_undos as u where u.merge_id = m.id
    )
        and (
            (s.id is null) <> (x.id is null)
            or (x.id is not null and x.merged_into is distinct from m.survivor_id)
        )
    order by m.id;

    -- 6: undos of unknown merges, cascades from merges not undone, and undone merges whose
    -- accounts are tombstones that no later standing merge explains.
    return query
    select 'undone_merge_not_restored'::text, jsonb_build_object(
        'mergeId', u.merge_id, 'problem', 'no such merge in the merge log'
    )
    from customer_management.merge_undos as u
    where not exists (
        select 1 from customer_management.merge_log as m where m.id = u.merge_id
    )
    union all
    select 'undone_merge_not_restored'::text, jsonb_build_object(
        'mergeId', u.merge_id, 'cascadedFrom', u.cascaded_from,
        'problem', 'cascaded from a merge that was not undone'
    )
    from customer_management.merge_undos as u
    where u.cascaded_from is not null
        and not exists (
            select 1 from customer_management.merge_undos as f
            where f.merge_id = u.cascaded_from
        )
    union all
    select 'undone_merge_not_restored'::text, jsonb_build_object(
        'mergeId', m.id, 'customerId', c.id, 'mergedInto', c.merged_into,
        'problem', 'account still merged'
    )
    from customer_management.merge_undos as u
    inner join customer_management.merge_log as m on u.merge_id = m.id
    cross join lateral (values (m.survivor_id), (m.merged_id)) as a (customer_id)
    inner join public.customers as c on a.customer_id = c.id
    where c.merged_into is not null
        and not exists (
            select 1 from customer_management.merge_log as l
            where l.merged_id = c.id and l.id > m.id
                and not exists (
                    select 1 from customer_management.merge_undos as lu
                    where lu.merge_id = l.id
                )
        );

    -- 7: accounts the trail names that are gone without an erasure.
    return query
    with erased as (
        select distinct e.id
        from customer_management.audit_log as a
        cross join lateral jsonb_array_elements_text(
            case when jsonb_typeof(a.details -> 'accounts') = 'array'
                then a.details -> 'accounts' else '[]'::jsonb end
        ) as e (id)
        where a.action = 'erasure'
    ),
    named as (
        select m.survivor_id as customer_id, m.id as merge_id, null::bigint as audit_id
        from customer_management.merge_log as m
        union all
        select m.merged_id, m.id, null from customer_management.merge_log as m
        union all
        select a.customer_id, null, a.id from customer_management.audit_log as a
        where a.action <> 'erasure' and a.customer_id is not null
        union all
        select a.related_customer_id, null, a.id from customer_management.audit_log as a
        where a.action <> 'erasure' and a.related_customer_id is not null
    )
    select 'account_lost'::text, jsonb_build_object(
        'customerId', n.customer_id,
        'mergeIds', coalesce(
            jsonb_agg(distinct n.merge_id) filter (where n.merge_id is not null), '[]'::jsonb
        ),
        'auditEntries', count(n.audit_id),
        'firstAuditId', min(n.audit_id)
    )
    from named as n
    where not exists (select 1 from public.customers as c where c.id = n.customer_id)
        and not exists (select 1 from erased as e where e.id = n.customer_id::text)
    group by n.customer_id
    order by n.customer_id;

    -- 8: erasure entries whose accounts are still there.
    return query
    select 'erased_account_present'::text, jsonb_build_object(
        'auditId', a.id, 'customerId', c.id
    )
    from customer_management.audit_log as a
    cross join lateral jsonb_array_elements_text(
        case when jsonb_typeof(a.details -> 'accounts') = 'array'
            then a.details -> 'accounts' else '[]'::jsonb end
    ) as e (id)
    inner join public.customers as c on e.id = c.id::text
    where a.action = 'erasure'
    order by a.id, c.id;

    -- 9: orders without an account, or without a customer and not erased.
    return query
    select 'order_orphaned'::text, jsonb_build_object(
        'orderId', o.id, 'customerId', o.customer_id, 'customerErasedAt', o.customer_erased_at
    )
    from public.orders as o
    where (o.customer_id is null and o.customer_erased_at is null)
        or (
            o.customer_id is not null
            and not exists (select 1 from public.customers as c where c.id = o.customer_id)
        )
    order by o.id;

    -- 10: orders a merge moved that no longer exist.
    return query
    select 'order_lost'::text, jsonb_build_object('orderId', x.order_id, 'mergeId', m.id)
    from customer_management.merge_log as m
    cross join lateral unnest(m.moved_order_ids) as x (order_id)
    where not exists (select 1 from public.orders as o where o.id = x.order_id)
    order by m.id, x.order_id;

    -- 11: orders a merge moved that are with another person than the merges left them.
    return query
    with moves as (
        select
            x.order_id,
            m.id as merge_id,
            m.survivor_id,
            m.merged_id,
            not exists (
                select 1 from customer_management.merge_undos as u where u.merge_id = m.id
            ) as standing
        from customer_management.merge_log as m
        cross join lateral unnest(m.moved_order_ids) as x (order_id)
    ),
    placed as (
        select
            v.order_id,
            (array_agg(v.merge_id order by v.merge_id desc) filter (where v.standing))[1]
            as standing_merge,
            coalesce(
                (array_agg(v.survivor_id order by v.merge_id desc) filter (where v.standing))[1],
                (array_agg(v.merged_id order by v.merge_id))[1]
            ) as expected
        from moves as v
        group by v.order_id
    )
    select 'order_misplaced'::text, jsonb_build_object(
        'orderId', o.id, 'customerId', o.customer_id, 'expectedWith', p.expected,
        'standingMergeId', p.standing_merge
    )
    from placed as p
    inner join public.orders as o on p.order_id = o.id
    where o.customer_id is not null
        and customer_management.live_customer_id(o.customer_id)
        is distinct from customer_management.live_customer_id(p.expected)
    order by o.id;

    -- 12: identifier rows a merge moved that are with another person than the merges left
    -- them.
    return query
    with moves as (
        select
            x.identifier_id,
            m.id as merge_id,
            m.survivor_id,
            m.merged_id,
            not exists (
                select 1 from customer_management.merge_undos as u where u.merge_id = m.id
            ) as standing
        from customer_management.merge_log as m
        cross join lateral unnest(m.moved_identifier_ids) as x (identifier_id)
    ),
    placed as (
        select
            v.identifier_id,
            (array_agg(v.merge_id order by v.merge_id desc) filter (where v.standing))[1]
            as standing_merge,
            coalesce(
                (array_agg(v.survivor_id order by v.merge_id desc) filter (where v.standing))[1],
                (array_agg(v.merged_id order by v.merge_id))[1]
            ) as expected
        from moves as v
        group by v.identifier_id
    )
    select 'identifier_misplaced'::text, jsonb_build_object(
        'identifierId', ci.id, 'type', ci.type, 'customerId', ci.customer_id,
        'expectedWith', p.expected, 'standingMergeId', p.standing_merge
    )
    from placed as p
    inner join customer_management.customer_identifiers as ci on p.identifier_id = ci.id
    where customer_management.live_customer_id(ci.customer_id)
        is distinct from customer_management.live_customer_id(p.expected)
    order by ci.id;

    -- 13: merges and their audit entries, both ways.
    return query
    select 'merge_audit_mismatch'::text, jsonb_build_object(
        'mergeId', m.id, 'auditEntries', count(a.id)
    )
    from customer_management.merge_log as m
    left join customer_management.audit_log as a
        on a.action = 'merge'
        and a.details ->> 'merge_log_id' = m.id::text
        and a.customer_id = m.survivor_id
        and a.related_customer_id = m.merged_id
    group by m.id
    having count(a.id) <> 1
    union all
    select 'merge_audit_mismatch'::text, jsonb_build_object(
        'auditId', a.id, 'mergeId', a.details -> 'merge_log_id',
        'problem', 'no such merge in the merge log'
    )
    from customer_management.audit_log as a
    where a.action = 'merge'
        and not exists (
            select 1 from customer_management.merge_log as m
            where a.details ->> 'merge_log_id' = m.id::text
                and a.customer_id = m.survivor_id
                and a.related_customer_id = m.merged_id
        );

    -- 14: undos and their audit entries, both ways.
    return query
    select 'undo_audit_mismatch'::text, jsonb_build_object(
        'mergeId', u.merge_id, 'auditEntries', count(a.id)
    )
    from customer_management.merge_undos as u
    left join customer_management.audit_log as a
        on a.action = 'undo' and a.details ->> 'merge_log_id' = u.merge_id::text
    group by u.merge_id
    having count(a.id) <> 1
    union all
    select 'undo_audit_mismatch'::text, jsonb_build_object(
        'auditId', a.id, 'mergeId', a.details -> 'merge_log_id',
        'problem', 'no such undo in merge_undos'
    )
    from customer_management.audit_log as a
    where a.action = 'undo'
        and not exists (
            select 1 from customer_management.merge_undos as u
            where a.details ->> 'merge_log_id' = u.merge_id::text
        );

    -- 15: erasures: outbox events and audit entries, matched by the accounts they list.
    return query
    with entries as (
        select a.id, (
            select array_agg(x.id order by x.id)
            from jsonb_array_elements_text(
                case when jsonb_typeof(a.details -> 'accounts') = 'array'
                    then a.details -> 'accounts' else '[]'::jsonb end
            ) as x (id)
        ) as accounts
        from customer_management.audit_log as a
        where a.action = 'erasure'
    ),
    events as (
        select e.id, (
            select array_agg(x.id::text order by x.id::text)
            from unnest(e.customer_ids) as x (id)
        ) as accounts
        from public.customer_events as e
        where e.event = 'erased'
    ),
    keyed as (
        select coalesce(n.accounts, v.accounts) as accounts, n.id as audit_id, v.id as event_id
        from entries as n
        full join events as v on n.accounts = v.accounts
    )
    select 'erasure_audit_mismatch'::text, jsonb_build_object(
        'customerIds', to_jsonb(k.accounts),
        'auditIds', coalesce(
            jsonb_agg(distinct k.audit_id) filter (where k.audit_id is not null), '[]'::jsonb
        ),
        'eventIds', coalesce(
            jsonb_agg(distinct k.event_id) filter (where k.event_id is not null), '[]'::jsonb
        )
    )
    from keyed as k
    group by k.accounts
    having count(distinct k.audit_id) <> count(distinct k.event_id);

    -- 16: merges and their outbox events, both ways.
    return query
    select 'merge_event_mismatch'::text, jsonb_build_object(
        'mergeId', m.id, 'events', count(e.id)
    )
    from customer_management.merge_log as m
    left join public.customer_events as e
        on e.event = 'merged' and e.merge_id = m.id
        and e.customer_ids = array[m.survivor_id, m.merged_id]
    group by m.id
    having count(e.id) <> 1
    union all
    select 'merge_event_mismatch'::text, jsonb_build_object(
        'eventId', e.id, 'mergeId', e.merge_id, 'problem', 'no such merge in the merge log'
    )
    from public.customer_events as e
    where e.event = 'merged'
        and not exists (
            select 1 from customer_management.merge_log as m
            where m.id = e.merge_id and e.customer_ids = array[m.survivor_id, m.merged_id]
        );

    -- 17: undos and their outbox events, both ways.
    return query
    select 'undo_event_mismatch'::text, jsonb_build_object(
        'mergeId', u.merge_id, 'events', count(e.id)
    )
    from customer_management.merge_undos as u
    left join customer_management.merge_log as m on u.merge_id = m.id
    left join public.customer_events as e
        on e.event = 'merge_undone' and e.merge_id = u.merge_id
        and e.customer_ids = array[m.survivor_id, m.merged_id]
    group by u.merge_id
    having count(e.id) <> 1
    union all
    select 'undo_event_mismatch'::text, jsonb_build_object(
        'eventId', e.id, 'mergeId', e.merge_id, 'problem', 'no such undo in merge_undos'
    )
    from public.customer_events as e
    where e.event = 'merge_undone'
        and not exists (
            select 1
            from customer_management.merge_undos as u
            inner join customer_management.merge_log as m on u.merge_id = m.id
            where u.merge_id = e.merge_id
                and e.customer_ids = array[m.survivor_id, m.merged_id]
        );

    -- 18: undos done over a later merge of the same accounts that was still standing.
    return query
    with audited as (
        select a.action, (a.details ->> 'merge_log_id')::bigint as merge_id, min(a.id) as id
        from customer_management.audit_log as a
        where a.action in ('merge', 'undo') and a.details ->> 'merge_log_id' ~ '^[0-9]{1,18}$'
        group by a.action, (a.details ->> 'merge_log_id')::bigint
    )
    select 'undo_skipped_later_merge'::text, jsonb_build_object(
        'mergeId', m.id, 'laterMergeId', l.id, 'undoAuditId', u.id, 'laterMergeAuditId', la.id
    )
    from customer_management.merge_log as m
    inner join audited as u on u.action = 'undo' and m.id = u.merge_id
    inner join customer_management.merge_log as l
        on
            l.id > m.id
            and (
                l.survivor_id in (m.survivor_id, m.merged_id)
                or l.merged_id in (m.survivor_id, m.merged_id)
            )
    inner join audited as la on la.action = 'merge' and l.id = la.merge_id and la.id < u.id
    where not exists (
        select 1 from audited as lu
        where lu.action = 'undo' and lu.merge_id = l.id and lu.id < u.id
    )
    order by m.id, l.id;

    -- 19: accounts erased twice.
    return query
    select 'erasure_repeated'::text, jsonb_build_object(
        'customerId', e.id, 'auditIds', jsonb_agg(a.id order by a.id)
    )
    from customer_management.audit_log as a
    cross join lateral jsonb_array_elements_text(
        case when jsonb_typeof(a.details -> 'accounts') = 'array'
            then a.details -> 'accounts' else '[]'::jsonb end
    ) as e (id)
    where a.action = 'erasure'
    group by e.id
    having count(*) > 1
    order by e.id;
end;
$$;

comment on function customer_management.check_invariants() is
'One row per violated promise of the kit''s data (which invariant, which rows), none when '
'all hold: identifiers, merge chains, merge log and undos, accounts, orders, audit and '
'outbox agree. For DBAs; see docs/reliability.md.';

revoke all on function customer_management.check_invariants()
from public, anon, authenticated, service_role;
