"""The kit knows what it owns: whatever its migrations create outside its schema is recorded
in ``customer_management.shared_objects``, which is what uninstall drops.

A database gets the shim, then every migration; each table, view, function and trigger that
appeared outside ``customer_management`` must be recorded there, and each recorded one must
exist. A new migration that creates a public RPC and forgets to record it fails here, with
the line to add.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from customer_management.local import migrations
from support.helpers import new_database

Conn = psycopg.Connection[Any]
# Objects outside the kit's schema and the CLI's bookkeeping, by kind, as SQL names them
# (with an empty search path every name is qualified). Sequences owned by a column go with
# their table; triggers and policies on the kit's own tables go with them; the members of
# an extension go with the extension (recorded as one).
OUTSIDE = """
select
    case c.relkind when 'v' then 'view' when 'S' then 'sequence' else 'table' end,
    c.oid::regclass::text
from pg_catalog.pg_class as c
inner join pg_catalog.pg_namespace as n on n.oid = c.relnamespace
where n.nspname <> all(%(skipped)s) and c.relkind in ('r', 'p', 'v', 'm', 'f', 'S')
    and not exists (
        select 1 from pg_catalog.pg_depend as d
        where d.classid = 'pg_catalog.pg_class'::regclass and d.objid = c.oid
            and d.deptype in ('a', 'i', 'e')
    )
union all
select 'function', p.oid::regprocedure::text
from pg_catalog.pg_proc as p
inner join pg_catalog.pg_namespace as n on n.oid = p.pronamespace
where n.nspname <> all(%(skipped)s)
    and not exists (
        select 1 from pg_catalog.pg_depend as d
        where d.classid = 'pg_catalog.pg_proc'::regclass and d.objid = p.oid
            and d.deptype = 'e'
    )
union all
select 'extension', e.extname::text
from pg_catalog.pg_extension as e
union all
select 'trigger', format('%%I on %%s', t.tgname, t.tgrelid::regclass)
from pg_catalog.pg_trigger as t
where not t.tgisinternal and t.tgrelid <> all(%(kit_tables)s::oid[])
union all
select 'policy', format('%%I on %%s', p.polname, p.polrelid::regclass)
from pg_catalog.pg_policy as p
where p.polrelid <> all(%(kit_tables)s::oid[])
"""
# The kit's tables: those in its schema and those it recorded.
KIT_TABLES = """
select c.oid from pg_catalog.pg_class as c
where c.relnamespace = to_regnamespace('customer_management')
union all
select t.relation from (
    select case when o.kind = 'table' then to_regclass(o.name)::oid end as relation
    from customer_management.shared_objects as o
) as t
where t.relation is not null
"""
SKIPPED = [
    "pg_catalog",
    "information_schema",
    "pg_toast",
    "customer_management",
    "supabase_migrations",
]
RECORDED = """
select o.kind, case o.kind
    when 'function' then to_regprocedure(o.name)::text
    when 'trigger' then format(
        '%I on %s', split_part(o.name, ' on ', 1), to_regclass(split_part(o.name, ' on ', 2))
    )
    when 'extension' then (select e.extname::text from pg_catalog.pg_extension as e
        where e.extname = o.name)
    else to_regclass(o.name)::text
end
from customer_management.shared_objects as o
where o.kind in ('table', 'view', 'function', 'trigger', 'extension')
"""


@pytest.fixture
def shim_url(server_url: str, template_db: str) -> Iterator[str]:
    """A database with the shim only."""
    with new_database(server_url, "owned") as url:
        migrations.apply_shim(url)
        yield url


def outside_objects(url: str, installed: bool) -> set[tuple[str, str]]:
    """(kind, name) of every object outside the kit's schema (what hangs off the kit's
    tables aside)."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("set search_path = ''")
        kit_tables = [row[0] for row in conn.execute(KIT_TABLES)] if installed else []
        rows = conn.execute(OUTSIDE, {"skipped": SKIPPED, "kit_tables": kit_tables}).fetchall()
    return {(str(kind), str(name)) for kind, name in rows}


def recorded_objects(url: str) -> set[tuple[str, str | None]]:
    """(kind, name) of what shared_objects records, resolved (None: it does not exist)."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("set search_path = ''")
        return {(str(k), None if n is None else str(n)) for k, n in conn.execute(RECORDED)}


def test_everything_created_outside_the_schema_is_recorded(shim_url: str) -> None:
    before = outside_objects(shim_url, installed=False)
    migrations.apply_migrations(shim_url)
    created = outside_objects(shim_url, installed=True) - before
    recorded = recorded_objects(shim_url)
    missing = sorted(created - recorded)
    assert missing == [], (
        "objects the migrations create outside customer_management, not recorded; add to "
        "the migration that creates them:\n"
        + "\n".join(
            f"insert into customer_management.shared_objects (kind, name) "
            f"values ('{kind}', '{name}');"
            for kind, name in missing
        )
    )
    assert sorted(recorded - created) == [], "recorded but not created by the migrations"
    assert ("function", "public.customer_management(jsonb)") in created
    assert ("trigger", "customer_management_release_deleted_user on auth.users") in created
