-- Requests whose identifiers point at several distinct accounts are recorded here for a
-- trusted caller or support agent to resolve. One open conflict per set of accounts.

create table customer_management.customer_conflicts (
    id uuid primary key default gen_random_uuid(),
    customer_ids uuid[] not null check (cardinality(customer_ids) >= 2),
    identifier_types text[] not null default '{}',
    tying_identifier_ids bigint[] not null default '{}',
    raised_by uuid[] not null default '{}',
    status text not null default 'open' check (
        status in ('open', 'escalated', 'merged', 'kept_separate', 'outdated')
    ),
    source text not null,
    actor_role text not null,
    actor_uid uuid,
    occurrences integer not null default 1 check (occurrences >= 1),
    created_at timestamptz not null default now(),
    last_seen_at timestamptz not null default now(),
    resolved_at timestamptz,
    resolved_by_role text,
    resolved_by_uid uuid,
    resolution_reason text check (char_length(resolution_reason) <= 1000),
    check ((status = 'open') = (resolved_at is null)),
    check ((resolved_at is null) = (resolved_by_role is null))
);

comment on table customer_management.customer_conflicts is
'Sets of accounts one request matched at once, for resolution. customer_ids is sorted; a '
'repeat of the same request bumps occurrences on the unsettled (open or escalated) conflict '
'instead of adding a row, and a set kept separate is not flagged again.';
comment on column customer_management.customer_conflicts.tying_identifier_ids is
'The identifier rows that tied the accounts when the conflict was recorded; a resolution '
're-checks that they still do.';
comment on column customer_management.customer_conflicts.raised_by is
'The signed-in users whose requests raised or met this conflict: the only end users who may '
'resolve it.';
comment on column customer_management.customer_conflicts.status is
'open: waiting. escalated: handed to support. merged: its accounts are one. kept_separate: '
'decided to be different people. outdated: its accounts changed (a merge elsewhere, an '
'erasure, an identifier that no longer ties them) before anyone resolved it.';

create unique index customer_conflicts_unsettled_key
on customer_management.customer_conflicts (customer_ids)
where status in ('open', 'escalated');
create index customer_conflicts_kept_separate_idx
on customer_management.customer_conflicts (customer_ids)
where status = 'kept_separate';
create index customer_conflicts_customer_ids_idx
on customer_management.customer_conflicts using gin (customer_ids);

alter table customer_management.customer_conflicts enable row level security;
revoke all on customer_management.customer_conflicts
from public, anon, authenticated, service_role;
