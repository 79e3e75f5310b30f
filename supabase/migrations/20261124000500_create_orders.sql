-- Order history, so "Welcome back, you have N previous orders" is true. Merges move
-- orders to the surviving account and record their ids for undo. Erasing a customer keeps
-- their orders for accounting, unlinked from any person.

create table public.orders (
    id uuid primary key default gen_random_uuid(),
    customer_id uuid references public.customers (id),
    items jsonb not null default '[]'::jsonb check (jsonb_typeof(items) = 'array'),
    total numeric(12, 2) not null default 0 check (total >= 0),
    currency text not null default 'USD' check (currency ~ '^[A-Z]{3}$'),
    status text not null default 'pending' check (
        status in (
            'pending', 'confirmed', 'preparing', 'out_for_delivery', 'delivered', 'cancelled'
        )
    ),
    delivery_date date,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    customer_erased_at timestamptz,
    check ((customer_id is null) = (customer_erased_at is not null))
);

comment on table public.orders is
'Orders placed by a customer on any channel; listed newest first in the RPC response.';
comment on column public.orders.customer_erased_at is
'Set when the customer was erased: the order stays for accounting with no customer.';

create index orders_customer_id_created_at_idx on public.orders (customer_id, created_at desc);

alter table public.orders enable row level security;
revoke all on public.orders from public, anon, authenticated;
grant all on public.orders to service_role;
