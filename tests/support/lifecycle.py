"""Helpers for the account-lifecycle tests: call the lifecycle RPCs, raise a conflict, make
a support agent.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import psycopg

from customer_management.local.rpc_session import call_rpc as call_named_rpc
from support.helpers import call_rpc, create_auth_user, with_code

Conn = psycopg.Connection[Any]
PHONE = "+15556010001"
EMAIL = "kim@mail.com"


def rpc(
    conn: Conn,
    function: str,
    args: Mapping[str, Any] | None = None,
    role: str = "service_role",
    claims: Mapping[str, Any] | None = None,
) -> Any:
    """``public.<function>(name => value, ...)`` as ``role``, as PostgREST calls it."""
    return call_named_rpc(conn, function, args, role, claims)


def rpc_error(
    conn: Conn,
    function: str,
    args: Mapping[str, Any] | None = None,
    role: str = "service_role",
    claims: Mapping[str, Any] | None = None,
) -> dict[str, str | None]:
    """Call a lifecycle RPC expecting an error; return sqlstate, message, detail and hint."""
    try:
        result = rpc(conn, function, args, role, claims)
    except psycopg.Error as exc:
        return {
            "sqlstate": exc.diag.sqlstate,
            "message": exc.diag.message_primary,
            "detail": exc.diag.message_detail,
            "hint": exc.diag.message_hint,
        }
    raise AssertionError(f"expected an error from {function}, got {result!r}")


@dataclass
class Conflicted:
    """Two accounts one request matched: by phone (chatbot, older) and by email."""

    phone_account: str
    email_account: str
    conflict_id: str


def raise_conflict(conn: Conn, phone: str = PHONE, email: str = EMAIL) -> Conflicted:
    """A conflict of two channels: a chatbot account by phone, a web account by email, then a
    trusted backend's request with both (no merge asked): a conflict."""
    phone_account = call_rpc(conn, {"phone": phone, "source": "chatbot"})["customer"]["id"]
    email_account = call_rpc(conn, {"email": email, "source": "webapp"})["customer"]["id"]
    answer = call_rpc(conn, {"phone": phone, "email": email, "source": "webapp"})
    assert answer["error"] == "Account conflict", answer
    return Conflicted(phone_account, email_account, answer["conflictId"])


def raise_end_user_conflict(
    conn: Conn, phone: str = PHONE, email: str = EMAIL
) -> tuple[Conflicted, uuid.UUID, dict[str, Any]]:
    """A conflict raised by a signed-in user whose confirmed phone and email each open one
    account: the chatbot's account for the line, and an account whose email a chatbot
    caller confirmed with a code. Returns the conflict, the user's id and claims."""
    phone_account = call_rpc(conn, {"phone": phone, "source": "chatbot"})["customer"]["id"]
    email_account = call_rpc(
        conn, with_code(conn, {"phone": "+15556019999", "email": email, "source": "chatbot"})
    )["customer"]["id"]
    user_id, claims = create_auth_user(conn, email=email, phone=phone)
    answer = call_rpc(
        conn, {"phone": phone, "email": email, "source": "webapp"}, "authenticated", claims
    )
    assert answer["error"] == "Account conflict", answer
    return Conflicted(phone_account, email_account, answer["conflictId"]), user_id, claims


def support_agent(conn: Conn, email: str = "agent@shop.example") -> tuple[uuid.UUID, Any]:
    """A signed-in support agent: app_metadata.role = support, set as an admin sets it."""
    user_id, claims = create_auth_user(conn, email=email)
    conn.execute(
        "update auth.users set raw_app_meta_data = coalesce(raw_app_meta_data, '{}'::jsonb) "
        '|| \'{"role": "support"}\'::jsonb where id = %s',
        (user_id,),
    )
    return user_id, {**claims, "app_metadata": {"role": "support"}}


def conflict_row(conn: Conn, conflict_id: str) -> dict[str, Any]:
    """The conflict as stored."""
    row = conn.execute(
        "select to_jsonb(cc) from customer_management.customer_conflicts as cc where id = %s",
        (conflict_id,),
    ).fetchone()
    assert row is not None
    return dict(row[0])
