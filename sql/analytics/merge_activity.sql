-- Merges and undone merges per day (UTC), by the channel the merge came from (chatbot,
-- webapp, support, dedupe) and the role that acted (for an undo: the role that undid it).
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
order by x.day desc, x.source asc, x.actor_role asc
