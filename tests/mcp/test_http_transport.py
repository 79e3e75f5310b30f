"""The same tools over streamable HTTP.

With a fixed caller (``--line``), the HTTP server is one conversation, as over stdio.
Without one, each request names its caller: a signed-in user's access token, or the line
together with the telephony layer's key; a line without the key, or nothing, is refused.
What a caller's conversation learned (a code sent) carries from request to request.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from customer_management.local.migrations import apply_seed
from support.chatbot import Outbox, chat_over_http, http_server
from support.helpers import call_rpc
from support.proxy import Proxy, make_user
from support.reads import count_customers
from support.security import Conn

pytest_plugins = ["support.proxy_fixtures", "support.chatbot_fixtures"]
pytestmark = pytest.mark.anyio

TELEPHONY_KEY = "telephony-shared-secret-for-tests"


async def test_a_fixed_caller_over_http(proxy: Proxy, db_url: str) -> None:
    """--line over HTTP: the brief's Welcome back."""
    apply_seed(db_url)
    with http_server(proxy.url, "--line", "+15551234567") as url:
        async with chat_over_http(url) as chat:
            answer = await chat.ok("identify_caller")
    assert answer["summary"] == "Welcome back John! You have 2 previous orders."


async def test_callers_named_per_request(
    proxy: Proxy, conn: Conn, db_url: str, tmp_path: Path
) -> None:
    """The telephony key makes a line header count; a user's token is that user."""
    apply_seed(db_url)
    outbox = Outbox(tmp_path)
    user = make_user(conn, email="web.chat@example.com")
    call_rpc(
        conn,
        {"email": "web.chat@example.com", "firstName": "Wes", "source": "webapp"},
        "authenticated",
        user.claims,
    )
    with http_server(
        proxy.url,
        "--deliver-command",
        outbox.command,
        env={"CUSTOMER_MANAGEMENT_TELEPHONY_KEY": TELEPHONY_KEY, **outbox.env},
    ) as url:
        line = {"X-Caller-Line": "+15551234567"}
        async with chat_over_http(url, {**line, "X-Telephony-Key": TELEPHONY_KEY}) as chat:
            john = await chat.ok("identify_caller")
            await chat.ok("verify_my_email", {"email": "john@email.com"})
        # A new connection for the same line continues the conversation.
        async with chat_over_http(url, {**line, "X-Telephony-Key": TELEPHONY_KEY}) as chat:
            confirmed = await chat.ok("confirm_code", {"code": outbox.last_code()})
        async with chat_over_http(url, {**line, "X-Telephony-Key": "guess"}) as chat:
            wrong_key = await chat.error("identify_caller")
        async with chat_over_http(url, line) as chat:
            no_key = await chat.error("identify_caller")
        async with chat_over_http(url) as chat:
            nobody = await chat.error("identify_caller")
        async with chat_over_http(url, {"Authorization": f"Bearer {user.token}"}) as chat:
            wes = await chat.ok("identify_caller")
    assert john["summary"] == "Welcome back John! You have 2 previous orders."
    assert confirmed["status"] == "confirmed"
    assert confirmed["customer"]["email"] == "j***@email.com"
    for refused in (wrong_key, no_key, nobody):
        assert refused["error"] == "not_authenticated"
    assert wes["customer"]["name"] == "Wes"
    assert count_customers(conn) == 2
