"""A web chat: the session is a signed-in user's, opened with their access token.

The server calls the kit as that user (``source: "webapp"``): the RPC, customer_orders and
resolve_conflict apply the end-user rules, so the user reads only their own account and
escalates only a conflict their own request raised.
"""

from __future__ import annotations

import time
from typing import TextIO

import pytest

from customer_management.local import keys
from support.chatbot import chat_over_stdio
from support.helpers import call_rpc, with_code
from support.proxy import SERVICE_KEY, Proxy, make_user
from support.security import Conn, add_order

pytest_plugins = ["support.proxy_fixtures", "support.chatbot_fixtures"]
pytestmark = pytest.mark.anyio


async def test_a_signed_in_user_gets_their_own_account_and_orders(
    proxy: Proxy, conn: Conn, errlog: TextIO
) -> None:
    """identify_caller finds the user's account by their login; list_my_orders lists its
    orders and no one else's."""
    user = make_user(conn, email="web.user@example.com")
    own = call_rpc(
        conn,
        {"email": "web.user@example.com", "firstName": "Wendy", "source": "webapp"},
        "authenticated",
        user.claims,
    )
    add_order(conn, own["customer"]["id"], "33.00")
    other = call_rpc(conn, {"phone": "+15557790009", "source": "chatbot"})
    add_order(conn, other["customer"]["id"], "99.00")
    async with chat_over_stdio(
        proxy.url, errlog=errlog, env={"CUSTOMER_MANAGEMENT_ACCESS_TOKEN": user.token}
    ) as chat:
        found = await chat.ok("identify_caller")
        orders = await chat.ok("list_my_orders")
    assert found["status"] == "found"
    assert found["customer"]["name"] == "Wendy"
    assert found["customer"]["email"] == "w***@example.com"
    assert found["orderCount"] == 1
    assert [o["total"] for o in orders["orders"]] == [33.0]
    assert user.token not in chat.said()


async def test_a_users_conflict_goes_to_support_as_the_user(
    proxy: Proxy, conn: Conn, errlog: TextIO
) -> None:
    """The user's confirmed email and phone open two accounts: the kit's conflict message, then
    the user escalates the conflict their request raised."""
    call_rpc(conn, {"phone": "+15557790001", "source": "chatbot"})
    email_on_another_line = {
        "phone": "+15557790002",
        "email": "two.accounts@example.com",
        "source": "chatbot",
    }
    call_rpc(conn, with_code(conn, email_on_another_line))
    user = make_user(conn, email="two.accounts@example.com", phone="+15557790001")
    async with chat_over_stdio(
        proxy.url, errlog=errlog, env={"CUSTOMER_MANAGEMENT_ACCESS_TOKEN": user.token}
    ) as chat:
        conflict = await chat.ok("identify_caller")
        escalated = await chat.ok("request_account_help", {"reason": "Both are mine."})
    assert conflict["status"] == "conflict"
    assert conflict["message"] == "Multiple accounts found. Please choose how to proceed."
    assert escalated["status"] == "escalated"
    row = conn.execute(
        "select status, resolved_by_role, resolved_by_uid::text "
        "from customer_management.customer_conflicts"
    ).fetchone()
    assert row == ("escalated", "authenticated", user.id)


async def test_a_token_that_is_not_a_users_is_refused_at_start(
    proxy: Proxy, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """The service-role key as the session's 'user token': the server does not start."""
    import subprocess
    import sys

    completed = subprocess.run(
        [sys.executable, "-m", "customer_management", "mcp"],
        env={
            "PATH": "/usr/bin:/bin",
            "SUPABASE_URL": proxy.url,
            "SUPABASE_SERVICE_ROLE_KEY": SERVICE_KEY,
            "CUSTOMER_MANAGEMENT_ACCESS_TOKEN": SERVICE_KEY,
        },
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 2
    assert "names no user" in completed.stderr
    assert SERVICE_KEY not in completed.stderr + completed.stdout


async def test_an_expired_token_is_not_authenticated(
    proxy: Proxy, conn: Conn, errlog: TextIO
) -> None:
    """The HTTP layer refuses the token: the tool error says not_authenticated."""
    user = make_user(conn, email="expired@example.com")
    expired = keys.sign({**user.claims, "exp": int(time.time()) - 60}, keys.DEFAULT_JWT_SECRET)
    async with chat_over_stdio(
        proxy.url, errlog=errlog, env={"CUSTOMER_MANAGEMENT_ACCESS_TOKEN": expired}
    ) as chat:
        refused = await chat.error("identify_caller")
    assert refused["error"] == "not_authenticated"
