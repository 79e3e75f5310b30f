"""Helpers for the resolution tests: direct reads of the private tables, orders, a second
fresh database, and comparing responses with ids normalised away.

They complement ``helpers.py`` (RPC calls, auth users, snapshots) and read everything as
the superuser, never through the API roles.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

import psycopg
from psycopg import sql

from support.helpers import cloned_database

Conn = psycopg.Connection[Any]
Json = Any

PHONE = "+15551234567"


def one(conn: Conn, query: str, params: tuple[Any, ...] = ()) -> Any:
    """The single value of a one-row, one-column query."""
    row = conn.execute(query, params).fetchone()
    assert row is not None, query
    return row[0]


def customer(conn: Conn, customer_id: str | uuid.UUID) -> dict[str, Any]:
    """A customer row as JSON (what ``to_jsonb`` gives, the format of the merge log)."""
    row = one(conn, "select to_jsonb(c) from public.customers as c where c.id = %s", (customer_id,))
    assert isinstance(row, dict)
    return row


def identifiers(conn: Conn, customer_id: str | uuid.UUID) -> list[dict[str, Any]]:
    """All identifier rows of one customer, by id, as JSON."""
    rows = conn.execute(
        "select to_jsonb(ci) from customer_management.customer_identifiers as ci "
        "where ci.customer_id = %s order by ci.id",
        (customer_id,),
    ).fetchall()
    return [row[0] for row in rows]


def identifier_set(conn: Conn, customer_id: str | uuid.UUID) -> set[tuple[str, str, str]]:
    """The (type, value, status) triples a customer holds."""
    rows = conn.execute(
        "select type, value, status from customer_management.customer_identifiers where "
        "customer_id = %s",
        (customer_id,),
    ).fetchall()
    return {(row[0], row[1], row[2]) for row in rows}


def owner_of(conn: Conn, id_type: str, value: str) -> str | None:
    """The customer id holding an active identifier, or None."""
    row = conn.execute(
        "select customer_id::text from customer_management.customer_identifiers "
        "where type = %s and value = %s and status = 'active'",
        (id_type, value),
    ).fetchone()
    return None if row is None else str(row[0])


def count_customers(conn: Conn, live_only: bool = True) -> int:
    """How many customer rows exist (live ones only by default)."""
    where = " where merged_into is null" if live_only else ""
    return int(one(conn, "select count(*) from public.customers" + where))


def stored_values(conn: Conn) -> set[str]:
    """Every identifier value and display value stored, any status."""
    rows = conn.execute(
        "select value, display_value from customer_management.customer_identifiers"
    ).fetchall()
    return {v for row in rows for v in row}


def insert_order(
    conn: Conn,
    customer_id: str | uuid.UUID,
    created_at: dt.datetime,
    total: str = "10.00",
    status: str = "delivered",
    items: list[dict[str, Any]] | None = None,
    delivery_date: dt.date | None = None,
) -> str:
    """Insert an order as the superuser; return its id."""
    order_id = one(
        conn,
        "insert into public.orders (customer_id, items, total, status, delivery_date, "
        "created_at, updated_at) values (%s, %s::jsonb, %s, %s, %s, %s, %s) returning id::text",
        (
            customer_id,
            json.dumps(items if items is not None else [{"sku": "berry-box", "qty": 1}]),
            Decimal(total),
            status,
            delivery_date,
            created_at,
            created_at,
        ),
    )
    return str(order_id)


def set_settings(conn: Conn, **values: Any) -> None:
    """Update columns of the single ``customer_management.settings`` row."""
    assignments = sql.SQL(", ").join(
        sql.SQL("{} = {}").format(sql.Identifier(name), sql.Literal(value))
        for name, value in values.items()
    )
    conn.execute(sql.SQL("update customer_management.settings set {}").format(assignments))


def notice_codes(response: dict[str, Any]) -> list[str]:
    """The ``code`` of every notice in a response (empty when there is no ``notices`` key)."""
    return [notice["code"] for notice in response.get("notices", [])]


def without(response: dict[str, Any], *keys: str) -> dict[str, Any]:
    """A shallow copy of ``response`` without ``keys``."""
    return {key: value for key, value in response.items() if key not in keys}


def replace_strings(value: Json, mapping: dict[str, str]) -> Json:
    """``value`` with every string equal to a key of ``mapping`` replaced by its value."""
    if isinstance(value, dict):
        return {key: replace_strings(item, mapping) for key, item in value.items()}
    if isinstance(value, list):
        return [replace_strings(item, mapping) for item in value]
    if isinstance(value, str):
        return mapping.get(value, value)
    return value


@contextmanager
def fresh_database(server_url: str, template_db: str) -> Iterator[Conn]:
    """A second freshly migrated database (copy of the template) with its own connection.

    For comparing what a caller sees in two worlds that differ only in one fact.
    """
    with (
        cloned_database(server_url, template_db, "test_extra") as url,
        psycopg.connect(url, autocommit=True) as connection,
    ):
        yield connection
