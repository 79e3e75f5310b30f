"""Ids that outlive merges (current_customer_id, ids followed by every lifecycle RPC), the
events outbox, and the logins Supabase Auth marks specially (banned, anonymous).
"""

from __future__ import annotations

import uuid
from typing import Any

import psycopg

from customer_management.local import auth_users
from support.helpers import call_rpc, create_auth_user, expect_error
from support.lifecycle import EMAIL, PHONE, raise_conflict, rpc, rpc_error
from support.reads import identifier_set, one
from support.security import sql_error

Conn = psycopg.Connection[Any]


def test_current_customer_id_follows_merges(conn: Conn) -> None:
    """A merged-away id leads to its survivor, through chains; a live id to itself; an
    unknown id to nothing."""
    conflicted = raise_conflict(conn)
    third = call_rpc(conn, {"phone": "+15556060003", "source": "webapp"})["customer"]["id"]
    call_rpc(conn, {"phone": PHONE, "email": EMAIL, "source": "webapp", "mergeIfFound": True})
    survivor = conflicted.phone_account
    call_rpc(
        conn,
        {"phone": "+15556060003", "email": EMAIL, "source": "webapp", "mergeIfFound": True},
    )
    for customer_id in (conflicted.email_account, survivor, third):
        assert rpc(conn, "current_customer_id", {"customer_id": customer_id}) == uuid.UUID(survivor)
    assert rpc(conn, "current_customer_id", {"customer_id": str(uuid.uuid4())}) is None


def test_end_users_follow_only_their_own_ids(conn: Conn) -> None:
    user_id, claims = create_auth_user(conn, email=EMAIL)
    own = call_rpc(conn, {"email": EMAIL, "source": "webapp"}, "authenticated", claims)
    other = call_rpc(conn, {"phone": PHONE, "source": "chatbot"})["customer"]["id"]
    assert rpc(
        conn, "current_customer_id", {"customer_id": own["customer"]["id"]}, "authenticated", claims
    ) == uuid.UUID(own["customer"]["id"])
    assert rpc(conn, "current_customer_id", {"customer_id": other}, "authenticated", claims) is None
    assert (
        rpc_error(conn, "current_customer_id", {"customer_id": other}, "anon")["sqlstate"]
        == "42501"
    )
    assert user_id


def test_events_outbox_in_order_without_personal_data(conn: Conn) -> None:
    """merged, merge_undone and erased, in order, with ids and merge ids only; end users
    cannot read the outbox."""
    conflicted = raise_conflict(conn)
    merged = call_rpc(
        conn, {"phone": PHONE, "email": EMAIL, "source": "webapp", "mergeIfFound": True}
    )
    (merge_id,) = merged["notices"][0]["mergeIds"]
    rpc(conn, "undo_merge", {"merge_id": merge_id})
    rpc(conn, "erase_customer", {"customer_id": conflicted.email_account})
    with conn.cursor() as cur:
        cur.execute("set role service_role")
        rows = cur.execute(
            "select event, customer_ids::text[], merge_id from public.customer_events order by id"
        ).fetchall()
        cur.execute("reset role")
    pair = [conflicted.phone_account, conflicted.email_account]
    assert rows == [
        ("merged", pair, merge_id),
        ("merge_undone", pair, merge_id),
        ("erased", [conflicted.email_account], None),
    ]
    text = str(rows)
    assert PHONE not in text and EMAIL not in text
    _, claims = create_auth_user(conn, email="reader@mail.com")
    error = sql_error(conn, "authenticated", claims, "select * from public.customer_events")
    assert error["sqlstate"] == "42501"


def test_banned_login_is_forbidden_everywhere(conn: Conn) -> None:
    user_id, claims = create_auth_user(conn, email=EMAIL)
    call_rpc(conn, {"email": EMAIL, "source": "webapp"}, "authenticated", claims)
    conn.execute(
        "update auth.users set banned_until = now() + interval '1 day' where id = %s", (user_id,)
    )
    error = expect_error(conn, {"email": EMAIL, "source": "webapp"}, "authenticated", claims)
    assert (error["sqlstate"], error["message"]) == ("42501", "forbidden")
    for function in ("export_customer_data", "erase_customer"):
        error = rpc_error(conn, function, {}, "authenticated", claims)
        assert error["sqlstate"] in {"42501", "PT404"}, (function, error)
    assert one(conn, "select count(*) from public.customers") == 1


def test_anonymous_user_account_carries_over_when_they_confirm(conn: Conn) -> None:
    """An anonymous sign-in gets an account tied to its auth user only (what it says is
    only claimed); once the same user confirms that email and phone, the account carries
    over and those identifiers become verified."""
    user = auth_users.create_user(conn, None, None)
    conn.execute("update auth.users set is_anonymous = true where id = %s", (user.id,))
    claims = {**user.claims(), "is_anonymous": True}
    first = call_rpc(
        conn, {"email": EMAIL, "phone": PHONE, "source": "webapp"}, "authenticated", claims
    )
    account = first["customer"]["id"]
    assert first["customer"]["email"] is None and first["customer"]["phone"] is None
    assert identifier_set(conn, account) == {
        ("auth_user", str(user.id), "active"),
        ("email", EMAIL, "pending"),
        ("phone", PHONE, "pending"),
    }
    # Someone else holding the same email is not found through the anonymous user.
    stranger = call_rpc(conn, {"email": "else@mail.com", "source": "webapp"})
    again = call_rpc(conn, {"email": "else@mail.com", "source": "webapp"}, "authenticated", claims)
    assert again["customer"]["id"] == account != stranger["customer"]["id"]

    conn.execute(
        "update auth.users set is_anonymous = false, email = %s, email_confirmed_at = now(), "
        "phone = %s, phone_confirmed_at = now() where id = %s",
        (EMAIL, PHONE.lstrip("+"), user.id),
    )
    confirmed = call_rpc(
        conn, {"email": EMAIL, "phone": PHONE, "source": "webapp"}, "authenticated", claims
    )
    assert confirmed["customer"]["id"] == account
    assert "verificationRequired" not in confirmed
    rows = conn.execute(
        "select type, value, status, verified_at is not null from "
        "customer_management.customer_identifiers where customer_id = %s order by type, value",
        (account,),
    ).fetchall()
    assert rows == [
        ("auth_user", str(user.id), "active", True),
        ("email", "else@mail.com", "pending", False),
        ("email", EMAIL, "active", True),
        ("phone", PHONE, "active", True),
    ]
