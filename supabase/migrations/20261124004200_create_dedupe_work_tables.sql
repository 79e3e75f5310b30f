-- Scratch space for batch deduplication (`customer-management dedupe`): the groups a run
-- found and, once applied, what was done with each. Unlogged (no WAL, emptied by a crash):
-- a plan lives only as long as the run that made it. A dry run rolls its rows back; an
-- applying run deletes them when it finishes, and a rerun after an interruption plans
-- afresh from the accounts as they are.

create unlogged table customer_management.dedupe_groups (
    run_id uuid not null,
    group_no bigint not null,
    member_ids uuid[] not null,
    survivor_id uuid,
    ties text[] not null,
    planned text not null check (
        planned in (
            'merge', 'conflict', 'kept_separate', 'undone_before', 'escalated', 'too_large'
        )
    ),
    outcome text check (
        outcome in (
            'merged', 'conflict', 'kept_separate', 'undone_before', 'escalated', 'too_large',
            'already_one', 'merge_blocked'
        )
    ),
    merge_ids bigint[],
    conflict_id uuid,
    primary key (run_id, group_no)
);

comment on table customer_management.dedupe_groups is
'Deduplication scratch: the groups of a run (members, survivor first; the survivor the '
'fixed rule picks; the identifiers that tie them, as "type value"), what the plan says for '
'each and, once applied, what was done (merge ids, conflict id).';

alter table customer_management.dedupe_groups enable row level security;
revoke all on customer_management.dedupe_groups from public, anon, authenticated, service_role;
