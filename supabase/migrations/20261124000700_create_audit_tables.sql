-- The audit trail: one merge-log row per merged account, holding everything needed to
-- undo that merge exactly, and an event log of every change the kit makes. Both keep the
-- customer ids as they were, not as foreign keys: the trail outlives an erased account.

create table customer_management.merge_log (
    id bigint generated always as identity primary key,
    survivor_id uuid not null,
    merged_id uuid not null,
    survivor_before jsonb not null,
    merged_before jsonb not null,
    moved_identifier_ids bigint[] not null default '{}',
    moved_order_ids uuid[] not null default '{}',
    conflict_id uuid,
    resolved_conflict_ids uuid[] not null default '{}',
    actor_role text not null,
    actor_uid uuid,
    source text not null,
    reason text not null,
    created_at timestamptz not null default now(),
    check (survivor_id <> merged_id)
);

comment on table customer_management.merge_log is
'One row per merged account: both before-images (row and identifiers), the moved '
'identifier and order ids and the conflicts it settled, so any merge can be undone exactly.';

create index merge_log_survivor_id_idx on customer_management.merge_log (survivor_id);
create index merge_log_merged_id_idx on customer_management.merge_log (merged_id);

alter table customer_management.merge_log enable row level security;
revoke all on customer_management.merge_log from public, anon, authenticated, service_role;

create table customer_management.audit_log (
    id bigint generated always as identity primary key,
    action text not null check (
        action in ('create', 'update', 'link', 'merge', 'conflict', 'undo', 'erasure')
    ),
    customer_id uuid,
    related_customer_id uuid,
    actor_role text not null,
    actor_uid uuid,
    source text,
    details jsonb not null default '{}'::jsonb,
    occurred_at timestamptz not null default now()
);

comment on table customer_management.audit_log is
'Every create, update, link, merge, conflict, undo and erasure: who (role, auth.uid()), '
'from which channel, when. Details name fields and identifier types, not their values.';

create index audit_log_customer_id_idx on customer_management.audit_log (customer_id);
create index audit_log_related_customer_id_idx
on customer_management.audit_log (related_customer_id);

alter table customer_management.audit_log enable row level security;
revoke all on customer_management.audit_log from public, anon, authenticated, service_role;
