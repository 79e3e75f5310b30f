"""Merging with mergeIfFound: who survives, what moves, what the merge log keeps (enough to
undo the merge exactly), and when a merge is refused.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

import psycopg

from support.helpers import call_rpc, create_auth_user, with_code
from support.reads import (
    PHONE,
    count_customers,
    customer,
    identifier_set,
    identifiers,
    insert_order,
    notice_codes,
    one,
    owner_of,
    without,
)

Conn = psycopg.Connection[Any]
EMAIL = "erin@mail.com"
MERGE_LOG_COLUMNS = (
    "survivor_id::text, merged_id::text, "
    "customer_management.unseal(survivor_id, survivor_before), "
    "customer_management.unseal(merged_id, merged_before), "
    "moved_identifier_ids, moved_order_ids::text[], conflict_id::text, "
    "closed_conflicts, actor_role, actor_uid, source, reason"
)


@dataclass
class Pair:
    """A chatbot account (older, phone) and a web account (newer, email, auth user)."""

    chatbot_id: str
    web_id: str
    user_id: str
    chatbot_orders: list[str]
    web_orders: list[str]


def _chatbot_then_web(conn: Conn) -> Pair:
    chatbot_id = call_rpc(
        conn,
        {
            "phone": PHONE,
            "firstName": "Erin",
            "allergies": ["Nuts", "Sesame"],
            "source": "chatbot",
        },
    )["customer"]["id"]
    user_id, claims = create_auth_user(conn, email=EMAIL)
    web_id = call_rpc(
        conn,
        {
            "email": EMAIL,
            "firstName": "Erin",
            "lastName": "Ray",
            "allergies": ["nuts", "Gluten"],
            "source": "webapp",
        },
        role="authenticated",
        claims=claims,
    )["customer"]["id"]
    start = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)
    chatbot_orders = [
        insert_order(conn, chatbot_id, start + dt.timedelta(days=n)) for n in range(2)
    ]
    web_orders = [insert_order(conn, web_id, start + dt.timedelta(days=5))]
    return Pair(chatbot_id, web_id, str(user_id), chatbot_orders, web_orders)


def _merge_log(conn: Conn) -> list[tuple[Any, ...]]:
    return conn.execute(
        f"select {MERGE_LOG_COLUMNS} from customer_management.merge_log order by id"
    ).fetchall()


def _orders_by_customer(conn: Conn) -> dict[str, str]:
    rows = conn.execute("select id::text, customer_id::text from public.orders").fetchall()
    return {row[0]: row[1] for row in rows}


def test_merge_moves_everything_to_the_auth_linked_account(conn: Conn) -> None:
    """The auth-linked account survives even though it is newer; all moves to it."""
    pair = _chatbot_then_web(conn)
    chatbot_identifier_ids = [row["id"] for row in identifiers(conn, pair.chatbot_id)]
    survivor_before = {
        "customer": customer(conn, pair.web_id),
        # Each identifier as it was, and whether an import held it for deduplication.
        "identifiers": [{**row, "held": False} for row in identifiers(conn, pair.web_id)],
    }
    merged_before = {
        "customer": customer(conn, pair.chatbot_id),
        "identifiers": [{**row, "held": False} for row in identifiers(conn, pair.chatbot_id)],
    }
    both = {"phone": PHONE, "email": EMAIL, "source": "chatbot"}
    conflict = call_rpc(conn, with_code(conn, both))
    conflict_id = conflict["conflictId"]

    response = call_rpc(conn, with_code(conn, {**both, "mergeIfFound": True}))
    assert notice_codes(response) == ["accounts_merged"]
    assert response["customer"] == {
        "id": pair.web_id,
        "name": "Erin Ray",
        "phone": PHONE,
        "email": EMAIL,
        "allergies": ["nuts", "Gluten", "Sesame"],
        "isNewAccount": False,
        "accountSources": ["webapp", "chatbot"],
        "_internalId": pair.web_id,
    }
    assert [o["id"] for o in response["orderHistory"]] == [
        pair.web_orders[0],
        pair.chatbot_orders[1],
        pair.chatbot_orders[0],
    ]
    assert response["summary"] == "Welcome back Erin! You have 3 previous orders."

    tombstone = customer(conn, pair.chatbot_id)
    assert tombstone["merged_into"] == pair.web_id
    assert tombstone["merged_at"] is not None
    survivor = customer(conn, pair.web_id)
    assert survivor["merged_into"] is None
    assert survivor["auth_user_id"] == pair.user_id
    assert survivor["preferences"]["account_sources"] == ["webapp", "chatbot"]
    assert survivor["preferences"]["created_via"] == "chatbot"
    assert survivor["preferences"]["last_updated_via"] == "chatbot"
    assert owner_of(conn, "phone", PHONE) == pair.web_id
    assert identifier_set(conn, pair.chatbot_id) == set()
    assert set(_orders_by_customer(conn).values()) == {pair.web_id}
    assert count_customers(conn) == 1

    assert _merge_log(conn) == [
        (
            pair.web_id,
            pair.chatbot_id,
            survivor_before,
            merged_before,
            chatbot_identifier_ids,
            sorted(pair.chatbot_orders),
            conflict_id,
            [{"id": conflict_id, "status": "open"}],
            "service_role",
            None,
            "chatbot",
            "mergeIfFound",
        )
    ]
    assert conn.execute(
        "select status, resolution_reason, resolved_at is not null from "
        "customer_management.customer_conflicts"
    ).fetchall() == [("merged", "mergeIfFound", True)]
    assert conn.execute(
        "select customer_id::text, related_customer_id::text, actor_role, source "
        "from customer_management.audit_log where action = 'merge'"
    ).fetchall() == [(pair.web_id, pair.chatbot_id, "service_role", "chatbot")]


def test_without_auth_link_the_oldest_account_survives(conn: Conn) -> None:
    """Neither account has an auth user: the older one survives. (The backend asks for the
    merge: it vouches for the email it passes on, which the web account holds as asserted.)"""
    older = call_rpc(conn, {"email": EMAIL, "allergies": ["Soy"], "source": "webapp"})
    newer = call_rpc(
        conn,
        {"phone": PHONE, "firstName": "Erin", "allergies": ["Kiwi", "soy"], "source": "chatbot"},
    )
    older_id, newer_id = older["customer"]["id"], newer["customer"]["id"]
    response = call_rpc(
        conn,
        {
            "phone": PHONE,
            "email": EMAIL,
            "source": "webapp",
            "mergeIfFound": True,
        },
    )
    assert without(response, "notices") == {
        "customer": {
            "id": older_id,
            "name": "Erin",
            "phone": PHONE,
            "email": EMAIL,
            "allergies": ["Soy", "Kiwi"],
            "isNewAccount": False,
            "accountSources": ["webapp", "chatbot"],
            "_internalId": older_id,
        },
        "orderHistory": [],
        "summary": "Welcome back Erin! You have no previous orders yet.",
    }
    assert customer(conn, newer_id)["merged_into"] == older_id
    assert customer(conn, older_id)["preferences"] == {
        "account_sources": ["webapp", "chatbot"],
        "created_via": "webapp",
        "last_updated_via": "webapp",
    }
    # With no conflict recorded first, the log row has no conflict id.
    log = _merge_log(conn)
    assert [(row[0], row[1], row[6]) for row in log] == [(older_id, newer_id, None)]


def test_three_accounts_merge_into_the_auth_linked_one(conn: Conn) -> None:
    """Phone, email and auth user on three accounts: two log rows, two tombstones."""
    by_phone = call_rpc(conn, {"phone": PHONE, "source": "chatbot"})["customer"]["id"]
    by_email = call_rpc(conn, {"email": EMAIL, "source": "webapp"})["customer"]["id"]
    user_id, claims = create_auth_user(conn, email="web@mail.com")
    by_auth = call_rpc(
        conn, {"email": "web@mail.com", "source": "webapp"}, role="authenticated", claims=claims
    )["customer"]["id"]
    response = call_rpc(
        conn,
        {
            "phone": PHONE,
            "email": EMAIL,
            "authUserId": str(user_id),
            "source": "webapp",
            "mergeIfFound": True,
        },
    )
    assert response["customer"]["id"] == by_auth
    assert response["notices"][0]["code"] == "accounts_merged"
    assert [(row[0], row[1]) for row in _merge_log(conn)] == [
        (by_auth, by_phone),
        (by_auth, by_email),
    ]
    assert customer(conn, by_phone)["merged_into"] == by_auth
    assert customer(conn, by_email)["merged_into"] == by_auth
    assert identifier_set(conn, by_auth) == {
        ("phone", PHONE, "active"),
        ("email", EMAIL, "active"),
        ("email", "web@mail.com", "active"),
        ("auth_user", str(user_id), "active"),
    }


def _undo_from_log(conn: Conn) -> None:
    """Undo every merge, newest first, with undo_merge: it reads only the merge log."""
    merge_ids = [
        row[0]
        for row in conn.execute(
            "select id from customer_management.merge_log order by id desc"
        ).fetchall()
    ]
    assert merge_ids
    for merge_id in merge_ids:
        conn.execute("select public.undo_merge(%s, false, 'test')", (merge_id,))


def _rows(conn: Conn, ids: tuple[str, ...]) -> dict[str, dict[str, Any]]:
    """Each account's row but updated_at (an undo restores everything else)."""
    return {cid: without(customer(conn, cid), "updated_at") for cid in ids}


def test_before_images_restore_both_accounts_exactly(conn: Conn) -> None:
    """Rebuilding rows and identifiers from the merge log gives back the pre-merge state."""
    pair = _chatbot_then_web(conn)
    ids = (pair.chatbot_id, pair.web_id)
    rows_before = _rows(conn, ids)
    identifiers_before = {cid: identifiers(conn, cid) for cid in ids}
    orders_before = _orders_by_customer(conn)

    call_rpc(
        conn,
        with_code(
            conn, {"phone": PHONE, "email": EMAIL, "source": "chatbot", "mergeIfFound": True}
        ),
    )
    assert rows_before != _rows(conn, ids)

    _undo_from_log(conn)
    assert _rows(conn, ids) == rows_before
    assert {cid: identifiers(conn, cid) for cid in ids} == identifiers_before
    assert _orders_by_customer(conn) == orders_before


def test_pending_copy_on_survivor_takes_over_and_undo_restores_it(conn: Conn) -> None:
    """The survivor's pending copy of the merged account's phone becomes the active one;
    the before-images still restore both accounts exactly."""
    chatbot_id = call_rpc(conn, {"phone": PHONE, "source": "chatbot"})["customer"]["id"]
    user_id, claims = create_auth_user(conn, email=EMAIL, phone=PHONE, phone_confirmed=False)
    web = call_rpc(
        conn,
        {"email": EMAIL, "phone": PHONE, "source": "webapp"},
        role="authenticated",
        claims=claims,
    )
    web_id = web["customer"]["id"]
    assert web["verificationRequired"] == [{"type": "phone", "value": PHONE}]
    ids = (chatbot_id, web_id)
    rows_before = _rows(conn, ids)
    identifiers_before = {cid: identifiers(conn, cid) for cid in ids}

    response = call_rpc(
        conn,
        with_code(
            conn, {"email": EMAIL, "phone": PHONE, "source": "chatbot", "mergeIfFound": True}
        ),
    )
    assert response["customer"]["id"] == web_id
    assert response["customer"]["phone"] == PHONE
    assert owner_of(conn, "phone", PHONE) == web_id
    assert identifier_set(conn, web_id) == {
        ("phone", PHONE, "active"),
        ("email", EMAIL, "active"),
        ("auth_user", str(user_id), "active"),
    }
    assert identifier_set(conn, chatbot_id) == {("phone", PHONE, "pending")}
    assert customer(conn, chatbot_id)["merged_into"] == web_id

    _undo_from_log(conn)
    assert _rows(conn, ids) == rows_before
    assert {cid: identifiers(conn, cid) for cid in ids} == identifiers_before


def test_accounts_of_two_auth_users_are_never_merged(conn: Conn) -> None:
    """mergeIfFound across two sign-in users: merge_blocked, the conflict shape, no merge."""
    _, claims_one = create_auth_user(conn, email="one@mail.com")
    _, claims_two = create_auth_user(conn, email="two@mail.com", phone=PHONE)
    first = call_rpc(
        conn, {"email": "one@mail.com", "source": "webapp"}, role="authenticated", claims=claims_one
    )["customer"]["id"]
    second = call_rpc(
        conn,
        {"email": "two@mail.com", "phone": PHONE, "source": "webapp"},
        role="authenticated",
        claims=claims_two,
    )["customer"]["id"]

    response = call_rpc(
        conn,
        with_code(
            conn,
            {"email": "one@mail.com", "phone": PHONE, "source": "chatbot", "mergeIfFound": True},
        ),
    )
    assert response["error"] == "Account conflict"
    assert notice_codes(response) == ["merge_blocked"]
    assert [a["id"] for a in response["conflicts"]["accounts"]] == [first, second]
    assert one(conn, "select count(*) from customer_management.merge_log") == 0
    assert count_customers(conn) == 2
    assert conn.execute(
        "select status, customer_ids::text[] from customer_management.customer_conflicts"
    ).fetchall() == [("open", sorted([first, second]))]


def test_end_user_merge_request_does_not_merge(conn: Conn) -> None:
    """An end user's mergeIfFound records a conflict (masked) and merges nothing.

    The user's web account (their confirmed email) and a chatbot account on their line
    (a phone they confirmed later) are two accounts they both prove.
    """
    by_phone = call_rpc(conn, {"phone": PHONE, "source": "chatbot"})["customer"]["id"]
    user_id, claims = create_auth_user(conn, email=EMAIL, phone=PHONE)
    by_email = call_rpc(
        conn, {"email": EMAIL, "source": "webapp"}, role="authenticated", claims=claims
    )["customer"]["id"]
    rows_before = {cid: customer(conn, cid) for cid in (by_phone, by_email)}

    response = call_rpc(
        conn,
        {"phone": PHONE, "email": EMAIL, "source": "webapp", "mergeIfFound": True},
        role="authenticated",
        claims=claims,
    )
    assert without(response, "conflictId", "notices") == {
        "error": "Account conflict",
        "conflicts": {
            "found": True,
            "accounts": [
                {"phone": "+1******4567", "source": "chatbot"},
                {"email": "e***@mail.com", "source": "webapp"},
            ],
            "suggestedActions": [
                "Link accounts automatically",
                "Contact customer support",
                "Use primary email account",
            ],
        },
        "message": "Multiple accounts found. Please choose how to proceed.",
    }
    assert notice_codes(response) == ["merge_requires_service_role"]
    assert by_phone not in json.dumps(response) and by_email not in json.dumps(response)
    assert one(conn, "select count(*) from customer_management.merge_log") == 0
    assert {cid: customer(conn, cid) for cid in (by_phone, by_email)} == rows_before
    assert conn.execute(
        "select status, actor_role, actor_uid from customer_management.customer_conflicts"
    ).fetchall() == [("open", "authenticated", user_id)]
