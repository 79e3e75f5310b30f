"""Three scenarios (chatbot then web, web then chatbot, a conflict), end to end through
the RPC, with the exact response shapes.

Each test replays one scenario under the roles and JWT claims the real callers have: the
chatbot as ``service_role``, the web app as the signed-in ``authenticated`` user.
"""

from __future__ import annotations

from typing import Any

import psycopg

from support.helpers import call_rpc, create_auth_user, table_snapshot, with_code
from support.reads import (
    PHONE,
    count_customers,
    customer,
    identifier_set,
    notice_codes,
    one,
    stored_values,
    without,
)

Conn = psycopg.Connection[Any]
SUGGESTED_ACTIONS = [
    "Link accounts automatically",
    "Contact customer support",
    "Use primary email account",
]


def _chatbot_creates_alice(conn: Conn) -> dict[str, Any]:
    """Scenario 1, step 1: the chatbot hears a phone and sends its placeholder email."""
    response = call_rpc(
        conn,
        {
            "phone": "555-123-4567",
            "email": "chatbot_temp@temp.local",
            "firstName": "Alice",
            "source": "chatbot",
        },
    )
    assert isinstance(response, dict)
    return response


def test_scenario_1_chatbot_first_then_web_app(conn: Conn) -> None:
    """Chatbot creates by phone (placeholder email ignored); the web user lands in it."""
    first = _chatbot_creates_alice(conn)
    alice_id = first["customer"]["id"]
    assert without(first, "notices") == {
        "customer": {
            "id": alice_id,
            "name": "Alice",
            "phone": PHONE,
            "email": None,
            "allergies": [],
            "isNewAccount": True,
            "accountSources": ["chatbot"],
            "_internalId": alice_id,
        },
        "orderHistory": [],
        "summary": "Welcome Alice! I've created your account.",
    }
    assert [(n["code"], n["field"]) for n in first["notices"]] == [("placeholder_ignored", "email")]
    assert "chatbot_temp@temp.local" not in stored_values(conn)
    assert identifier_set(conn, alice_id) == {("phone", PHONE, "active")}

    user_id, claims = create_auth_user(
        conn, email="alice@gmail.com", phone=PHONE, email_confirmed=True, phone_confirmed=True
    )
    second = call_rpc(
        conn,
        {
            "email": "alice@gmail.com",
            "phone": "555-123-4567",
            "firstName": "Alice",
            "source": "webapp",
            "authUserId": str(user_id),
        },
        role="authenticated",
        claims=claims,
    )
    assert second == {
        "customer": {
            "id": alice_id,
            "name": "Alice",
            "phone": PHONE,
            "email": "alice@gmail.com",
            "allergies": [],
            "isNewAccount": False,
            "accountSources": ["chatbot", "webapp"],
            "_internalId": alice_id,
        },
        "orderHistory": [],
        "summary": (
            "Welcome back Alice! You have no previous orders yet. "
            "Account updated with web app access."
        ),
    }
    assert count_customers(conn, live_only=False) == 1
    row = customer(conn, alice_id)
    assert row["auth_user_id"] == str(user_id)
    assert row["preferences"] == {
        "account_sources": ["chatbot", "webapp"],
        "created_via": "chatbot",
        "last_updated_via": "webapp",
    }
    assert identifier_set(conn, alice_id) == {
        ("phone", PHONE, "active"),
        ("email", "alice@gmail.com", "active"),
        ("auth_user", str(user_id), "active"),
    }


def test_scenario_1_unconfirmed_phone_is_not_merged(conn: Conn) -> None:
    """A web user whose phone is not confirmed gets a separate account, phone pending."""
    first = _chatbot_creates_alice(conn)
    alice_id = first["customer"]["id"]
    chatbot_row = customer(conn, alice_id)

    user_id, claims = create_auth_user(
        conn, email="alice@gmail.com", phone=PHONE, email_confirmed=True, phone_confirmed=False
    )
    second = call_rpc(
        conn,
        {
            "email": "alice@gmail.com",
            "phone": "555-123-4567",
            "firstName": "Alice",
            "source": "webapp",
            "authUserId": str(user_id),
        },
        role="authenticated",
        claims=claims,
    )
    web_id = second["customer"]["id"]
    assert web_id != alice_id
    assert second == {
        "customer": {
            "id": web_id,
            "name": "Alice",
            "phone": None,
            "email": "alice@gmail.com",
            "allergies": [],
            "isNewAccount": True,
            "accountSources": ["webapp"],
            "_internalId": web_id,
        },
        "orderHistory": [],
        "summary": (
            "Welcome Alice! I've created your account. "
            "Please verify your phone to link it to this account."
        ),
        "verificationRequired": [{"type": "phone", "value": PHONE}],
    }
    assert count_customers(conn) == 2
    assert customer(conn, alice_id) == chatbot_row
    assert identifier_set(conn, alice_id) == {("phone", PHONE, "active")}
    assert identifier_set(conn, web_id) == {
        ("phone", PHONE, "pending"),
        ("email", "alice@gmail.com", "active"),
        ("auth_user", str(user_id), "active"),
    }
    assert customer(conn, web_id)["auth_user_id"] == str(user_id)


def test_scenario_2_web_first_then_chatbot(conn: Conn) -> None:
    """Bob signs up on the web; when he calls, the chatbot verifies the email he says with a
    code and adds his line to the same account."""
    user_id, claims = create_auth_user(conn, email="bob@gmail.com")
    first = call_rpc(
        conn,
        {
            "email": "bob@gmail.com",
            "firstName": "Bob",
            "source": "webapp",
            "authUserId": str(user_id),
        },
        role="authenticated",
        claims=claims,
    )
    bob_id = first["customer"]["id"]
    assert first == {
        "customer": {
            "id": bob_id,
            "name": "Bob",
            "phone": None,
            "email": "bob@gmail.com",
            "allergies": [],
            "isNewAccount": True,
            "accountSources": ["webapp"],
            "_internalId": bob_id,
        },
        "orderHistory": [],
        "summary": "Welcome Bob! I've created your account.",
    }

    # Bob calls and says his email; the chatbot sends him a code, he reads it back.
    second = call_rpc(
        conn,
        with_code(
            conn,
            {
                "phone": "555-555-5678",
                "email": "bob@gmail.com",
                "firstName": "Bob",
                "source": "chatbot",
            },
        ),
    )
    assert second == {
        "customer": {
            "id": bob_id,
            "name": "Bob",
            "phone": "+15555555678",
            "email": "bob@gmail.com",
            "allergies": [],
            "isNewAccount": False,
            "accountSources": ["webapp", "chatbot"],
            "_internalId": bob_id,
        },
        "orderHistory": [],
        "summary": (
            "Welcome back Bob! You have no previous orders yet. "
            "Account updated with chatbot access."
        ),
    }
    assert count_customers(conn, live_only=False) == 1
    row = customer(conn, bob_id)
    assert row["auth_user_id"] == str(user_id)
    assert row["preferences"] == {
        "account_sources": ["webapp", "chatbot"],
        "created_via": "webapp",
        "last_updated_via": "chatbot",
    }
    assert identifier_set(conn, bob_id) == {
        ("email", "bob@gmail.com", "active"),
        ("auth_user", str(user_id), "active"),
        ("phone", "+15555555678", "active"),
    }


def test_scenario_3_conflict_then_merge(conn: Conn) -> None:
    """Two accounts, both identifiers: conflict recorded (and reused), then merged."""
    user_id, claims = create_auth_user(conn, email="charlie@gmail.com")
    account_a = call_rpc(
        conn,
        {
            "email": "charlie@gmail.com",
            "firstName": "Charlie",
            "source": "webapp",
            "authUserId": str(user_id),
        },
        role="authenticated",
        claims=claims,
    )["customer"]["id"]
    account_b = call_rpc(conn, {"phone": "555-222-9999", "source": "chatbot"})["customer"]["id"]
    assert account_a != account_b

    # Charlie calls from the chatbot account's line and proves the web account's email.
    body = {"phone": "555-222-9999", "email": "charlie@gmail.com", "source": "chatbot"}
    before = table_snapshot(conn)
    conflict = call_rpc(conn, with_code(conn, body))
    conflict_id = conflict["conflictId"]
    assert conflict == {
        "error": "Account conflict",
        "conflicts": {
            "found": True,
            "accounts": [
                {"id": account_a, "email": "charlie@gmail.com", "source": "webapp"},
                {"id": account_b, "phone": "+15552229999", "source": "chatbot"},
            ],
            "suggestedActions": SUGGESTED_ACTIONS,
        },
        "message": "Multiple accounts found. Please choose how to proceed.",
        "conflictId": conflict_id,
    }
    after = table_snapshot(conn)
    # The conflict is a normal return: its record persists; the accounts are untouched.
    assert after["public.customers"] == before["public.customers"]
    assert (
        after["customer_management.customer_identifiers"]
        == before["customer_management.customer_identifiers"]
    )
    row = conn.execute(
        "select status, occurrences, customer_ids::text[], source, actor_role "
        "from customer_management.customer_conflicts where id = %s",
        (conflict_id,),
    ).fetchone()
    assert row == ("open", 1, sorted([account_a, account_b]), "chatbot", "service_role")

    repeat = call_rpc(conn, with_code(conn, body))
    assert repeat == conflict
    assert one(conn, "select count(*) from customer_management.customer_conflicts") == 1
    assert (
        one(
            conn,
            "select occurrences from customer_management.customer_conflicts where id = %s",
            (conflict_id,),
        )
        == 2
    )

    merged = call_rpc(conn, with_code(conn, {**body, "mergeIfFound": True}))
    assert without(merged, "notices") == {
        "customer": {
            "id": account_a,
            "name": "Charlie",
            "phone": "+15552229999",
            "email": "charlie@gmail.com",
            "allergies": [],
            "isNewAccount": False,
            "accountSources": ["webapp", "chatbot"],
            "_internalId": account_a,
        },
        "orderHistory": [],
        "summary": "Welcome back Charlie! You have no previous orders yet.",
    }
    assert notice_codes(merged) == ["accounts_merged"]
    assert customer(conn, account_b)["merged_into"] == account_a
    assert count_customers(conn) == 1
    assert (
        one(
            conn,
            "select status from customer_management.customer_conflicts where id = %s",
            (conflict_id,),
        )
        == "merged"
    )
    assert (
        one(
            conn,
            "select conflict_id::text from customer_management.merge_log where merged_id = %s",
            (account_b,),
        )
        == conflict_id
    )
