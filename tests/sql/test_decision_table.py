"""The decision table: no match creates, one match updates, several flag a conflict; and
the order history and summary of the success shape.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import psycopg

from support.helpers import call_rpc, create_auth_user, table_snapshot, with_code
from support.reads import (
    PHONE,
    count_customers,
    customer,
    identifier_set,
    insert_order,
    one,
)

Conn = psycopg.Connection[Any]
EMAIL = "dana@mail.com"


def test_no_match_creates_an_account(conn: Conn) -> None:
    """A phone nobody holds creates one account carrying the request's fields."""
    response = call_rpc(
        conn,
        {
            "phone": "(555) 123-4567",
            "firstName": "Dana",
            "lastName": "Scully",
            "allergies": ["Nuts", " dairy "],
            "source": "chatbot",
        },
    )
    customer_id = response["customer"]["id"]
    assert response["customer"] == {
        "id": customer_id,
        "name": "Dana Scully",
        "phone": PHONE,
        "email": None,
        "allergies": ["Nuts", "dairy"],
        "isNewAccount": True,
        "accountSources": ["chatbot"],
        "_internalId": customer_id,
    }
    assert count_customers(conn, live_only=False) == 1
    row = customer(conn, customer_id)
    assert (row["first_name"], row["last_name"], row["phone"]) == ("Dana", "Scully", PHONE)
    assert row["auth_user_id"] is None and row["merged_into"] is None
    assert row["preferences"] == {
        "account_sources": ["chatbot"],
        "created_via": "chatbot",
        "last_updated_via": "chatbot",
    }
    assert identifier_set(conn, customer_id) == {("phone", PHONE, "active")}
    assert conn.execute(
        "select action, actor_role, source from customer_management.audit_log where customer_id "
        "= %s",
        (customer_id,),
    ).fetchall() == [("create", "service_role", "chatbot")]


def test_one_match_fills_empty_names_and_never_overwrites(conn: Conn) -> None:
    """Names are filled when empty and kept once set, field by field."""
    created = call_rpc(conn, {"phone": PHONE, "firstName": "Dana", "source": "chatbot"})
    customer_id = created["customer"]["id"]

    filled = call_rpc(
        conn, {"phone": PHONE, "firstName": "Zed", "lastName": "Scully", "source": "chatbot"}
    )
    assert filled["customer"]["id"] == customer_id
    assert filled["customer"]["isNewAccount"] is False
    assert filled["customer"]["name"] == "Dana Scully"

    again = call_rpc(
        conn, {"phone": PHONE, "firstName": "Other", "lastName": "Person", "source": "chatbot"}
    )
    assert again["customer"]["name"] == "Dana Scully"
    row = customer(conn, customer_id)
    assert (row["first_name"], row["last_name"]) == ("Dana", "Scully")
    assert count_customers(conn, live_only=False) == 1


def test_one_match_unions_allergies_case_insensitively(conn: Conn) -> None:
    """Allergies are unioned, compared case-insensitively, first spelling kept."""
    created = call_rpc(
        conn, {"phone": PHONE, "allergies": ["Nuts", "dairy", "NUTS"], "source": "chatbot"}
    )
    assert created["customer"]["allergies"] == ["Nuts", "dairy"]
    updated = call_rpc(
        conn,
        {"phone": PHONE, "allergies": ["nuts", "DAIRY", "Shellfish"], "source": "chatbot"},
    )
    assert updated["customer"]["allergies"] == ["Nuts", "dairy", "Shellfish"]
    unchanged = call_rpc(conn, {"phone": PHONE, "allergies": [], "source": "chatbot"})
    assert unchanged["customer"]["allergies"] == ["Nuts", "dairy", "Shellfish"]
    assert customer(conn, created["customer"]["id"])["allergies"] == [
        "Nuts",
        "dairy",
        "Shellfish",
    ]


def test_one_match_unions_sources_and_sets_last_updated_via(conn: Conn) -> None:
    """account_sources is a union in first-seen order; last_updated_via follows each call."""
    customer_id = call_rpc(conn, {"phone": PHONE, "source": "chatbot"})["customer"]["id"]

    web = call_rpc(conn, {"phone": PHONE, "source": "webapp"})
    assert web["customer"]["accountSources"] == ["chatbot", "webapp"]
    assert customer(conn, customer_id)["preferences"] == {
        "account_sources": ["chatbot", "webapp"],
        "created_via": "chatbot",
        "last_updated_via": "webapp",
    }

    bot = call_rpc(conn, {"phone": PHONE, "source": "chatbot"})
    assert bot["customer"]["accountSources"] == ["chatbot", "webapp"]
    assert "Account updated" not in bot["summary"]
    assert customer(conn, customer_id)["preferences"] == {
        "account_sources": ["chatbot", "webapp"],
        "created_via": "chatbot",
        "last_updated_via": "chatbot",
    }


def test_one_match_attaches_a_new_identifier(conn: Conn) -> None:
    """A new email sent with a known phone is attached to that account, not a new one."""
    customer_id = call_rpc(conn, {"phone": PHONE, "source": "chatbot"})["customer"]["id"]
    response = call_rpc(
        conn, with_code(conn, {"phone": PHONE, "email": EMAIL, "source": "chatbot"})
    )
    assert response["customer"]["id"] == customer_id
    assert response["customer"]["email"] == EMAIL
    assert identifier_set(conn, customer_id) == {
        ("phone", PHONE, "active"),
        ("email", EMAIL, "active"),
    }
    by_email = call_rpc(conn, {"email": EMAIL.upper(), "source": "webapp"})
    assert by_email["customer"]["id"] == customer_id
    assert count_customers(conn, live_only=False) == 1


def test_returning_lookup_writes_nothing_but_the_rate_counter(conn: Conn) -> None:
    """A lookup that changes nothing leaves every table but the rate counter unchanged."""
    call_rpc(conn, {"phone": PHONE, "firstName": "Dana", "source": "chatbot"})
    before = table_snapshot(conn)
    response = call_rpc(conn, {"phone": PHONE, "firstName": "Dana", "source": "chatbot"})
    assert response["customer"]["isNewAccount"] is False
    after = table_snapshot(conn)
    before.pop("customer_management.rate_limit_counters", None)
    after.pop("customer_management.rate_limit_counters", None)
    assert after == before


def test_several_matches_flag_a_conflict_and_change_nothing(conn: Conn) -> None:
    """Phone on one account, email on another, both proven by the caller (the line and a
    code): conflict shape, no account touched."""
    by_phone = call_rpc(conn, {"phone": PHONE, "source": "chatbot"})["customer"]["id"]
    _, web_user = create_auth_user(conn, email=EMAIL)
    by_email = call_rpc(conn, {"email": EMAIL, "source": "webapp"}, "authenticated", web_user)[
        "customer"
    ]["id"]
    before = table_snapshot(conn)

    response = call_rpc(
        conn,
        with_code(conn, {"phone": PHONE, "email": EMAIL, "firstName": "Dana", "source": "chatbot"}),
    )
    assert set(response) == {"error", "conflicts", "message", "conflictId"}
    assert response["error"] == "Account conflict"
    assert response["conflicts"]["found"] is True
    assert response["conflicts"]["accounts"] == [
        {"id": by_phone, "phone": PHONE, "source": "chatbot"},
        {"id": by_email, "email": EMAIL, "source": "webapp"},
    ]
    after = table_snapshot(conn)
    assert after["public.customers"] == before["public.customers"]
    assert (
        after["customer_management.customer_identifiers"]
        == before["customer_management.customer_identifiers"]
    )
    assert count_customers(conn) == 2
    assert conn.execute(
        "select customer_ids::text[], identifier_types, status from "
        "customer_management.customer_conflicts"
    ).fetchall() == [(sorted([by_phone, by_email]), ["email", "phone"], "open")]


def test_three_accounts_conflict_lists_all_of_them(conn: Conn) -> None:
    """Phone, email and auth user on three accounts: one conflict naming all three."""
    user_id, claims = create_auth_user(conn, email="web@mail.com")
    by_phone = call_rpc(conn, {"phone": PHONE, "source": "chatbot"})["customer"]["id"]
    by_email = call_rpc(conn, {"email": EMAIL, "source": "webapp"})["customer"]["id"]
    by_auth = call_rpc(
        conn,
        {"email": "web@mail.com", "source": "webapp"},
        role="authenticated",
        claims=claims,
    )["customer"]["id"]

    response = call_rpc(
        conn,
        {"phone": PHONE, "email": EMAIL, "authUserId": str(user_id), "source": "webapp"},
    )
    assert [a["id"] for a in response["conflicts"]["accounts"]] == [by_phone, by_email, by_auth]
    assert one(
        conn,
        "select customer_ids::text[] from customer_management.customer_conflicts where id = %s",
        (response["conflictId"],),
    ) == sorted([by_phone, by_email, by_auth])


def test_order_history_newest_first_at_most_ten_summary_counts_all(conn: Conn) -> None:
    """orderHistory: the 10 newest orders, newest first; summary counts all 12."""
    customer_id = call_rpc(conn, {"phone": PHONE, "firstName": "Dana", "source": "chatbot"})[
        "customer"
    ]["id"]
    other_id = call_rpc(conn, {"email": EMAIL, "source": "webapp"})["customer"]["id"]
    start = dt.datetime(2026, 1, 1, 12, 0, tzinfo=dt.UTC)
    # Inserted out of order so that the order of insertion cannot pass for the sort.
    offsets = [5, 0, 11, 3, 8, 1, 10, 2, 7, 4, 9, 6]
    order_ids = {
        offset: insert_order(conn, customer_id, start + dt.timedelta(days=offset))
        for offset in offsets
    }
    insert_order(conn, other_id, start + dt.timedelta(days=30))
    insert_order(
        conn,
        customer_id,
        start - dt.timedelta(days=1),
        total="79.99",
        status="confirmed",
        items=[{"sku": "choc-strawberries", "qty": 2}],
        delivery_date=dt.date(2026, 11, 28),
    )

    response = call_rpc(conn, {"phone": PHONE, "source": "chatbot"})
    history = response["orderHistory"]
    assert [o["id"] for o in history] == [order_ids[n] for n in range(11, 1, -1)]
    assert set(history[0]) == {
        "id",
        "items",
        "total",
        "currency",
        "status",
        "deliveryDate",
        "createdAt",
    }
    created = [dt.datetime.fromisoformat(o["createdAt"]) for o in history]
    assert created == sorted(created, reverse=True)
    assert response["summary"] == "Welcome back Dana! You have 13 previous orders."


def test_order_history_entry_shape_and_singular_summary(conn: Conn) -> None:
    """One order: every field of the entry, and 'You have 1 previous order.'"""
    customer_id = call_rpc(conn, {"phone": PHONE, "source": "chatbot"})["customer"]["id"]
    order_id = insert_order(
        conn,
        customer_id,
        dt.datetime(2026, 11, 20, 9, 30, tzinfo=dt.UTC),
        total="79.99",
        status="confirmed",
        items=[{"sku": "choc-strawberries", "qty": 2}],
        delivery_date=dt.date(2026, 11, 28),
    )
    response = call_rpc(conn, {"phone": PHONE, "source": "chatbot"})
    assert len(response["orderHistory"]) == 1
    entry = response["orderHistory"][0]
    assert dt.datetime.fromisoformat(entry.pop("createdAt")) == dt.datetime(
        2026, 11, 20, 9, 30, tzinfo=dt.UTC
    )
    assert entry == {
        "id": order_id,
        "items": [{"sku": "choc-strawberries", "qty": 2}],
        "total": 79.99,
        "currency": "USD",
        "status": "confirmed",
        "deliveryDate": "2026-11-28",
    }
    assert response["summary"] == "Welcome back! You have 1 previous order."
