"""public.customer_orders: a customer's orders page by page, newest first.

The service role lists any customer's (an id merged away is followed to its survivor); an
end user only their own, and any other id answers them with the same error whether or not
it exists.
"""

from __future__ import annotations

import uuid
from typing import Any

import psycopg
import pytest

from customer_management.local.rpc_session import call_rpc as call_named_rpc
from support.helpers import call_rpc, create_auth_user, table_snapshot
from support.security import Conn, add_order


def orders(
    conn: Conn, role: str = "service_role", claims: dict[str, Any] | None = None, **args: Any
) -> Any:
    """``public.customer_orders(...)`` as ``role``."""
    return call_named_rpc(conn, "customer_orders", args, role, claims)


def orders_error(
    conn: Conn, role: str = "service_role", claims: dict[str, Any] | None = None, **args: Any
) -> dict[str, str | None]:
    """``public.customer_orders(...)`` expecting an error: sqlstate, message, detail, hint."""
    with pytest.raises(psycopg.Error) as caught:
        orders(conn, role, claims, **args)
    diag = caught.value.diag
    return {
        "sqlstate": diag.sqlstate,
        "message": diag.message_primary,
        "detail": diag.message_detail,
        "hint": diag.message_hint,
    }


def chatbot_customer(conn: Conn, line: str, order_count: int) -> str:
    """A customer created on a line, with ``order_count`` orders a minute apart."""
    customer_id = str(call_rpc(conn, {"phone": line, "source": "chatbot"})["customer"]["id"])
    for minutes in range(order_count):
        conn.execute(
            "insert into public.orders (customer_id, total, status, created_at) "
            "values (%s, %s, 'delivered', now() - make_interval(mins => %s))",
            (customer_id, 10 + minutes, minutes),
        )
    return customer_id


def web_customer(conn: Conn, email: str) -> tuple[str, dict[str, Any]]:
    """A signed-in user with an account; its id and the claims of their token."""
    _, claims = create_auth_user(conn, email=email)
    answer = call_rpc(conn, {"email": email, "source": "webapp"}, "authenticated", claims)
    return str(answer["customer"]["id"]), claims


def test_pages_are_newest_first_and_say_whether_more_follow(conn: Conn) -> None:
    """25 orders in pages of 10: 10, 10, 5; hasMore until the last; the count on each."""
    customer_id = chatbot_customer(conn, "+15557100001", 25)
    pages = [orders(conn, customer_id=customer_id, page=n) for n in (1, 2, 3)]
    assert [len(p["orders"]) for p in pages] == [10, 10, 5]
    assert [p["hasMore"] for p in pages] == [True, True, False]
    assert [p["page"] for p in pages] == [1, 2, 3]
    assert {p["orderCount"] for p in pages} == {25}
    totals = [order["total"] for p in pages for order in p["orders"]]
    assert totals == [10 + n for n in range(25)]
    assert orders(conn, customer_id=customer_id, page=4) == {
        "orders": [],
        "page": 4,
        "hasMore": False,
        "orderCount": 25,
    }
    exact = orders(conn, customer_id=customer_id, page_size=25)
    assert (len(exact["orders"]), exact["hasMore"]) == (25, False)


def test_an_order_reads_as_in_the_answers_order_history(conn: Conn) -> None:
    """The first page is the orderHistory of customer_management, object for object (UTC)."""
    customer_id = chatbot_customer(conn, "+15557100002", 3)
    add_order(conn, customer_id, "59.99")
    conn.execute("set timezone = 'America/New_York'")
    history = call_rpc(conn, {"phone": "+15557100002", "source": "chatbot"})["orderHistory"]
    page = orders(conn, customer_id=customer_id)
    assert page["orders"] == history
    assert page["orders"][0]["total"] == 59.99
    assert page["orders"][0]["createdAt"].endswith("+00:00")
    assert set(page["orders"][0]) == {
        "id",
        "items",
        "total",
        "currency",
        "status",
        "deliveryDate",
        "createdAt",
    }


def test_the_service_role_follows_a_merged_id_to_its_survivor(conn: Conn) -> None:
    """Orders of both accounts, listed under either id once they are merged."""
    phone_id = chatbot_customer(conn, "+15557100003", 2)
    email_id = str(
        call_rpc(conn, {"email": "merge.me@example.com", "source": "webapp"})["customer"]["id"]
    )
    add_order(conn, email_id, "30.00")
    merged = call_rpc(
        conn,
        {
            "phone": "+15557100003",
            "email": "merge.me@example.com",
            "source": "webapp",
            "mergeIfFound": True,
        },
    )
    survivor = merged["customer"]["id"]
    assert {survivor} < {phone_id, email_id}
    merged_away = ({phone_id, email_id} - {survivor}).pop()
    assert orders(conn, customer_id=merged_away) == orders(conn, customer_id=survivor)
    assert orders(conn, customer_id=merged_away)["orderCount"] == 3


def test_the_service_role_must_name_an_existing_customer(conn: Conn) -> None:
    """No id: invalid_request; an unknown id: not_found (404)."""
    assert orders_error(conn)["message"] == "invalid_request"
    unknown = orders_error(conn, customer_id=str(uuid.uuid4()))
    assert (unknown["sqlstate"], unknown["message"]) == ("PT404", "not_found")


def test_an_end_user_lists_their_own_orders(conn: Conn) -> None:
    """Without an argument or with their own id: their orders, and only theirs."""
    own_id, claims = web_customer(conn, "own.orders@example.com")
    add_order(conn, own_id, "21.00")
    chatbot_customer(conn, "+15557100004", 4)
    mine = orders(conn, "authenticated", claims)
    assert [o["total"] for o in mine["orders"]] == [21.0]
    assert orders(conn, "authenticated", claims, customer_id=own_id) == mine


def test_an_end_user_cannot_read_another_customers_orders_or_learn_an_id_exists(
    conn: Conn,
) -> None:
    """Another customer's id and an id nobody has: the same forbidden, nothing changed."""
    _, claims = web_customer(conn, "curious@example.com")
    other_id = chatbot_customer(conn, "+15557100005", 3)
    before = table_snapshot(conn)
    someone_else = orders_error(conn, "authenticated", claims, customer_id=other_id)
    nobody = orders_error(conn, "authenticated", claims, customer_id=str(uuid.uuid4()))
    assert someone_else == nobody
    assert (someone_else["sqlstate"], someone_else["message"]) == ("42501", "forbidden")
    assert table_snapshot(conn) == before


def test_an_end_user_without_an_account_has_no_orders(conn: Conn) -> None:
    """Signed in but never resolved: an empty first page; any id is forbidden."""
    _, claims = create_auth_user(conn, email="no.account@example.com")
    assert orders(conn, "authenticated", claims) == {
        "orders": [],
        "page": 1,
        "hasMore": False,
        "orderCount": 0,
    }
    other_id = chatbot_customer(conn, "+15557100006", 1)
    error = orders_error(conn, "authenticated", claims, customer_id=other_id)
    assert error["message"] == "forbidden"


@pytest.mark.parametrize(
    "args",
    [
        {"page_size": 0},
        {"page_size": 101},
        {"page_size": None},
        {"page": 0},
        {"page": -1},
        {"page": 100001},
    ],
)
def test_bad_pages_are_refused(conn: Conn, args: dict[str, Any]) -> None:
    """Page sizes outside 1..100 and pages below 1: invalid_page (400)."""
    customer_id = chatbot_customer(conn, "+15557100007", 1)
    error = orders_error(conn, customer_id=customer_id, **args)
    assert (error["sqlstate"], error["message"]) == ("P0001", "invalid_page")


def test_anon_cannot_list_orders(conn: Conn) -> None:
    """The anon key may not execute the function at all."""
    customer_id = chatbot_customer(conn, "+15557100008", 1)
    error = orders_error(conn, "anon", None, customer_id=customer_id)
    assert error["sqlstate"] == "42501"
