-- How well resolution works, one metric per row: merges and the share undone; resolved
-- conflicts and their average age at resolution, by how they ended; phones and emails the
-- channels stored unverified, and the share verified since; orders by the channels their
-- account was seen on (none: imported and not seen since; erased: the customer was erased).
with merge_totals as (
    select
        count(*) as merge_count,
        count(u.merge_id) as undone
    from customer_management.merge_log as m
    left join customer_management.merge_undos as u on m.id = u.merge_id
),

resolved as (
    select
        cc.status,
        count(*) as conflicts,
        avg(extract(epoch from cc.resolved_at - cc.created_at) / 3600) as avg_hours
    from customer_management.customer_conflicts as cc
    where cc.status in ('merged', 'kept_separate', 'outdated')
    group by cc.status
),

claims as (
    select
        count(*) as claimed,
        count(*) filter (where i.verified_at > i.created_at) as verified_later
    from customer_management.customer_identifiers as i
    where
        i.source in ('chatbot', 'webapp')
        and i.type in ('phone', 'email')
        and (i.verified_at is null or i.verified_at > i.created_at)
),

orders_by_channel as (
    select
        case
            when o.customer_id is null then 'erased'
            when cardinality(c.channels) = 0 then 'none'
            else array_to_string(c.channels, '+')
        end as channel,
        count(*) as orders
    from public.orders as o
    left join customer_management.customer_channels as c on o.customer_id = c.customer_id
    group by
        case
            when o.customer_id is null then 'erased'
            when cardinality(c.channels) = 0 then 'none'
            else array_to_string(c.channels, '+')
        end
)

select
    r.metric,
    r.dimension,
    r.value
from (
    select
        1 as position,
        'merges' as metric,
        'all' as dimension,
        m.merge_count::numeric as value
    from merge_totals as m
    union all
    select
        2 as position,
        'undone_merges' as metric,
        'all' as dimension,
        m.undone::numeric as value
    from merge_totals as m
    union all
    select
        3 as position,
        'undo_rate_percent' as metric,
        'all' as dimension,
        coalesce(round(100.0 * m.undone / nullif(m.merge_count, 0), 2), 0) as value
    from merge_totals as m
    union all
    select
        4 as position,
        'conflicts_resolved' as metric,
        r.status as dimension,
        r.conflicts::numeric as value
    from resolved as r
    union all
    select
        5 as position,
        'hours_to_resolution_avg' as metric,
        r.status as dimension,
        round(r.avg_hours, 2) as value
    from resolved as r
    union all
    select
        6 as position,
        'claims_stored_unverified' as metric,
        'all' as dimension,
        cl.claimed::numeric as value
    from claims as cl
    union all
    select
        7 as position,
        'claims_verified_later' as metric,
        'all' as dimension,
        cl.verified_later::numeric as value
    from claims as cl
    union all
    select
        8 as position,
        'claims_verified_percent' as metric,
        'all' as dimension,
        coalesce(round(100.0 * cl.verified_later / nullif(cl.claimed, 0), 2), 0) as value
    from claims as cl
    union all
    select
        9 as position,
        'orders' as metric,
        ob.channel as dimension,
        ob.orders::numeric as value
    from orders_by_channel as ob
) as r
order by r.position asc, r.dimension asc
