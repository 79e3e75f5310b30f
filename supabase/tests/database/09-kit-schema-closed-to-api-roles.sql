-- Nothing in the kit's schema is reachable by the API roles except the definer behind the
-- public RPC (and, for end users, the check of their direct edits): no table privileges for
-- anon, authenticated or service_role. In public, only the RPC itself is executable, and
-- not by anon.
begin;
set local client_min_messages = warning;
create extension if not exists pgtap with schema extensions;

select plan(4);

create temporary view api_executable_functions as
select format('%s %s', r.rolname, p.oid::regprocedure) as grant_held
from pg_catalog.pg_proc as p
inner join pg_catalog.pg_namespace as n on p.pronamespace = n.oid
cross join pg_catalog.pg_roles as r
where
    n.nspname in ('public', 'customer_management')
    and r.rolname in ('anon', 'authenticated', 'service_role')
    and pg_catalog.has_function_privilege(r.oid, p.oid, 'EXECUTE')
    and not exists (
        select 1 from pg_catalog.pg_depend as d
        where
            d.classid = 'pg_catalog.pg_proc'::regclass
            and d.objid = p.oid
            and d.deptype = 'e'
    )
order by 1;

select is(
    array(select grant_held from api_executable_functions),
    array[
        'authenticated current_customer_id(uuid)',
        'authenticated customer_management(jsonb)',
        'authenticated customer_management.check_profile_edit(text,text,text[],jsonb)',
        'authenticated customer_management.current_customer_id_for_caller(uuid)',
        'authenticated customer_management.customer_orders_for_caller(uuid,integer,integer)',
        'authenticated customer_management.erase_customer_for_caller(uuid,text)',
        'authenticated customer_management.export_customer_data_for_caller(uuid)',
        'authenticated customer_management.issue_verification(text,text,text,uuid,text)',
        'authenticated customer_management.resolve_conflict_for_caller(uuid,text,uuid,text)',
        'authenticated customer_management.resolve_customer(jsonb)',
        'authenticated customer_management.signed_in_customer_id()',
        'authenticated customer_management.support_conflict_queue_for_caller(text,integer,uuid)',
        'authenticated customer_management.support_customer_view_for_caller(uuid)',
        'authenticated customer_management.support_duplicate_merge_preview_for_caller(uuid[],uuid)',
        'authenticated customer_management.support_find_customers_for_caller(text,text)',
        'authenticated customer_management.support_keep_duplicates_apart_for_caller(uuid[],text)',
        'authenticated customer_management.support_merge_duplicates_for_caller(uuid[],uuid,text)',
        'authenticated customer_management.support_merge_preview_for_caller(uuid,uuid)',
        'authenticated customer_management.support_possible_duplicates_for_caller(integer,integer)',
        'authenticated customer_management.undo_merge_for_caller(bigint,boolean,text)',
        'authenticated customer_orders(uuid,integer,integer)',
        'authenticated erase_customer(uuid,text)',
        'authenticated export_customer_data(uuid)',
        'authenticated request_verification(text,text,text,uuid,text)',
        'authenticated resolve_conflict(uuid,text,uuid,text)',
        'authenticated support_conflict_queue(text,integer,uuid)',
        'authenticated support_customer_view(uuid)',
        'authenticated support_duplicate_merge_preview(uuid[],uuid)',
        'authenticated support_find_customers(text,text)',
        'authenticated support_keep_duplicates_apart(uuid[],text)',
        'authenticated support_merge_duplicates(uuid[],uuid,text)',
        'authenticated support_merge_preview(uuid,uuid)',
        'authenticated support_possible_duplicates(integer,integer)',
        'authenticated undo_merge(bigint,boolean,text)',
        'service_role current_customer_id(uuid)',
        'service_role customer_management(jsonb)',
        'service_role customer_management.current_customer_id_for_caller(uuid)',
        'service_role customer_management.customer_orders_for_caller(uuid,integer,integer)',
        'service_role customer_management.erase_customer_for_caller(uuid,text)',
        'service_role customer_management.export_customer_data_for_caller(uuid)',
        'service_role customer_management.issue_verification(text,text,text,uuid,text)',
        'service_role customer_management.resolve_conflict_for_caller(uuid,text,uuid,text)',
        'service_role customer_management.resolve_customer(jsonb)',
        'service_role customer_management.support_conflict_queue_for_caller(text,integer,uuid)',
        'service_role customer_management.support_customer_view_for_caller(uuid)',
        'service_role customer_management.support_duplicate_merge_preview_for_caller(uuid[],uuid)',
        'service_role customer_management.support_find_customers_for_caller(text,text)',
        'service_role customer_management.support_keep_duplicates_apart_for_caller(uuid[],text)',
        'service_role customer_management.support_merge_duplicates_for_caller(uuid[],uuid,text)',
        'service_role customer_management.support_merge_preview_for_caller(uuid,uuid)',
        'service_role customer_management.support_possible_duplicates_for_caller(integer,integer)',
        'service_role customer_management.undo_merge_for_caller(bigint,boolean,text)',
        'service_role customer_orders(uuid,integer,integer)',
        'service_role erase_customer(uuid,text)',
        'service_role export_customer_data(uuid)',
        'service_role request_verification(text,text,text,uuid,text)',
        'service_role resolve_conflict(uuid,text,uuid,text)',
        'service_role support_conflict_queue(text,integer,uuid)',
        'service_role support_customer_view(uuid)',
        'service_role support_duplicate_merge_preview(uuid[],uuid)',
        'service_role support_find_customers(text,text)',
        'service_role support_keep_duplicates_apart(uuid[],text)',
        'service_role support_merge_duplicates(uuid[],uuid,text)',
        'service_role support_merge_preview(uuid,uuid)',
        'service_role support_possible_duplicates(integer,integer)',
        'service_role undo_merge(bigint,boolean,text)'
    ],
    'API roles execute only the RPC and the definer behind it'
);

create temporary view kit_relation_privileges as
select format('%s %I.%I %s', r.rolname, n.nspname, c.relname, p.privilege) as offender
from pg_catalog.pg_class as c
inner join pg_catalog.pg_namespace as n on c.relnamespace = n.oid
cross join pg_catalog.pg_roles as r
cross join
    unnest(array[
        'SELECT', 'INSERT', 'UPDATE', 'DELETE', 'TRUNCATE', 'REFERENCES', 'TRIGGER'
    ]) as p (privilege)
where
    n.nspname = 'customer_management'
    and c.relkind in ('r', 'p', 'v', 'm', 'f')
    and r.rolname in ('anon', 'authenticated', 'service_role')
    and (
        pg_catalog.has_table_privilege(r.oid, c.oid, p.privilege)
        or (
            p.privilege in ('SELECT', 'INSERT', 'UPDATE', 'REFERENCES')
            and pg_catalog.has_any_column_privilege(r.oid, c.oid, p.privilege)
        )
    )
order by 1;

select is_empty(
    'select offender from kit_relation_privileges',
    'no API role has any privilege on a table in the kit schema'
);

-- The checks can fail: an extra grant on a kit function or table is named.
grant execute on function customer_management.mask_phone(text) to authenticated;
grant select on customer_management.audit_log to service_role;

select is(
    array(
        select grant_held from api_executable_functions
        where grant_held like '%mask_phone%'
    ),
    array['authenticated customer_management.mask_phone(text)'],
    'an extra EXECUTE grant to an API role is reported'
);

select is(
    array(
        select offender from kit_relation_privileges
        where offender like '%audit_log%'
    ),
    array['service_role customer_management.audit_log SELECT'],
    'a privilege of an API role on a table in the kit schema is reported'
);

select * from finish();
rollback;
