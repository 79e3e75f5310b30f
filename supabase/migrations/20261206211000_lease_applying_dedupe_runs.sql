-- One applying dedupe run at a time, without a session. The run held a session-level
-- advisory lock from start_dedupe to finish_dedupe, across the run's transactions; behind a
-- pooler in transaction mode (Supabase's, on port 6543) each transaction may run on another
-- server connection, so the lock stayed on a connection the run no longer used, and
-- finish_dedupe's unlock ran where nothing was held. The run now holds a lease, a row of
-- this table: taken by start_dedupe, renewed by each batch's transaction, given back by
-- finish_dedupe. A run whose client died stops renewing it: the next run takes it over,
-- and clears what the dead run left, once the server connection of its last renewal is
-- gone (connected directly, a killed run is noticed within a second) or, when that
-- connection lives on (a pooler's), once the lease is older than dedupe_lease_seconds.

create table customer_management.dedupe_lease (
    singleton boolean primary key default true check (singleton),
    holder uuid not null,
    taken_at timestamptz not null default now(),
    renewed_at timestamptz not null default now(),
    renewed_by_pid integer not null default pg_backend_pid()
);

comment on table customer_management.dedupe_lease is
'The applying dedupe run that holds the lease (at most one row): who, since when, last '
'renewed and by which server process; a lease whose process is gone, or not renewed for '
'settings.dedupe_lease_seconds, may be taken over.';

alter table customer_management.dedupe_lease enable row level security;
revoke all on customer_management.dedupe_lease
from public, anon, authenticated, service_role;

alter table customer_management.settings
add column dedupe_lease_seconds integer not null default 120
check (dedupe_lease_seconds between 10 and 86400);

comment on column customer_management.settings.dedupe_lease_seconds is
'How long an applying dedupe run''s lease lasts without renewal (each batch renews it); '
'then another run may take it over.';

-- Takes the lease for a new applying run and clears the scratch rows an earlier,
-- interrupted run left behind; returns the lease's holder id, which the run renews with
-- and gives back with. Raises dedupe_running (PT409) while another run holds a live lease.
drop function customer_management.start_dedupe();

create function customer_management.start_dedupe() returns uuid
language plpgsql
volatile
set search_path = ''
as $$
declare
    lease customer_management.dedupe_lease;
    lease_seconds integer;
    new_holder uuid := gen_random_uuid();
begin
    select s.dedupe_lease_seconds into lease_seconds from customer_management.settings as s;
    insert into customer_management.dedupe_lease as l (holder)
    values (new_holder)
    on conflict (singleton) do nothing;
    if not found then
        select l.* into lease from customer_management.dedupe_lease as l for update;
        if lease.renewed_at > now() - make_interval(secs => lease_seconds)
            and exists (
                select 1 from pg_catalog.pg_stat_activity as a
                where a.pid = lease.renewed_by_pid
            ) then
            perform customer_management.raise_error(
                'dedupe_running',
                format(
                    'Another dedupe --apply holds the run lease (taken %s, renewed %s).',
                    lease.taken_at, lease.renewed_at
                ),
                format(
                    'Wait for it to finish; a run that died gives the lease up when its '
                    || 'connection closes, or %s seconds after its last batch.',
                    lease_seconds
                ),
                'PT409'
            );
        end if;
        update customer_management.dedupe_lease as l
        set holder = new_holder, taken_at = now(), renewed_at = now(),
            renewed_by_pid = pg_backend_pid();
    end if;
    delete from customer_management.dedupe_groups;
    return new_holder;
end;
$$;

comment on function customer_management.start_dedupe() is
'Takes the applying-run lease (or a lapsed one over) and clears stale scratch rows; returns '
'the holder id. Raises dedupe_running (PT409) while another run holds a live lease.';

revoke all on function customer_management.start_dedupe()
from public, anon, authenticated, service_role;

-- Renews a run's lease in the transaction of one of its batches; raises dedupe_lease_lost
-- (PT409) when the lease is no longer the run's (it lapsed and another run took it over),
-- so the batch rolls back and the run stops.
create function customer_management.renew_dedupe_lease(holder uuid) returns void
language plpgsql
volatile
set search_path = ''
as $$
begin
    update customer_management.dedupe_lease as l
    set renewed_at = now(), renewed_by_pid = pg_backend_pid()
    where l.holder = renew_dedupe_lease.holder;
    if not found then
        perform customer_management.raise_error(
            'dedupe_lease_lost',
            'This run''s lease lapsed and another dedupe --apply took it over.',
            'Nothing of the interrupted batch was kept; run dedupe --apply again once the '
            || 'other run has finished.',
            'PT409'
        );
    end if;
end;
$$;

comment on function customer_management.renew_dedupe_lease(uuid) is
'Renews an applying dedupe run''s lease (call in each batch''s transaction); raises '
'dedupe_lease_lost (PT409) when another run took it over.';

revoke all on function customer_management.renew_dedupe_lease(uuid)
from public, anon, authenticated, service_role;

-- Ends an applying run: settles held identifiers, drops the run's scratch rows, gives the
-- lease back and returns what the run did in total. A run whose lease was taken over ends
-- with dedupe_lease_lost and leaves the other run's lease alone.
drop function customer_management.finish_dedupe(uuid);

create function customer_management.finish_dedupe(run uuid, holder uuid) returns jsonb
language plpgsql
volatile
set search_path = ''
as $$
declare
    activated integer;
    totals jsonb;
begin
    perform customer_management.renew_dedupe_lease(holder);
    activated := customer_management.settle_held_identifiers();
    select jsonb_build_object(
        'groups', count(*),
        'outcomes', jsonb_build_object(
            'merged', count(*) filter (where g.outcome = 'merged'),
            'conflict', count(*) filter (where g.outcome = 'conflict'),
            'kept_separate', count(*) filter (where g.outcome = 'kept_separate'),
            'undone_before', count(*) filter (where g.outcome = 'undone_before'),
            'escalated', count(*) filter (where g.outcome = 'escalated'),
            'too_large', count(*) filter (where g.outcome = 'too_large'),
            'already_one', count(*) filter (where g.outcome = 'already_one'),
            'merge_blocked', count(*) filter (where g.outcome = 'merge_blocked'),
            'contested', count(*) filter (where g.outcome = 'contested')
        ),
        'merges', coalesce(sum(cardinality(g.merge_ids)), 0),
        'identifiersActivated', activated
    ) into totals
    from customer_management.dedupe_groups as g
    where g.run_id = run;
    delete from customer_management.dedupe_groups as g where g.run_id = run;
    delete from customer_management.dedupe_lease as l where l.holder = finish_dedupe.holder;
    return totals;
end;
$$;

comment on function customer_management.finish_dedupe(uuid, uuid) is
'Ends an applying dedupe run: settles held identifiers, clears its scratch rows, gives the '
'run lease back; returns totals.';

revoke all on function customer_management.finish_dedupe(uuid, uuid)
from public, anon, authenticated, service_role;
