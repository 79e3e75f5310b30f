"""The caller on the phone is a stranger: the line is proven, what they say is not.

Every attack of the caller-proof review, replayed through the RPC as the chatbot's backend
(service role, ``source: "chatbot"``) would send it: the caller's line in ``phone``, what
the caller says in ``email``. An email said on the phone never finds, opens, extends or
merges an account until a verification code proves it; the answer carries nothing of any
other account and is the same whether or not someone holds that email.
"""

from __future__ import annotations

import json
from typing import Any

from support.helpers import call_rpc, create_auth_user, expect_error, table_snapshot, with_code
from support.reads import count_customers, identifier_set, owner_of
from support.security import Conn, add_order, customer_state, leaked, phone_digits, scrub

VICTIM_LINE = "+15557770001"
VICTIM_EMAIL = "vv.1984@gmail.com"
ATTACKER_LINE = "+15557770002"


def victim(conn: Conn, login: bool = False) -> tuple[str, list[str]]:
    """Victoria: her line, her email proven with a code, a name, allergies, an order.

    With ``login`` she also has a web login that confirmed the email. Returns her account
    id and what would betray her in an answer.
    """
    body = {
        "phone": VICTIM_LINE,
        "email": VICTIM_EMAIL,
        "firstName": "Victoria",
        "allergies": ["shellfish"],
        "source": "chatbot",
    }
    customer_id = call_rpc(conn, with_code(conn, body))["customer"]["id"]
    add_order(conn, customer_id, "64.99")
    if login:
        _, claims = create_auth_user(conn, email=VICTIM_EMAIL)
        call_rpc(conn, {"email": VICTIM_EMAIL, "source": "webapp"}, "authenticated", claims)
    return customer_id, [customer_id, "Victoria", "shellfish", "64.99", *phone_digits(VICTIM_LINE)]


def said(email: str, line: str = ATTACKER_LINE, **extra: Any) -> dict[str, Any]:
    """A call from ``line`` where the caller says ``email``."""
    return {"phone": line, "email": email, "source": "chatbot", **extra}


def test_saying_a_victims_email_opens_nothing_and_attaches_the_line_nowhere(conn: Conn) -> None:
    """Finding 1: the caller gets their own account; the email waits there as pending."""
    victim_id, secrets = victim(conn)
    before = customer_state(conn, victim_id)
    answer = call_rpc(conn, said(VICTIM_EMAIL))
    assert answer["customer"]["id"] != victim_id
    assert answer["customer"]["isNewAccount"] is True
    assert answer["customer"]["email"] is None
    assert answer["verificationRequired"] == [{"type": "email", "value": VICTIM_EMAIL}]
    assert leaked(answer, secrets) == []
    assert customer_state(conn, victim_id) == before
    assert owner_of(conn, "phone", ATTACKER_LINE) == answer["customer"]["id"]
    # The attacker's line alone opens the attacker's account, never Victoria's.
    again = call_rpc(conn, {"phone": ATTACKER_LINE, "source": "chatbot"})
    assert again["customer"]["id"] == answer["customer"]["id"]
    # Three such calls from three lines do not fill Victoria's phone limit.
    for n in range(3):
        call_rpc(conn, said(VICTIM_EMAIL, f"+155577710{n:02d}"))
    assert identifier_set(conn, victim_id) == {
        ("phone", VICTIM_LINE, "active"),
        ("email", VICTIM_EMAIL, "active"),
    }


def test_the_attackers_web_sign_up_on_their_line_stays_theirs(conn: Conn) -> None:
    """Finding 2: signing up with the attacker's own line (SMS-confirmed) never reaches a
    chatbot-only victim, whatever the attacker said on that line."""
    victim_id, secrets = victim(conn)
    call_rpc(conn, said(VICTIM_EMAIL))
    _, claims = create_auth_user(conn, email="mallory@evil.org", phone=ATTACKER_LINE)
    web = call_rpc(
        conn,
        {"phone": ATTACKER_LINE, "email": "mallory@evil.org", "source": "webapp"},
        "authenticated",
        claims,
    )
    assert web["customer"]["id"] != victim_id
    assert leaked(web, secrets) == []
    assert owner_of(conn, "email", VICTIM_EMAIL) == victim_id


def test_pre_registering_an_email_on_the_phone_gives_no_access(conn: Conn) -> None:
    """Finding 3: the attacker says E_v before Victoria exists; her own call and her web
    sign-up land in accounts of her own."""
    planted = call_rpc(conn, said(VICTIM_EMAIL, firstName="Mallory"))["customer"]["id"]
    hers = call_rpc(conn, said(VICTIM_EMAIL, VICTIM_LINE, firstName="Victoria"))
    assert hers["customer"]["id"] != planted
    assert "Mallory" not in json.dumps(hers)
    _, claims = create_auth_user(conn, email=VICTIM_EMAIL, phone=VICTIM_LINE)
    web = call_rpc(
        conn,
        {"email": VICTIM_EMAIL, "phone": VICTIM_LINE, "source": "webapp"},
        "authenticated",
        claims,
    )
    assert web["customer"]["id"] == hers["customer"]["id"]
    assert web["customer"]["email"] == VICTIM_EMAIL
    assert "Mallory" not in json.dumps(web)
    assert identifier_set(conn, planted) == {
        ("phone", ATTACKER_LINE, "active"),
        ("email", VICTIM_EMAIL, "pending"),
    }


def test_merge_if_found_merges_only_what_the_caller_proved(conn: Conn) -> None:
    """Finding 4: mergeIfFound with a said email merges nothing and shows nothing."""
    victim_id, secrets = victim(conn, login=True)
    before = table_snapshot(conn)
    answer = call_rpc(conn, said(VICTIM_EMAIL, mergeIfFound=True))
    assert "customer" in answer and answer["customer"]["id"] != victim_id
    assert leaked(answer, secrets) == []
    after = table_snapshot(conn)
    assert after["customer_management.merge_log"] == before["customer_management.merge_log"]
    assert after["customer_management.customer_conflicts"] == []


def test_the_line_takes_its_number_back_from_a_backend_assertion(conn: Conn) -> None:
    """Finding 5: a backend passed on a phone a user typed; the real owner of that line calls
    and lands in an account of her own, and the typed copy stops matching."""
    typed = call_rpc(conn, {"phone": VICTIM_LINE, "firstName": "Typo", "source": "webapp"})[
        "customer"
    ]["id"]
    owner = call_rpc(conn, {"phone": VICTIM_LINE, "firstName": "Victoria", "source": "chatbot"})
    assert owner["customer"]["id"] != typed
    assert owner["customer"]["isNewAccount"] is True
    assert "Typo" not in json.dumps(owner)
    assert owner_of(conn, "phone", VICTIM_LINE) == owner["customer"]["id"]
    assert ("phone", VICTIM_LINE, "pending") in identifier_set(conn, typed)


def test_claims_do_not_spend_the_owners_rate_limit(conn: Conn) -> None:
    """Finding 6: thirty calls saying E_v from other lines; Victoria's own calls still pass."""
    victim(conn)
    for n in range(30):
        call_rpc(conn, said(VICTIM_EMAIL, f"+155577720{n:02d}"))
    mine = call_rpc(conn, with_code(conn, said(VICTIM_EMAIL, VICTIM_LINE)))
    assert mine["customer"]["name"] == "Victoria"


def test_a_said_email_answers_the_same_whether_or_not_someone_holds_it(
    conn: Conn, fresh_conn: Conn
) -> None:
    """No existence oracle on the phone: held and unknown emails give the same answer."""
    victim(conn)
    held = call_rpc(conn, said(VICTIM_EMAIL, firstName="Sam"))
    unknown = call_rpc(fresh_conn, said(VICTIM_EMAIL, firstName="Sam"))
    assert scrub(held, {held["customer"]["id"]: "<id>"}) == scrub(
        unknown, {unknown["customer"]["id"]: "<id>"}
    )


def test_a_chatbot_request_without_a_line_or_code_is_refused(conn: Conn) -> None:
    """Nothing proven: verification_required, and nothing is created."""
    victim(conn)
    before = table_snapshot(conn)
    for body in (
        {"email": VICTIM_EMAIL, "source": "chatbot"},
        {"email": VICTIM_EMAIL, "phone": "unknown", "source": "chatbot"},
    ):
        error = expect_error(conn, body)
        assert (error["sqlstate"], error["message"]) == ("P0001", "verification_required")
    assert table_snapshot(conn) == before


def test_a_code_proves_the_email_and_links_the_line(conn: Conn) -> None:
    """The safe scenario 2: a web account, a call with the code read back: one account."""
    _, claims = create_auth_user(conn, email="bob@gmail.com")
    web = call_rpc(conn, {"email": "bob@gmail.com", "source": "webapp"}, "authenticated", claims)
    linked = call_rpc(conn, with_code(conn, said("bob@gmail.com", "+15557773000")))
    assert linked["customer"]["id"] == web["customer"]["id"]
    assert linked["customer"]["phone"] == "+15557773000"
    assert count_customers(conn) == 1
    row = conn.execute(
        "select verified_at is not null from customer_management.customer_identifiers "
        "where type = 'phone' and value = '+15557773000'"
    ).fetchone()
    assert row == (True,)


def test_an_end_user_cannot_claim_the_chatbot_channel(conn: Conn) -> None:
    """source "chatbot" would forge account_sources and the audit: forbidden for end users."""
    _, claims = create_auth_user(conn, email="eve@gmail.com")
    before = table_snapshot(conn)
    error = expect_error(
        conn, {"email": "eve@gmail.com", "source": "chatbot"}, "authenticated", claims
    )
    assert (error["sqlstate"], error["message"]) == ("42501", "forbidden")
    assert table_snapshot(conn) == before


def test_the_chatbot_cannot_name_a_login(conn: Conn) -> None:
    """authUserId proves nothing on the phone: forbidden, nothing written."""
    user_id, _ = create_auth_user(conn, email=VICTIM_EMAIL)
    before = table_snapshot(conn)
    error = expect_error(
        conn, {"phone": ATTACKER_LINE, "authUserId": str(user_id), "source": "chatbot"}
    )
    assert (error["sqlstate"], error["message"]) == ("42501", "forbidden")
    assert table_snapshot(conn) == before
