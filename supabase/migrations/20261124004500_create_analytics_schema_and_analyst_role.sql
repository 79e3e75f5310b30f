-- Analysts, the kit's third kind of user, query views in a schema `analytics` as the group
-- role `analyst` (a DBA grants it to a login for a BI tool). The views run with the
-- analyst's own rights (security_invoker), so the analyst gets exactly what they read:
-- a few non-contact columns of the kit's tables, row by row through policies, and the
-- channels of each account through customer_channels. Never names, phones, emails,
-- allergies, preferences or identifier values. The API roles get nothing here.
--
-- Roles are cluster-wide and the schema name is common: both are created only when absent,
-- and recorded in shared_objects when the kit created them, so uninstall drops those and
-- leaves a role or schema of the project's own alone.

create table customer_management.shared_objects (
    kind text not null check (kind in ('role', 'schema', 'schema_usage')),
    name text not null,
    created_at timestamptz not null default now(),
    primary key (kind, name)
);

comment on table customer_management.shared_objects is
'What the kit created outside its own schema and may not find alone at uninstall: the '
'analyst role, the analytics schema, or (in a schema of the project''s) the analyst''s '
'usage of it. Uninstall drops these, and nothing of the same name it did not create.';

alter table customer_management.shared_objects enable row level security;
revoke all on customer_management.shared_objects from public, anon, authenticated, service_role;

do $create_role_and_schema$
begin
    if not exists (select 1 from pg_catalog.pg_roles where rolname = 'analyst') then
        create role analyst nologin;
        comment on role analyst is
        'Customer management kit: reads the analytics views, no contact data. Grant it to a '
        'login (grant analyst to my_bi_user).';
        insert into customer_management.shared_objects (kind, name) values ('role', 'analyst');
    elsif (
        select pg_catalog.shobj_description(r.oid, 'pg_authid') like 'Customer management kit:%'
        from pg_catalog.pg_roles as r where r.rolname = 'analyst'
    ) then
        -- Made by the kit for another database of this cluster: the last uninstall drops it.
        insert into customer_management.shared_objects (kind, name) values ('role', 'analyst');
    end if;
    if to_regnamespace('analytics') is null then
        create schema analytics;
        comment on schema analytics is
        'Customer management kit: views for analysts (role analyst), no contact data.';
        revoke all on schema analytics from public;
        insert into customer_management.shared_objects (kind, name) values ('schema', 'analytics');
    elsif not pg_catalog.has_schema_privilege('analyst', 'analytics', 'USAGE') then
        insert into customer_management.shared_objects (kind, name)
        values ('schema_usage', 'analytics');
    end if;
end
$create_role_and_schema$;

grant usage on schema analytics to analyst;
grant usage on schema customer_management to analyst;

-- The channels an account was seen on, from its preferences, without the preferences:
-- the one fact analysts need from that column. It runs with its owner's rights (a plain
-- view), which is what keeps preferences itself out of the analyst's reach.
create view customer_management.customer_channels as
select
    c.id as customer_id,
    c.created_at,
    c.merged_into is null as live,
    c.merged_at,
    array(
        select distinct x.channel
        from
            jsonb_array_elements_text(
                case
                    when jsonb_typeof(c.preferences -> 'account_sources') = 'array'
                        then c.preferences -> 'account_sources'
                    else '[]'::jsonb
                end
            ) as x (channel)
        where x.channel in ('chatbot', 'webapp')
        order by x.channel
    ) as channels,
    case
        when c.preferences ->> 'created_via' in ('chatbot', 'webapp', 'import')
            then c.preferences ->> 'created_via'
    end as created_via
from public.customers as c;

comment on view customer_management.customer_channels is
'Every account (tombstones too, live = false) with its creation time and the channels it '
'was seen on (sorted, chatbot and webapp only): no contact data. For the analytics views.';

revoke all on customer_management.customer_channels
from public, anon, authenticated, service_role;
grant select on customer_management.customer_channels to analyst;

-- Column grants: exactly the columns the analytics views read.
grant select (customer_id) on public.orders to analyst;
grant select (customer_id, type, status, source, verified_at, created_at)
on customer_management.customer_identifiers to analyst;
grant select (id, source, actor_role, created_at) on customer_management.merge_log to analyst;
grant select (merge_id, actor_role, undone_at) on customer_management.merge_undos to analyst;
grant select (
    id, customer_ids, identifier_types, status, source, actor_role, occurrences, created_at,
    last_seen_at, resolved_at
) on customer_management.customer_conflicts to analyst;

create policy "Analysts count orders" on public.orders
for select to analyst using (true);

comment on policy "Analysts count orders" on public.orders is
'Analysts see every order, through the only column granted to them (customer_id).';

create policy "Analysts count identifiers" on customer_management.customer_identifiers
for select to analyst using (true);

comment on policy "Analysts count identifiers" on customer_management.customer_identifiers is
'Analysts see every identifier row, through columns that exclude the value.';

create policy "Analysts count merges" on customer_management.merge_log
for select to analyst using (true);

comment on policy "Analysts count merges" on customer_management.merge_log is
'Analysts see every merge: when, from which channel, by which role.';

create policy "Analysts count undos" on customer_management.merge_undos
for select to analyst using (true);

comment on policy "Analysts count undos" on customer_management.merge_undos is
'Analysts see every undone merge: when and by which role.';

create policy "Analysts follow conflicts" on customer_management.customer_conflicts
for select to analyst using (true);

comment on policy "Analysts follow conflicts" on customer_management.customer_conflicts is
'Analysts see every conflict: its accounts (ids), status and timing.';
