"""Test helpers: call the RPC as PostgREST would, fake Supabase Auth users, snapshot data.

``call_rpc`` reproduces what PostgREST does per request: in one transaction it sets the
role and ``request.jwt.claims`` locally, then calls ``public.customer_management(jsonb)``.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg import sql

from customer_management.local import auth_users
from customer_management.local.rpc_session import call_customer_management
from customer_management.local.rpc_session import call_rpc as call_named_rpc

Conn = psycopg.Connection[Any]
SNAPSHOT_TABLES = (("public", "customers"), ("public", "orders"), ("public", "customer_events"))


# The RPC as PostgREST calls it: call_rpc(conn, body, role="service_role", claims=None).
# claims default to {"role": role}; for an end user pass the claims of create_auth_user.
call_rpc = call_customer_management


def expect_error(
    conn: Conn,
    body: dict[str, Any],
    role: str = "service_role",
    claims: dict[str, Any] | None = None,
) -> dict[str, str | None]:
    """Call the RPC expecting an error; return its sqlstate, message, detail and hint."""
    try:
        result = call_rpc(conn, body, role, claims)
    except psycopg.Error as exc:
        return {
            "sqlstate": exc.diag.sqlstate,
            "message": exc.diag.message_primary,
            "detail": exc.diag.message_detail,
            "hint": exc.diag.message_hint,
        }
    raise AssertionError(f"expected an error, got {result!r}")


def create_auth_user(
    conn: Conn,
    email: str | None = None,
    phone: str | None = None,
    email_confirmed: bool = True,
    phone_confirmed: bool = True,
) -> tuple[uuid.UUID, dict[str, Any]]:
    """A Supabase Auth user made the kit's one way (``auth_users.create_user``); its id and
    the claims of its access token.

    Like Supabase, the phone is stored (and put in the token) as digits without ``+``, and
    absent email/phone appear as ``""`` in the claims.
    """
    user = auth_users.create_user(
        conn, email, phone, email_confirmed=email_confirmed, phone_confirmed=phone_confirmed
    )
    return user.id, user.claims()


def table_snapshot(conn: Conn) -> dict[str, list[str]]:
    """Dump the kit's public tables and every table in ``customer_management`` as sorted text.

    Compare two snapshots to assert that a failed call left the database unchanged.
    """
    rows = conn.execute(
        "select schemaname::text, tablename::text from pg_tables "
        "where schemaname = 'customer_management' order by 1, 2"
    ).fetchall()
    tables = [*SNAPSHOT_TABLES, *((schema, name) for schema, name in rows)]
    snapshot: dict[str, list[str]] = {}
    for schema, name in tables:
        exists = conn.execute(
            "select to_regclass(format('%%I.%%I', %s::text, %s::text)) is not null",
            (schema, name),
        ).fetchone()
        if not exists or not exists[0]:
            continue
        query = sql.SQL("select t::text from {} as t order by 1").format(
            sql.Identifier(schema, name)
        )
        snapshot[f"{schema}.{name}"] = [row[0] for row in conn.execute(query).fetchall()]
    return snapshot


@contextmanager
def new_database(server_url: str, prefix: str, template: str | None = None) -> Iterator[str]:
    """A new database on the server of ``server_url``, empty or a copy of ``template`` (a
    file copy: fast); yields its URL and drops it (WITH FORCE) afterwards."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    create = sql.SQL("create database {}").format(sql.Identifier(name))
    if template is not None:
        create += sql.SQL(" template {}").format(sql.Identifier(template))
    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute(create)
    try:
        yield server_url.rsplit("/", 1)[0] + "/" + name
    finally:
        with psycopg.connect(server_url, autocommit=True) as admin:
            admin.execute(
                sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name))
            )


@contextmanager
def cloned_database(server_url: str, template: str, prefix: str) -> Iterator[str]:
    """A fresh copy of the migrated ``template``; yields its connection string."""
    with new_database(server_url, prefix, template) as url:
        yield psycopg.conninfo.make_conninfo(server_url, dbname=url.rsplit("/", 1)[1])


def with_code(conn: Conn, body: dict[str, Any], identifier: str = "email") -> dict[str, Any]:
    """``body`` carrying a verification code for its email (or phone): what the chatbot
    sends once the caller has read back the code ``request_verification`` issued."""
    issued = call_named_rpc(
        conn,
        "request_verification",
        {"identifier_type": identifier, "identifier_value": body[identifier]},
    )
    return {**body, "verification": {"id": issued["verificationId"], "code": issued["code"]}}
