"""A web backend forwards what its users type: one user must not spend another's allowance.

The service role on the web channel vouches for the phones and emails it sends (they are
proven, not verified). Counting them against the identifier let a user who types a
victim's email twenty times a minute lock the victim out of her own requests. They are
counted against the backend's requester instead (the ``X-Customer-Requester`` header,
which PostgREST hands to the database in ``request.headers``), and the chatbot's line,
which is verified, keeps its own per-line bucket.
"""

from __future__ import annotations

import json
from typing import Any

import psycopg
import pytest

from customer_management.local.rpc_session import acting_as
from support.helpers import call_rpc, create_auth_user
from support.security import RETRY_HINT, Conn, within_one_clock_minute

VICTIM_EMAIL = "wanda.web@example.com"
LIMIT = 20


@pytest.fixture(autouse=True)
def _one_clock_minute() -> None:
    within_one_clock_minute(seconds_needed=15)


def backend_call(conn: Conn, body: dict[str, Any], requester: str | None) -> Any:
    """The service role on the web channel, naming ``requester`` in the header as a web
    backend forwarding its user's request does."""
    headers = {} if requester is None else {"x-customer-requester": requester}
    with acting_as(conn, "service_role") as acting:
        acting.execute("select set_config('request.headers', %s, true)", (json.dumps(headers),))
        row = acting.execute(
            "select public.customer_management(%s::jsonb)",
            (json.dumps({"source": "webapp", **body}),),
        ).fetchone()
    assert row is not None
    return row[0]


def refused(conn: Conn, body: dict[str, Any], requester: str | None) -> psycopg.Error:
    """``backend_call`` that must fail; the error."""
    try:
        answer = backend_call(conn, body, requester)
    except psycopg.Error as exc:
        return exc
    raise AssertionError(f"expected rate_limited, got {answer!r}")


def test_one_user_typing_the_victims_email_spends_only_his_own_allowance(conn: Conn) -> None:
    victim = backend_call(conn, {"email": VICTIM_EMAIL, "firstName": "Wanda"}, "session-wanda")
    for _ in range(LIMIT):
        backend_call(conn, {"email": VICTIM_EMAIL}, "session-mallory")
    error = refused(conn, {"email": VICTIM_EMAIL}, "session-mallory")
    assert (error.diag.sqlstate, error.diag.message_primary) == ("PT429", "rate_limited")
    assert RETRY_HINT.match(error.diag.message_hint or "")
    # Mallory is out for the minute, even with another address; Wanda is not.
    assert refused(conn, {"email": "other@example.com"}, "session-mallory")
    again = backend_call(conn, {"email": VICTIM_EMAIL}, "session-wanda")
    assert again["customer"]["id"] == victim["customer"]["id"]
    buckets = dict(
        conn.execute("select bucket, calls from customer_management.rate_limit_counters").fetchall()
    )
    assert not any(VICTIM_EMAIL in bucket for bucket in buckets)
    assert sorted(buckets.values()) == [2, LIMIT]


def test_a_backend_naming_the_user_counts_against_that_user(conn: Conn) -> None:
    """authUserId names the requester: the user's own (verified) bucket counts the call,
    and vouched identifiers beside it spend nobody else's."""
    user_id, _ = create_auth_user(conn, email="mal@example.com")
    for _ in range(LIMIT):
        backend_call(conn, {"authUserId": str(user_id), "phone": "+15557660001"}, None)
    error = refused(conn, {"authUserId": str(user_id), "phone": "+15557660002"}, None)
    assert error.diag.message_primary == "rate_limited"
    assert backend_call(conn, {"phone": "+15557660001"}, "session-other")["customer"]


def test_a_backend_that_names_nobody_spends_nobodys_allowance(conn: Conn) -> None:
    """Without a requester the kit cannot tell the backend's users apart: what it vouches
    for is not counted at all, so nobody can be locked out through it."""
    for _ in range(LIMIT + 5):
        backend_call(conn, {"email": VICTIM_EMAIL}, None)
    assert conn.execute(
        "select count(*) from customer_management.rate_limit_counters"
    ).fetchone() == (0,)


def test_the_chatbots_line_keeps_its_own_bucket(conn: Conn) -> None:
    """The line is verified: its bucket is the line's, whatever requester is named."""
    line = {"phone": "+15557660009", "source": "chatbot"}
    for _ in range(LIMIT):
        call_rpc(conn, line)
    try:
        call_rpc(conn, line)
    except psycopg.Error as exc:
        assert exc.diag.message_primary == "rate_limited"
    else:
        raise AssertionError("the 21st call from one line passed")
    counters = conn.execute(
        "select bucket, calls from customer_management.rate_limit_counters"
    ).fetchall()
    assert counters == [("identifier:phone:+15557660009", LIMIT)]
