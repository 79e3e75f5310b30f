"""How the batch commands name accounts to a person: legacy ids and names beside the UUIDs.

A plan or a list of possible duplicates names accounts by id; reading it before acting is
only possible when each id comes with what the shop knows it by (the legacy ids an import
recorded, the name, the contact data) and, for a group to merge, why the survivor is the
survivor (``survivor_rule``: the fixed rule of ``choose_survivor``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import psycopg

Conn = psycopg.Connection[Any]

ACCOUNTS_QUERY = """
select
    c.id::text,
    c.first_name,
    c.last_name,
    c.email,
    c.phone,
    c.auth_user_id is not null,
    c.created_at,
    customer_management.legacy_ids_of(c.id)
from public.customers as c
where c.id = any(%s::uuid[])
"""


@dataclass(frozen=True)
class Account:
    """One account as the batch commands show it."""

    id: str
    first_name: str | None
    last_name: str | None
    email: str | None
    phone: str | None
    login: bool
    created_at: dt.datetime
    legacy_ids: tuple[str, ...]

    @property
    def name(self) -> str:
        """First and last name, or "(no name)"."""
        return " ".join(n for n in (self.first_name, self.last_name) if n) or "(no name)"

    def label(self) -> str:
        """One line: legacy ids, name, contact data, id."""
        legacy = ", ".join(self.legacy_ids) if self.legacy_ids else "no legacy id"
        contact = " ".join(c for c in (self.email, self.phone) if c) or "no contact data"
        return f"{legacy}: {self.name}, {contact} ({self.id})"

    def as_json(self) -> dict[str, Any]:
        """The account for ``--json``."""
        return {
            "id": self.id,
            "legacyIds": list(self.legacy_ids),
            "firstName": self.first_name,
            "lastName": self.last_name,
            "email": self.email,
            "phone": self.phone,
            "login": self.login,
            "createdAt": self.created_at.isoformat(),
        }


def read_accounts(conn: Conn, ids: Iterable[str]) -> dict[str, Account]:
    """The accounts of these ids, by id (in chunks, so a large plan stays one round trip per
    ten thousand accounts)."""
    wanted = list(dict.fromkeys(ids))
    found: dict[str, Account] = {}
    for start in range(0, len(wanted), 10_000):
        rows = conn.execute(ACCOUNTS_QUERY, (wanted[start : start + 10_000],)).fetchall()
        for row in rows:
            found[row[0]] = Account(
                id=row[0],
                first_name=row[1],
                last_name=row[2],
                email=row[3],
                phone=row[4],
                login=row[5],
                created_at=row[6],
                legacy_ids=tuple(row[7]),
            )
    return found


def survivor_rule(survivor: Account, others: Iterable[Account]) -> str:
    """Which part of the fixed rule picked ``survivor`` over ``others`` (choose_survivor: the
    account with a login, else the oldest, else the smallest id)."""
    rest = list(others)
    if survivor.login:
        return "the account with a login"
    if all(survivor.created_at < other.created_at for other in rest):
        return "the oldest account"
    return "the smallest id among the oldest (same created_at)"
