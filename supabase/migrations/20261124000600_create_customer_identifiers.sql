-- The identity table: every phone, email and auth user a customer is known by. Matching
-- reads this table only. An active (type, value) belongs to exactly one customer;
-- pending rows are claims an end user has not proven yet and never match anyone.

create table private.customer_identifiers (
    id bigint generated always as identity primary key,
    customer_id uuid not null references public.customers (id),
    type text not null check (type in ('phone', 'email', 'auth_user')),
    value text not null check (value <> ''),
    display_value text not null,
    status text not null default 'active' check (status in ('active', 'pending')),
    verified_at timestamptz,
    source text not null check (source in ('chatbot', 'webapp', 'import', 'support')),
    created_at timestamptz not null default now(),
    check (
        (type = 'phone' and value ~ '^\+[1-9][0-9]{6,14}$')
        or (type = 'email' and value = lower(value) and value like '%_@_%')
        or (type = 'auth_user' and value ~ '^[0-9a-f-]{36}$')
    )
);

comment on table private.customer_identifiers is
'Phones (E.164), emails (case-folded) and auth user ids per customer; '
'the only thing that decides which account a request belongs to.';
comment on column private.customer_identifiers.value is
'Normalised match key: E.164 phone, trimmed lower-case email, or auth user uuid.';
comment on column private.customer_identifiers.status is
'active: matches requests. pending: sent by an end user who has not proven it yet.';

create unique index customer_identifiers_active_key on private.customer_identifiers (type, value)
where status = 'active';
create unique index customer_identifiers_customer_type_value_key
on private.customer_identifiers (customer_id, type, value);

alter table private.customer_identifiers enable row level security;
