-- Each customer's order count and ten newest orders, kept current whenever orders change,
-- so that a returning customer's answer reads one row instead of their order history.

create table customer_management.order_summaries (
    customer_id uuid primary key references public.customers (id) on delete cascade,
    order_count integer not null check (order_count >= 0),
    recent_orders jsonb not null check (jsonb_typeof(recent_orders) = 'array'),
    refreshed_at timestamptz not null default now()
);

comment on table customer_management.order_summaries is
'Per customer: how many orders, and the ten newest in the answer''s orderHistory format. '
'Written only by refresh_order_summaries (order triggers, bulk loads).';

alter table customer_management.order_summaries enable row level security;
revoke all on customer_management.order_summaries
from public, anon, authenticated, service_role;

-- Recomputes the summaries of the given customers from public.orders (one statement).
-- Timestamps are rendered in UTC whatever the session's time zone.
create function customer_management.refresh_order_summaries(customer_ids uuid[])
returns void
language plpgsql
volatile
set search_path = ''
set plan_cache_mode = force_generic_plan
set timezone = 'UTC'
as $$
begin
    insert into customer_management.order_summaries as s (
        customer_id, order_count, recent_orders, refreshed_at
    )
    select
        c.id,
        (select count(*) from public.orders as o where o.customer_id = c.id),
        coalesce((
            select jsonb_agg(jsonb_build_object(
                'id', o.id,
                'items', o.items,
                'total', o.total,
                'currency', o.currency,
                'status', o.status,
                'deliveryDate', o.delivery_date,
                'createdAt', o.created_at
            ) order by o.created_at desc, o.id desc)
            from (
                select * from public.orders as r
                where r.customer_id = c.id
                order by r.created_at desc, r.id desc
                limit 10
            ) as o
        ), '[]'::jsonb),
        now()
    from public.customers as c
    where c.id = any(customer_ids)
    on conflict (customer_id) do update
    set order_count = excluded.order_count,
        recent_orders = excluded.recent_orders,
        refreshed_at = excluded.refreshed_at;
end;
$$;

comment on function customer_management.refresh_order_summaries(uuid[]) is
'Recomputes order_summaries for some customers from their orders.';

revoke all on function customer_management.refresh_order_summaries(uuid[])
from public, anon, authenticated, service_role;

-- Statement triggers on public.orders: one refresh per statement for every customer whose
-- orders it inserted, changed, moved or deleted (a COPY of millions is one refresh).
-- SECURITY DEFINER because the shop's backend writes orders as service_role, which cannot
-- write the kit's tables.
create function customer_management.track_order_summaries() returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
    touched uuid[] := '{}'::uuid[];
begin
    if tg_op in ('INSERT', 'UPDATE') then
        touched := touched || array(select distinct n.customer_id from new_orders as n);
    end if;
    if tg_op in ('UPDATE', 'DELETE') then
        touched := touched || array(select distinct o.customer_id from old_orders as o);
    end if;
    perform customer_management.refresh_order_summaries(touched);
    return null;
end;
$$;

comment on function customer_management.track_order_summaries() is
'Trigger: refreshes the order summaries of the customers a statement on orders touched.';

revoke all on function customer_management.track_order_summaries()
from public, anon, authenticated, service_role;

create trigger orders_track_summaries_insert
after insert on public.orders
referencing new table as new_orders
for each statement execute function customer_management.track_order_summaries();

create trigger orders_track_summaries_update
after update on public.orders
referencing old table as old_orders new table as new_orders
for each statement execute function customer_management.track_order_summaries();

create trigger orders_track_summaries_delete
after delete on public.orders
referencing old table as old_orders
for each statement execute function customer_management.track_order_summaries();
