"""Acting as an API role on a plain psycopg connection, the way PostgREST does.

PostgREST runs each request in one transaction after ``set local role <role>`` and
``set_config('request.jwt.claims', <claims>, true)``. ``acting_as`` is that transaction;
``call_rpc`` and ``call_customer_management`` call a function inside it. The demo, the
benchmarks, the local tools and the tests all act as the chatbot (service role) or as a
signed-in end user this one way, without an HTTP hop.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg import sql

Json = dict[str, Any]
Conn = psycopg.Connection[Any]


@contextmanager
def acting_as(conn: Conn, role: str, claims: Mapping[str, Any] | None = None) -> Iterator[Conn]:
    """One transaction acting as ``role`` with JWT ``claims``; yields the connection.

    ``claims`` default to ``{"role": role}`` (what an anon or service-role key carries); the
    role is always put in the claims, as PostgREST does. The transaction commits when the
    block ends normally and rolls back (re-raising) on an error.
    """
    payload = {"role": role, **(claims or {})}
    with conn.transaction():
        conn.execute(
            "select set_config('role', %s, true), set_config('request.jwt.claims', %s, true)",
            (role, json.dumps(payload)),
        )
        yield conn


def call_rpc(
    conn: Conn,
    function: str,
    args: Mapping[str, Any] | None = None,
    role: str = "service_role",
    claims: Mapping[str, Any] | None = None,
) -> Any:
    """Call ``public.<function>(name => value, ...)`` as ``role``; return its result.

    JSON results come back parsed (psycopg decodes json and jsonb).
    """
    arguments = sql.SQL(", ").join(
        sql.SQL("{} => {}").format(sql.Identifier(name), sql.Placeholder(name))
        for name in (args or {})
    )
    query = sql.SQL("select {}({})").format(sql.Identifier("public", function), arguments)
    with acting_as(conn, role, claims) as acting:
        row = acting.execute(query, dict(args or {})).fetchone()
    return None if row is None else row[0]


def call_customer_management(
    conn: Conn, body: Json, role: str = "service_role", claims: Mapping[str, Any] | None = None
) -> Any:
    """Call ``public.customer_management(body)`` (its single unnamed jsonb parameter)."""
    with acting_as(conn, role, claims) as acting:
        row = acting.execute(
            "select public.customer_management(%s::jsonb)", (json.dumps(body),)
        ).fetchone()
    if row is None:
        raise RuntimeError("customer_management returned no row")
    return row[0]
