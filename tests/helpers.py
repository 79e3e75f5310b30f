"""Test helpers: call the RPC as PostgREST would, fake Supabase Auth users, snapshot data.

``call_rpc`` reproduces what PostgREST does per request: in one transaction it sets the
role and ``request.jwt.claims`` locally, then calls ``public.customer_management(jsonb)``.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg import sql

from customer_management.rpc_session import call_customer_management

Conn = psycopg.Connection[Any]
SNAPSHOT_TABLES = (("public", "customers"), ("public", "orders"))


def call_rpc(
    conn: Conn,
    body: dict[str, Any],
    role: str = "service_role",
    claims: dict[str, Any] | None = None,
) -> Any:
    """Call the RPC with ``body`` as ``role`` with JWT ``claims``; return the parsed JSON.

    ``claims`` defaults to ``{"role": role}`` (what a service-role key carries); for an end
    user pass the claims from ``create_auth_user``. Raises psycopg errors unchanged.
    """
    return call_customer_management(conn, body, role, claims)


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
    """Insert a Supabase Auth user; return its id and the claims of its access token.

    Like Supabase, the phone is stored (and put in the token) as digits without ``+``, and
    absent email/phone appear as ``""`` in the claims.
    """
    user_id = uuid.uuid4()
    stored_phone = phone.lstrip("+") if phone else None
    provider = "email" if email else "phone"
    app_metadata = {"provider": provider, "providers": [provider]}
    user_metadata: dict[str, Any] = {}
    conn.execute(
        """
        insert into auth.users (
            id, email, phone, email_confirmed_at, phone_confirmed_at,
            raw_user_meta_data, raw_app_meta_data, created_at, updated_at
        ) values (
            %s, %s, %s,
            case when %s then now() end, case when %s then now() end,
            %s::jsonb, %s::jsonb, now(), now()
        )
        """,
        (
            user_id,
            email,
            stored_phone,
            bool(email) and email_confirmed,
            bool(phone) and phone_confirmed,
            json.dumps(user_metadata),
            json.dumps(app_metadata),
        ),
    )
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": "http://127.0.0.1:54321/auth/v1",
        "sub": str(user_id),
        "aud": "authenticated",
        "exp": now + 3600,
        "iat": now,
        "email": email or "",
        "phone": stored_phone or "",
        "app_metadata": app_metadata,
        "user_metadata": user_metadata,
        "role": "authenticated",
        "aal": "aal1",
        "amr": [{"method": "password" if email else "otp", "timestamp": now}],
        "session_id": str(uuid.uuid4()),
        "is_anonymous": False,
    }
    return user_id, claims


def table_snapshot(conn: Conn) -> dict[str, list[str]]:
    """Dump public.customers, public.orders and every table in ``private`` as sorted text.

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
def cloned_database(server_url: str, template: str, prefix: str) -> Iterator[str]:
    """A fresh copy of the migrated ``template`` (a file copy: fast); yields its URL and
    drops it (WITH FORCE) afterwards."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute(
            sql.SQL("create database {} template {}").format(
                sql.Identifier(name), sql.Identifier(template)
            )
        )
    try:
        yield psycopg.conninfo.make_conninfo(server_url, dbname=name)
    finally:
        with psycopg.connect(server_url, autocommit=True) as admin:
            admin.execute(
                sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name))
            )
