-- Customers by account sources (the guide's customer journey query): how many live
-- accounts were seen on each combination of channels, and on how many channels on average.
-- An imported account nobody has used since shows no channel ([]).
select
    to_jsonb(c.channels) as sources,
    count(*) as customer_count,
    round(avg(cardinality(c.channels)), 2) as avg_platforms
from customer_management.customer_channels as c
where c.live
group by c.channels
order by customer_count desc, sources asc
