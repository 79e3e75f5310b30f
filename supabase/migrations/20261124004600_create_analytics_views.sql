-- The analytics views (the guide's monitoring queries and the kit's own), in the schema
-- analytics, for the role analyst. security_invoker: each runs with the reader's rights,
-- so the analyst's column grants and policies (previous migration) are what it reads. The
-- same queries are in sql/analytics/*.sql, to run by hand.

-- Customers by account sources (the guide's customer journey query): how many live
-- accounts were seen on each combination of channels, and on how many channels on average.
-- An imported account nobody has used since shows no channel ([]).
create view analytics.customer_journey with (security_invoker = true) as
select
    to_jsonb(c.channels) as sources,
    count(*) as customer_count,
    round(avg(cardinality(c.channels)), 2) as avg_platforms
from customer_management.customer_channels as c
where c.live
group by c.channels
order by customer_count desc, sources asc;

comment on view analytics.customer_journey is
'Live accounts by the channels they were seen on (the guide''s customer journey query).';

revoke all on analytics.customer_journey from public, anon, authenticated, service_role;
grant select on analytics.customer_journey to analyst;

-- The guide's merge-rate query: per day (UTC) of the last 30 days, the live accounts
-- created, how many of them have been seen on more than one channel, and their share.
create view analytics.daily_merge_rate with (security_invoker = true) as
select
    (c.created_at at time zone 'UTC')::date as date,
    count(*) as total_accounts,
    count(*) filter (where cardinality(c.channels) > 1) as merged_accounts,
    round(
        100.0 * count(*) filter (where cardinality(c.channels) > 1) / count(*), 2
    ) as merge_percentage
from customer_management.customer_channels as c
where c.live and c.created_at > now() - interval '30 days'
group by (c.created_at at time zone 'UTC')::date
order by date desc;

comment on view analytics.daily_merge_rate is
'Per day (UTC) of the last 30 days: live accounts created, those seen on several '
'channels, their share.';

revoke all on analytics.daily_merge_rate from public, anon, authenticated, service_role;
grant select on analytics.daily_merge_rate to analyst;

-- The guide's completeness query: live accounts by the contact data they hold (an active
-- phone and email, one of them, or neither), with their share.
create view analytics.account_completeness with (security_invoker = true) as
select
    a.account_type,
    count(*) as count,
    round(100.0 * count(*) / sum(count(*)) over (), 2) as percentage
from (
    select
        case
            when bool_or(i.type = 'email') and bool_or(i.type = 'phone') then 'Complete'
            when bool_or(i.type = 'email') then 'Email Only'
            when bool_or(i.type = 'phone') then 'Phone Only'
            else 'Incomplete'
        end as account_type
    from customer_management.customer_channels as c
    left join customer_management.customer_identifiers as i
        on
            c.customer_id = i.customer_id
            and i.status = 'active'
            and i.type in ('phone', 'email')
    where c.live
    group by c.customer_id
) as a
group by a.account_type
order by count desc, a.account_type asc;

comment on view analytics.account_completeness is
'Live accounts by the contact data they hold (phone and email, one, none), with shares.';

revoke all on analytics.account_completeness from public, anon, authenticated, service_role;
grant select on analytics.account_completeness to analyst;

-- The unsettled conflict queue, oldest first: which accounts (ids only), how they were
-- tied (identifier types), how often requests met them, and for how long they have waited.
create view analytics.open_conflicts with (security_invoker = true) as
select
    cc.id as conflict_id,
    cc.status,
    cardinality(cc.customer_ids) as accounts,
    cc.customer_ids,
    cc.identifier_types,
    cc.source,
    cc.actor_role as raised_by_role,
    cc.occurrences,
    cc.created_at,
    cc.last_seen_at,
    now() - cc.created_at as age,
    floor(extract(epoch from now() - cc.created_at) / 86400)::integer as age_days
from customer_management.customer_conflicts as cc
where cc.status in ('open', 'escalated')
order by cc.created_at asc, cc.id asc;

comment on view analytics.open_conflicts is
'Unsettled conflicts, oldest first, with their age; account ids only, no contact data.';

revoke all on analytics.open_conflicts from public, anon, authenticated, service_role;
grant select on analytics.open_conflicts to analyst;

-- Merges and undone merges per day (UTC), by the channel the merge came from (chatbot,
-- webapp, support, dedupe) and the role that acted (for an undo: the role that undid it).
create view analytics.merge_activity with (security_invoker = true) as
select
    x.day,
    x.source,
    x.actor_role,
    count(*) filter (where x.kind = 'merge') as merge_count,
    count(*) filter (where x.kind = 'undo') as undo_count
from (
    select
        'merge' as kind,
        (m.created_at at time zone 'UTC')::date as day,
        m.source,
        m.actor_role
    from customer_management.merge_log as m
    union all
    select
        'undo' as kind,
        (u.undone_at at time zone 'UTC')::date as day,
        m.source,
        u.actor_role
    from customer_management.merge_undos as u
    inner join customer_management.merge_log as m on u.merge_id = m.id
) as x
group by x.day, x.source, x.actor_role
order by x.day desc, x.source asc, x.actor_role asc;

comment on view analytics.merge_activity is
'Merges and undone merges per day (UTC), by channel and acting role.';

revoke all on analytics.merge_activity from public, anon, authenticated, service_role;
grant select on analytics.merge_activity to analyst;

-- How well resolution works, one metric per row: merges and the share undone; resolved
-- conflicts and their average age at resolution, by how they ended; phones and emails the
-- channels stored unverified, and the share verified since; orders by the channels their
-- account was seen on (none: imported and not seen since; erased: the customer was erased).
create view analytics.resolution_quality with (security_invoker = true) as
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
order by r.position asc, r.dimension asc;

comment on view analytics.resolution_quality is
'Undo rate, conflict age at resolution, share of unverified identifiers verified since, '
'orders by channel.';

revoke all on analytics.resolution_quality from public, anon, authenticated, service_role;
grant select on analytics.resolution_quality to analyst;
