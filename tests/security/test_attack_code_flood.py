"""Strangers who say the owner's email: they must not spend her codes or guess her code.

A caller on the phone can say anyone's email and have the chatbot ask for a code. Codes
are counted per requester (the line, the signed-in user, the session the service role
names) and per identifier, with the owner's own proven channel counted apart: a flood of
strangers exhausts the strangers' side and never the owner's. Wrong codes are capped per
identifier and day on each side, so strangers get at most that many guesses a day.
"""

from __future__ import annotations

import json
from typing import Any

import psycopg
import pytest

from customer_management.local.rpc_session import acting_as
from customer_management.local.rpc_session import call_rpc as call_named
from support.helpers import call_rpc, create_auth_user, with_code
from support.security import RETRY_HINT, Conn

OWNER_LINE = "+15557440001"
OWNER_EMAIL = "olive.owner@example.com"
STRANGER_LINES = [f"+1555744{n:04d}" for n in range(100, 140)]


def request_code(conn: Conn, value: str = OWNER_EMAIL, **requester: Any) -> dict[str, Any]:
    """``request_verification`` for an email as the service role, naming ``requester``."""
    answer: dict[str, Any] = call_named(
        conn,
        "request_verification",
        {"identifier_type": "email", "identifier_value": value, **requester},
    )
    return answer


def refused_code(conn: Conn, value: str = OWNER_EMAIL, **requester: Any) -> psycopg.Error:
    """``request_verification`` that must fail; the error."""
    with pytest.raises(psycopg.Error) as raised:
        request_code(conn, value, **requester)
    return raised.value


def assert_rate_limited(error: psycopg.Error, detail: str) -> int:
    """PT429 rate_limited with ``detail`` and a retry hint; the seconds to wait."""
    assert (error.diag.sqlstate, error.diag.message_primary) == ("PT429", "rate_limited")
    assert error.diag.message_detail == detail
    match = RETRY_HINT.match(error.diag.message_hint or "")
    assert match, error.diag.message_hint
    return int(match.group(1))


def owner_account(conn: Conn) -> str:
    """Olive's account: her line and her email, proven with a code she used two days ago."""
    answer = call_rpc(
        conn,
        with_code(conn, {"phone": OWNER_LINE, "email": OWNER_EMAIL, "source": "chatbot"}),
    )
    conn.execute(
        "update customer_management.verifications set created_at = created_at - interval '2 days'"
    )
    return str(answer["customer"]["id"])


def confirm(conn: Conn, issued: dict[str, Any], code: str | None = None) -> tuple[Any, str]:
    """A chatbot call from Olive's line with her email and a code; the answer and the
    HTTP status the RPC set."""
    body = {
        "phone": OWNER_LINE,
        "email": OWNER_EMAIL,
        "source": "chatbot",
        "verification": {"id": issued["verificationId"], "code": code or issued["code"]},
    }
    with acting_as(conn, "service_role") as acting:
        answer = acting.execute(
            "select public.customer_management(%s::jsonb)", (json.dumps(body),)
        ).fetchone()
        status = acting.execute("select current_setting('response.status', true)").fetchone()
    assert answer is not None and status is not None
    return answer[0], str(status[0])


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 10**6:06d}"


def test_a_flood_of_strangers_leaves_the_owner_her_own_codes(conn: Conn) -> None:
    owner = owner_account(conn)
    _, claims = create_auth_user(conn, email=OWNER_EMAIL)

    # Forty strangers' lines each say Olive's email: five codes go out, then no more.
    sent, refused = 0, []
    for line in STRANGER_LINES:
        try:
            request_code(conn, requester_line=line)
            sent += 1
        except psycopg.Error as exc:
            refused.append(exc)
    assert sent == 5
    assert len(refused) == len(STRANGER_LINES) - 5
    assert_rate_limited(refused[-1], "At most 5 codes per hour for one email.")
    # A caller naming nobody, and a web session, are strangers too.
    assert_rate_limited(refused_code(conn), "At most 5 codes per hour for one email.")
    assert_rate_limited(
        refused_code(conn, requester_session="visitor-7"),
        "At most 5 codes per hour for one email.",
    )

    # Olive's own line still gets a code, and it proves her email.
    mine = request_code(conn, requester_line=OWNER_LINE)
    answer, status = confirm(conn, mine)
    assert status != "400" and answer["customer"]["id"] == owner
    # So does the login that confirmed her email, through a backend naming it.
    request_code(conn, requester_user_id=claims["sub"])
    owners = conn.execute(
        "select owner_channel, count(*) from customer_management.verifications "
        "where created_at > now() - interval '1 hour' group by 1 order by 1"
    ).fetchall()
    assert owners == [(False, 5), (True, 2)]


def test_one_requester_gets_five_codes_an_hour_whatever_the_addresses(conn: Conn) -> None:
    line = STRANGER_LINES[0]
    for n in range(5):
        request_code(conn, f"target{n}@example.com", requester_line=line)
    error = refused_code(conn, "target9@example.com", requester_line=line)
    assert_rate_limited(error, "At most 5 codes per hour for one requester.")
    # The same line in another spelling is the same requester; another line is not.
    error = refused_code(conn, "target9@example.com", requester_line="(555) 744-0100")
    assert_rate_limited(error, "At most 5 codes per hour for one requester.")
    request_code(conn, "target9@example.com", requester_line=STRANGER_LINES[1])


def test_the_requester_header_counts_like_a_session(conn: Conn) -> None:
    """A backend may name its requester in the X-Customer-Requester header instead."""
    headers = json.dumps({"x-customer-requester": "web-session-42"})
    for n in range(6):
        try:
            with acting_as(conn, "service_role") as acting:
                acting.execute("select set_config('request.headers', %s, true)", (headers,))
                acting.execute(
                    "select public.request_verification('email', %s)", (f"t{n}@example.com",)
                )
        except psycopg.Error as exc:
            assert n == 5
            assert_rate_limited(exc, "At most 5 codes per hour for one requester.")
    request_code(conn, "t9@example.com", requester_session="web-session-43")


def test_strangers_get_ten_wrong_codes_a_day_then_none(conn: Conn) -> None:
    owner_account(conn)
    first, second, third = (request_code(conn, requester_line=STRANGER_LINES[n]) for n in range(3))
    for issued in (first, second):
        for _ in range(5):
            answer, status = confirm(conn, issued, wrong(issued["code"]))
            assert (status, answer["message"]) == ("400", "invalid_verification")
    # Ten wrong codes today: even the right third code is refused now, and counted nowhere.
    answer, status = confirm(conn, third)
    assert (status, answer["code"], answer["message"]) == ("429", "PT429", "rate_limited")
    seconds = int(RETRY_HINT.match(answer["hint"]).group(1))  # type: ignore[union-attr]
    assert 86_000 < seconds <= 86_400
    assert conn.execute(
        "select sum(failed_attempts), count(consumed_at) from customer_management.verifications "
        "where not owner_channel and created_at > now() - interval '1 day'"
    ).fetchone() == (10, 0)
    error = refused_code(conn, requester_line=STRANGER_LINES[3])
    assert_rate_limited(error, "At most 10 wrong codes per day for one email.")

    # Olive's own line is on the other side of the count: her code works.
    mine = request_code(conn, requester_line=OWNER_LINE)
    answer, status = confirm(conn, mine)
    assert status != "429" and "customer" in answer

    # A day later the strangers' side is open again.
    conn.execute(
        "update customer_management.verifications set created_at = created_at - interval '1 day'"
    )
    request_code(conn, requester_line=STRANGER_LINES[4])


def test_a_malformed_requester_gets_no_code(conn: Conn) -> None:
    for requester in ({"requester_line": "not a phone"}, {"requester_session": " "}):
        error = refused_code(conn, **requester)
        assert (error.diag.sqlstate, error.diag.message_primary) == ("P0001", "invalid_requester")
    assert conn.execute("select count(*) from customer_management.verifications").fetchone() == (0,)
