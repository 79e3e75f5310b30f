-- Requests whose identifiers point at several distinct accounts are recorded here for a
-- trusted caller or support agent to resolve. One open conflict per set of accounts.

create table customer_management.customer_conflicts (
    id uuid primary key default gen_random_uuid(),
    customer_ids uuid[] not null check (cardinality(customer_ids) >= 2),
    identifier_types text[] not null default '{}',
    status text not null default 'open' check (status in ('open', 'resolved', 'dismissed')),
    resolution text,
    source text not null,
    actor_role text not null,
    actor_uid uuid,
    occurrences integer not null default 1 check (occurrences >= 1),
    created_at timestamptz not null default now(),
    last_seen_at timestamptz not null default now(),
    resolved_at timestamptz,
    check ((status = 'open') = (resolved_at is null))
);

comment on table customer_management.customer_conflicts is
'Sets of accounts one request matched at once. customer_ids is sorted; a repeat of the '
'same request bumps occurrences on the open conflict instead of adding a row.';

create unique index customer_conflicts_open_key
on customer_management.customer_conflicts (customer_ids)
where status = 'open';
create index customer_conflicts_customer_ids_idx
on customer_management.customer_conflicts using gin (customer_ids);

alter table customer_management.customer_conflicts enable row level security;
revoke all on customer_management.customer_conflicts
from public, anon, authenticated, service_role;
