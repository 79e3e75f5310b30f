"""Verification codes: issued to the service role, stored as a keyed hash, good once, for one
identifier, for a while; wrong ones are counted and five burn the code.

A failed check is the one error the RPC returns instead of raising: it answers PostgREST's
error body with ``response.status = 400`` so that the wrong attempt stays recorded, and
writes nothing else.
"""

from __future__ import annotations

import json
from typing import Any

import jsonschema
import psycopg
import pytest

from customer_management import contract
from customer_management.local.rpc_session import acting_as
from customer_management.local.rpc_session import call_rpc as call_named
from support.helpers import call_rpc, create_auth_user, expect_error, table_snapshot, with_code

Conn = psycopg.Connection[Any]
EMAIL = "bob@gmail.com"
LINE = "+15557774000"


def request_code(conn: Conn, value: str = EMAIL, kind: str = "email", **kwargs: Any) -> Any:
    """``request_verification`` as the service role (or ``role=`` / ``claims=``)."""
    return call_named(
        conn,
        "request_verification",
        {"identifier_type": kind, "identifier_value": value},
        **kwargs,
    )


def answer_and_status(conn: Conn, body: dict[str, Any]) -> tuple[Any, str | None]:
    """The RPC's answer and the response.status it set, in one PostgREST-like transaction."""
    with acting_as(conn, "service_role") as acting:
        answer = acting.execute(
            "select public.customer_management(%s::jsonb)", (json.dumps(body),)
        ).fetchone()
        status = acting.execute("select current_setting('response.status', true)").fetchone()
    assert answer is not None and status is not None
    return answer[0], status[0]


def refused(conn: Conn, body: dict[str, Any]) -> dict[str, Any]:
    """Send ``body``; assert the invalid_verification answer with status 400; return it."""
    answer, status = answer_and_status(conn, body)
    assert status == "400"
    assert answer["code"] == "P0001" and answer["message"] == "invalid_verification", answer
    assert set(answer) == {"code", "message", "details", "hint"}
    return answer


def web_account(conn: Conn) -> str:
    """Bob's web account, holding his confirmed email."""
    _, claims = create_auth_user(conn, email=EMAIL)
    answer = call_rpc(conn, {"email": EMAIL, "source": "webapp"}, "authenticated", claims)
    return str(answer["customer"]["id"])


def call_with(code: dict[str, Any], answer: str | None = None) -> dict[str, Any]:
    """A chatbot call from Bob's line with his email and the code he read back."""
    return {
        "phone": LINE,
        "email": EMAIL,
        "source": "chatbot",
        "verification": {"id": code["verificationId"], "code": answer or code["code"]},
    }


def other_code(code: str) -> str:
    """A six-digit code that is not ``code``."""
    return f"{(int(code) + 1) % 10**6:06d}"


def test_a_code_follows_the_contract_and_is_stored_only_as_a_hash(conn: Conn) -> None:
    issued = request_code(conn)
    document = {**contract.schema(), "$ref": "#/$defs/VerificationCode"}
    jsonschema.validate(issued, document, format_checker=jsonschema.FormatChecker())
    stored = conn.execute(
        "select identifier_type, identifier_value, code_hash::text, failed_attempts, "
        "consumed_at from customer_management.verifications"
    ).fetchall()
    assert len(stored) == 1 and stored[0][:2] == ("email", EMAIL)
    assert issued["code"] not in str(stored)


def test_a_right_code_proves_the_email_once(conn: Conn) -> None:
    bob = web_account(conn)
    code = request_code(conn)
    answer = call_rpc(conn, call_with(code))
    assert answer["customer"]["id"] == bob
    assert answer["customer"]["phone"] == LINE
    before = table_snapshot(conn)
    again = refused(conn, call_with(code))
    assert again["details"] == "The code has already been used."
    after = table_snapshot(conn)
    assert after == before


def test_an_expired_code_is_refused_and_changes_nothing(conn: Conn) -> None:
    web_account(conn)
    code = request_code(conn)
    conn.execute(
        "update customer_management.verifications set expires_at = now() - interval '1 second'"
    )
    before = table_snapshot(conn)
    assert refused(conn, call_with(code))["details"] == "The code has expired."
    assert table_snapshot(conn) == before


def test_five_wrong_codes_burn_the_verification(conn: Conn) -> None:
    bob = web_account(conn)
    code = request_code(conn)
    before = table_snapshot(conn)
    for attempt in range(1, 6):
        answer = refused(conn, call_with(code, other_code(code["code"])))
        attempts = conn.execute(
            "select failed_attempts from customer_management.verifications"
        ).fetchone()
        assert attempts == (attempt,), "the wrong attempt must stay recorded"
    assert answer["details"].startswith("Too many wrong codes")
    # Even the right code is refused now; apart from the counter, nothing was written.
    assert refused(conn, call_with(code))["details"].startswith("Too many wrong codes")
    after = table_snapshot(conn)
    for table in ("customer_management.verifications", "customer_management.rate_limit_counters"):
        before.pop(table), after.pop(table)
    assert after == before
    assert ("phone", LINE, "active") not in {
        tuple(row)
        for row in conn.execute(
            "select type, value, status from customer_management.customer_identifiers "
            "where customer_id = %s",
            (bob,),
        ).fetchall()
    }


def test_a_code_for_another_identifier_is_refused(conn: Conn) -> None:
    """The attacker's own code, sent with the victim's email: mismatch, counted."""
    web_account(conn)
    mine = request_code(conn, "mallory@evil.org")
    before = table_snapshot(conn)
    answer = refused(conn, call_with(mine))
    assert answer["details"] == "The code was sent to another phone or email."
    assert conn.execute(
        "select failed_attempts from customer_management.verifications"
    ).fetchone() == (1,)
    after = table_snapshot(conn)
    before.pop("customer_management.verifications"), after.pop("customer_management.verifications")
    assert after == before


def test_an_unknown_or_malformed_verification_is_refused(conn: Conn) -> None:
    web_account(conn)
    before = table_snapshot(conn)
    unknown = {"verificationId": "00000000-0000-4000-8000-000000000000", "code": "123456"}
    assert refused(conn, call_with(unknown))["details"] == "There is no such verification."
    for malformed in ({"id": "x", "code": "123456"}, {"id": unknown["verificationId"]}, "123456"):
        error = expect_error(
            conn, {"phone": LINE, "email": EMAIL, "source": "chatbot", "verification": malformed}
        )
        assert (error["sqlstate"], error["message"]) == ("P0001", "invalid_verification")
    assert table_snapshot(conn) == before


def test_codes_per_identifier_are_rate_limited(conn: Conn) -> None:
    for _ in range(5):
        request_code(conn, "+15557774999", "phone")
    error = expect_rpc_error(conn, "+15557774999", "phone")
    assert (error.diag.sqlstate, error.diag.message_primary) == ("PT429", "rate_limited")
    assert error.diag.message_hint and error.diag.message_hint.startswith("Retry after ")
    request_code(conn, "+15557774998", "phone")  # another number is not affected


def expect_rpc_error(conn: Conn, value: str, kind: str, **kwargs: Any) -> psycopg.Error:
    """request_verification expected to fail; the error."""
    with pytest.raises(psycopg.Error) as raised:
        request_code(conn, value, kind, **kwargs)
    return raised.value


@pytest.mark.parametrize(
    ("kind", "value", "code"),
    [
        ("email", "not an email", "invalid_email"),
        ("phone", "12", "invalid_phone"),
        ("email", "chatbot_temp@temp.local", "invalid_email"),
        ("fax", "+15557774000", "invalid_request"),
    ],
)
def test_bad_identifiers_get_no_code(conn: Conn, kind: str, value: str, code: str) -> None:
    before = table_snapshot(conn)
    error = expect_rpc_error(conn, value, kind)
    assert (error.diag.sqlstate, error.diag.message_primary) == ("P0001", code)
    assert table_snapshot(conn) == before


def test_only_the_service_role_gets_codes(conn: Conn) -> None:
    _, claims = create_auth_user(conn, email="eve@gmail.com")
    before = table_snapshot(conn)
    forbidden = expect_rpc_error(conn, EMAIL, "email", role="authenticated", claims=claims)
    assert (forbidden.diag.sqlstate, forbidden.diag.message_primary) == ("42501", "forbidden")
    anonymous = expect_rpc_error(conn, EMAIL, "email", role="anon")
    assert anonymous.diag.sqlstate == "42501"
    assert table_snapshot(conn) == before


def test_an_end_user_may_prove_another_address_with_a_code(conn: Conn) -> None:
    """A code is proof of possession whoever sends it: the address joins the user's account
    verified, instead of waiting as pending."""
    _, claims = create_auth_user(conn, email="ann@gmail.com")
    body = with_code(conn, {"email": "ann.work@corp.com", "source": "webapp"})
    answer = call_rpc(conn, body, "authenticated", claims)
    assert "verificationRequired" not in answer
    assert conn.execute(
        "select status, verified_at is not null from customer_management.customer_identifiers "
        "where value = 'ann.work@corp.com'"
    ).fetchone() == ("active", True)
