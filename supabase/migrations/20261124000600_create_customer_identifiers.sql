-- The identity table: every phone, email and auth user a customer is known by. Matching
-- reads this table only. An active (value, type) belongs to exactly one customer;
-- pending rows are claims not proven yet and never match anyone.

create table customer_management.customer_identifiers (
    id bigint generated always as identity primary key,
    customer_id uuid not null references public.customers (id),
    type text not null check (type in ('phone', 'email', 'auth_user')),
    value text not null check (value <> ''),
    display_value text not null,
    status text not null default 'active' check (status in ('active', 'pending')),
    verified_at timestamptz,
    last_used_at timestamptz,
    source text not null check (source in ('chatbot', 'webapp', 'import', 'support')),
    created_at timestamptz not null default now(),
    check (
        (type = 'phone' and value ~ '^\+[1-9][0-9]{6,14}$')
        or (type = 'email' and value = lower(value) and value like '%_@_%')
        or (type = 'auth_user' and value ~ '^[0-9a-f-]{36}$')
    )
);

comment on table customer_management.customer_identifiers is
'Phones (E.164), emails (case-folded) and auth user ids per customer; '
'the only thing that decides which account a request belongs to.';
comment on column customer_management.customer_identifiers.value is
'Normalised match key: E.164 phone, trimmed lower-case email, or auth user uuid.';
comment on column customer_management.customer_identifiers.status is
'active: matches requests. pending: sent by a caller who has not proven it yet.';
comment on column customer_management.customer_identifiers.verified_at is
'When ownership was established (a confirmed address, the chatbot''s line, a code); null '
'when the identifier was only asserted by a trusted backend.';
comment on column customer_management.customer_identifiers.last_used_at is
'When a verified phone last opened its account (written at most once a day): a line '
'unused for settings.line_dormant_after no longer opens it by itself.';

-- Matching looks identifiers up by value: the value leads, so the index serves that
-- lookup only and a read by customer cannot pick it up with a type-only condition. It
-- also keys identity by value, which is how a distributed database would shard it.
create unique index customer_identifiers_active_key
on customer_management.customer_identifiers (value, type)
where status = 'active';
-- Everything a customer holds, by customer (merges, responses, limits).
create unique index customer_identifiers_customer_type_value_key
on customer_management.customer_identifiers (customer_id, type, value);

alter table customer_management.customer_identifiers enable row level security;
revoke all on customer_management.customer_identifiers
from public, anon, authenticated, service_role;
