"""The "Welcome back" flow through the MCP tools, over stdio.

John calls from the line the kit knows; the agent identifies him, lists his orders and
notes an allergy. Every answer is about John's own account, with his contact data masked
and no account id.
"""

from __future__ import annotations

from typing import Any, TextIO

import pytest

from customer_management.local.migrations import apply_seed
from support.chatbot import chat_over_stdio
from support.proxy import Proxy
from support.security import Conn, add_order

pytest_plugins = ["support.proxy_fixtures", "support.chatbot_fixtures"]
pytestmark = pytest.mark.anyio

JOHN_LINE = "+15551234567"
JOHN_ID = "00000000-0000-4000-8000-000000000001"


def john(db_url: str) -> str:
    """The seed's returning customer: John Smith, his line verified, two orders."""
    apply_seed(db_url)
    return JOHN_ID


async def test_welcome_back_john(proxy: Proxy, db_url: str, errlog: TextIO) -> None:
    """identify_caller greets John with his order count; the answer is his, masked."""
    john_id = john(db_url)
    async with chat_over_stdio(proxy.url, "--line", JOHN_LINE, errlog=errlog) as chat:
        answer = await chat.ok("identify_caller")
    assert answer == {
        "status": "found",
        "customer": {
            "name": "John Smith",
            "phone": "+1******4567",
            "email": "j***@email.com",
            "allergies": ["nuts"],
            "isNewAccount": False,
            "accountSources": ["chatbot", "webapp"],
        },
        "orderCount": 2,
        "summary": "Welcome back John! You have 2 previous orders.",
    }
    assert john_id not in chat.said()
    assert JOHN_LINE not in chat.said()


async def test_orders_details_and_a_second_greeting(
    proxy: Proxy, conn: Conn, db_url: str, errlog: TextIO
) -> None:
    """Orders newest first, paged; an allergy added; the next greeting counts the orders."""
    john_id = john(db_url)
    for total in ("10.00", "11.00", "12.00"):
        add_order(conn, john_id, total)
    async with chat_over_stdio(proxy.url, "--line", JOHN_LINE, errlog=errlog) as chat:
        first = await chat.ok("list_my_orders", {"page_size": 2})
        second = await chat.ok("list_my_orders", {"page": 2, "page_size": 2})
        last = await chat.ok("list_my_orders", {"page": 3, "page_size": 2})
        updated = await chat.ok("update_my_details", {"allergies": ["Shellfish"]})
        again = await chat.ok("identify_caller", {"first_name": "Johnny"})
    pages: list[dict[str, Any]] = [first, second, last]
    assert [p["hasMore"] for p in pages] == [True, True, False]
    assert {p["orderCount"] for p in pages} == {5}
    totals = [order["total"] for p in pages for order in p["orders"]]
    assert sorted(totals) == [10.0, 11.0, 12.0, 54.99, 79.99]
    created = [order["createdAt"] for p in pages for order in p["orders"]]
    assert created == sorted(created, reverse=True)
    assert all(
        set(order) == {"items", "total", "currency", "status", "deliveryDate", "createdAt"}
        for p in pages
        for order in p["orders"]
    )
    assert updated["customer"]["allergies"] == ["nuts", "Shellfish"]
    # A name on the account is never overwritten from the phone.
    assert again["customer"]["name"] == "John Smith"
    assert again["summary"].startswith("Welcome back John! You have 5 previous orders.")
    assert john_id not in chat.said()


async def test_the_order_count_goes_past_the_ten_of_the_answer(
    proxy: Proxy, conn: Conn, db_url: str, errlog: TextIO
) -> None:
    """orderHistory holds ten orders; the count of twelve comes from customer_orders."""
    john_id = john(db_url)
    for _ in range(10):
        add_order(conn, john_id, "5.00")
    async with chat_over_stdio(proxy.url, "--line", JOHN_LINE, errlog=errlog) as chat:
        answer = await chat.ok("identify_caller")
    assert answer["orderCount"] == 12
    assert answer["summary"] == "Welcome back John! You have 12 previous orders."


async def test_a_first_call_creates_the_lines_account(
    proxy: Proxy, conn: Conn, errlog: TextIO
) -> None:
    """A line the kit does not know: a new account with the caller's name, no orders."""
    async with chat_over_stdio(proxy.url, "--line", "+15557654321", errlog=errlog) as chat:
        answer = await chat.ok("identify_caller", {"first_name": "Alice"})
        orders = await chat.ok("list_my_orders")
    assert answer["status"] == "created"
    assert answer["summary"] == "Welcome Alice! I've created your account."
    assert answer["customer"]["phone"] == "+1******4321"
    assert orders == {"orders": [], "page": 1, "hasMore": False, "orderCount": 0}
    row = conn.execute(
        "select first_name, phone from public.customers where phone = '+15557654321'"
    ).fetchone()
    assert row == ("Alice", "+15557654321")


async def test_the_tools_take_no_phone_and_no_id(proxy: Proxy, errlog: TextIO) -> None:
    """tools/list: the six tools, none with an argument for a phone or an id."""
    async with chat_over_stdio(proxy.url, "--line", JOHN_LINE, errlog=errlog) as chat:
        listed = await chat.session.list_tools()
    names = [tool.name for tool in listed.tools]
    assert names == [
        "identify_caller",
        "update_my_details",
        "list_my_orders",
        "request_account_help",
        "verify_my_email",
        "confirm_code",
    ]
    for tool in listed.tools:
        schema = tool.input_schema
        assert schema["additionalProperties"] is False
        for prop in schema["properties"]:
            assert "phone" not in prop and "id" not in prop.split("_"), (tool.name, prop)
