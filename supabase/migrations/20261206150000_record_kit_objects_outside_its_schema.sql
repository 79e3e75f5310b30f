-- Uninstall drops what the kit owns: its schema, and what its migrations created outside
-- it. shared_objects listed only the role and the schema the kit creates when a project has
-- none; it now also lists the tables, views, functions and triggers the kit created in the
-- project's schemas (public, analytics, auth), so uninstall reads them from the database
-- it runs on. A later migration that creates such an object records it here in the same
-- file; a test fails when one is missing.

alter table customer_management.shared_objects
drop constraint shared_objects_kind_check;

alter table customer_management.shared_objects
add constraint shared_objects_kind_check check (
    kind in ('role', 'schema', 'schema_usage', 'table', 'view', 'function', 'trigger')
);

comment on table customer_management.shared_objects is
'What the kit created outside its own schema, which uninstall drops with it: tables, views '
'and functions in the project''s schemas, triggers on its tables, and the analyst role and '
'analytics schema (or the analyst''s usage of it) when the kit created them.';

comment on column customer_management.shared_objects.kind is
'table, view, function, trigger, role, schema, or schema_usage (the analyst''s usage of a '
'schema of the project''s).';

comment on column customer_management.shared_objects.name is
'The object as SQL names it: public.customers, public.erase_customer(uuid, text), '
'customer_management_release_deleted_user on auth.users, analyst.';

insert into customer_management.shared_objects (kind, name) values
('table', 'public.customers'),
('table', 'public.orders'),
('table', 'public.customer_events'),
('function', 'public.customer_management(jsonb)'),
('function', 'public.request_verification(text, text)'),
('function', 'public.resolve_conflict(uuid, text, uuid, text)'),
('function', 'public.undo_merge(bigint, boolean, text)'),
('function', 'public.export_customer_data(uuid)'),
('function', 'public.erase_customer(uuid, text)'),
('function', 'public.current_customer_id(uuid)'),
('function', 'public.customer_orders(uuid, integer, integer)'),
('function', 'public.support_conflict_queue(text, integer, uuid)'),
('function', 'public.support_find_customers(text, text)'),
('function', 'public.support_customer_view(uuid)'),
('function', 'public.support_merge_preview(uuid, uuid)'),
('view', 'analytics.customer_journey'),
('view', 'analytics.daily_merge_rate'),
('view', 'analytics.account_completeness'),
('view', 'analytics.open_conflicts'),
('view', 'analytics.merge_activity'),
('view', 'analytics.resolution_quality'),
('trigger', 'customer_management_release_deleted_user on auth.users');
