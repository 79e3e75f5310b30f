-- The audit trail: one merge-log row per merged account, holding everything needed to
-- undo that merge exactly, a row per undone merge, and an event log of every change the
-- kit makes. They keep customer ids as they were, not as foreign keys: the trail outlives
-- an erased account. Personal data appears only sealed (the merge log's before-images,
-- encrypted with a key per customer that erasure destroys) or as keyed hashes.

create table customer_management.merge_log (
    id bigint generated always as identity primary key,
    survivor_id uuid not null,
    merged_id uuid not null,
    survivor_before bytea not null,
    merged_before bytea not null,
    moved_identifier_ids bigint[] not null default '{}',
    moved_order_ids uuid[] not null default '{}',
    conflict_id uuid,
    closed_conflicts jsonb not null default '[]'::jsonb,
    actor_role text not null,
    actor_uid uuid,
    source text not null,
    reason text not null,
    created_at timestamptz not null default now(),
    check (survivor_id <> merged_id)
);

comment on table customer_management.merge_log is
'One row per merged account: both before-images (row and identifiers, each sealed with its '
'account''s key), the moved identifier and order ids and the conflicts it closed (with '
'their status before), so any merge can be undone exactly.';

create index merge_log_survivor_id_idx on customer_management.merge_log (survivor_id);
create index merge_log_merged_id_idx on customer_management.merge_log (merged_id);

alter table customer_management.merge_log enable row level security;
revoke all on customer_management.merge_log from public, anon, authenticated, service_role;

create table customer_management.merge_undos (
    merge_id bigint primary key,
    cascaded_from bigint,
    actor_role text not null,
    actor_uid uuid,
    reason text not null,
    undone_at timestamptz not null default now()
);

comment on table customer_management.merge_undos is
'One row per undone merge (a merge is undone at most once): who, why, when, and the merge '
'whose undo with cascade undid it, if any.';

alter table customer_management.merge_undos enable row level security;
revoke all on customer_management.merge_undos from public, anon, authenticated, service_role;

create table customer_management.audit_log (
    id bigint generated always as identity primary key,
    action text not null check (
        action in (
            'create', 'update', 'link', 'merge', 'conflict', 'resolve', 'undo', 'erasure',
            'expire'
        )
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
'Every create, update, link, merge, conflict, resolution, undo, erasure and expiry: who '
'(role, auth.uid()), from which channel, when. Details name fields and identifier types; '
'an identifier itself appears only as its keyed hash (identifier_digest).';

create index audit_log_customer_id_idx on customer_management.audit_log (customer_id);
create index audit_log_related_customer_id_idx
on customer_management.audit_log (related_customer_id);

alter table customer_management.audit_log enable row level security;
revoke all on customer_management.audit_log from public, anon, authenticated, service_role;
