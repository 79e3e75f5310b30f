"""A spoken email proven with a code delivered through the hook, over the MCP tools.

The web-first case: Bob signed up on the web; he calls from a new line and says his
email. The server sends him a code through the delivery hook, he reads it back, and his
line joins his web account: one account. The model only ever hears "sent", "confirmed" or
"wrong code"; the code appears in no answer and no log line.
"""

from __future__ import annotations

from pathlib import Path
from typing import TextIO

import pytest

from support.chatbot import Outbox, chat_over_stdio
from support.helpers import call_rpc, create_auth_user, table_snapshot
from support.proxy import SERVICE_KEY, Proxy
from support.reads import count_customers
from support.security import Conn

pytest_plugins = ["support.proxy_fixtures", "support.chatbot_fixtures"]
pytestmark = pytest.mark.anyio

BOB_LINE = "+15555555678"
BOB_EMAIL = "bob@gmail.com"


def bob_on_the_web(conn: Conn) -> str:
    """Bob's web account (his login confirmed the email); its id."""
    _, claims = create_auth_user(conn, email=BOB_EMAIL)
    answer = call_rpc(
        conn, {"email": BOB_EMAIL, "firstName": "Bob", "source": "webapp"}, "authenticated", claims
    )
    return str(answer["customer"]["id"])


def wrong(code: str) -> str:
    """Another six-digit code."""
    return f"{(int(code) + 1) % 1000000:06d}"


async def test_scenario_2_a_code_links_the_line_to_the_web_account(
    proxy: Proxy, conn: Conn, outbox: Outbox, errlog: TextIO
) -> None:
    """verify_my_email, a wrong code, the right code: one account, with the line on it."""
    bob_id = bob_on_the_web(conn)
    async with chat_over_stdio(
        proxy.url,
        "--line",
        BOB_LINE,
        "--deliver-command",
        outbox.command,
        errlog=errlog,
        env=outbox.env,
    ) as chat:
        sent = await chat.ok("verify_my_email", {"email": BOB_EMAIL})
        (message,) = outbox.messages()
        code = message["code"]
        refused = await chat.error("confirm_code", {"code": wrong(code)})
        confirmed = await chat.ok("confirm_code", {"code": code})
        later = await chat.ok("identify_caller")
    assert sent == {"status": "sent", "to": "b***@gmail.com"}
    assert message["to"] == BOB_EMAIL
    assert message["channel"] == "email"
    assert code.isdigit() and len(code) == 6
    # The code travels in the environment only, and the command gets no key.
    assert code not in " ".join(message["argv"])
    assert message["keys"] == []
    assert refused == {
        "error": "invalid_verification",
        "message": "Wrong code: ask the caller to read it again.",
    }
    assert confirmed == {
        "status": "confirmed",
        "customer": {
            "name": "Bob",
            "phone": "+1******5678",
            "email": "b***@gmail.com",
            "allergies": [],
            "isNewAccount": False,
            "accountSources": ["webapp", "chatbot"],
        },
        "orderCount": 0,
        "summary": "Welcome back Bob! You have no previous orders yet. "
        "Account updated with chatbot access.",
    }
    assert later["status"] == "found"
    assert count_customers(conn) == 1
    row = conn.execute(
        "select customer_id::text, verified_at is not null "
        "from customer_management.customer_identifiers where type = 'phone' and value = %s",
        (BOB_LINE,),
    ).fetchone()
    assert row == (bob_id, True)
    said = chat.said()
    log = Path(errlog.name).read_text()
    for secret in (code, SERVICE_KEY, bob_id):
        assert secret not in said
        assert secret not in log


async def test_a_code_is_used_once_and_a_used_one_asks_for_a_new_one(
    proxy: Proxy, conn: Conn, outbox: Outbox, errlog: TextIO
) -> None:
    """After a confirmation the code is gone: confirm_code says no code was sent; five
    wrong codes burn a verification and the model is told to send a new one."""
    bob_on_the_web(conn)
    async with chat_over_stdio(
        proxy.url,
        "--line",
        BOB_LINE,
        "--deliver-command",
        outbox.command,
        errlog=errlog,
        env=outbox.env,
    ) as chat:
        assert (await chat.error("confirm_code", {"code": "123456"}))["error"] == "no_code_sent"
        await chat.ok("verify_my_email", {"email": BOB_EMAIL})
        code = outbox.last_code()
        answers = [await chat.error("confirm_code", {"code": wrong(code)}) for _ in range(5)]
        after = await chat.error("confirm_code", {"code": code})
    assert [a["message"] for a in answers[:4]] == [
        "Wrong code: ask the caller to read it again."
    ] * 4
    assert answers[4]["message"] == (
        "The code is no longer valid: send a new one with verify_my_email."
    )
    assert after["error"] == "no_code_sent"
    assert code not in chat.said()
    assert count_customers(conn) == 1


async def test_identifying_first_then_proving_the_email_is_a_conflict_for_support(
    proxy: Proxy, conn: Conn, outbox: Outbox, errlog: TextIO
) -> None:
    """The line got its own account before the email was proven: the code then meets two
    accounts. The answer is the kit's conflict message and nothing of either account; the
    conflict goes to support with the caller's words. No tool merges."""
    bob_id = bob_on_the_web(conn)
    async with chat_over_stdio(
        proxy.url,
        "--line",
        BOB_LINE,
        "--deliver-command",
        outbox.command,
        errlog=errlog,
        env=outbox.env,
    ) as chat:
        nothing_yet = await chat.error("request_account_help", {"reason": "help"})
        first = await chat.ok("identify_caller", {"first_name": "Bob", "email": BOB_EMAIL})
        await chat.ok("verify_my_email", {"email": BOB_EMAIL})
        conflict = await chat.ok("confirm_code", {"code": outbox.last_code()})
        before = table_snapshot(conn)
        escalated = await chat.ok(
            "request_account_help", {"reason": "I signed up on the website with this email."}
        )
        changed = table_snapshot(conn)
    assert nothing_yet["error"] == "no_conflict"
    assert first["status"] == "created"
    assert first["verificationRequired"] == ["email"]
    assert first["customer"]["email"] is None
    assert conflict == {
        "status": "conflict",
        "message": "Multiple accounts found. Please choose how to proceed.",
        "next": "Nothing was changed. request_account_help passes this to customer support.",
    }
    assert escalated == {
        "status": "escalated",
        "message": "Customer support has the case and will contact the caller.",
    }
    assert count_customers(conn) == 2
    row = conn.execute(
        "select status, customer_management.read_note(resolution_reason) "
        "from customer_management.customer_conflicts"
    ).fetchone()
    assert row == ("escalated", "I signed up on the website with this email.")
    assert before["public.customers"] == changed["public.customers"]
    said = chat.said()
    assert bob_id not in said
    assert BOB_EMAIL not in said
    assert BOB_LINE not in said
