"""Forged tokens at the MCP server's HTTP door.

``customer-management mcp --transport http`` without a fixed caller reads the caller from
each request. A bearer token is verified with the project's keys (the proxy's verifier)
before a conversation exists: a token with ``alg: none``, a wrong signature, an expired
one, one for another audience or another role gets the tool error ``not_authenticated``
and opens no conversation, so it neither sends a code (service-role work) nor pushes real
conversations out of the server's table. A correctly signed token whose user does not
exist passes the door, but the kit refuses it before the server asks for a code on its
behalf. Each attack is replayed over real HTTP against the real server.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from customer_management.local import keys
from customer_management.local.migrations import apply_seed
from support.chatbot import Outbox, chat_over_http, http_server, raw_tool_call
from support.proxy import SECRET, SERVICE_KEY, Proxy, make_user
from support.security import Conn

pytest_plugins = ["support.proxy_fixtures", "support.chatbot_fixtures"]
pytestmark = pytest.mark.anyio

TELEPHONY_KEY = "telephony-shared-secret-for-forged-token-tests"
VICTIM_EMAIL = "john@email.com"


def user_claims(sub: str | None = None, **changes: Any) -> dict[str, Any]:
    """Claims shaped like a Supabase Auth access token for ``sub`` (made up by default)."""
    return {**keys.user_claims(sub or str(uuid.uuid4()), email="forger@example.org"), **changes}


def unsigned(claims: dict[str, Any], alg: str = "none") -> str:
    """A token with ``alg: none`` (or ``alg``) and no signature."""

    def part(value: dict[str, Any]) -> str:
        raw = json.dumps(value, separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    return f"{part({'alg': alg, 'typ': 'JWT'})}.{part(claims)}."


def forged_tokens() -> dict[str, str]:
    """Every kind of token the door must refuse."""
    now = int(time.time())
    return {
        "alg none": unsigned(user_claims()),
        "alg None": unsigned(user_claims(), "None"),
        "alg HS256 without a signature": unsigned(user_claims(), "HS256"),
        "wrong signature": keys.sign(user_claims(), "another-secret-of-at-least-thirty-two-chars"),
        "expired": keys.sign(user_claims(exp=now - 120, iat=now - 3720), SECRET),
        "other audience": keys.sign(user_claims(aud="somebody-else"), SECRET),
        "anon role": keys.sign(user_claims(role="anon"), SECRET),
        "service role key": SERVICE_KEY,
        "not a jwt": "definitely-not-a-token",
    }


def server_args(outbox: Outbox) -> tuple[list[str], dict[str, str]]:
    """``mcp --transport http`` naming callers per request, with a delivery hook."""
    return (
        ["--deliver-command", outbox.command],
        {"CUSTOMER_MANAGEMENT_TELEPHONY_KEY": TELEPHONY_KEY, **outbox.env},
    )


def codes_issued(conn: Conn) -> int:
    row = conn.execute("select count(*) from customer_management.verifications").fetchone()
    return int(row[0]) if row else 0


async def test_forged_tokens_are_refused_before_any_session(
    proxy: Proxy, conn: Conn, db_url: str, tmp_path: Path
) -> None:
    apply_seed(db_url)
    outbox = Outbox(tmp_path)
    args, env = server_args(outbox)
    outcomes = {}
    with http_server(proxy.url, *args, env=env) as url:
        for kind, token in forged_tokens().items():
            async with chat_over_http(url, {"Authorization": f"Bearer {token}"}) as chat:
                outcomes[kind] = await chat.error("verify_my_email", {"email": VICTIM_EMAIL})
    for kind, refused in outcomes.items():
        assert refused["error"] == "not_authenticated", (kind, refused)
    assert outbox.messages() == []
    assert codes_issued(conn) == 0


async def test_a_signed_token_for_a_made_up_user_gets_no_code(
    proxy: Proxy, conn: Conn, tmp_path: Path
) -> None:
    """The signature is right but no such user exists: the kit says so before the server
    sends anything as the service role."""
    outbox = Outbox(tmp_path)
    args, env = server_args(outbox)
    token = keys.sign(user_claims(), SECRET)
    with http_server(proxy.url, *args, env=env) as url:
        async with chat_over_http(url, {"Authorization": f"Bearer {token}"}) as chat:
            refused = await chat.error("verify_my_email", {"email": VICTIM_EMAIL})
    assert refused["error"] == "not_authenticated"
    assert outbox.messages() == []
    assert codes_issued(conn) == 0


async def test_a_thousand_forged_subs_do_not_evict_a_real_conversation(
    proxy: Proxy, conn: Conn, db_url: str, tmp_path: Path
) -> None:
    apply_seed(db_url)
    outbox = Outbox(tmp_path)
    args, env = server_args(outbox)
    line = {"X-Caller-Line": "+15551234567", "X-Telephony-Key": TELEPHONY_KEY}
    with http_server(proxy.url, *args, env=env) as url:
        async with chat_over_http(url, line) as chat:
            await chat.ok("identify_caller")
            await chat.ok("verify_my_email", {"email": VICTIM_EMAIL})

        gate = asyncio.Semaphore(16)

        async def forge(http: httpx.AsyncClient) -> tuple[int, str | None]:
            async with gate:
                token = unsigned(user_claims())
                status, answer = await raw_tool_call(
                    http, url, {"Authorization": f"Bearer {token}"}, "identify_caller"
                )
                return status, (answer or {}).get("error")

        async with httpx.AsyncClient(timeout=60) as http:
            outcomes = await asyncio.gather(*(forge(http) for _ in range(1000)))

        async with chat_over_http(url, line) as chat:
            confirmed = await chat.ok("confirm_code", {"code": outbox.last_code()})
    assert set(outcomes) == {(200, "not_authenticated")}
    assert confirmed["status"] == "confirmed"
    assert confirmed["customer"]["email"] == "j***@email.com"


async def test_one_user_is_one_conversation_whatever_token_they_hold(
    proxy: Proxy, conn: Conn, tmp_path: Path
) -> None:
    """A refreshed token continues the user's conversation (the code sent with the first
    token is confirmed with the second), so refreshing opens no fresh allowance of codes."""
    outbox = Outbox(tmp_path)
    args, env = server_args(outbox)
    user = make_user(conn, email="rita.refresh@example.com")
    later = keys.sign({**user.claims, "iat": user.claims["iat"] + 1, "session_id": "s2"}, SECRET)
    with http_server(proxy.url, *args, env=env) as url:
        async with chat_over_http(url, {"Authorization": f"Bearer {user.token}"}) as chat:
            await chat.ok("identify_caller")
            await chat.ok("verify_my_email", {"email": "rita.work@example.com"})
        async with chat_over_http(url, {"Authorization": f"Bearer {later}"}) as chat:
            confirmed = await chat.ok("confirm_code", {"code": outbox.last_code()})
            for _ in range(2):
                await chat.ok("verify_my_email", {"email": "rita.work@example.com"})
            too_many = await chat.error("verify_my_email", {"email": "rita.work@example.com"})
    assert confirmed["status"] == "confirmed"
    assert too_many["error"] == "rate_limited"
    # Each code names Rita as its requester; once her account holds the address, her
    # login is its owner's channel.
    requesters = conn.execute(
        "select cardinality(requesters), owner_channel "
        "from customer_management.verifications order by created_at"
    ).fetchall()
    assert requesters == [(1, False), (1, True), (1, True)]
