"""The read path's common case: the chatbot's returning caller by the line alone.

``answer_returning_line`` answers ``{"phone": line, "source": "chatbot"}`` from one read
only where every rule's outcome is forced. Each state below is built for real; then the
same request is answered by it and by the general path (the body with ``" chatbot"``,
which parse_request reads as the same request but the one-read answer leaves alone), each
in a transaction that is rolled back afterwards. Where the one-read answer answers, the
answers and everything written must be the same, and the identifier-strength rule must
call the request complete on that account; everywhere else it must decline and change
nothing.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

import psycopg
import pytest

from support.helpers import call_rpc, create_auth_user, table_snapshot
from support.security import within_one_clock_minute

Conn = psycopg.Connection[Any]
Change = Callable[[Conn, str, uuid.UUID], None]


def line_of(n: int) -> str:
    """A distinct well-formed line per state."""
    return f"+1415555{n:04d}"


def account_of(conn: Conn, line: str) -> uuid.UUID:
    """The account holding ``line`` active."""
    row = conn.execute(
        "select customer_id from customer_management.customer_identifiers "
        "where value = %s and type = 'phone' and status = 'active'",
        (line,),
    ).fetchone()
    assert row is not None
    account: uuid.UUID = row[0]
    return account


def answered(conn: Conn, body: dict[str, Any]) -> tuple[Any, dict[str, list[str]]]:
    """The RPC's answer (or its error) and every table afterwards; then rolled back."""
    with conn.transaction(force_rollback=True):
        try:
            with conn.transaction():
                conn.execute(
                    "select set_config('role', 'service_role', true), "
                    "set_config('request.jwt.claims', '{\"role\":\"service_role\"}', true)"
                )
                row = conn.execute(
                    "select public.customer_management(%s::jsonb)", (json.dumps(body),)
                ).fetchone()
                result: Any = row[0] if row else None
        except psycopg.Error as exc:
            result = (exc.diag.sqlstate, exc.diag.message_primary, exc.diag.message_detail)
        conn.execute("select set_config('role', 'none', true)")
        return result, table_snapshot(conn)


def one_read_answer(conn: Conn, line: str) -> Any:
    """What answer_returning_line says for the line (rolled back: it counts the call)."""
    with conn.transaction(force_rollback=True):
        row = conn.execute(
            "select customer_management.answer_returning_line(%s::jsonb)",
            (json.dumps({"phone": line, "source": "chatbot"}),),
        ).fetchone()
        return row[0] if row else None


def rule_opens(conn: Conn, line: str) -> uuid.UUID | None:
    """The account the identifier-strength rule opens for the chatbot's line when it calls
    the request complete, else None."""
    row = conn.execute(
        "select o.complete, (o.account).id "
        "from customer_management.identifier_strength_rule("
        "  row('service_role', null, true)::customer_management.api_caller, "
        "  customer_management.parse_request(%(body)s::jsonb), "
        "  array[row('phone', %(line)s, %(line)s, true, true)"
        "::customer_management.identifier_claim], null) as o",
        {"body": json.dumps({"phone": line, "source": "chatbot"}), "line": line},
    ).fetchone()
    assert row is not None
    return row[1] if row[0] else None


def stale(conn: Conn, line: str, _: uuid.UUID) -> None:
    """The line was last used two days ago (its use is recorded once a day)."""
    conn.execute(
        "update customer_management.customer_identifiers set verified_at = now() - "
        "interval '3 days', last_used_at = now() - interval '2 days' where value = %s",
        (line,),
    )


def dormant(conn: Conn, line: str, _: uuid.UUID) -> None:
    """The line has not been used for longer than line_dormant_after."""
    conn.execute(
        "update customer_management.customer_identifiers set verified_at = now() - "
        "interval '500 days', last_used_at = now() - interval '400 days' where value = %s",
        (line,),
    )


def used_within_a_day_of_a_one_day_dormancy(conn: Conn, line: str, _: uuid.UUID) -> None:
    """The shortest dormancy allowed, and a line used 23 hours ago: not dormant."""
    conn.execute("update customer_management.settings set line_dormant_after = interval '1 day'")
    conn.execute(
        "update customer_management.customer_identifiers set verified_at = now() - "
        "interval '30 days', last_used_at = now() - interval '23 hours' where value = %s",
        (line,),
    )


def vouched(conn: Conn, line: str, _: uuid.UUID) -> None:
    """A web backend vouched for the line; nobody proved it."""
    conn.execute(
        "update customer_management.customer_identifiers set strength = 'vouched', "
        "verified_at = null where value = %s",
        (line,),
    )


def last_updated_on_the_web(conn: Conn, _: str, account: uuid.UUID) -> None:
    """The account's last channel was the web app: the lookup records the chatbot."""
    conn.execute(
        "update public.customers set preferences = preferences || "
        '\'{"last_updated_via": "webapp"}\' where id = %s',
        (account,),
    )


def web_only_sources(conn: Conn, _: str, account: uuid.UUID) -> None:
    """The account lists only the web app among its sources."""
    conn.execute(
        "update public.customers set preferences = preferences || "
        '\'{"account_sources": ["webapp"]}\' where id = %s',
        (account,),
    )


def no_created_via(conn: Conn, _: str, account: uuid.UUID) -> None:
    """An account written before created_via was recorded."""
    conn.execute(
        "update public.customers set preferences = preferences - 'created_via' where id = %s",
        (account,),
    )


def claimed_by_a_login(conn: Conn, line: str, _: uuid.UUID) -> None:
    """A signed-in web user typed the line on her own account (pending, claimed)."""
    user_id, claims = create_auth_user(conn, email="typist@example.com")
    call_rpc(
        conn,
        {"phone": line, "email": "typist@example.com", "source": "webapp"},
        "authenticated",
        claims,
    )
    assert user_id


def owned_by_a_login(conn: Conn, line: str, account: uuid.UUID) -> None:
    """The account belongs to a Supabase Auth login (its auth user id is one of its
    identifiers)."""
    user_id, _ = create_auth_user(conn, email=f"owner{line[-4:]}@example.com")
    conn.execute(
        "insert into customer_management.customer_identifiers "
        "(customer_id, type, value, display_value, status, strength, verified_at, source) "
        "values (%s, 'auth_user', %s, %s, 'active', 'verified', now(), 'webapp')",
        (account, str(user_id), str(user_id)),
    )


def with_orders(count: int) -> Change:
    """The account has ``count`` orders."""

    def change(conn: Conn, _: str, account: uuid.UUID) -> None:
        for n in range(count):
            conn.execute(
                "insert into public.orders (customer_id, items, total, status, created_at) "
                "values (%s, %s, %s, 'delivered', now() - make_interval(days => %s))",
                (account, json.dumps([{"name": "Cake", "quantity": 1, "price": 9.5}]), 9.5, n),
            )

    return change


def unchanged(conn: Conn, line: str, account: uuid.UUID) -> None:
    """The account as the chatbot left it."""


# (change, whether the one-read answer answers, first name given at creation)
STATES: list[tuple[Change, bool, str | None]] = [
    (unchanged, True, "Ada"),
    (unchanged, True, None),
    (with_orders(1), True, "Ada"),
    (with_orders(3), True, None),
    (used_within_a_day_of_a_one_day_dormancy, True, "Ada"),
    (owned_by_a_login, True, "Ada"),
    (stale, False, "Ada"),
    (dormant, False, "Ada"),
    (vouched, False, "Ada"),
    (last_updated_on_the_web, False, "Ada"),
    (web_only_sources, False, "Ada"),
    (no_created_via, False, "Ada"),
    (claimed_by_a_login, False, "Ada"),
]


@pytest.mark.parametrize(
    ("change", "answers", "first_name"),
    STATES,
    ids=[f"{change.__name__}-{first or 'anonymous'}" for change, _, first in STATES],
)
def test_the_one_read_answer_agrees_with_the_general_path(
    conn: Conn, change: Change, answers: bool, first_name: str | None
) -> None:
    within_one_clock_minute()
    line = line_of(STATES.index((change, answers, first_name)))
    call_rpc(conn, {"phone": line, "source": "chatbot", "firstName": first_name})
    account = account_of(conn, line)
    change(conn, line, account)

    fast = one_read_answer(conn, line)
    if not answers:
        assert fast is None
        return
    assert fast is not None
    assert rule_opens(conn, line) == account
    one_read = answered(conn, {"phone": line, "source": "chatbot"})
    general = answered(conn, {"phone": line, "source": " chatbot"})
    assert one_read == general
    assert one_read[0]["customer"]["id"] == str(account)


def test_other_bodies_and_callers_take_the_general_path(conn: Conn) -> None:
    line = line_of(100)
    call_rpc(conn, {"phone": line, "source": "chatbot"})
    for body in (
        {"phone": line, "source": "webapp"},
        {"phone": line, "source": "chatbot", "firstName": "Ada"},
        {"phone": line, "source": "chatbot", "mergeIfFound": False},
        {"phone": " " + line, "source": "chatbot"},
        {"phone": line[1:], "source": "chatbot"},
        {"phone": 14155550100, "source": "chatbot"},
        {"source": "chatbot"},
        [line],
        "phone",
    ):
        with conn.transaction(force_rollback=True):
            row = conn.execute(
                "select customer_management.answer_returning_line(%s::jsonb)", (json.dumps(body),)
            ).fetchone()
            assert row == (None,), body
    # A line no account holds: nothing to read, the general path creates.
    assert one_read_answer(conn, line_of(101)) is None


def test_the_rate_limit_refuses_both_paths_alike(conn: Conn) -> None:
    within_one_clock_minute()
    line = line_of(200)
    call_rpc(conn, {"phone": line, "source": "chatbot", "firstName": "Ada"})
    conn.execute("update customer_management.settings set rate_limit_per_identifier_per_minute = 1")
    one_read = answered(conn, {"phone": line, "source": "chatbot"})
    general = answered(conn, {"phone": line, "source": " chatbot"})
    assert one_read == general
    assert one_read[0][:2] == ("PT429", "rate_limited")
