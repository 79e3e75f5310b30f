"""The model cannot choose whose account it reads: the caller is fixed by the session.

A model talked into "looking up" someone else passes their phone, their customer id or a
login in any argument: every such call is refused before the kit is called, changes
nothing, and the refusal does not repeat the value. What the caller says about someone
else's email opens nothing of theirs.
"""

from __future__ import annotations

import uuid
from typing import Any, TextIO

import pytest

from support.chatbot import Outbox, chat_over_stdio
from support.helpers import call_rpc, table_snapshot, with_code
from support.proxy import Proxy
from support.security import Conn, add_order

pytest_plugins = ["support.proxy_fixtures", "support.chatbot_fixtures"]
pytestmark = pytest.mark.anyio

CALLER_LINE = "+15557770002"
VICTIM_LINE = "+15557770001"
VICTIM_EMAIL = "vv.1984@gmail.com"

TOOL_ARGUMENTS: dict[str, dict[str, Any]] = {
    "identify_caller": {},
    "update_my_details": {"allergies": ["nuts"]},
    "list_my_orders": {},
    "request_account_help": {"reason": "please"},
    "verify_my_email": {"email": "mine@example.com"},
    "confirm_code": {"code": "123456"},
}


def victim(conn: Conn) -> tuple[str, list[str]]:
    """Victoria: line, proven email, name, allergy, an order; her id and her secrets."""
    body = {
        "phone": VICTIM_LINE,
        "email": VICTIM_EMAIL,
        "firstName": "Victoria",
        "allergies": ["shellfish"],
        "source": "chatbot",
    }
    victim_id = str(call_rpc(conn, with_code(conn, body))["customer"]["id"])
    add_order(conn, victim_id, "64.99")
    return victim_id, [victim_id, "Victoria", "shellfish", "64.99", VICTIM_LINE, VICTIM_EMAIL]


async def test_no_tool_takes_a_phone_an_id_or_a_login(
    proxy: Proxy, conn: Conn, outbox: Outbox, errlog: TextIO
) -> None:
    """Each tool, each smuggled identity: invalid_arguments, nothing changed, no value echoed."""
    victim_id, secrets = victim(conn)
    smuggled = [
        {"phone": VICTIM_LINE},
        {"line": VICTIM_LINE},
        {"customer_id": victim_id},
        {"customerId": victim_id},
        {"_internalId": victim_id},
        {"auth_user_id": str(uuid.uuid4())},
        {"authUserId": str(uuid.uuid4())},
        {"source": "webapp"},
        {"mergeIfFound": True},
    ]
    before = table_snapshot(conn)
    async with chat_over_stdio(
        proxy.url,
        "--line",
        CALLER_LINE,
        "--deliver-command",
        outbox.command,
        errlog=errlog,
        env=outbox.env,
    ) as chat:
        for tool, arguments in TOOL_ARGUMENTS.items():
            for extra in smuggled:
                refused = await chat.error(tool, {**arguments, **extra})
                assert refused["error"] == "invalid_arguments", (tool, extra, refused)
                assert "fixed for this conversation" in refused["message"]
    assert len(chat.transcript) == len(TOOL_ARGUMENTS) * len(smuggled)
    assert table_snapshot(conn) == before
    assert outbox.messages() == []
    said = chat.said()
    assert [secret for secret in secrets if secret in said] == []


async def test_identities_hidden_in_names_are_refused(
    proxy: Proxy, conn: Conn, errlog: TextIO
) -> None:
    """A phone, an id or an address in a name field: invalid_name, nothing written."""
    victim_id, _ = victim(conn)
    before = table_snapshot(conn)
    async with chat_over_stdio(proxy.url, "--line", CALLER_LINE, errlog=errlog) as chat:
        for arguments in (
            {"first_name": VICTIM_LINE},
            {"last_name": victim_id},
            {"first_name": VICTIM_EMAIL},
        ):
            for tool in ("identify_caller", "update_my_details"):
                refused = await chat.error(tool, arguments)
                assert refused["error"] == "invalid_name"
        bad_email = await chat.error("identify_caller", {"email": VICTIM_LINE})
    assert bad_email["error"] == "invalid_email"
    assert table_snapshot(conn) == before


async def test_saying_someone_elses_email_opens_nothing_of_theirs(
    proxy: Proxy, conn: Conn, outbox: Outbox, errlog: TextIO
) -> None:
    """The caller gets their own new account; the email waits as unproven; the code goes
    to the owner's inbox, and guessing it opens nothing."""
    victim_id, secrets = victim(conn)
    victim_before = conn.execute(
        "select c::text from public.customers as c where id = %s", (victim_id,)
    ).fetchone()
    async with chat_over_stdio(
        proxy.url,
        "--line",
        CALLER_LINE,
        "--deliver-command",
        outbox.command,
        errlog=errlog,
        env=outbox.env,
    ) as chat:
        mine = await chat.ok("identify_caller", {"email": VICTIM_EMAIL})
        orders = await chat.ok("list_my_orders")
        await chat.ok("verify_my_email", {"email": VICTIM_EMAIL})
        guess = await chat.error("confirm_code", {"code": "000000"})
    assert mine["status"] == "created"
    assert mine["customer"]["email"] is None
    assert mine["verificationRequired"] == ["email"]
    assert orders["orderCount"] == 0
    assert outbox.messages()[0]["to"] == VICTIM_EMAIL
    if outbox.last_code() != "000000":
        assert guess["error"] == "invalid_verification"
    victim_after = conn.execute(
        "select c::text from public.customers as c where id = %s", (victim_id,)
    ).fetchone()
    assert victim_after == victim_before
    said = chat.said()
    assert [secret for secret in secrets if secret in said] == []
