"""Caller rules: an end user acts only for themself, never lands in or learns about someone
else's account, and cannot tell whether another account holds what they sent; anon is
refused; spoofed authUserId is forbidden; rate limits per user and per identifier.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import uuid
from typing import Any

import psycopg
import pytest

from support.helpers import call_rpc, create_auth_user, expect_error, table_snapshot, with_code
from support.reads import (
    PHONE,
    count_customers,
    customer,
    fresh_database,
    identifier_set,
    identifiers,
    insert_order,
    replace_strings,
    set_settings,
)

Conn = psycopg.Connection[Any]
VICTIM_EMAIL = "victor@mail.com"
ATTACKER_EMAIL = "mallory@mail.com"


def _victim(conn: Conn) -> dict[str, Any]:
    """A chatbot account with a phone, an email, a name, allergies and orders."""
    response = call_rpc(
        conn,
        {
            "phone": PHONE,
            "email": VICTIM_EMAIL,
            "firstName": "Quentin",
            "lastName": "Tim",
            "allergies": ["Peanuts"],
            "source": "chatbot",
        },
    )
    victim_id = response["customer"]["id"]
    order_id = insert_order(conn, victim_id, dt.datetime(2026, 5, 1, tzinfo=dt.UTC))
    return {
        "id": victim_id,
        "order_id": order_id,
        "row": customer(conn, victim_id),
        "identifiers": identifiers(conn, victim_id),
    }


def _assert_victim_untouched_and_unseen(
    conn: Conn, victim: dict[str, Any], responses: list[dict[str, Any]]
) -> None:
    text = json.dumps(responses)
    for secret in (victim["id"], victim["order_id"], "Quentin", "Peanuts"):
        assert secret not in text
    assert customer(conn, victim["id"]) == victim["row"]
    assert identifiers(conn, victim["id"]) == victim["identifiers"]


def _attacker_session(
    conn: Conn, auth_email: str | None, email_confirmed: bool, bodies: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Create the attacker's auth user, send ``bodies`` as them; ids normalised away."""
    _, claims = create_auth_user(conn, email=auth_email, email_confirmed=email_confirmed)
    responses = [call_rpc(conn, body, role="authenticated", claims=claims) for body in bodies]
    own_ids = {r["customer"]["id"]: "<own account>" for r in responses if "customer" in r}
    normalised: list[dict[str, Any]] = replace_strings(responses, own_ids)
    return normalised


def test_victims_phone_is_not_matched_and_answer_is_the_same(
    conn: Conn, server_url: str, template_db: str
) -> None:
    """A phone the end user has not confirmed: pending, same answer with or without a holder."""
    victim = _victim(conn)
    bodies: list[dict[str, Any]] = [
        {"phone": "555-123-4567", "email": ATTACKER_EMAIL, "firstName": "Mal", "source": "webapp"},
        {"phone": PHONE, "source": "webapp"},
    ]
    with_victim = _attacker_session(conn, ATTACKER_EMAIL, True, bodies)
    with fresh_database(server_url, template_db) as empty:
        without_victim = _attacker_session(empty, ATTACKER_EMAIL, True, bodies)

    assert with_victim == without_victim
    assert with_victim[0]["customer"]["phone"] is None
    assert with_victim[0]["verificationRequired"] == [{"type": "phone", "value": PHONE}]
    assert with_victim[1]["verificationRequired"] == [{"type": "phone", "value": PHONE}]
    _assert_victim_untouched_and_unseen(conn, victim, with_victim)
    assert count_customers(conn) == 2


@pytest.mark.parametrize(
    ("auth_email", "email_confirmed"),
    [
        pytest.param(VICTIM_EMAIL, False, id="own-email-unconfirmed"),
        pytest.param(ATTACKER_EMAIL, True, id="own-email-different"),
        pytest.param(None, False, id="no-email-at-all"),
    ],
)
def test_victims_email_is_not_matched_and_answer_is_the_same(
    conn: Conn,
    server_url: str,
    template_db: str,
    auth_email: str | None,
    email_confirmed: bool,
) -> None:
    """An email the end user has not confirmed: pending, same answer with or without a holder."""
    victim = _victim(conn)
    bodies: list[dict[str, Any]] = [
        {"email": " Victor@Mail.com", "firstName": "Mal", "source": "webapp"},
        {"email": VICTIM_EMAIL, "allergies": ["Kiwi"], "source": "webapp"},
    ]
    with_victim = _attacker_session(conn, auth_email, email_confirmed, bodies)
    with fresh_database(server_url, template_db) as empty:
        without_victim = _attacker_session(empty, auth_email, email_confirmed, bodies)

    assert with_victim == without_victim
    assert with_victim[0]["customer"]["email"] is None
    assert with_victim[1]["customer"]["allergies"] == ["Kiwi"]
    assert with_victim[0]["verificationRequired"] == [{"type": "email", "value": "Victor@Mail.com"}]
    _assert_victim_untouched_and_unseen(conn, victim, with_victim)
    assert count_customers(conn) == 2


def test_account_of_another_login_is_never_the_end_users(conn: Conn) -> None:
    """A phone the end user has confirmed never opens an account of another login.

    The other login's account got the phone from the chatbot (the line it called from);
    the new user proved it by SMS in Supabase Auth, which no other login can hold at the
    same time: a recycled number. The current proof wins: the phone moves to the new
    user's own account, the old account keeps it as pending, and nothing of it is shown.
    """
    victim_user, victim_claims = create_auth_user(conn, email=VICTIM_EMAIL)
    victim_id = call_rpc(
        conn,
        {"email": VICTIM_EMAIL, "firstName": "Victor", "source": "webapp"},
        role="authenticated",
        claims=victim_claims,
    )["customer"]["id"]
    call_rpc(conn, with_code(conn, {"email": VICTIM_EMAIL, "phone": PHONE, "source": "chatbot"}))
    victim_row = customer(conn, victim_id)
    victim_identifiers = identifiers(conn, victim_id)

    _, claims = create_auth_user(conn, phone=PHONE, phone_confirmed=True)
    response = call_rpc(
        conn, {"phone": PHONE, "source": "webapp"}, role="authenticated", claims=claims
    )
    assert response["customer"]["id"] != victim_id
    assert response["customer"]["isNewAccount"] is True
    text = json.dumps(response)
    assert victim_id not in text and "Victor" not in text and VICTIM_EMAIL not in text
    assert response["customer"]["phone"] == PHONE
    assert "verificationRequired" not in response
    after = customer(conn, victim_id)
    assert after["auth_user_id"] == str(victim_user)
    assert after["phone"] is None
    assert {k: v for k, v in after.items() if k not in ("phone", "updated_at")} == {
        k: v for k, v in victim_row.items() if k not in ("phone", "updated_at")
    }
    assert identifier_set(conn, victim_id) == {
        (row["type"], row["value"], "pending" if row["type"] == "phone" else row["status"])
        for row in victim_identifiers
    }


def test_spoofed_auth_user_id_is_forbidden(conn: Conn) -> None:
    """authUserId of someone else: forbidden (42501) and nothing written."""
    victim_user, victim_claims = create_auth_user(conn, email=VICTIM_EMAIL)
    call_rpc(
        conn,
        {"email": VICTIM_EMAIL, "source": "webapp"},
        role="authenticated",
        claims=victim_claims,
    )
    _, claims = create_auth_user(conn, email=ATTACKER_EMAIL)
    before = table_snapshot(conn)
    for body in (
        {"authUserId": str(victim_user), "source": "webapp"},
        {"authUserId": str(victim_user).upper(), "email": ATTACKER_EMAIL, "source": "webapp"},
        {"authUserId": str(uuid.uuid4()), "email": ATTACKER_EMAIL, "source": "webapp"},
    ):
        error = expect_error(conn, body, role="authenticated", claims=claims)
        assert (error["sqlstate"], error["message"]) == ("42501", "forbidden")
    assert table_snapshot(conn) == before


def test_own_auth_user_id_is_accepted(conn: Conn) -> None:
    """authUserId equal to the token's sub (any case) is fine and links the account."""
    user_id, claims = create_auth_user(conn, email=ATTACKER_EMAIL)
    response = call_rpc(
        conn,
        {"authUserId": str(user_id).upper(), "source": "webapp"},
        role="authenticated",
        claims=claims,
    )
    assert customer(conn, response["customer"]["id"])["auth_user_id"] == str(user_id)


def test_anon_cannot_execute_the_rpc(conn: Conn) -> None:
    """anon has no EXECUTE: permission denied (42501) before the function runs."""
    before = table_snapshot(conn)
    error = expect_error(conn, {"phone": PHONE, "source": "chatbot"}, role="anon")
    assert error["sqlstate"] == "42501"
    assert error["message"] == "permission denied for function customer_management"
    assert table_snapshot(conn) == before
    privileges = conn.execute(
        "select has_function_privilege('anon', 'public.customer_management(jsonb)', 'execute'), "
        "has_function_privilege('anon', 'customer_management.resolve_customer(jsonb)', 'execute'), "
        "has_function_privilege('authenticated', 'public.customer_management(jsonb)', "
        "'execute')"
    ).fetchone()
    assert privileges == (False, False, True)


@pytest.mark.parametrize(
    "claims",
    [
        pytest.param({}, id="no-sub"),
        pytest.param({"sub": str(uuid.uuid4())}, id="unknown-user"),
    ],
)
def test_token_without_a_user_is_not_authenticated(conn: Conn, claims: dict[str, Any]) -> None:
    """An authenticated token with no (existing) user: not_authenticated (PT401, HTTP 401)."""
    before = table_snapshot(conn)
    error = expect_error(
        conn, {"phone": PHONE, "source": "webapp"}, role="authenticated", claims=claims
    )
    assert (error["sqlstate"], error["message"]) == ("PT401", "not_authenticated")
    assert table_snapshot(conn) == before


def test_deleted_auth_user_is_not_authenticated(conn: Conn) -> None:
    """A token of a user deleted since: not_authenticated."""
    user_id, claims = create_auth_user(conn, email=ATTACKER_EMAIL)
    conn.execute("update auth.users set deleted_at = now() where id = %s", (user_id,))
    error = expect_error(
        conn, {"email": ATTACKER_EMAIL, "source": "webapp"}, role="authenticated", claims=claims
    )
    assert (error["sqlstate"], error["message"]) == ("PT401", "not_authenticated")
    assert count_customers(conn, live_only=False) == 0


def test_end_user_rate_limit_is_20_per_minute(conn: Conn) -> None:
    """The 21st call of one end user in a minute: rate_limited (PT429), nothing written."""
    _, claims = create_auth_user(conn, email=ATTACKER_EMAIL)
    for n in range(20):
        body = {"email": ATTACKER_EMAIL, "phone": f"+1555123{n:04d}", "source": "webapp"}
        call_rpc(conn, body, role="authenticated", claims=claims)
    before = table_snapshot(conn)
    error = expect_error(
        conn, {"email": ATTACKER_EMAIL, "source": "webapp"}, role="authenticated", claims=claims
    )
    assert (error["sqlstate"], error["message"]) == ("PT429", "rate_limited")
    assert error["hint"] is not None
    match = re.fullmatch(r"Retry after (\d+) seconds\.", error["hint"])
    assert match is not None and 1 <= int(match.group(1)) <= 60
    assert table_snapshot(conn) == before
    # Another user is not limited by the first one's calls.
    _, other_claims = create_auth_user(conn, email="other@mail.com")
    call_rpc(
        conn,
        {"email": "other@mail.com", "source": "webapp"},
        role="authenticated",
        claims=other_claims,
    )


def test_service_role_rate_limit_is_20_per_identifier(conn: Conn) -> None:
    """The service role may call 20 times a minute per identifier, not per key."""
    for _ in range(20):
        call_rpc(conn, {"phone": PHONE, "source": "chatbot"})
    before = table_snapshot(conn)
    for body in (
        {"phone": PHONE, "source": "chatbot"},
        {"phone": "(555) 123-4567", "email": "new@mail.com", "source": "chatbot"},
    ):
        error = expect_error(conn, body)
        assert (error["sqlstate"], error["message"]) == ("PT429", "rate_limited")
        assert error["hint"] is not None and error["hint"].startswith("Retry after ")
    assert table_snapshot(conn) == before
    response = call_rpc(conn, {"phone": "+15557654321", "source": "chatbot"})
    assert response["customer"]["isNewAccount"] is True


def test_rate_limits_follow_settings(conn: Conn) -> None:
    """rate_limit_per_user_per_minute is read from customer_management.settings."""
    set_settings(conn, rate_limit_per_user_per_minute=2)
    _, claims = create_auth_user(conn, email=ATTACKER_EMAIL)
    body = {"email": ATTACKER_EMAIL, "source": "webapp"}
    call_rpc(conn, body, role="authenticated", claims=claims)
    call_rpc(conn, body, role="authenticated", claims=claims)
    error = expect_error(conn, body, role="authenticated", claims=claims)
    assert error["message"] == "rate_limited"


def test_end_user_sees_own_pending_claims_only(conn: Conn) -> None:
    """An end user's own account shows their confirmed data; pending claims are listed."""
    user_id, claims = create_auth_user(
        conn, email=ATTACKER_EMAIL, phone=PHONE, phone_confirmed=False
    )
    response = call_rpc(
        conn,
        {"email": ATTACKER_EMAIL, "phone": PHONE, "source": "webapp"},
        role="authenticated",
        claims=claims,
    )
    assert identifier_set(conn, response["customer"]["id"]) == {
        ("email", ATTACKER_EMAIL, "active"),
        ("phone", PHONE, "pending"),
        ("auth_user", str(user_id), "active"),
    }
    # The pending phone is the login's own claim: a call from that line reads nothing of the
    # account and creates nothing, it asks for a second proof; with the login's email
    # proven by a code the line becomes verified on that account.
    bot = call_rpc(conn, {"phone": PHONE, "source": "chatbot"})
    assert bot["message"] == "second_proof_required" and "customer" not in bot
    proven = call_rpc(
        conn, with_code(conn, {"phone": PHONE, "email": ATTACKER_EMAIL, "source": "chatbot"})
    )
    assert proven["customer"]["id"] == response["customer"]["id"]
    assert ("phone", PHONE, "active") in identifier_set(conn, response["customer"]["id"])
