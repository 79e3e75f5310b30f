"""Every kind of bad input raises its stable code (message) and SQLSTATE and writes nothing.

The bad requests run against one database that already holds the customer most of them
name, so a partial write (a name filled, an identifier attached, a counter bumped) would
show in the snapshot, which is compared with the one taken before the first bad call.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from support.helpers import call_rpc, create_auth_user, expect_error, table_snapshot
from support.reads import PHONE, count_customers, customer, fresh_database

Conn = psycopg.Connection[Any]
EMAIL = "known@mail.com"
OK = {"phone": PHONE, "source": "chatbot"}


@pytest.fixture(scope="module")
def populated(server_url: str, template_db: str) -> Iterator[tuple[Conn, dict[str, list[str]]]]:
    """A database with one customer (phone, email, auth user) and its snapshot."""
    with fresh_database(server_url, template_db) as connection:
        _, claims = create_auth_user(connection, email=EMAIL)
        call_rpc(
            connection,
            {"email": EMAIL, "phone": PHONE, "source": "webapp"},
            role="authenticated",
            claims=claims,
        )
        connection.execute("truncate customer_management.rate_limit_counters")
        yield connection, table_snapshot(connection)


def _case(body: Any, code: str, sqlstate: str = "P0001", case_id: str | None = None) -> Any:
    return pytest.param(body, code, sqlstate, id=case_id or code)


BAD_REQUESTS = [
    # No usable identifier.
    _case({"source": "chatbot"}, "missing_identifier", case_id="no-identifier"),
    _case({"firstName": "Ann", "source": "chatbot"}, "missing_identifier", case_id="name-only"),
    _case({"phone": "", "email": "  ", "source": "chatbot"}, "missing_identifier", case_id="blank"),
    _case(
        {"phone": None, "email": None, "source": "chatbot"}, "missing_identifier", "P0001", "null"
    ),
    # source.
    _case({"phone": PHONE}, "invalid_source", case_id="source-missing"),
    _case({"phone": PHONE, "source": None}, "invalid_source", case_id="source-null"),
    _case({"phone": PHONE, "source": ""}, "invalid_source", case_id="source-empty"),
    _case({"phone": PHONE, "source": "sms"}, "invalid_source", case_id="source-unknown"),
    _case({"phone": PHONE, "source": "Chatbot"}, "invalid_source", case_id="source-case"),
    # Wrong JSON types.
    _case({"phone": 5551234567, "source": "chatbot"}, "invalid_request", case_id="phone-number"),
    _case({"phone": [PHONE], "source": "chatbot"}, "invalid_request", case_id="phone-array"),
    _case({"email": {"address": EMAIL}, **OK}, "invalid_request", case_id="email-object"),
    _case({"email": True, **OK}, "invalid_request", case_id="email-boolean"),
    _case({"firstName": 42, **OK}, "invalid_request", case_id="firstName-number"),
    _case({"lastName": ["Lee"], **OK}, "invalid_request", case_id="lastName-array"),
    _case({"phone": PHONE, "source": 1}, "invalid_request", case_id="source-number"),
    _case({"phone": PHONE, "source": ["chatbot"]}, "invalid_request", case_id="source-array"),
    _case({"authUserId": 123, **OK}, "invalid_request", case_id="authUserId-number"),
    _case({"mergeIfFound": "true", **OK}, "invalid_request", case_id="mergeIfFound-string"),
    _case({"mergeIfFound": 1, **OK}, "invalid_request", case_id="mergeIfFound-number"),
    _case({"allergies": "nuts", **OK}, "invalid_allergies", case_id="allergies-string"),
    _case({"allergies": {"nuts": True}, **OK}, "invalid_allergies", case_id="allergies-object"),
    _case({"allergies": ["nuts", 3], **OK}, "invalid_allergies", case_id="allergy-number"),
    _case({"allergies": ["nuts", None], **OK}, "invalid_allergies", case_id="allergy-null"),
    _case({"allergies": [["nuts"]], **OK}, "invalid_allergies", case_id="allergy-array"),
    _case({"allergies": [" "], **OK}, "invalid_allergies", case_id="allergy-blank"),
    _case({"allergies": ["x" * 101], **OK}, "invalid_allergies", case_id="allergy-too-long"),
    _case({"allergies": ["nu\nts"], **OK}, "invalid_allergies", case_id="allergy-control"),
    _case(
        {"allergies": [f"a{n}" for n in range(51)], **OK},
        "invalid_allergies",
        case_id="51-allergies",
    ),
    # Not an object at all.
    _case([], "invalid_request", case_id="body-empty-array"),
    _case([OK], "invalid_request", case_id="body-array"),
    _case("phone=5551234567", "invalid_request", case_id="body-string"),
    _case(5551234567, "invalid_request", case_id="body-number"),
    _case(None, "invalid_request", case_id="body-json-null"),
    _case(True, "invalid_request", case_id="body-boolean"),
    # Invalid identifiers.
    _case({"phone": "call me maybe", "source": "chatbot"}, "invalid_phone", case_id="phone-text"),
    _case({"phone": "555-12", "source": "chatbot"}, "invalid_phone", case_id="phone-short"),
    _case({"phone": "1" * 65, "source": "chatbot"}, "invalid_phone", case_id="phone-65-chars"),
    _case({"email": "not-an-email", **OK}, "invalid_email", case_id="email-malformed"),
    _case({"email": "a" * 300 + "@mail.com", **OK}, "invalid_email", case_id="email-too-long"),
    _case({"authUserId": "abc123", **OK}, "invalid_auth_user_id", case_id="authUserId-abc"),
    _case(
        {"authUserId": str(uuid.uuid4())[:-1] + "g", **OK},
        "invalid_auth_user_id",
        case_id="authUserId-not-hex",
    ),
    _case(
        {"authUserId": str(uuid.uuid4()), "phone": PHONE, "source": "webapp"},
        "unknown_auth_user",
        case_id="authUserId-unknown",
    ),
    # The chatbot channel proves the line and codes, never a named login.
    _case({"authUserId": str(uuid.uuid4()), **OK}, "forbidden", "42501", "chatbot-authUserId"),
    _case({"email": EMAIL, "source": "chatbot"}, "verification_required", case_id="chatbot-email"),
    _case(
        {**OK, "verification": {"id": "x", "code": "123456"}},
        "invalid_verification",
        case_id="verification-malformed",
    ),
    # Names.
    _case({"firstName": "x" * 201, **OK}, "name_too_long", case_id="firstName-201"),
    _case({"lastName": "y" * 201, **OK}, "name_too_long", case_id="lastName-201"),
    _case({"firstName": "Ann\u0007", **OK}, "invalid_name", case_id="firstName-bell"),
    _case({"lastName": "Lee\nSmith", **OK}, "invalid_name", case_id="lastName-newline"),
    _case({"firstName": "A\tnn", **OK}, "invalid_name", case_id="firstName-tab"),
    _case({"firstName": "Ann\u007f", **OK}, "invalid_name", case_id="firstName-delete"),
    _case({"firstName": "Ann\u202eevil", **OK}, "invalid_name", case_id="firstName-bidi"),
    _case({"firstName": "Ann\u200b", **OK}, "invalid_name", case_id="firstName-zero-width"),
    _case({"lastName": "Lee\u2028Smith", **OK}, "invalid_name", case_id="lastName-separator"),
    _case({"firstName": "12345", **OK}, "invalid_name", case_id="firstName-no-letter"),
    _case({"firstName": "!!!", **OK}, "invalid_name", case_id="firstName-punctuation"),
    # Size.
    _case({"firstName": "x" * 17_000, **OK}, "payload_too_large", "PT413", "big-name"),
    _case({"notes": "x" * 17_000, **OK}, "payload_too_large", "PT413", "big-unknown-field"),
    _case({"allergies": ["x" * 90] * 200, **OK}, "payload_too_large", "PT413", "big-allergies"),
]


@pytest.mark.parametrize(("body", "code", "sqlstate"), BAD_REQUESTS)
def test_bad_request_raises_its_code_and_writes_nothing(
    populated: tuple[Conn, dict[str, list[str]]], body: Any, code: str, sqlstate: str
) -> None:
    """The stable code and SQLSTATE, and the database exactly as it was."""
    conn, baseline = populated
    error = expect_error(conn, body)
    assert (error["sqlstate"], error["message"]) == (sqlstate, code)
    assert error["detail"]
    assert table_snapshot(conn) == baseline


def test_sql_null_body_is_invalid_request(populated: tuple[Conn, dict[str, list[str]]]) -> None:
    """A SQL NULL (not JSON null) argument is invalid_request too."""
    conn, baseline = populated
    with pytest.raises(psycopg.errors.RaiseException) as caught, conn.transaction():
        conn.execute(
            "select set_config('role', 'service_role', true), "
            "set_config('request.jwt.claims', %s, true)",
            (json.dumps({"role": "service_role"}),),
        )
        conn.execute("select public.customer_management(null)")
    assert caught.value.diag.message_primary == "invalid_request"
    assert table_snapshot(conn) == baseline


def test_bad_input_from_an_end_user_writes_nothing(conn: Conn) -> None:
    """The same codes reach an end user; their bad calls write nothing either."""
    _, claims = create_auth_user(conn, email="enduser@mail.com")
    call_rpc(
        conn, {"email": "enduser@mail.com", "source": "webapp"}, role="authenticated", claims=claims
    )
    before = table_snapshot(conn)
    cases: list[tuple[dict[str, Any], str]] = [
        ({"email": "enduser@mail.com"}, "invalid_source"),
        ({"email": "enduser@mail.com", "source": "webapp", "phone": "abc"}, "invalid_phone"),
        ({"email": "enduser@mail.com", "source": "webapp", "lastName": "z" * 201}, "name_too_long"),
        ({"source": "webapp", "firstName": "Ann\u0007"}, "invalid_name"),
        ({"authUserId": "me", "source": "webapp"}, "invalid_auth_user_id"),
        ({"source": "webapp", "allergies": "nuts"}, "invalid_allergies"),
    ]
    for body, code in cases:
        error = expect_error(conn, body, role="authenticated", claims=claims)
        assert (error["sqlstate"], error["message"]) == ("P0001", code)
    assert table_snapshot(conn) == before


def test_limits_are_inclusive(conn: Conn) -> None:
    """200-character names and 50 allergies are accepted: the limits are where they say."""
    response = call_rpc(
        conn,
        {
            "firstName": "F" * 200,
            "lastName": "L" * 200,
            "allergies": [f"allergy {n}" for n in range(50)],
            "mergeIfFound": False,
            "authUserId": None,
            **OK,
        },
    )
    row = customer(conn, response["customer"]["id"])
    assert len(row["first_name"]) == 200 and len(row["last_name"]) == 200
    assert len(row["allergies"]) == 50
    assert count_customers(conn) == 1


def test_unknown_fields_are_ignored_and_reported(conn: Conn) -> None:
    """Unknown keys do not fail the call; a notice names them."""
    response = call_rpc(conn, {"notes": "call after 5", "address": {"zip": "1"}, **OK})
    assert response["customer"]["isNewAccount"] is True
    assert [(n["code"], n["fields"]) for n in response["notices"]] == [
        ("unknown_fields_ignored", ["address", "notes"])
    ]
