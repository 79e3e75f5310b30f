"""Direct edits of one's own row (supabase.from('customers').update(...)) follow the RPC's rules.

End users may change names, allergies and preferences of their own account; the trigger
``customer_management.guard_end_user_update`` refuses what the RPC would refuse and keeps the
channel-tracking keys of ``preferences`` as the kit recorded them.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from support.helpers import call_rpc, create_auth_user, table_snapshot
from support.security import as_role, sql_error

Conn = Any


@pytest.fixture
def signed_in(conn: Conn) -> dict[str, Any]:
    """An end user with an account created through the RPC; returns their claims."""
    _, claims = create_auth_user(conn, email="pat@mail.com")
    call_rpc(conn, {"email": "pat@mail.com", "source": "webapp"}, "authenticated", claims)
    return claims


def test_allowed_edit_keeps_tracking_keys(conn: Conn, signed_in: dict[str, Any]) -> None:
    """Names, allergies and own preference keys change; account_sources cannot be forged."""
    forged = {"account_sources": ["forged"], "created_via": "chatbot", "theme": "dark"}
    with as_role(conn, "authenticated", signed_in) as acting:
        row = acting.execute(
            "update public.customers set first_name = 'Pat', allergies = '{kiwi}', "
            "preferences = preferences || %s::jsonb returning first_name, allergies, preferences",
            (json.dumps(forged),),
        ).fetchone()
    assert row is not None
    assert row[0] == "Pat" and row[1] == ["kiwi"]
    assert row[2] == {
        "theme": "dark",
        "account_sources": ["webapp"],
        "created_via": "webapp",
        "last_updated_via": "webapp",
    }
    response = call_rpc(
        conn, {"email": "pat@mail.com", "source": "webapp"}, "authenticated", signed_in
    )
    assert response["customer"]["accountSources"] == ["webapp"]
    assert response["customer"]["name"] == "Pat"


@pytest.mark.parametrize(
    ("assignment", "code"),
    [
        ("first_name = E'Pat\\x07'", "invalid_name"),
        ("last_name = E'Line\\nbreak'", "invalid_name"),
        ("allergies = array_fill('x'::text, array[51])", "invalid_allergies"),
        ("allergies = array[repeat('x', 101)]", "invalid_allergies"),
        ("allergies = array['']", "invalid_allergies"),
    ],
)
def test_edit_the_rpc_would_refuse_is_refused(
    conn: Conn, signed_in: dict[str, Any], assignment: str, code: str
) -> None:
    """What the RPC refuses, a direct edit refuses with the same stable code."""
    before = table_snapshot(conn)
    error = sql_error(conn, "authenticated", signed_in, f"update public.customers set {assignment}")
    assert (error["sqlstate"], error["message"]) == ("P0001", code)
    assert table_snapshot(conn) == before
