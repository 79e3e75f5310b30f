"""The shared test helpers behave like PostgREST and Supabase Auth would."""

from __future__ import annotations

import json
from typing import Any

import psycopg
import pytest

from support.helpers import call_rpc, create_auth_user, table_snapshot


def test_create_auth_user_stores_phone_without_plus(conn: psycopg.Connection[Any]) -> None:
    """Users land in auth.users like Supabase Auth stores them; claims look like a token."""
    user_id, claims = create_auth_user(conn, email="Ann@Example.com", phone="+15551234567")
    row = conn.execute(
        "select phone, email, email_confirmed_at is not null from auth.users where id = %s",
        (user_id,),
    ).fetchone()
    assert row == ("15551234567", "Ann@Example.com", True)
    assert claims["sub"] == str(user_id)
    assert claims["role"] == "authenticated"
    assert claims["phone"] == "15551234567"


def test_claims_reach_auth_functions(conn: psycopg.Connection[Any]) -> None:
    """The settings call_rpc makes are what auth.uid()/auth.role() read."""
    user_id, claims = create_auth_user(conn, email="bob@example.com")
    with conn.transaction():
        conn.execute(
            "select set_config('role', 'authenticated', true), "
            "set_config('request.jwt.claims', %s, true)",
            (json.dumps(claims),),
        )
        row = conn.execute("select auth.uid(), auth.role(), auth.email()").fetchone()
    assert row == (user_id, "authenticated", "bob@example.com")


def test_table_snapshot_sees_changes(conn: psycopg.Connection[Any]) -> None:
    """A snapshot covers customers, orders and the private tables, and notices writes."""
    before = table_snapshot(conn)
    assert "public.customers" in before
    assert any(name.startswith("customer_management.") for name in before)
    with conn.transaction():
        conn.execute("insert into public.customers (first_name) values ('Snap')")
        assert table_snapshot(conn) != before
        raise psycopg.Rollback()
    assert table_snapshot(conn) == before


def test_call_rpc_as_service_role(conn: psycopg.Connection[Any]) -> None:
    """A chatbot's first request works through call_rpc (once the RPC exists)."""
    exists = conn.execute(
        "select to_regprocedure('public.customer_management(jsonb)') is not null"
    ).fetchone()
    if not exists or not exists[0]:
        pytest.skip("public.customer_management(jsonb) is not migrated yet")
    result = call_rpc(conn, {"phone": "555-123-4567", "source": "chatbot"})
    assert isinstance(result, dict)
