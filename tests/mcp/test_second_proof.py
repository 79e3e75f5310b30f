"""A caller whose line is on a web account the shop's backend made, over the MCP tools.

Dana typed this phone at checkout; the backend vouched for it. When she calls, the model
hears that the line needs a second proof (nothing of the account), verifies her email with
a code and she is back on her account. A stranger on a mistyped number says he has no
account with us and is served on an empty account of his own.
"""

from __future__ import annotations

from typing import TextIO

import pytest

from support.chatbot import Outbox, chat_over_stdio
from support.helpers import call_rpc
from support.proxy import Proxy
from support.security import Conn

pytest_plugins = ["support.proxy_fixtures", "support.chatbot_fixtures"]
pytestmark = pytest.mark.anyio

LINE = "+14155550199"
EMAIL = "dana@mailbox.org"


def dana_on_the_web(conn: Conn) -> str:
    """Dana's account as the web backend (service role) made it; its id."""
    answer = call_rpc(
        conn, {"phone": LINE, "email": EMAIL, "firstName": "Dana", "source": "webapp"}
    )
    return str(answer["customer"]["id"])


async def test_the_line_asks_for_a_second_proof_then_opens_with_a_code(
    proxy: Proxy, conn: Conn, outbox: Outbox, errlog: TextIO
) -> None:
    dana = dana_on_the_web(conn)
    async with chat_over_stdio(
        proxy.url,
        "--line",
        LINE,
        "--deliver-command",
        outbox.command,
        errlog=errlog,
        env=outbox.env,
    ) as chat:
        asked = await chat.error("identify_caller")
        await chat.ok("verify_my_email", {"email": EMAIL})
        (message,) = outbox.messages()
        confirmed = await chat.ok("confirm_code", {"code": message["code"]})
        later = await chat.ok("identify_caller")
    assert asked["error"] == "second_proof_required"
    assert "verify_my_email" in asked["message"] and "Dana" not in str(asked)
    assert confirmed["status"] == "confirmed"
    assert confirmed["customer"]["name"] == "Dana"
    assert later["summary"].startswith("Welcome back Dana!")
    owner = conn.execute(
        "select customer_id::text from customer_management.customer_identifiers "
        "where type = 'phone' and value = %s and status = 'active'",
        (LINE,),
    ).fetchone()
    assert owner == (dana,)


async def test_a_caller_without_an_account_declines_and_gets_his_own(
    proxy: Proxy, conn: Conn, errlog: TextIO
) -> None:
    dana_on_the_web(conn)
    async with chat_over_stdio(proxy.url, "--line", LINE, errlog=errlog) as chat:
        await chat.error("identify_caller")
        own = await chat.ok("identify_caller", {"without_second_proof": True})
    assert own["summary"] == "Welcome! I've created your account."
    assert "Dana" not in str(own)
