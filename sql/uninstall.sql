-- Removes everything the customer management kit created, and nothing else: its schema
-- (tables, types, functions and the triggers and policies that use them), its public
-- tables and RPCs, and its trigger on auth.users. Run by `customer-management uninstall`,
-- which also deletes the kit's rows from supabase_migrations.schema_migrations.
--
-- All in one transaction: if an object of the project depends on anything of the kit (a
-- view or foreign key on public.customers, a policy calling a kit function), nothing is
-- dropped and the error names that object.

begin;
-- Every name below is qualified; an empty path also makes error messages name schemas.
set local search_path = '';

do $refuse_when_the_project_depends_on_the_kit$
declare
    kit_schema oid := to_regnamespace('customer_management');
    dependents text;
begin
    if kit_schema is null then
        return;
    end if;
    with kit_relations as (
        select c.oid from pg_catalog.pg_class as c
        where
            c.relnamespace = kit_schema
            or c.oid in (
                coalesce(to_regclass('public.customers'), 0),
                coalesce(to_regclass('public.orders'), 0),
                coalesce(to_regclass('public.customer_events'), 0)
            )
            -- The kit's analytics views (the schema may be the project's own).
            or c.oid in (
                select coalesce(to_regclass('analytics.' || v.name), 0)
                from unnest(array[
                    'customer_journey', 'daily_merge_rate', 'account_completeness',
                    'open_conflicts', 'merge_activity', 'resolution_quality'
                ]) as v (name)
            )
    ),

    kit_objects as (
        select 'pg_catalog.pg_class'::regclass as classid, k.oid as objid from kit_relations as k
        union all
        select 'pg_catalog.pg_proc'::regclass, p.oid from pg_catalog.pg_proc as p
        where p.pronamespace = kit_schema
        union all
        select 'pg_catalog.pg_type'::regclass, t.oid from pg_catalog.pg_type as t
        where t.typnamespace = kit_schema
        union all
        select 'pg_catalog.pg_type'::regclass, c.reltype from pg_catalog.pg_class as c
        where c.oid in (select k.oid from kit_relations as k)
    ),

    -- What each dependent object belongs to: the table it hangs off (an index, trigger,
    -- policy, rule, default or constraint), or the schema of a function or type.
    dependents as (
        select
            d.classid,
            d.objid,
            d.objsubid,
            case d.classid
                when 'pg_catalog.pg_class'::regclass
                    then coalesce(
                        (select i.indrelid from pg_catalog.pg_index as i where i.indexrelid = d.objid),
                        d.objid
                    )
                when 'pg_catalog.pg_trigger'::regclass
                    then (select tg.tgrelid from pg_catalog.pg_trigger as tg where tg.oid = d.objid)
                when 'pg_catalog.pg_policy'::regclass
                    then (select po.polrelid from pg_catalog.pg_policy as po where po.oid = d.objid)
                when 'pg_catalog.pg_rewrite'::regclass
                    then (select rw.ev_class from pg_catalog.pg_rewrite as rw where rw.oid = d.objid)
                when 'pg_catalog.pg_attrdef'::regclass
                    then (select ad.adrelid from pg_catalog.pg_attrdef as ad where ad.oid = d.objid)
                when 'pg_catalog.pg_constraint'::regclass
                    then (
                        select co.conrelid from pg_catalog.pg_constraint as co
                        where co.oid = d.objid
                    )
            end as on_table,
            case d.classid
                when 'pg_catalog.pg_proc'::regclass
                    then (select p.pronamespace from pg_catalog.pg_proc as p where p.oid = d.objid)
                when 'pg_catalog.pg_type'::regclass
                    then (select t.typnamespace from pg_catalog.pg_type as t where t.oid = d.objid)
            end as in_schema,
            case d.classid
                when 'pg_catalog.pg_trigger'::regclass
                    then (select tg.tgname from pg_catalog.pg_trigger as tg where tg.oid = d.objid)
            end as trigger_name
        from pg_catalog.pg_depend as d
        inner join kit_objects as k on d.refclassid = k.classid and d.refobjid = k.objid
        where d.deptype in ('n', 'a')
    )

    -- A view is named as the view, not as its _RETURN rule.
    select string_agg(
        distinct case
            when x.classid = 'pg_catalog.pg_rewrite'::regclass
                then pg_catalog.pg_describe_object('pg_catalog.pg_class'::regclass, x.on_table, 0)
            else pg_catalog.pg_describe_object(x.classid, x.objid, x.objsubid)
        end,
        '; '
    )
    into dependents
    from dependents as x
    where not (
        coalesce(x.on_table in (select k.oid from kit_relations as k), false)
        or coalesce(x.in_schema = kit_schema, false)
        or coalesce(x.trigger_name like 'customer\_management\_%', false)
    );

    if dependents is not null then
        raise exception using
            errcode = '2BP01',
            message = 'customer management kit: objects of this project depend on the kit; '
            || 'nothing was uninstalled',
            detail = dependents,
            hint = 'Drop or change those objects first, then run the uninstall again.';
    end if;
end
$refuse_when_the_project_depends_on_the_kit$;

do $unschedule_maintenance$
begin
    if to_regclass('cron.job') is not null then
        perform cron.unschedule(j.jobid) from cron.job as j
        where j.jobname = 'customer-management-maintenance';
    end if;
end
$unschedule_maintenance$;

-- The role and schema the kit created outside its own schema (shared_objects), read
-- before that schema goes.
do $remember_shared_objects$
begin
    if to_regclass('customer_management.shared_objects') is not null then
        perform pg_catalog.set_config(
            'customer_management.uninstall_shared_objects',
            coalesce((
                select string_agg(o.kind || ':' || o.name, ',')
                from customer_management.shared_objects as o
            ), ''),
            true
        );
    end if;
end
$remember_shared_objects$;

drop view if exists analytics.customer_journey;
drop view if exists analytics.daily_merge_rate;
drop view if exists analytics.account_completeness;
drop view if exists analytics.open_conflicts;
drop view if exists analytics.merge_activity;
drop view if exists analytics.resolution_quality;
drop trigger if exists customer_management_release_deleted_user on auth.users;
drop function if exists public.customer_management(jsonb);
drop function if exists public.request_verification(text, text);
drop function if exists public.resolve_conflict(uuid, text, uuid, text);
drop function if exists public.undo_merge(bigint, boolean, text);
drop function if exists public.export_customer_data(uuid);
drop function if exists public.erase_customer(uuid, text);
drop function if exists public.current_customer_id(uuid);
drop function if exists public.customer_orders(uuid, integer, integer);
drop function if exists public.support_conflict_queue(text, integer, uuid);
drop function if exists public.support_find_customers(text, text);
drop function if exists public.support_customer_view(uuid);
drop function if exists public.support_merge_preview(uuid, uuid);
drop function if exists public.support_possible_duplicates(integer, integer);
drop function if exists public.support_duplicate_merge_preview(uuid[], uuid);
drop function if exists public.support_merge_duplicates(uuid[], uuid, text);
drop function if exists public.support_keep_duplicates_apart(uuid[], text);
drop schema if exists customer_management cascade;
drop table if exists public.customer_events;
drop table if exists public.orders;
drop table if exists public.customers;

-- The analytics schema goes if the kit created it and the project put nothing in it (else
-- the analyst's usage of it, when the kit granted that); the analyst role if the kit
-- created it and nothing else (another database of this cluster where the kit is
-- installed, a grant of the project's) still uses it.
do $drop_shared_objects$
declare
    created text[] := string_to_array(
        current_setting('customer_management.uninstall_shared_objects', true), ','
    );
    extension_name text;
begin
    if 'schema:analytics' = any(created) and to_regnamespace('analytics') is not null then
        if exists (
            select 1 from pg_catalog.pg_class as c
            where c.relnamespace = to_regnamespace('analytics')
        ) or exists (
            select 1 from pg_catalog.pg_proc as p
            where p.pronamespace = to_regnamespace('analytics')
        ) then
            raise notice 'kept schema analytics: it holds objects of the project';
        else
            drop schema analytics;
        end if;
    end if;
    if ('role:analyst' = any(created) or 'schema_usage:analytics' = any(created))
        and to_regnamespace('analytics') is not null
        and exists (select 1 from pg_catalog.pg_roles as r where r.rolname = 'analyst') then
        revoke usage on schema analytics from analyst;
    end if;
    if 'role:analyst' = any(created)
        and exists (select 1 from pg_catalog.pg_roles as r where r.rolname = 'analyst') then
        begin
            drop role analyst;
        exception when dependent_objects_still_exist then
            raise notice 'kept role analyst: %', sqlerrm;
        end;
    end if;
    -- Extensions the kit created (text similarity for possible duplicates), unless the
    -- project uses them by now.
    foreach extension_name in array array['fuzzystrmatch', 'pg_trgm'] loop
        if 'extension:' || extension_name = any(created) then
            begin
                execute format('drop extension if exists %I', extension_name);
            exception when dependent_objects_still_exist then
                raise notice 'kept extension %: %', extension_name, sqlerrm;
            end;
        end if;
    end loop;
end
$drop_shared_objects$;

commit;
