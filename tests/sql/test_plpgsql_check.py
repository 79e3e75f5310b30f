"""plpgsql_check finds no error and no warning in any PL/pgSQL function of the kit.

Every plpgsql function in ``customer_management`` and ``public`` is checked with extra and security
warnings on (performance hints off). Trigger functions are checked against a table whose
trigger uses them, so NEW and OLD have a row type. Run by ``make test`` and ``make lint``.
"""

from __future__ import annotations

from typing import Any

import pytest

from support.security import Conn

KIT_SCHEMAS = ("customer_management", "public")
CHECK = """
select r.functionid::text, r.lineno, r.statement, r.sqlstate, r.message, r.detail,
    r.hint, r.level, r.query
from plpgsql_check_function_tb(
    %(oid)s::regprocedure, %(relid)s::regclass,
    oldtable => %(oldtable)s, newtable => %(newtable)s,
    fatal_errors => false,
    other_warnings => true,
    extra_warnings => true,
    performance_warnings => false,
    security_warnings => true
) as r
"""


def install(conn: Conn) -> None:
    """plpgsql_check in the test's own database (a throwaway copy of the template)."""
    conn.execute("create extension if not exists plpgsql_check")


def plpgsql_functions(conn: Conn) -> list[tuple[int, str, int, str | None, str | None]]:
    """(oid, signature, relid, old table, new table) of each kit plpgsql function; relid 0
    unless a trigger's, transition table names when its trigger has them (the one with
    both, when several triggers share the function)."""
    rows = conn.execute(
        """
        select p.oid::int, p.oid::regprocedure::text, coalesce(t.tgrelid::int, 0),
            t.tgoldtable::text, t.tgnewtable::text
        from pg_proc as p
        inner join pg_namespace as n on n.oid = p.pronamespace
        inner join pg_language as l on l.oid = p.prolang
        left join lateral (
            select tg.tgrelid, tg.tgoldtable, tg.tgnewtable from pg_trigger as tg
            where tg.tgfoid = p.oid
            order by (tg.tgoldtable is not null and tg.tgnewtable is not null) desc,
                tg.tgrelid::regclass::text
            limit 1
        ) as t on true
        where l.lanname = 'plpgsql'
            and n.nspname = any(%s)
            and not exists (
                select 1 from pg_depend as d
                where d.classid = 'pg_proc'::regclass and d.objid = p.oid and d.deptype = 'e'
            )
        order by 2
        """,
        (list(KIT_SCHEMAS),),
    ).fetchall()
    return [(int(r[0]), str(r[1]), int(r[2]), r[3], r[4]) for r in rows]


def findings(conn: Conn) -> list[dict[str, Any]]:
    """Every row plpgsql_check reports for the kit's functions, with the function named."""
    reported: list[dict[str, Any]] = []
    for oid, signature, relid, oldtable, newtable in plpgsql_functions(conn):
        params = {"oid": oid, "relid": relid, "oldtable": oldtable, "newtable": newtable}
        for row in conn.execute(CHECK, params).fetchall():
            names = ("function", "line", "statement", "sqlstate", "message", "detail")
            entry = dict(zip(names, row[:6], strict=True))
            entry.update(hint=row[6], level=row[7], query=row[8], checked=signature)
            reported.append(entry)
    return reported


def describe(entries: list[dict[str, Any]]) -> str:
    """One line per finding: level, function, line, message."""
    return "\n".join(
        f"{e['level']}: {e['checked']} line {e['line']}: {e['message']}"
        + (f" ({e['detail']})" if e["detail"] else "")
        for e in entries
    )


def test_every_plpgsql_function_is_clean(conn: Conn) -> None:
    """No error, warning, extra warning or security warning in any kit function."""
    install(conn)
    functions = plpgsql_functions(conn)
    assert len(functions) >= 20, "the kit's PL/pgSQL functions were found"
    triggers = [f for f in functions if f[2] != 0]
    assert {f[1] for f in triggers} >= {
        "customer_management.touch_updated_at()",
        "customer_management.refuse_audit_change()",
    }
    reported = findings(conn)
    offenders = [
        e for e in reported if str(e["level"]).split()[0] in ("error", "warning", "security")
    ]
    assert offenders == [], "plpgsql_check found problems:\n" + describe(offenders)
    assert reported == [], "plpgsql_check reported:\n" + describe(reported)


@pytest.mark.parametrize(
    ("body", "expected_level"),
    [
        ("begin return (select no_such_column from public.customers limit 1); end", "error"),
        ("declare unused integer; begin return 1; end", "warning"),
        ("begin execute 'select ' || t; return 1; end", "security"),
    ],
    ids=["error", "unused-variable", "sql-injection"],
)
def test_the_check_can_fail(conn: Conn, body: str, expected_level: str) -> None:
    """A broken or sloppy function in the kit's schema is reported by name (the check bites)."""
    install(conn)
    conn.execute(
        "create function customer_management.plpgsql_check_canary(t text default null) returns "
        "integer "
        f"language plpgsql set search_path = '' as $$ {body} $$"
    )
    reported = [
        e
        for e in findings(conn)
        if e["checked"] == "customer_management.plpgsql_check_canary(text)"
    ]
    assert reported, "the canary was not reported"
    assert {e["level"] for e in reported} >= {expected_level}, describe(reported)
