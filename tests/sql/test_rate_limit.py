"""Rate limiting in SQL: per end user and, for the service role, per verified identifier
(the chatbot's line) or per requester the backend names.

Limits are read from customer_management.settings on every call; windows are fixed minutes
kept in the unlogged customer_management.rate_limit_counters. Over the limit the call fails
with PT429 ``rate_limited`` (hint ``Retry after N seconds.``) and does nothing else. Counting a call
writes no WAL, so a returning customer's lookup still writes nothing that must be flushed.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from support.helpers import call_rpc, create_auth_user, expect_error, table_snapshot
from support.security import (
    RETRY_HINT,
    Conn,
    as_role,
    wal_insert_lsn,
    within_one_clock_minute,
)

DEFAULT_LIMIT = 20


@pytest.fixture(autouse=True)
def _one_clock_minute() -> None:
    """Each test counts calls within one clock minute."""
    within_one_clock_minute()


def assert_rate_limited(error: dict[str, str | None], limit: int | None = None) -> int:
    """PT429 rate_limited with a 'Retry after N seconds.' hint, 1 <= N <= 60; returns N."""
    assert (error["sqlstate"], error["message"]) == ("PT429", "rate_limited"), error
    match = RETRY_HINT.match(error["hint"] or "")
    assert match, error
    seconds = int(match.group(1))
    assert 1 <= seconds <= 60, error
    if limit is not None:
        assert error["detail"] == f"Too many requests: at most {limit} per minute.", error
    return seconds


def set_limits(conn: Conn, per_user: int | None = None, per_identifier: int | None = None) -> None:
    """Change the limits in customer_management.settings, as a DBA would."""
    if per_user is not None:
        conn.execute(
            "update customer_management.settings set rate_limit_per_user_per_minute = %s",
            (per_user,),
        )
    if per_identifier is not None:
        conn.execute(
            "update customer_management.settings set rate_limit_per_identifier_per_minute = %s",
            (per_identifier,),
        )


def end_user(conn: Conn, email: str) -> dict[str, Any]:
    """Claims of a signed-in user with a confirmed email."""
    _, claims = create_auth_user(conn, email=email)
    return claims


def web_call(conn: Conn, claims: dict[str, Any], **fields: Any) -> Any:
    """One RPC call as the end user."""
    return call_rpc(conn, {"source": "webapp", **fields}, "authenticated", claims)


def test_end_user_default_limit_is_twenty_per_minute(conn: Conn) -> None:
    """20 calls pass, the 21st and later are rate_limited; another user is unaffected."""
    claims = end_user(conn, "ann@example.com")
    for _ in range(DEFAULT_LIMIT):
        web_call(conn, claims, email="ann@example.com")
    for _ in range(3):
        error = expect_error(
            conn, {"email": "ann@example.com", "source": "webapp"}, "authenticated", claims
        )
        assert_rate_limited(error, DEFAULT_LIMIT)
    web_call(conn, end_user(conn, "ben@example.com"), email="ben@example.com")


def test_end_user_limit_comes_from_settings(conn: Conn) -> None:
    """Lowering and raising rate_limit_per_user_per_minute takes effect on the next call."""
    set_limits(conn, per_user=3)
    claims = end_user(conn, "ann@example.com")
    for _ in range(3):
        web_call(conn, claims)
    error = expect_error(conn, {"source": "webapp"}, "authenticated", claims)
    assert_rate_limited(error, 3)
    set_limits(conn, per_user=5)
    web_call(conn, claims)
    web_call(conn, claims)
    assert_rate_limited(expect_error(conn, {"source": "webapp"}, "authenticated", claims), 5)


def test_service_role_limit_is_per_line(conn: Conn) -> None:
    """21st call in a minute from one line (any spelling) is refused; other lines still pass."""
    spellings = ["+1 555 410 0001", "555-410-0001", "(555) 410-0001", "+15554100001"]
    for n in range(DEFAULT_LIMIT):
        call_rpc(conn, {"phone": spellings[n % len(spellings)], "source": "chatbot"})
    error = expect_error(conn, {"phone": "5554100001", "source": "chatbot"})
    assert_rate_limited(error, DEFAULT_LIMIT)
    # With an email said alongside, the line's bucket is still over: refused as a whole.
    error = expect_error(
        conn, {"phone": "+15554100001", "email": "new@example.com", "source": "chatbot"}
    )
    assert_rate_limited(error)
    assert call_rpc(conn, {"phone": "+15554100002", "source": "chatbot"})["customer"]
    assert call_rpc(conn, {"email": "new@example.com", "source": "webapp"})["customer"]


def test_service_role_limit_comes_from_settings(conn: Conn) -> None:
    """rate_limit_per_identifier_per_minute = 2: the third call from one line is refused."""
    set_limits(conn, per_identifier=2)
    for _ in range(2):
        call_rpc(conn, {"phone": "+1 555 410 0011", "source": "chatbot"})
    error = expect_error(conn, {"phone": "5554100011", "source": "chatbot"})
    assert_rate_limited(error, 2)
    set_limits(conn, per_identifier=DEFAULT_LIMIT)
    call_rpc(conn, {"phone": "+15554100011", "source": "chatbot"})


def test_the_window_resets_after_a_minute(conn: Conn) -> None:
    """Calls count per clock minute: once that minute is over, the next call passes and
    counts from 1 in a row of its own."""
    set_limits(conn, per_user=2)
    claims = end_user(conn, "ann@example.com")
    web_call(conn, claims)
    web_call(conn, claims)
    assert_rate_limited(expect_error(conn, {"source": "webapp"}, "authenticated", claims))
    bucket = f"user:{claims['sub']}"
    moved = conn.execute(
        "update customer_management.rate_limit_counters "
        "set window_start = window_start - interval '1 minute' where bucket = %s",
        (bucket,),
    ).rowcount
    assert moved == 1
    web_call(conn, claims)
    rows = conn.execute(
        "select calls, window_start = date_trunc('minute', now()) "
        "from customer_management.rate_limit_counters where bucket = %s order by window_start",
        (bucket,),
    ).fetchall()
    assert rows == [(2, False), (1, True)]
    web_call(conn, claims)
    assert_rate_limited(expect_error(conn, {"source": "webapp"}, "authenticated", claims))


def test_retry_after_counts_down_to_the_end_of_the_minute(conn: Conn) -> None:
    """The hint says how many seconds are left of the current minute."""
    set_limits(conn, per_user=1)
    claims = end_user(conn, "ann@example.com")
    web_call(conn, claims)
    seconds = assert_rate_limited(expect_error(conn, {"source": "webapp"}, "authenticated", claims))
    left = conn.execute(
        "select extract(epoch from date_trunc('minute', now()) + interval '1 minute' - now())"
    ).fetchone()
    assert left is not None
    assert abs(seconds - float(left[0])) <= 2


def test_pruning_removes_past_minutes_only(conn: Conn) -> None:
    """Past minutes go, in batches; the current minute's counters stay."""
    claims = end_user(conn, "ann@example.com")
    web_call(conn, claims)
    conn.execute(
        "insert into customer_management.rate_limit_counters (bucket, window_start, calls) "
        "select 'identifier:phone:+1555' || n, date_trunc('minute', now()) - interval '5 minutes',"
        " 1 from generate_series(1, 30) as n"
    )
    first = conn.execute("select customer_management.prune_rate_limit_counters(20)").fetchone()
    second = conn.execute("select customer_management.prune_rate_limit_counters(20)").fetchone()
    assert (first, second) == ((20,), (10,))
    left = conn.execute("select bucket from customer_management.rate_limit_counters").fetchall()
    assert left == [(f"user:{claims['sub']}",)]


def test_rate_limited_call_changes_nothing(conn: Conn) -> None:
    """The refused call neither updates the account nor bumps the counter any further."""
    set_limits(conn, per_user=1, per_identifier=1)
    claims = end_user(conn, "ann@example.com")
    web_call(conn, claims, email="ann@example.com")
    call_rpc(conn, {"phone": "+15554100003", "source": "chatbot"})
    before = table_snapshot(conn)
    assert "customer_management.rate_limit_counters" in before
    error = expect_error(
        conn,
        {
            "email": "ann@example.com",
            "phone": "+15554100009",
            "firstName": "Ann",
            "allergies": ["nuts"],
            "source": "webapp",
        },
        "authenticated",
        claims,
    )
    assert_rate_limited(error, 1)
    error = expect_error(
        conn,
        {
            "phone": "+15554100003",
            "email": "fresh@example.com",
            "firstName": "Dan",
            "source": "chatbot",
        },
    )
    assert_rate_limited(error, 1)
    assert table_snapshot(conn) == before


def test_administrator_sessions_are_not_limited(conn: Conn) -> None:
    """A DBA's own session (no API role) is not API traffic: no limit, no counter."""
    for _ in range(DEFAULT_LIMIT + 5):
        with conn.transaction():
            conn.execute(
                "select public.customer_management(%s::jsonb)",
                (json.dumps({"phone": "+15554100004", "source": "webapp"}),),
            )
    counters = conn.execute(
        "select count(*) from customer_management.rate_limit_counters"
    ).fetchone()
    assert counters == (0,)


def test_counters_are_unlogged(conn: Conn) -> None:
    """The counter table is UNLOGGED (relpersistence 'u'): bumping it writes no WAL."""
    row = conn.execute(
        "select relpersistence from pg_class where oid = "
        "'customer_management.rate_limit_counters'::regclass"
    ).fetchone()
    assert row == ("u",)


def wal_written_by(conn: Conn, body: dict[str, Any]) -> int:
    """WAL bytes inserted between just before and just after one service-role call.

    Both positions are read inside the call's own transaction, as service_role, so the
    commit record (written after) is not counted: only row locks and logged writes are.
    """
    with as_role(conn, "service_role") as acting:
        before = wal_insert_lsn(acting)
        acting.execute("select public.customer_management(%s::jsonb)", (json.dumps(body),))
        after = wal_insert_lsn(acting)
    return after - before


def test_returning_customer_lookup_writes_no_wal(conn: Conn) -> None:
    """A lookup that changes nothing writes no WAL (the counter is unlogged); a create does.

    The WAL position is server-wide, so a background record (a checkpoint, a standby
    snapshot) may land in between: the lookup is measured a few times and must write
    nothing at least once, while every creating call must write something.
    """
    body = {"phone": "+15554100005", "firstName": "Eve", "source": "chatbot"}
    created = wal_written_by(conn, body)
    assert created > 0, "creating an account must write WAL (the check can fail)"
    call_rpc(conn, body)  # warm-up: anything left to settle after the create happens here

    lookups = [wal_written_by(conn, body) for _ in range(5)]
    assert min(lookups) == 0, f"WAL bytes written per lookup: {lookups}"

    for n in range(3):
        fresh = {"phone": f"+1555410010{n}", "source": "chatbot"}
        assert wal_written_by(conn, fresh) > 0
    # A returning customer whose call does change the account (a new allergy) writes WAL.
    assert wal_written_by(conn, {**body, "allergies": ["nuts"]}) > 0
    counters = conn.execute(
        "select calls from customer_management.rate_limit_counters where bucket = %s",
        ("identifier:phone:+15554100005",),
    ).fetchone()
    assert counters == (8,)


def test_end_user_lookup_writes_no_wal(conn: Conn) -> None:
    """The same for a signed-in user: once the account exists, a repeat call writes no WAL."""
    claims = end_user(conn, "ann@example.com")
    body = {"email": "ann@example.com", "source": "webapp"}
    web_call(conn, claims, email="ann@example.com")
    web_call(conn, claims, email="ann@example.com")

    def written() -> int:
        with as_role(conn, "authenticated", claims) as acting:
            before = wal_insert_lsn(acting)
            acting.execute("select public.customer_management(%s::jsonb)", (json.dumps(body),))
            return wal_insert_lsn(acting) - before

    lookups = [written() for _ in range(5)]
    assert min(lookups) == 0, f"WAL bytes written per lookup: {lookups}"
