-- The unsettled conflict queue, oldest first: which accounts (ids only), how they were
-- tied (identifier types), how often requests met them, and for how long they have waited.
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
order by cc.created_at asc, cc.id asc
