"""A database's objects and privileges as comparable text, for "exactly as before" checks.

``catalog_state`` describes every schema, relation, column privilege, function, type,
policy, trigger, default privilege and role membership outside the system schemas by name
(never by oid), so two states of the same database, or two databases built alike, compare
equal exactly when nothing of them changed.
"""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg import sql

Conn = psycopg.Connection[Any]
SYSTEM_SCHEMAS = ("pg_catalog", "information_schema", "pg_toast")

QUERIES: dict[str, str] = {
    "schemas": """
        select format('%I owner=%s acl=%s', n.nspname, n.nspowner::regrole, n.nspacl)
        from pg_catalog.pg_namespace as n
        where n.nspname <> all(%(system)s) and n.nspname not like 'pg\\_temp%'
            and n.nspname not like 'pg\\_toast\\_temp%'
    """,
    "relations": """
        select format(
            '%I.%I kind=%s owner=%s acl=%s rls=%s force_rls=%s',
            n.nspname, c.relname, c.relkind, c.relowner::regrole, c.relacl,
            c.relrowsecurity, c.relforcerowsecurity
        )
        from pg_catalog.pg_class as c
        inner join pg_catalog.pg_namespace as n on n.oid = c.relnamespace
        where n.nspname <> all(%(system)s) and c.relkind in ('r', 'p', 'v', 'm', 'S', 'f', 'i')
    """,
    "columns": """
        select format('%I.%I.%I %s notnull=%s acl=%s',
            n.nspname, c.relname, a.attname, pg_catalog.format_type(a.atttypid, a.atttypmod),
            a.attnotnull, a.attacl)
        from pg_catalog.pg_attribute as a
        inner join pg_catalog.pg_class as c on c.oid = a.attrelid
        inner join pg_catalog.pg_namespace as n on n.oid = c.relnamespace
        where n.nspname <> all(%(system)s) and a.attnum > 0 and not a.attisdropped
            and c.relkind in ('r', 'p', 'v', 'm', 'f')
    """,
    "functions": """
        select format('%s owner=%s definer=%s config=%s acl=%s',
            p.oid::regprocedure, p.proowner::regrole, p.prosecdef, p.proconfig, p.proacl)
        from pg_catalog.pg_proc as p
        inner join pg_catalog.pg_namespace as n on n.oid = p.pronamespace
        where n.nspname <> all(%(system)s)
    """,
    "types": """
        select format('%I.%I type=%s acl=%s', n.nspname, t.typname, t.typtype, t.typacl)
        from pg_catalog.pg_type as t
        inner join pg_catalog.pg_namespace as n on n.oid = t.typnamespace
        where n.nspname <> all(%(system)s) and t.typtype in ('c', 'd', 'e')
            and not exists (select 1 from pg_catalog.pg_class as c where c.reltype = t.oid)
    """,
    "policies": """
        select format('%I.%I %I cmd=%s permissive=%s roles=%s using=%s check=%s',
            p.schemaname, p.tablename, p.policyname, p.cmd, p.permissive, p.roles, p.qual,
            p.with_check)
        from pg_catalog.pg_policies as p
    """,
    "triggers": """
        select format('%I.%I %I enabled=%s function=%s', n.nspname, c.relname, t.tgname,
            t.tgenabled, t.tgfoid::regproc)
        from pg_catalog.pg_trigger as t
        inner join pg_catalog.pg_class as c on c.oid = t.tgrelid
        inner join pg_catalog.pg_namespace as n on n.oid = c.relnamespace
        where not t.tgisinternal
    """,
    "default_privileges": """
        select format('role=%s schema=%s type=%s acl=%s', d.defaclrole::regrole,
            coalesce(d.defaclnamespace::regnamespace::text, '-'), d.defaclobjtype, d.defaclacl)
        from pg_catalog.pg_default_acl as d
    """,
    "extensions": """
        select format('%I %s schema=%s', e.extname, e.extversion, e.extnamespace::regnamespace)
        from pg_catalog.pg_extension as e
    """,
    "memberships": """
        select format('%s in %s', m.member::regrole, m.roleid::regrole)
        from pg_catalog.pg_auth_members as m
    """,
    "roles": """
        select format('%I login=%s inherit=%s bypassrls=%s', r.rolname, r.rolcanlogin,
            r.rolinherit, r.rolbypassrls)
        from pg_catalog.pg_roles as r where r.rolname not like 'pg\\_%'
    """,
}


def catalog_state(conn: Conn, exclude_schemas: tuple[str, ...] = ()) -> dict[str, list[str]]:
    """Every object and privilege outside the system schemas (and ``exclude_schemas``), as
    sorted lines per kind."""
    system = sql.Literal(list(SYSTEM_SCHEMAS + exclude_schemas)).as_string(conn)
    state: dict[str, list[str]] = {}
    for kind, query in QUERIES.items():
        # Executed without parameters, so format()'s %I and %s reach the server as they are.
        rows = conn.execute(query.replace("%(system)s", system + "::text[]")).fetchall()
        lines = sorted(str(row[0]) for row in rows)
        state[kind] = [
            line
            for line in lines
            if not any(line.startswith(f"{s}.") or f" {s}." in line for s in exclude_schemas)
        ]
    return state


def difference(before: dict[str, list[str]], after: dict[str, list[str]]) -> dict[str, Any]:
    """What changed between two states: per kind, the lines gone and the lines added."""
    changes: dict[str, Any] = {}
    for kind in before.keys() | after.keys():
        gone = sorted(set(before.get(kind, [])) - set(after.get(kind, [])))
        added = sorted(set(after.get(kind, [])) - set(before.get(kind, [])))
        if gone or added:
            changes[kind] = {"gone": gone, "added": added}
    return changes
