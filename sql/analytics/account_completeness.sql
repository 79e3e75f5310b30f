-- The guide's completeness query: live accounts by the contact data they hold (an active
-- phone and email, one of them, or neither), with their share.
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
order by count desc, a.account_type asc
