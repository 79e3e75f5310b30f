"""Attacks on identity through the RPC: claiming someone else's phone, email or auth user.

Each case is a real call under the role and JWT claims the attacker would have. An end user
may act only for themself: an identifier they have not proven is stored as pending on their
own account and answered with verificationRequired, exactly as if nobody held it, so the
answer is no existence oracle and the victim's account is never touched.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import pytest

from support.helpers import call_rpc, create_auth_user, expect_error, table_snapshot, with_code
from support.security import (
    Conn,
    add_order,
    customer_state,
    leaked,
    phone_digits,
    scrub,
)

VICTIM_PHONE = "+15557771234"
VICTIM_EMAIL = "victoria.victim@example.com"
VICTIM_NAME = ("Victoria", "Vexley")
FRESH_PHONES = iter(f"+1555888{n:04d}" for n in range(10000))
FRESH_EMAILS = iter(f"fresh{n}@example.org" for n in range(10000))


@dataclass
class Victim:
    """An existing customer the attacker wants to reach, and what would betray them."""

    customer_id: str
    auth_user_id: str | None
    secrets: list[str]


def chatbot_victim(conn: Conn) -> Victim:
    """A chatbot customer with phone (her line), email (proven with a code), name,
    allergies and orders; no login."""
    response = call_rpc(
        conn,
        with_code(
            conn,
            {
                "phone": VICTIM_PHONE,
                "email": VICTIM_EMAIL,
                "firstName": VICTIM_NAME[0],
                "lastName": VICTIM_NAME[1],
                "allergies": ["shellfish"],
                "source": "chatbot",
            },
        ),
    )
    customer_id = response["customer"]["id"]
    add_order(conn, customer_id, "41.00")
    return Victim(
        customer_id=customer_id,
        auth_user_id=None,
        secrets=[customer_id, *VICTIM_NAME, VICTIM_EMAIL, "shellfish", "41.00", "41.0"],
    )


def web_victim(conn: Conn) -> Victim:
    """A web customer signed in with a confirmed email and phone, with a name and orders."""
    auth_id, claims = create_auth_user(conn, email=VICTIM_EMAIL, phone=VICTIM_PHONE)
    response = call_rpc(
        conn,
        {
            "phone": VICTIM_PHONE,
            "email": VICTIM_EMAIL,
            "firstName": VICTIM_NAME[0],
            "lastName": VICTIM_NAME[1],
            "allergies": ["shellfish"],
            "source": "webapp",
        },
        "authenticated",
        claims,
    )
    customer_id = response["customer"]["id"]
    assert response["customer"]["phone"] == VICTIM_PHONE
    add_order(conn, customer_id, "41.00")
    return Victim(
        customer_id=customer_id,
        auth_user_id=str(auth_id),
        secrets=[customer_id, str(auth_id), *VICTIM_NAME, VICTIM_EMAIL, "shellfish", "41.00"],
    )


def global_state(conn: Conn) -> dict[str, Any]:
    """What an attack must never create: merges, conflicts, merge/link audit events."""
    row = conn.execute(
        "select (select count(*) from customer_management.merge_log),"
        " (select count(*) from customer_management.customer_conflicts),"
        " (select count(*) from public.customers where merged_into is not null)"
    ).fetchone()
    return {"merges": row}


def attack(
    conn: Conn,
    body: dict[str, Any],
    auth_email: str | None,
    auth_phone: str | None,
    email_confirmed: bool,
) -> tuple[dict[str, Any], str]:
    """Sign up an attacker as described, send ``body`` as them; return answer and own id."""
    _, claims = create_auth_user(
        conn,
        email=auth_email,
        phone=auth_phone,
        email_confirmed=email_confirmed,
        phone_confirmed=False,
    )
    response = call_rpc(conn, body, "authenticated", claims)
    return response, response["customer"]["id"]


def assert_untouched_and_unleaked(
    conn: Conn,
    victim: Victim,
    victim_before: dict[str, list[str]],
    global_before: dict[str, Any],
    response: dict[str, Any],
    own_id: str,
    sent: list[str],
) -> None:
    """The victim's data is unchanged, nothing was merged, and the answer names none of it.

    ``sent`` are the values the attacker sent; they may come back only as the echo in
    verificationRequired, so they are searched for in the rest of the answer.
    """
    assert own_id != victim.customer_id
    assert customer_state(conn, victim.customer_id) == victim_before
    assert global_state(conn) == global_before
    # verificationRequired is exactly the echo of what was sent, nothing more ...
    pending = response.get("verificationRequired", [])
    assert sorted(item["value"] for item in pending) == sorted(sent)
    # ... and the rest of the answer names neither the victim nor the values sent.
    rest = {key: value for key, value in response.items() if key != "verificationRequired"}
    phone_spellings = [s for value in sent if value.startswith("+") for s in phone_digits(value)]
    assert leaked(rest, [*victim.secrets, *sent, *phone_spellings]) == []
    # The attacker's own account holds the values sent only as pending, never active.
    keys = [value.strip().lower() for value in sent]
    statuses = conn.execute(
        "select value, status from customer_management.customer_identifiers "
        "where customer_id = %s and value = any(%s) order by 1",
        (own_id, keys),
    ).fetchall()
    assert statuses == [(key, "pending") for key in sorted(keys)]


@pytest.mark.parametrize("victim_kind", ["chatbot", "web"])
@pytest.mark.parametrize("merge_if_found", [False, True])
def test_victims_phone_is_not_linked_and_not_revealed(
    conn: Conn, victim_kind: str, merge_if_found: bool
) -> None:
    """A web user sends a victim's phone (theirs in auth.users too, unconfirmed when possible).

    Not merged, no victim data in the answer, and the answer equals the one for a phone
    nobody has (after replacing the attacker's own id, email and the phone sent).
    """
    victim = chatbot_victim(conn) if victim_kind == "chatbot" else web_victim(conn)
    victim_before = customer_state(conn, victim.customer_id)
    global_before = global_state(conn)
    # auth.users.phone is unique: only a phone no login holds can be the attacker's too.
    auth_phone = VICTIM_PHONE if victim_kind == "chatbot" else None

    def body(phone: str) -> dict[str, Any]:
        payload: dict[str, Any] = {"phone": phone, "firstName": "Mallory", "source": "webapp"}
        if merge_if_found:
            payload["mergeIfFound"] = True
        return payload

    response, own_id = attack(conn, body(VICTIM_PHONE), "mallory@example.net", auth_phone, True)
    assert_untouched_and_unleaked(
        conn, victim, victim_before, global_before, response, own_id, [VICTIM_PHONE]
    )

    control_phone = next(FRESH_PHONES)
    control, control_id = attack(
        conn,
        body(control_phone),
        "mallory@example.net",
        control_phone if auth_phone else None,
        True,
    )
    assert scrub(response, {own_id: "<own id>", VICTIM_PHONE: "<phone>"}) == scrub(
        control, {control_id: "<own id>", control_phone: "<phone>"}
    )


@pytest.mark.parametrize("victim_kind", ["chatbot", "web"])
def test_victims_email_while_own_email_unconfirmed(conn: Conn, victim_kind: str) -> None:
    """A web user who signed up with the victim's email but never confirmed it sends it."""
    victim = chatbot_victim(conn) if victim_kind == "chatbot" else web_victim(conn)
    victim_before = customer_state(conn, victim.customer_id)
    global_before = global_state(conn)
    sent = VICTIM_EMAIL.upper()  # case does not matter for matching; must not help either
    response, own_id = attack(
        conn, {"email": sent, "source": "webapp"}, VICTIM_EMAIL, None, email_confirmed=False
    )
    assert_untouched_and_unleaked(
        conn, victim, victim_before, global_before, response, own_id, [sent]
    )

    control_email = next(FRESH_EMAILS)
    control, control_id = attack(
        conn,
        {"email": control_email.upper(), "source": "webapp"},
        control_email,
        None,
        email_confirmed=False,
    )
    assert scrub(response, {own_id: "<own id>", sent: "<email>"}) == scrub(
        control, {control_id: "<own id>", control_email.upper(): "<email>"}
    )


@pytest.mark.parametrize("victim_kind", ["chatbot", "web"])
def test_confirmed_email_that_is_not_theirs(conn: Conn, victim_kind: str) -> None:
    """A web user whose confirmed auth email differs sends the victim's email."""
    victim = chatbot_victim(conn) if victim_kind == "chatbot" else web_victim(conn)
    victim_before = customer_state(conn, victim.customer_id)
    global_before = global_state(conn)
    body = {"email": VICTIM_EMAIL, "firstName": "Mallory", "source": "webapp"}
    response, own_id = attack(conn, body, "mallory@example.net", None, email_confirmed=True)
    assert_untouched_and_unleaked(
        conn, victim, victim_before, global_before, response, own_id, [VICTIM_EMAIL]
    )

    control_email = next(FRESH_EMAILS)
    control, control_id = attack(
        conn,
        {**body, "email": control_email},
        "mallory@example.net",
        None,
        email_confirmed=True,
    )
    assert scrub(response, {own_id: "<own id>", VICTIM_EMAIL: "<email>"}) == scrub(
        control, {control_id: "<own id>", control_email: "<email>"}
    )


def test_victims_phone_and_email_together_with_own_confirmed_email(conn: Conn) -> None:
    """Own confirmed email plus the victim's phone and email: the attacker's own account only."""
    victim = web_victim(conn)
    victim_before = customer_state(conn, victim.customer_id)
    global_before = global_state(conn)
    body = {
        "email": "mallory@example.net",
        "phone": VICTIM_PHONE,
        "mergeIfFound": True,
        "source": "webapp",
    }
    response, own_id = attack(conn, body, "mallory@example.net", None, email_confirmed=True)
    assert response["customer"]["email"] == "mallory@example.net"
    assert_untouched_and_unleaked(
        conn, victim, victim_before, global_before, response, own_id, [VICTIM_PHONE]
    )


def test_confirmed_email_held_by_another_login_does_not_join_its_account(conn: Conn) -> None:
    """A recycled address: its current confirmed owner gets it, never the old account.

    The victim's login changed its email; the old address is now confirmed by Mallory's
    login. Mallory does not join the victim's account and learns nothing of it; the address
    moves to her own account and the victim's account keeps it as pending, which support
    sees as a contested-identifier conflict she cannot see or resolve. Her answer is the one
    she would get if nobody had ever held the address.
    """
    victim = web_victim(conn)
    victim_before = customer_state(conn, victim.customer_id)
    global_before = global_state(conn)
    conn.execute(
        "update auth.users set email = 'victoria.new@example.com' where id = %s",
        (victim.auth_user_id,),
    )
    response, own_id = attack(
        conn, {"email": VICTIM_EMAIL, "source": "webapp"}, VICTIM_EMAIL, None, True
    )
    assert own_id != victim.customer_id
    merges, conflicts, tombstones = global_state(conn)["merges"]
    assert (merges, tombstones) == (global_before["merges"][0], global_before["merges"][2])
    assert conflicts == global_before["merges"][1] + 1
    recorded = conn.execute(
        "select kind, customer_ids::text[], raised_by from customer_management.customer_conflicts"
    ).fetchall()
    assert recorded == [("contested_identifier", sorted([str(victim.customer_id), own_id]), [])]
    assert response["customer"]["email"] == VICTIM_EMAIL
    assert response["customer"]["isNewAccount"] is True
    assert "verificationRequired" not in response
    # The address itself is hers now; nothing else of the victim's may appear.
    without_email = {**response, "customer": {**response["customer"], "email": None}}
    assert leaked(without_email, victim.secrets) == []

    after = customer_state(conn, victim.customer_id)
    assert after["orders"] == victim_before["orders"]
    statuses = conn.execute(
        "select type, status from customer_management.customer_identifiers "
        "where customer_id = %s order by type",
        (victim.customer_id,),
    ).fetchall()
    assert ("email", "pending") in statuses and ("auth_user", "active") in statuses
    owner = conn.execute(
        "select customer_id from customer_management.customer_identifiers "
        "where type = 'email' and value = %s and status = 'active'",
        (VICTIM_EMAIL.lower(),),
    ).fetchone()
    assert owner is not None and str(owner[0]) == own_id


def test_another_users_auth_user_id_is_forbidden(conn: Conn) -> None:
    """authUserId of someone else: forbidden (42501), nothing written, nothing revealed."""
    victim = web_victim(conn)
    _, claims = create_auth_user(conn, email="mallory@example.net")
    before = table_snapshot(conn)
    for body in (
        {"authUserId": victim.auth_user_id, "source": "webapp"},
        {
            "authUserId": str(victim.auth_user_id).upper(),
            "email": "mallory@example.net",
            "source": "webapp",
        },
        {"authUserId": str(uuid.uuid4()), "source": "webapp"},
    ):
        error = expect_error(conn, body, "authenticated", claims)
        assert (error["sqlstate"], error["message"]) == ("42501", "forbidden"), error
        assert leaked(error, victim.secrets) == []
    assert table_snapshot(conn) == before


def test_anon_without_jwt_is_refused(conn: Conn) -> None:
    """No JWT (role anon): the RPC cannot even be executed; nothing is written."""
    chatbot_victim(conn)
    before = table_snapshot(conn)
    for body in (
        {"phone": VICTIM_PHONE, "source": "webapp"},
        {"email": VICTIM_EMAIL, "source": "chatbot", "mergeIfFound": True},
    ):
        error = expect_error(conn, body, "anon", {})
        assert error["sqlstate"] == "42501", error
        assert error["message"] == "permission denied for function customer_management"
    assert table_snapshot(conn) == before


@pytest.mark.parametrize(
    "claims",
    [
        {"role": "authenticated"},
        {"role": "authenticated", "sub": ""},
        {"role": "authenticated", "sub": str(uuid.uuid4())},
    ],
    ids=["no-sub", "empty-sub", "unknown-user"],
)
def test_authenticated_without_a_real_user_is_refused(conn: Conn, claims: dict[str, Any]) -> None:
    """A token without a user, or for a user that does not exist: not_authenticated."""
    chatbot_victim(conn)
    before = table_snapshot(conn)
    error = expect_error(conn, {"phone": VICTIM_PHONE, "source": "webapp"}, "authenticated", claims)
    if claims.get("sub") == "":
        # auth.uid() (as Supabase defines it) casts "" to uuid and fails first: 22P02.
        assert error["sqlstate"] == "PT401", error
    else:
        assert (error["sqlstate"], error["message"]) == ("PT401", "not_authenticated"), error
    assert table_snapshot(conn) == before


def test_claims_forged_in_the_token_prove_nothing(conn: Conn) -> None:
    """email/phone claims in the JWT are not proof; only auth.users' confirmations count."""
    victim = chatbot_victim(conn)
    victim_before = customer_state(conn, victim.customer_id)
    global_before = global_state(conn)
    _, claims = create_auth_user(conn, email="mallory@example.net")
    forged = {
        **claims,
        "email": VICTIM_EMAIL,
        "phone": VICTIM_PHONE.lstrip("+"),
        "user_metadata": {"email_verified": True, "phone_verified": True},
    }
    response = call_rpc(
        conn,
        {"phone": VICTIM_PHONE, "email": VICTIM_EMAIL, "source": "webapp"},
        "authenticated",
        forged,
    )
    assert_untouched_and_unleaked(
        conn,
        victim,
        victim_before,
        global_before,
        response,
        response["customer"]["id"],
        [VICTIM_PHONE, VICTIM_EMAIL],
    )


def test_email_typed_into_the_chatbot_does_not_capture_a_web_login(conn: Conn) -> None:
    """Mallory tells the chatbot (from her own phone) that her email is Victoria's.

    When Victoria signs up with that email, confirms it and calls the RPC, she must not land
    in Mallory's account: she sees none of Mallory's data, and Mallory's account is not
    linked to Victoria's login (else Mallory would read Victoria's data by phone).
    """
    mallory = call_rpc(
        conn,
        {
            "phone": "+15559990001",
            "email": VICTIM_EMAIL,
            "firstName": "Mallory",
            "source": "chatbot",
        },
    )["customer"]
    mallory_order = add_order(conn, mallory["id"], "9.99")
    victim_auth_id, claims = create_auth_user(conn, email=VICTIM_EMAIL)
    response = call_rpc(
        conn,
        {
            "email": VICTIM_EMAIL,
            "firstName": "Victoria",
            "allergies": ["peanuts"],
            "source": "webapp",
        },
        "authenticated",
        claims,
    )
    mallory_secrets = [mallory["id"], "Mallory", *phone_digits("+15559990001"), mallory_order]
    assert leaked(response, mallory_secrets) == []
    linked = conn.execute(
        "select auth_user_id from public.customers where id = %s", (mallory["id"],)
    ).fetchone()
    assert linked == (None,)
    later = call_rpc(conn, {"phone": "+15559990001", "source": "chatbot"})
    assert leaked(later, [str(victim_auth_id), "peanuts", "Victoria"]) == []
