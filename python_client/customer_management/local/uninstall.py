"""Taking the kit out of a database: everything it created, and nothing else.

``installed_objects`` lists what ``uninstall`` would drop (the dry run); ``uninstall`` runs
``sql/uninstall.sql`` (one transaction that refuses to start when an object of the project
depends on the kit) and then deletes the kit's rows from the migration history, so the
Supabase CLI and ``migrate`` see a database that never had it.
"""

from __future__ import annotations

from typing import Any

import psycopg

from customer_management.local import migrations, paths

# Public objects the kit creates, checked by the host-project test against a database
# that is exactly as before the install once they are gone.
PUBLIC_TABLES = ("public.customers", "public.orders", "public.customer_events")
PUBLIC_FUNCTIONS = (
    "public.customer_management(jsonb)",
    "public.request_verification(text, text)",
    "public.resolve_conflict(uuid, text, uuid, text)",
    "public.undo_merge(bigint, boolean, text)",
    "public.export_customer_data(uuid)",
    "public.erase_customer(uuid, text)",
    "public.current_customer_id(uuid)",
    "public.customer_orders(uuid, integer, integer)",
    "public.support_conflict_queue(text, integer, uuid)",
    "public.support_find_customers(text, text)",
    "public.support_customer_view(uuid)",
    "public.support_merge_preview(uuid, uuid)",
    "public.support_possible_duplicates(integer, integer)",
    "public.support_duplicate_merge_preview(uuid[], uuid)",
    "public.support_merge_duplicates(uuid[], uuid, text)",
    "public.support_keep_duplicates_apart(uuid[], text)",
)
AUTH_TRIGGERS = ("customer_management_release_deleted_user",)
# The analysts' views; their schema, and the analyst role, are listed (and dropped) only
# when the kit created them (customer_management.shared_objects).
ANALYTICS_VIEWS = (
    "analytics.customer_journey",
    "analytics.daily_merge_rate",
    "analytics.account_completeness",
    "analytics.open_conflicts",
    "analytics.merge_activity",
    "analytics.resolution_quality",
)
SHARED_OBJECTS_QUERY = """
select case o.kind
    when 'schema_usage' then format('grant of usage on schema %s to analyst', o.name)
    else format('%s %s', o.kind, o.name)
end
from customer_management.shared_objects as o
where (o.kind in ('schema', 'schema_usage') and to_regnamespace(o.name) is not null)
    or (
        o.kind = 'role'
        and exists (select 1 from pg_catalog.pg_roles as r where r.rolname = o.name)
    )
    or (
        o.kind = 'extension'
        and exists (select 1 from pg_catalog.pg_extension as e where e.extname = o.name)
    )
order by o.kind desc, o.name
"""

LIST_QUERY = """
with kit as (select to_regnamespace('customer_management') as ns)
select format('schema %%s', n.nspname) from pg_catalog.pg_namespace as n, kit
where n.oid = kit.ns
union all
select pg_catalog.pg_describe_object('pg_catalog.pg_class'::regclass, c.oid, 0)
from pg_catalog.pg_class as c, kit
where c.relnamespace = kit.ns and c.relkind in ('r', 'p', 'v', 'm', 'S')
    and not exists (
        select 1 from pg_catalog.pg_depend as d
        where d.classid = 'pg_catalog.pg_class'::regclass and d.objid = c.oid
            and d.deptype in ('a', 'i')
    )
union all
select pg_catalog.pg_describe_object('pg_catalog.pg_type'::regclass, t.oid, 0)
from pg_catalog.pg_type as t, kit
where t.typnamespace = kit.ns and t.typtype = 'c'
    and not exists (select 1 from pg_catalog.pg_class as c where c.reltype = t.oid)
union all
select format('function %%s', p.oid::regprocedure)
from pg_catalog.pg_proc as p, kit
where p.pronamespace = kit.ns
union all
select format('table %%s', t) from unnest(%(tables)s::text[]) as t
where to_regclass(t) is not null
union all
select format('function %%s', f) from unnest(%(functions)s::text[]) as f
where to_regprocedure(f) is not null
union all
select format('view %%s', v) from unnest(%(views)s::text[]) as v
where to_regclass(v) is not null
union all
select format('trigger %%s on auth.users', tg.tgname)
from pg_catalog.pg_trigger as tg
where tg.tgrelid = to_regclass('auth.users') and tg.tgname = any(%(triggers)s::text[])
"""


def installed_objects(url: str) -> list[str]:
    """What the kit created in this database, one line per object (empty: not installed)."""
    params: dict[str, Any] = {
        "tables": list(PUBLIC_TABLES),
        "functions": list(PUBLIC_FUNCTIONS),
        "triggers": list(AUTH_TRIGGERS),
        "views": list(ANALYTICS_VIEWS),
    }
    with psycopg.connect(url, autocommit=True) as conn:
        objects = [str(row[0]) for row in conn.execute(LIST_QUERY, params).fetchall()]
        shared = conn.execute(
            "select to_regclass('customer_management.shared_objects') is not null"
        ).fetchone()
        if shared and shared[0]:
            objects += [str(row[0]) for row in conn.execute(SHARED_OBJECTS_QUERY).fetchall()]
        history = _kit_history(conn)
    if history:
        objects.append(
            f"{len(history)} row(s) of supabase_migrations.schema_migrations "
            f"({history[0]} .. {history[-1]})"
        )
    return objects


def uninstall(url: str) -> None:
    """Drop everything the kit created (one transaction), then forget its migrations."""
    migrations.run_script(url, paths.uninstall_file())
    with psycopg.connect(url) as conn:
        if _history_table_exists(conn):
            conn.execute(
                "delete from supabase_migrations.schema_migrations where version = any(%s)",
                ([m.version for m in migrations.discover()],),
            )


def _history_table_exists(conn: psycopg.Connection[Any]) -> bool:
    """True when the Supabase CLI's migration history table exists."""
    row = conn.execute(
        "select to_regclass('supabase_migrations.schema_migrations') is not null"
    ).fetchone()
    return bool(row and row[0])


def _kit_history(conn: psycopg.Connection[Any]) -> list[str]:
    """The kit's versions recorded in the migration history, in order."""
    if not _history_table_exists(conn):
        return []
    rows = conn.execute(
        "select version from supabase_migrations.schema_migrations where version = any(%s) "
        "order by version",
        ([m.version for m in migrations.discover()],),
    ).fetchall()
    return [str(row[0]) for row in rows]
