"""One masking rule: the contract's ``x-masks``, applied by the database's ``mask_phone``
and ``mask_email`` and by the Python package (the chatbot tools) alike."""

from __future__ import annotations

import random
from typing import Any

import psycopg
import pytest

from customer_management import contract

Conn = psycopg.Connection[Any]


def samples(kind: str) -> list[str]:
    """Values of every shape the kit stores, and some it never does."""
    rng = random.Random(20261206)
    if kind == "phone":
        stored = [f"+{rng.randint(1, 9)}{rng.randrange(10**n):0{n}d}" for n in range(6, 15)] * 3
        odd = ["", "+", "+1", "12345", "123456", "\n+15551234567\n"]
    else:
        letters = "abcdefghijklmnopqrstuvwxyz.+_-0123456789"
        stored = [
            "".join(rng.choice(letters) for _ in range(rng.randint(1, 30)))
            + "@"
            + rng.choice(["gmail.com", "example.co.uk", "xn--bcher-kva.example"])
            for _ in range(40)
        ]
        odd = ["", "@", "@example.com", "no-at-sign", "a@", "a@b@c", "é@example.com"]
    return stored + odd


@pytest.mark.parametrize("kind", ["phone", "email"])
def test_the_database_and_python_mask_alike(conn: Conn, kind: str) -> None:
    values = samples(kind)
    rows = conn.execute(
        f"select v, customer_management.mask_{kind}(v) from unnest(%s::text[]) as v",
        (values,),
    ).fetchall()
    python = contract.mask_phone if kind == "phone" else contract.mask_email
    assert {value: masked for value, masked in rows} == {v: python(v) for v in values}
    assert conn.execute(f"select customer_management.mask_{kind}(null)").fetchone() == (None,)
    assert python(None) is None


@pytest.mark.parametrize("kind", ["phone", "email"])
def test_the_database_applies_the_contracts_expressions(conn: Conn, kind: str) -> None:
    rule = contract.schema()["x-masks"][kind]
    row = conn.execute(
        "select prosrc from pg_proc where oid = %s::regprocedure",
        (f"customer_management.mask_{kind}(text)",),
    ).fetchone()
    assert row is not None
    for part in ("pattern", "replacement", "otherwise"):
        assert f"'{rule[part]}'" in row[0], f"mask_{kind} does not apply x-masks.{kind}.{part}"


def test_the_masks_hide_what_they_promise() -> None:
    assert contract.mask_phone("+15551234567") == "+1******4567"
    assert contract.mask_phone("+442079460018") == "+4******0018"
    assert contract.mask_email("john.smith@email.com") == "j***@email.com"
    assert contract.mask_phone("123") == "******"
    assert contract.mask_email("not an email") == "***"
