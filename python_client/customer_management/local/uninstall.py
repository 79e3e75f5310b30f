"""Taking the kit out of a database: everything it created, and nothing else.

What the kit owns is read from the database: its schema ``customer_management``, and what
its migrations created outside it, which they record in
``customer_management.shared_objects``. ``installed_objects`` lists what ``uninstall``
would drop (the dry run); ``uninstall`` runs ``sql/uninstall.sql`` (one transaction that
refuses to start when an object of the project depends on the kit) and then deletes the
kit's rows from the migration history, so the Supabase CLI and ``migrate`` see a database
that never had it.
"""

from __future__ import annotations

from typing import Any

import psycopg

from customer_management.local import migrations, paths

LIST_QUERY = """
with kit as (select to_regnamespace('customer_management') as ns)
select format('schema %s', n.nspname) from pg_catalog.pg_namespace as n, kit
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
select format('function %s', p.oid::regprocedure)
from pg_catalog.pg_proc as p, kit
where p.pronamespace = kit.ns
"""
# What the migrations recorded outside the schema, as far as it is still there.
OWNED_QUERY = """
select case o.kind
    when 'schema_usage' then format('grant of usage on schema %s to analyst', o.name)
    else format('%s %s', o.kind, o.name)
end
from customer_management.shared_objects as o
where case o.kind
    when 'schema' then to_regnamespace(o.name) is not null
    when 'schema_usage' then to_regnamespace(o.name) is not null
    when 'role' then exists (select 1 from pg_catalog.pg_roles as r where r.rolname = o.name)
    when 'function' then to_regprocedure(o.name) is not null
    when 'trigger' then exists (
        select 1 from pg_catalog.pg_trigger as t
        where t.tgname = split_part(o.name, ' on ', 1)
            and t.tgrelid = to_regclass(split_part(o.name, ' on ', 2))
    )
    else to_regclass(o.name) is not null
end
order by array_position(
    array['table', 'view', 'function', 'trigger', 'schema', 'schema_usage', 'role'], o.kind
), o.name
"""


def installed_objects(url: str) -> list[str]:
    """What the kit created in this database, one line per object (empty: not installed)."""
    with psycopg.connect(url, autocommit=True) as conn:
        objects = [str(row[0]) for row in conn.execute(LIST_QUERY).fetchall()]
        shared = conn.execute(
            "select to_regclass('customer_management.shared_objects') is not null"
        ).fetchone()
        if shared and shared[0]:
            objects += [str(row[0]) for row in conn.execute(OWNED_QUERY).fetchall()]
        history = _kit_history(conn)
    if history:
        objects.append(
            f"{len(history)} row(s) of supabase_migrations.schema_migrations "
            f"({history[0]} .. {history[-1]})"
        )
    return objects


def is_outdated(url: str) -> bool:
    """True when the kit here predates the migration that records everything it created
    outside its schema: ``sql/uninstall.sql`` refuses until the migrations are applied."""
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(
            "select to_regnamespace('customer_management') is not null, "
            "to_regclass('customer_management.shared_objects') is not null"
        ).fetchone()
        installed, recorded = row if row else (False, False)
        if not installed:
            return False
        if not recorded:
            return True
        row = conn.execute(
            "select not exists (select 1 from customer_management.shared_objects "
            "where kind = 'table')"
        ).fetchone()
        return bool(row and row[0])


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
