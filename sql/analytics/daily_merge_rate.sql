-- The guide's merge-rate query: per day (UTC) of the last 30 days, the live accounts
-- created, how many of them have been seen on more than one channel, and their share.
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
order by date desc
