"""Normalisation: phone spellings to E.164, email match keys, blocked placeholders, and the
per-customer identifier limits.

Requests come from a trusted backend (service role, ``source: "webapp"``), whose phones and
emails count as proven: these tests are about what an identifier is, not who proved it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from support.helpers import call_rpc, create_auth_user, expect_error, table_snapshot
from support.reads import (
    PHONE,
    count_customers,
    customer,
    fresh_database,
    identifier_set,
    notice_codes,
    owner_of,
    set_settings,
    stored_values,
)

Conn = psycopg.Connection[Any]


@pytest.fixture(scope="module")
def functions_conn(server_url: str, template_db: str) -> Iterator[Conn]:
    """One migrated database for the read-only calls of the normalisation functions."""
    with fresh_database(server_url, template_db) as connection:
        yield connection


SPELLINGS = [
    "555-123-4567",
    "(555) 123-4567",
    "1 555 123 4567",
    "+15551234567",
    "+1 555 123 4567",
    "001 555 123 4567",
    "0015551234567",
    "555.123.4567",
    "+1 (555) 123-4567",
    "[555] 123 4567",
    "1-555-123-4567",
    " 555 123 4567 ",
]

INVALID_PHONES = [
    "555-CALL-NOW",
    "5551234567x",
    "12345",
    "555-1234",
    "+1234567",
    "+1234567890123456",
    "555 123 45678",
    "+1555123456",
    "+155512345678",
    "055-123-4567",
    "155-123-4567",
    "+1 055 123 4567",
    "+1 155 123 4567",
    "+0 555 123 4567",
    "++15551234567",
    "+1 555 123 4567 ext 2",
]


def _normalize_phone(conn: Conn, raw: str) -> str | None:
    row = conn.execute("select customer_management.normalize_phone(%s)", (raw,)).fetchone()
    assert row is not None
    return row[0]  # type: ignore[no-any-return]


def _normalize_email(conn: Conn, raw: str) -> str | None:
    row = conn.execute("select customer_management.normalize_email(%s)", (raw,)).fetchone()
    assert row is not None
    return row[0]  # type: ignore[no-any-return]


def test_every_spelling_of_one_number_is_one_customer(conn: Conn) -> None:
    """All the issue's spellings resolve to the same account with phone +15551234567."""
    ids = set()
    for spelling in SPELLINGS:
        response = call_rpc(conn, {"phone": spelling, "source": "webapp"})
        assert response["customer"]["phone"] == PHONE, spelling
        ids.add(response["customer"]["id"])
    assert len(ids) == 1
    assert count_customers(conn, live_only=False) == 1
    assert identifier_set(conn, ids.pop()) == {("phone", PHONE, "active")}


@pytest.mark.parametrize("raw", SPELLINGS)
def test_normalize_phone_spellings(functions_conn: Conn, raw: str) -> None:
    """customer_management.normalize_phone gives E.164 for each spelling."""
    assert _normalize_phone(functions_conn, raw) == PHONE


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("+44 20 7946 0018", "+442079460018"),
        ("0044 20 7946 0018", "+442079460018"),
        ("+44 (0)20 7946 0018", "+442079460018"),
        ("+33 1 23 45 67 89", "+33123456789"),
        ("+49 30 123456", "+4930123456"),
        ("212-555-0147", "+12125550147"),
        ("", None),
        ("   ", None),
        ("unknown", None),
        ("N/A", None),
        ("555-555-5555", None),
        ("+1 222 222 2222", None),
    ],
)
def test_normalize_phone_table(functions_conn: Conn, raw: str, expected: str | None) -> None:
    """International numbers keep their country code; placeholders become null."""
    assert _normalize_phone(functions_conn, raw) == expected


@pytest.mark.parametrize("raw", INVALID_PHONES)
def test_normalize_phone_rejects(functions_conn: Conn, raw: str) -> None:
    """Malformed numbers raise invalid_phone (P0001) from the function itself."""
    with pytest.raises(psycopg.errors.RaiseException) as caught:
        _normalize_phone(functions_conn, raw)
    assert caught.value.diag.message_primary == "invalid_phone"
    assert caught.value.diag.sqlstate == "P0001"


def test_invalid_phones_through_rpc_write_nothing(conn: Conn) -> None:
    """Through the RPC every invalid phone is invalid_phone (P0001) and nothing is written."""
    call_rpc(conn, {"email": "someone@mail.com", "source": "webapp"})
    before = table_snapshot(conn)
    wrong = {}
    for raw in INVALID_PHONES:
        error = expect_error(conn, {"phone": raw, "email": "someone@mail.com", "source": "webapp"})
        if (error["sqlstate"], error["message"]) != ("P0001", "invalid_phone"):
            wrong[raw] = error
    assert wrong == {}
    assert table_snapshot(conn) == before


def test_default_country_change(conn: Conn) -> None:
    """With GB as default country, national numbers are read as British ones."""
    assert _normalize_phone(conn, "555-123-4567") == PHONE
    set_settings(conn, default_phone_country="GB")
    assert _normalize_phone(conn, "020 7946 0018") == "+442079460018"
    assert _normalize_phone(conn, "+44 20 7946 0018") == "+442079460018"
    assert _normalize_phone(conn, "+15551234567") == PHONE
    with pytest.raises(psycopg.errors.RaiseException):
        _normalize_phone(conn, "020 794")

    response = call_rpc(conn, {"phone": "020 7946 0018", "source": "webapp"})
    assert response["customer"]["phone"] == "+442079460018"
    again = call_rpc(conn, {"phone": "+44 20 7946 0018", "source": "webapp"})
    assert again["customer"]["id"] == response["customer"]["id"]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("alice@gmail.com", "alice@gmail.com"),
        (" Alice@Gmail.COM ", "alice@gmail.com"),
        ("ALICE@GMAIL.COM", "alice@gmail.com"),
        ("first.last+tag@sub.example.org", "first.last+tag@sub.example.org"),
        ("o'brien@mail.ie", "o'brien@mail.ie"),
        ("", None),
        ("  ", None),
        ("none", None),
        ("NULL", None),
        ("chatbot_temp@temp.local", None),
        ("Chatbot_Temp@TEMP.LOCAL", None),
        ("x@foo.invalid", None),
        ("a@b.test", None),
        ("a@shop.example", None),
        ("a@sub.localhost", None),
    ],
)
def test_normalize_email_table(functions_conn: Conn, raw: str, expected: str | None) -> None:
    """Emails are trimmed and case-folded; placeholders and reserved domains are null."""
    assert _normalize_email(functions_conn, raw) == expected


MALFORMED_EMAILS = [
    "alice",
    "alice@",
    "@gmail.com",
    "alice@@gmail.com",
    "alice@gmail",
    "alice smith@gmail.com",
    "alice..smith@gmail.com",
    ".alice@gmail.com",
    "alice@gmail..com",
    "alice@-gmail.com",
    "alice@gmail.com.",
    "alice@gmail.123",
    "alice@gmail.com>",
    "<alice@gmail.com>",
    "a" * 65 + "@gmail.com",
]


@pytest.mark.parametrize("raw", MALFORMED_EMAILS)
def test_normalize_email_rejects(functions_conn: Conn, raw: str) -> None:
    """Malformed addresses raise invalid_email (P0001) from the function itself."""
    with pytest.raises(psycopg.errors.RaiseException) as caught:
        _normalize_email(functions_conn, raw)
    assert caught.value.diag.message_primary == "invalid_email"
    assert caught.value.diag.sqlstate == "P0001"


def test_malformed_emails_through_rpc_write_nothing(conn: Conn) -> None:
    """Through the RPC every malformed address is invalid_email and nothing is written."""
    call_rpc(conn, {"phone": PHONE, "source": "webapp"})
    before = table_snapshot(conn)
    wrong = {}
    for raw in MALFORMED_EMAILS:
        error = expect_error(conn, {"email": raw, "phone": PHONE, "source": "webapp"})
        if (error["sqlstate"], error["message"]) != ("P0001", "invalid_email"):
            wrong[raw] = error
    assert wrong == {}
    assert table_snapshot(conn) == before


def test_email_case_and_spaces_are_one_account_display_kept(conn: Conn) -> None:
    """ " Alice@Gmail.COM " and "alice@gmail.com" are one account; the spelling is kept."""
    first = call_rpc(conn, {"email": " Alice@Gmail.COM ", "source": "webapp"})
    second = call_rpc(conn, {"email": "alice@gmail.com", "source": "webapp"})
    assert second["customer"]["id"] == first["customer"]["id"]
    assert first["customer"]["email"] == "Alice@Gmail.COM"
    assert second["customer"]["email"] == "Alice@Gmail.COM"
    assert count_customers(conn, live_only=False) == 1
    row = conn.execute(
        "select value, display_value from customer_management.customer_identifiers where type = "
        "'email'"
    ).fetchall()
    assert row == [("alice@gmail.com", "Alice@Gmail.COM")]


BLOCKED_VALUES = [
    pytest.param("email", "chatbot_temp@temp.local", id="chatbot_temp"),
    pytest.param("email", "x@foo.invalid", id="invalid-domain"),
    pytest.param("email", "a@b.test", id="test-domain"),
    pytest.param("email", "someone@shop.example", id="example-subdomain"),
    pytest.param(
        "email",
        "a@example",
        id="example-domain",
    ),
    pytest.param(
        "email",
        "a@localhost",
        id="localhost",
    ),
    pytest.param("email", "unknown", id="email-unknown"),
    pytest.param("email", "None", id="email-none"),
    pytest.param("email", "null", id="email-null"),
    pytest.param("email", "N/A", id="email-n/a"),
    pytest.param("phone", "unknown", id="phone-unknown"),
    pytest.param("phone", "none", id="phone-none"),
    pytest.param("phone", "NULL", id="phone-null"),
    pytest.param("phone", "n/a", id="phone-n/a"),
    pytest.param(
        "phone",
        "0000000000",
        id="0000000000",
    ),
    pytest.param(
        "phone",
        "000-000-0000",
        id="000-000-0000",
    ),
    pytest.param("phone", "555-555-5555", id="555-555-5555"),
    pytest.param("phone", "+1 999 999 9999", id="+1-999"),
    pytest.param(
        "phone",
        "+1 111 111 1111",
        id="+1-111",
    ),
]


@pytest.mark.parametrize(("field", "value"), BLOCKED_VALUES)
def test_blocked_value_is_ignored(conn: Conn, field: str, value: str) -> None:
    """A blocked value is never stored, never matched, and does not count as an identifier."""
    before = table_snapshot(conn)
    error = expect_error(conn, {field: value, "source": "webapp"})
    assert (error["sqlstate"], error["message"]) == ("P0001", "missing_identifier")
    assert table_snapshot(conn) == before

    real_field = "email" if field == "phone" else "phone"
    real_values = (
        ["one@mail.com", "two@mail.com"] if real_field == "email" else [PHONE, "+15557654321"]
    )
    ids = []
    for real in real_values:
        response = call_rpc(conn, {field: value, real_field: real, "source": "webapp"})
        assert response["customer"]["isNewAccount"] is True
        assert response["customer"][field] is None
        assert [(n["code"], n["field"]) for n in response["notices"]] == [
            ("placeholder_ignored", field)
        ]
        ids.append(response["customer"]["id"])
    # Two requests sharing only the placeholder are two accounts: it never matched.
    assert ids[0] != ids[1]
    assert value not in stored_values(conn)
    assert value.strip().lower() not in stored_values(conn)
    assert {t for i in ids for (t, _, _) in identifier_set(conn, i)} == {real_field}


@pytest.mark.parametrize(
    ("country", "spellings"),
    [
        pytest.param("US", ["555-555-5555", "+1 555 555 5555", "001 555 555 5555"], id="US"),
        pytest.param(
            "GB",
            ["07777 777777", "+44 7777 777777", "0044 7777 777777"],
            id="GB",
        ),
    ],
)
def test_repeated_digit_number_is_blocked_in_every_spelling(
    conn: Conn, country: str, spellings: list[str]
) -> None:
    """One number is one identity: its national and E.164 spellings are blocked alike."""
    set_settings(conn, default_phone_country=country)
    assert {raw: _normalize_phone(conn, raw) for raw in spellings} == dict.fromkeys(spellings)


def test_fourth_phone_is_not_attached(conn: Conn) -> None:
    """Three phones per customer: the fourth gets identifier_limit_reached."""
    phones = ["+15551230001", "+15551230002", "+15551230003", "+15551230004"]
    customer_id = call_rpc(conn, {"email": "many@mail.com", "source": "webapp"})["customer"]["id"]
    for phone in phones[:3]:
        response = call_rpc(conn, {"email": "many@mail.com", "phone": phone, "source": "webapp"})
        assert response["customer"]["id"] == customer_id
        assert "notices" not in response
    response = call_rpc(conn, {"email": "many@mail.com", "phone": phones[3], "source": "webapp"})
    assert response["customer"]["id"] == customer_id
    assert response["customer"]["phone"] == phones[0]
    assert [(n["code"], n["field"]) for n in response["notices"]] == [
        ("identifier_limit_reached", "phone")
    ]
    assert {v for (t, v, _) in identifier_set(conn, customer_id) if t == "phone"} == set(phones[:3])
    assert owner_of(conn, "phone", phones[3]) is None
    # The unattached phone alone still finds nobody: a new account.
    alone = call_rpc(conn, {"phone": phones[3], "source": "webapp"})
    assert alone["customer"]["id"] != customer_id


def test_fourth_email_is_not_attached(conn: Conn) -> None:
    """Three emails per customer: the fourth gets identifier_limit_reached."""
    customer_id = call_rpc(conn, {"phone": PHONE, "source": "webapp"})["customer"]["id"]
    for n in range(1, 4):
        response = call_rpc(conn, {"phone": PHONE, "email": f"e{n}@mail.com", "source": "webapp"})
        assert "notices" not in response
    response = call_rpc(conn, {"phone": PHONE, "email": "e4@mail.com", "source": "webapp"})
    assert notice_codes(response) == ["identifier_limit_reached"]
    assert owner_of(conn, "email", "e4@mail.com") is None
    assert len([1 for (t, _, _) in identifier_set(conn, customer_id) if t == "email"]) == 3


def test_one_auth_user_per_customer(conn: Conn) -> None:
    """A second auth user is not attached to an account that already has one."""
    first_user, claims = create_auth_user(conn, email="owner@mail.com")
    second_user, _ = create_auth_user(conn, email="other@mail.com")
    customer_id = call_rpc(
        conn,
        {"email": "owner@mail.com", "phone": PHONE, "source": "webapp"},
        role="authenticated",
        claims=claims,
    )["customer"]["id"]

    response = call_rpc(
        conn, {"email": "owner@mail.com", "authUserId": str(second_user), "source": "webapp"}
    )
    assert response["customer"]["id"] == customer_id
    assert [(n["code"], n["field"]) for n in response["notices"]] == [
        ("identifier_limit_reached", "auth_user")
    ]
    assert customer(conn, customer_id)["auth_user_id"] == str(first_user)
    assert owner_of(conn, "auth_user", str(second_user)) is None
    assert owner_of(conn, "auth_user", str(first_user)) == customer_id


def test_limits_follow_settings(conn: Conn) -> None:
    """max_phones_per_customer is read from customer_management.settings."""
    set_settings(conn, max_phones_per_customer=1)
    customer_id = call_rpc(conn, {"phone": PHONE, "source": "webapp"})["customer"]["id"]
    response = call_rpc(conn, {"phone": PHONE, "source": "webapp"})
    assert "notices" not in response
    call_rpc(conn, {"email": "x@mail.com", "phone": PHONE, "source": "webapp"})
    response = call_rpc(conn, {"email": "x@mail.com", "phone": "+15557654321", "source": "webapp"})
    assert response["customer"]["id"] == customer_id
    assert notice_codes(response) == ["identifier_limit_reached"]
