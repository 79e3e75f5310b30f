"""Helpers for the security tests: act as an API role on tables directly, compare answers.

``as_role`` does for a plain SQL statement what ``helpers.call_rpc`` does for the RPC: one
transaction with the role and ``request.jwt.claims`` set locally, as PostgREST sets them
for ``supabase.from(...)``. ``sql_error`` runs one statement that way and returns the error.
``scrub`` turns an RPC answer into text with the caller's own values replaced, so answers
of two callers (or two probes) can be compared for equality.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Mapping, Sequence
from typing import Any

import psycopg

from customer_management.local.rpc_session import acting_as
from support.helpers import call_rpc

Conn = psycopg.Connection[Any]
RETRY_HINT = re.compile(r"^Retry after (\d+) seconds\.$")


def within_one_clock_minute(seconds_needed: float = 8) -> None:
    """Rate limits count calls per clock minute: a test that would start in the last
    seconds of a minute waits for the next, so its counts are not split in two windows."""
    seconds_left = 60 - time.time() % 60
    if seconds_left < seconds_needed:
        time.sleep(seconds_left + 0.1)


# One transaction acting as an API role, exactly as the RPC helpers and PostgREST do.
as_role = acting_as


def sql_error(
    conn: Conn,
    role: str,
    claims: Mapping[str, Any] | None,
    statement: str,
    params: Sequence[Any] | Mapping[str, Any] | None = None,
) -> dict[str, str | None]:
    """Run ``statement`` as ``role`` expecting an error; return sqlstate and message.

    Fails the test when the statement succeeds.
    """
    try:
        with as_role(conn, role, claims) as acting:
            cur = acting.execute(statement, params)
            rows = cur.fetchall() if cur.description else cur.rowcount
    except psycopg.Error as exc:
        return {
            "sqlstate": exc.diag.sqlstate,
            "message": exc.diag.message_primary,
            "hint": exc.diag.message_hint,
        }
    raise AssertionError(f"expected {statement!r} as {role} to fail, got {rows!r}")


def rpc_outcome(
    conn: Conn, body: dict[str, Any], role: str, claims: Mapping[str, Any] | None
) -> dict[str, Any]:
    """Call the RPC; return ``{"ok": response}`` or ``{"error": {sqlstate, message, hint}}``."""
    try:
        return {"ok": call_rpc(conn, body, role, dict(claims or {}))}
    except psycopg.Error as exc:
        return {
            "error": {
                "sqlstate": exc.diag.sqlstate,
                "message": exc.diag.message_primary,
                "hint": exc.diag.message_hint,
            }
        }


def scrub(response: Any, replacements: Mapping[str, str]) -> str:
    """The response as canonical JSON text with each key of ``replacements`` replaced.

    Longer strings are replaced first, so a phone is replaced before its digits.
    """
    text = json.dumps(response, sort_keys=True, ensure_ascii=False)
    for old in sorted(replacements, key=len, reverse=True):
        text = text.replace(old, replacements[old])
    return text


def phone_digits(e164: str) -> list[str]:
    """Spellings of a phone that would betray it in text: E.164, all digits, national part."""
    digits = e164.lstrip("+")
    national = digits[1:] if digits.startswith("1") else digits
    return [e164, digits, national, national[-7:]]


def leaked(response: Any, secrets: Sequence[str]) -> list[str]:
    """The secrets (case-insensitive) that occur anywhere in the response's JSON text."""
    text = json.dumps(response, ensure_ascii=False).lower()
    return [secret for secret in secrets if secret and secret.lower() in text]


def rows_of(conn: Conn, query: str, params: Sequence[Any] | None = None) -> list[str]:
    """Rows of ``query`` (run as the superuser) as sorted text, for before/after checks."""
    return sorted(str(row) for row in conn.execute(query, params).fetchall())


def customer_state(conn: Conn, customer_id: Any) -> dict[str, list[str]]:
    """Everything the kit holds about one account: its row, identifiers and orders."""
    return {
        "customer": rows_of(
            conn, "select c::text from public.customers as c where id = %s", [customer_id]
        ),
        "identifiers": rows_of(
            conn,
            "select ci::text from customer_management.customer_identifiers as ci where "
            "customer_id = %s",
            [customer_id],
        ),
        "orders": rows_of(
            conn, "select o::text from public.orders as o where customer_id = %s", [customer_id]
        ),
    }


def add_order(conn: Conn, customer_id: Any, total: str = "12.50") -> str:
    """Insert an order for a customer as the superuser; return its id as text."""
    row = conn.execute(
        "insert into public.orders (customer_id, items, total, status) "
        "values (%s, '[{\"sku\": \"pizza\"}]', %s, 'delivered') returning id::text",
        (customer_id, total),
    ).fetchone()
    assert row is not None
    return str(row[0])


def wal_insert_lsn(conn: Conn) -> int:
    """The current WAL insert position as a byte offset (readable by every role)."""
    row = conn.execute(
        "select pg_catalog.pg_current_wal_insert_lsn() - '0/0'::pg_catalog.pg_lsn"
    ).fetchone()
    assert row is not None
    return int(row[0])
