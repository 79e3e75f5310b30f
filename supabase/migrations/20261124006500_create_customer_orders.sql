-- A customer's orders page by page, newest first: the answer's orderHistory holds only the
-- ten newest, and a chatbot or web app listing more needs the rest without reading
-- public.orders itself (the chatbot's service role would see every customer's).
--
-- Who may: the service role and support agents, any customer (an id merged away is
-- followed to its survivor); an end user, only their own account (the argument left out,
-- or one of their own ids). Any other id answers an end user with the same forbidden,
-- whether or not it exists.

create function customer_management.customer_orders_for_caller(
    customer_id uuid, page_size integer, page integer
) returns jsonb
language plpgsql
stable
security definer
set search_path = ''
set timezone = 'UTC'
as $$
declare
    caller customer_management.api_caller := customer_management.current_caller();
    own_id uuid;
    target_id uuid;
    order_count integer;
    orders jsonb;
    has_more boolean;
begin
    if page_size is null or page_size < 1 or page_size > 100 then
        perform customer_management.raise_error(
            'invalid_page', 'page_size must be between 1 and 100.', 'Send a smaller page_size.'
        );
    end if;
    if page is null or page < 1 or page > 100000 then
        perform customer_management.raise_error(
            'invalid_page', 'page must be between 1 and 100000.', 'Pages are numbered from 1.'
        );
    end if;

    if caller.trusted or customer_management.is_support_agent(caller) then
        if customer_id is null then
            perform customer_management.raise_error(
                'invalid_request', 'customer_id is required for the service role and support.',
                'Send the id of the customer whose orders to list.'
            );
        end if;
        target_id := customer_management.live_customer_id(customer_id);
        if target_id is null then
            perform customer_management.raise_error(
                'not_found', 'There is no customer with this id.', 'Check customer_id.', 'PT404'
            );
        end if;
    else
        own_id := customer_management.signed_in_customer_id();
        if customer_id is not null
            and customer_management.live_customer_id(customer_id) is distinct from own_id
            then
            perform customer_management.raise_error(
                'forbidden', 'You may list only your own orders.',
                'Leave customer_id out to list your own.', '42501'
            );
        end if;
        if own_id is null then
            return jsonb_build_object(
                'orders', '[]'::jsonb, 'page', page, 'hasMore', false, 'orderCount', 0
            );
        end if;
        target_id := own_id;
    end if;

    select s.order_count into order_count
    from customer_management.order_summaries as s
    where s.customer_id = target_id;
    -- One row past the page tells whether another page follows.
    select
        coalesce(jsonb_agg(jsonb_build_object(
            'id', o.id,
            'items', o.items,
            'total', o.total,
            'currency', o.currency,
            'status', o.status,
            'deliveryDate', o.delivery_date,
            'createdAt', o.created_at
        ) order by o.created_at desc, o.id desc) filter (where o.n <= page_size), '[]'::jsonb),
        count(*) > page_size
    into orders, has_more
    from (
        select r.*, row_number() over (order by r.created_at desc, r.id desc) as n
        from (
            select * from public.orders as p
            where p.customer_id = target_id
            order by p.created_at desc, p.id desc
            offset (page - 1) * page_size
            limit page_size + 1
        ) as r
    ) as o;

    return jsonb_build_object(
        'orders', orders,
        'page', page,
        'hasMore', has_more,
        'orderCount', coalesce(order_count, 0)
    );
end;
$$;

comment on function customer_management.customer_orders_for_caller(uuid, integer, integer) is
'Definer behind public.customer_orders: one page of a customer''s orders, newest first, for '
'the service role and support (any customer) or an end user (their own only).';

revoke all on function customer_management.customer_orders_for_caller(uuid, integer, integer)
from public, anon, authenticated, service_role;
grant execute on function customer_management.customer_orders_for_caller(
    uuid, integer, integer
) to authenticated, service_role;

create function public.customer_orders(
    customer_id uuid default null,
    page_size integer default 10,
    page integer default 1
) returns jsonb
language plpgsql
stable
security invoker
set search_path = ''
as $$
begin
    return customer_management.customer_orders_for_caller(customer_id, page_size, page);
end;
$$;

comment on function public.customer_orders(uuid, integer, integer) is
'A customer''s orders, newest first, page by page: {orders, page, hasMore, orderCount}. '
'End users list their own; the service role any customer''s.';

revoke all on function public.customer_orders(uuid, integer, integer) from public, anon;
grant execute on function public.customer_orders(uuid, integer, integer)
to authenticated, service_role;
