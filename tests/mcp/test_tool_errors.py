"""Failures come back as MCP tool errors carrying the kit's codes, and change nothing.

Rate limits (the kit's per-identifier limits and the server's codes per conversation), bad
input, a missing or failing delivery hook, an unreachable kit: each is an ``isError``
result ``{"error": code, "message": ...}`` that never repeats a code or a key.
"""

from __future__ import annotations

import socket
import sys
from pathlib import Path
from typing import TextIO

import pytest

from support.chatbot import Outbox, chat_over_stdio
from support.helpers import table_snapshot
from support.proxy import SERVICE_KEY, Proxy
from support.security import Conn

pytest_plugins = ["support.proxy_fixtures", "support.chatbot_fixtures"]
pytestmark = pytest.mark.anyio

LINE = "+15557780001"


def verifications(conn: Conn) -> int:
    """How many codes the kit has issued."""
    row = conn.execute("select count(*) from customer_management.verifications").fetchone()
    assert row is not None
    return int(row[0])


async def test_the_kits_rate_limit_is_a_tool_error_with_a_wait(
    proxy: Proxy, conn: Conn, errlog: TextIO
) -> None:
    """One call a minute for the line: the next is rate_limited with retryAfter."""
    conn.execute("update customer_management.settings set rate_limit_per_identifier_per_minute = 1")
    async with chat_over_stdio(proxy.url, "--line", LINE, errlog=errlog) as chat:
        await chat.ok("identify_caller")
        # Two more calls: at least one falls in the same clock minute as the one before.
        outcomes = [await chat.call("identify_caller") for _ in range(2)]
    limited = [answer for failed, answer in outcomes if failed]
    assert limited
    assert limited[0]["error"] == "rate_limited"
    assert 1 <= limited[0]["retryAfter"] <= 60


async def test_codes_are_rate_limited_per_address_and_per_conversation(
    proxy: Proxy, conn: Conn, outbox: Outbox, errlog: TextIO
) -> None:
    """The kit's hourly limit per address, then the server's three codes a conversation."""
    conn.execute(
        "update customer_management.settings set verification_codes_per_identifier_per_hour = 1"
    )
    async with chat_over_stdio(
        proxy.url,
        "--line",
        LINE,
        "--deliver-command",
        outbox.command,
        errlog=errlog,
        env=outbox.env,
    ) as chat:
        await chat.ok("verify_my_email", {"email": "one@example.com"})
        again = await chat.error("verify_my_email", {"email": "one@example.com"})
        await chat.ok("verify_my_email", {"email": "two@example.com"})
        await chat.ok("verify_my_email", {"email": "three@example.com"})
        fourth = await chat.error("verify_my_email", {"email": "four@example.com"})
    assert again["error"] == "rate_limited"
    assert again["retryAfter"] > 60
    assert fourth == {
        "error": "rate_limited",
        "message": "Enough codes were sent in this conversation.",
    }
    assert [m["to"] for m in outbox.messages()] == [
        "one@example.com",
        "two@example.com",
        "three@example.com",
    ]
    assert verifications(conn) == 3


async def test_bad_input_gets_the_kits_code_and_changes_nothing(
    proxy: Proxy, conn: Conn, outbox: Outbox, errlog: TextIO
) -> None:
    """invalid_email, invalid_allergies, invalid_name from the kit; malformed arguments
    refused by the server; an unknown tool."""
    before = table_snapshot(conn)
    async with chat_over_stdio(
        proxy.url,
        "--line",
        LINE,
        "--deliver-command",
        outbox.command,
        errlog=errlog,
        env=outbox.env,
    ) as chat:
        codes = {
            "bad email": await chat.error("identify_caller", {"email": "not an email"}),
            "placeholder": await chat.error(
                "verify_my_email", {"email": "chatbot_temp@temp.local"}
            ),
            "no letter": await chat.error("update_my_details", {"first_name": "---"}),
            "empty allergy": await chat.error("update_my_details", {"allergies": [""]}),
            "nothing to update": await chat.error("update_my_details", {}),
            "page 0": await chat.error("list_my_orders", {"page": 0}),
            "page as text": await chat.error("list_my_orders", {"page": "2"}),
            "huge page": await chat.error("list_my_orders", {"page_size": 500}),
            "code with letters": await chat.error("confirm_code", {"code": "12ab56"}),
            "no code": await chat.error("confirm_code", {}),
            "unknown tool": await chat.error("merge_accounts", {}),
        }
    assert {name: answer["error"] for name, answer in codes.items()} == {
        "bad email": "invalid_email",
        "placeholder": "invalid_email",
        "no letter": "invalid_name",
        "empty allergy": "invalid_arguments",
        "nothing to update": "invalid_arguments",
        "page 0": "invalid_arguments",
        "page as text": "invalid_arguments",
        "huge page": "invalid_arguments",
        "code with letters": "invalid_arguments",
        "no code": "invalid_arguments",
        "unknown tool": "unknown_tool",
    }
    assert "12ab56" not in chat.said()
    assert table_snapshot(conn) == before
    assert outbox.messages() == []


async def test_without_a_working_hook_no_code_is_pending(
    proxy: Proxy, conn: Conn, tmp_path: Path, errlog: TextIO
) -> None:
    """No hook configured: nothing is requested. A failing hook: delivery_failed, and
    confirm_code has nothing to confirm."""
    async with chat_over_stdio(proxy.url, "--line", LINE, errlog=errlog) as chat:
        unconfigured = await chat.error("verify_my_email", {"email": "me@example.com"})
    assert unconfigured["error"] == "delivery_not_configured"
    assert verifications(conn) == 0

    failing = tmp_path / "fail.py"
    failing.write_text("import sys\nsys.exit(3)\n")
    async with chat_over_stdio(
        proxy.url,
        "--line",
        LINE,
        "--deliver-command",
        f"{sys.executable} {failing}",
        errlog=errlog,
    ) as chat:
        failed = await chat.error("verify_my_email", {"email": "me@example.com"})
        nothing = await chat.error("confirm_code", {"code": "123456"})
    assert failed == {
        "error": "delivery_failed",
        "message": "The code could not be sent; try again later.",
    }
    assert nothing["error"] == "no_code_sent"


async def test_an_unreachable_kit_is_unavailable(errlog: TextIO) -> None:
    """Nothing listens at the kit's URL: unavailable, and the log names no key."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    async with chat_over_stdio(f"http://127.0.0.1:{port}", "--line", LINE, errlog=errlog) as chat:
        answer = await chat.error("identify_caller")
    assert answer["error"] == "unavailable"
    assert SERVICE_KEY not in Path(errlog.name).read_text()
