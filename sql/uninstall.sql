-- Removes everything the customer management kit created, and nothing else: its schema
-- (tables, types, functions and the triggers and policies that use them) and what its
-- migrations created outside it, as they recorded it in customer_management.shared_objects
-- (tables, views and functions in the project's schemas, its trigger on auth.users, the
-- analyst role and analytics schema when the kit made them). Run by
-- `customer-management uninstall`, which also deletes the kit's rows from
-- supabase_migrations.schema_migrations.
--
-- All in one transaction: if an object of the project depends on anything of the kit (a
-- view or foreign key on public.customers, a policy calling a kit function), nothing is
-- dropped and the error names that object.

begin;
-- Every name below is qualified; an empty path also makes error messages name schemas.
set local search_path = '';

-- A kit from before shared_objects listed everything it created (0.1.0) cannot say what it
-- owns outside its schema.
do $refuse_when_the_kit_cannot_say_what_it_owns$
declare
    outdated boolean := false;
begin
    if to_regnamespace('customer_management') is null then
        return;
    elsif to_regclass('customer_management.shared_objects') is null then
        outdated := true;
    else
        outdated := not exists (
            select 1 from customer_management.shared_objects as o where o.kind = 'table'
        );
    end if;
    if outdated then
        raise exception using
            errcode = '55000',
            message = 'customer management kit: this database has an older version of the kit, '
            || 'which does not list what it created; nothing was uninstalled',
            hint = 'Apply the pending migrations first (customer-management migrate, or '
            || 'supabase db push), then run the uninstall again.';
    end if;
end
$refuse_when_the_kit_cannot_say_what_it_owns$;

do $refuse_when_the_project_depends_on_the_kit$
declare
    kit_schema oid := to_regnamespace('customer_management');
    dependents text;
begin
    if kit_schema is null then
        return;
    end if;
    with owned as (
        select o.kind, o.name from customer_management.shared_objects as o
    ),

    -- Each name read as what its kind says (a function's name is no relation's).
    owned_oids as (
        select
            o.kind,
            o.name,
            case when o.kind in ('table', 'view') then to_regclass(o.name)::oid end as relation,
            case when o.kind = 'function' then to_regprocedure(o.name)::oid end as function
        from owned as o
    ),

    kit_relations as (
        select c.oid from pg_catalog.pg_class as c where c.relnamespace = kit_schema
        union
        select o.relation from owned_oids as o where o.relation is not null
    ),

    kit_functions as (
        select p.oid from pg_catalog.pg_proc as p where p.pronamespace = kit_schema
        union
        select o.function from owned_oids as o where o.function is not null
    ),

    kit_triggers as (
        select tg.oid from owned as o
        inner join pg_catalog.pg_trigger as tg
            on
                o.kind = 'trigger'
                and tg.tgname = split_part(o.name, ' on ', 1)
                and tg.tgrelid = case
                    when o.kind = 'trigger' then to_regclass(split_part(o.name, ' on ', 2))
                end
    ),

    kit_objects as (
        select 'pg_catalog.pg_class'::regclass as classid, k.oid as objid from kit_relations as k
        union all
        select 'pg_catalog.pg_proc'::regclass, f.oid from kit_functions as f
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
            end as in_schema
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
        or (
            x.classid = 'pg_catalog.pg_proc'::regclass
            and x.objid in (select f.oid from kit_functions as f)
        )
        or (
            x.classid = 'pg_catalog.pg_trigger'::regclass
            and x.objid in (select t.oid from kit_triggers as t)
        )
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

-- Views, triggers and functions first, then the kit's schema (with everything in it and
-- what hangs off it), then its tables. The analytics schema goes if the kit created it and
-- the project put nothing in it (else the analyst's usage of it, when the kit granted
-- that); the analyst role if the kit created it and nothing else (another database of this
-- cluster where the kit is installed, a grant of the project's) still uses it.
do $drop_what_the_kit_owns$
declare
    owned record;
    created text[];
    tables text;
begin
    if to_regclass('customer_management.shared_objects') is null then
        return;
    end if;
    select array_agg(o.kind || ':' || o.name) into created
    from customer_management.shared_objects as o;
    for owned in
        select o.kind, o.name from customer_management.shared_objects as o
        where o.kind in ('view', 'trigger', 'function')
        order by array_position(array['view', 'trigger', 'function'], o.kind), o.name
    loop
        if owned.kind = 'view' and to_regclass(owned.name) is not null then
            execute format('drop view %s', to_regclass(owned.name));
        elsif owned.kind = 'trigger'
            and to_regclass(split_part(owned.name, ' on ', 2)) is not null then
            execute format(
                'drop trigger if exists %I on %s',
                split_part(owned.name, ' on ', 1), to_regclass(split_part(owned.name, ' on ', 2))
            );
        elsif owned.kind = 'function' and to_regprocedure(owned.name) is not null then
            execute format('drop function %s', to_regprocedure(owned.name));
        end if;
    end loop;
    select string_agg(t.relation::text, ', ') into tables
    from (
        select case when o.kind = 'table' then to_regclass(o.name) end as relation
        from customer_management.shared_objects as o
    ) as t
    where t.relation is not null;

    drop schema customer_management cascade;
    if tables is not null then
        execute 'drop table ' || tables;
    end if;

    -- Extensions the kit created (text similarity for possible duplicates), unless the
    -- project has come to use them meanwhile.
    for owned in
        select split_part(x, ':', 2) as name from unnest(created) as x
        where x like 'extension:%'
    loop
        if exists (select 1 from pg_catalog.pg_extension as e where e.extname = owned.name) then
            begin
                execute format('drop extension %I', owned.name);
            exception when dependent_objects_still_exist then
                raise notice 'kept extension %: %', owned.name, sqlerrm;
            end;
        end if;
    end loop;

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
end
$drop_what_the_kit_owns$;

commit;
