-- News for other systems that keep customer ids: every merge, undo and erasure appends an
-- event (an outbox). Readers page through it by id, or subscribe through Supabase Realtime
-- once the table is added to the supabase_realtime publication (docs/lifecycle.md). No
-- personal data: ids, the merge id and the time.

create table public.customer_events (
    id bigint generated always as identity primary key,
    event text not null check (event in ('merged', 'merge_undone', 'erased')),
    customer_ids uuid[] not null check (cardinality(customer_ids) >= 1),
    merge_id bigint,
    occurred_at timestamptz not null default now()
);

comment on table public.customer_events is
'Outbox of account changes other systems must follow: merged (customer_ids = survivor, '
'merged), merge_undone (survivor, restored) and erased (every id of the person). Ordered by '
'id; read by the service role.';

create index customer_events_customer_ids_idx on public.customer_events using gin (customer_ids);

alter table public.customer_events enable row level security;
revoke all on public.customer_events from public, anon, authenticated, service_role;
revoke all on sequence public.customer_events_id_seq
from public, anon, authenticated, service_role;
grant select on public.customer_events to service_role;

-- Only the backend reads the outbox (the service role bypasses RLS; this policy states it
-- and keeps Realtime, which applies policies, working for it). End users get nothing.
create policy customer_events_backend_reads on public.customer_events
for select to service_role
using (true);

comment on policy customer_events_backend_reads on public.customer_events is
'The outbox is for the backend: the service role reads every event, nobody else any.';

create trigger customer_events_append_only
before update or delete on public.customer_events
for each row execute function customer_management.refuse_audit_change();

create trigger customer_events_no_truncate
before truncate on public.customer_events
for each statement execute function customer_management.refuse_audit_change();

create function customer_management.emit_event(
    event text, customer_ids uuid[], merge_id bigint default null
) returns void
language plpgsql
volatile
set search_path = ''
as $$
begin
    insert into public.customer_events (event, customer_ids, merge_id)
    values (event, customer_ids, merge_id);
end;
$$;

comment on function customer_management.emit_event(text, uuid[], bigint) is
'Appends an event to the public.customer_events outbox.';

revoke all on function customer_management.emit_event(text, uuid[], bigint)
from public, anon, authenticated, service_role;
