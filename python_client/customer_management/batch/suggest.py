"""Possible duplicates for a DBA: find them afresh and read them as groups.

The work is the kit's SQL: ``refresh_possible_duplicates`` finds the pairs of live accounts
that are probably one person although no identifier ties them, scores them, groups them and
keeps them for support (the console's Possible duplicates); this module runs it and reads
the groups with each account's legacy ids and name. Nothing is merged: support decides,
pair by pair or group by group (``support_merge_duplicates``,
``support_keep_duplicates_apart``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import psycopg

from customer_management.batch.accounts import Account, read_accounts

DEFAULT_MIN_SCORE = 80
PAIRS_QUERY = """
select p.group_no, p.account_a::text, p.account_b::text, p.score, p.reasons
from customer_management.possible_duplicates as p
order by p.group_no, p.score desc, p.account_a, p.account_b
"""


@dataclass
class SuggestResult:
    """The groups found; ``as_json`` is the ``dedupe --suggest --json`` output."""

    summary: dict[str, Any]
    groups: list[dict[str, Any]] = field(default_factory=list)
    accounts: dict[str, Account] = field(default_factory=dict)
    seconds: float = 0.0

    def as_json(self) -> dict[str, Any]:
        """Counts, then every group with its accounts and pairs."""
        return {
            "suggestions": self.summary,
            "groups": [
                {
                    **group,
                    "accounts": [
                        self.accounts[a].as_json()
                        for a in group["accountIds"]
                        if a in self.accounts
                    ],
                }
                for group in self.groups
            ],
            "seconds": round(self.seconds, 3),
        }


def find(url: str, min_score: int = DEFAULT_MIN_SCORE, describe: bool = True) -> SuggestResult:
    """Find the possible duplicates afresh (kept for support), and read them as groups;
    ``describe`` also reads each account's legacy ids and name."""
    started = time.monotonic()
    with psycopg.connect(url, prepare_threshold=None) as conn:
        row = conn.execute(
            "select customer_management.refresh_possible_duplicates(%s)", (min_score,)
        ).fetchone()
        assert row is not None
        conn.commit()
        result = SuggestResult(row[0])
        by_number: dict[int, dict[str, Any]] = {}
        for number, a, b, score, reasons in conn.execute(PAIRS_QUERY, binary=True):
            group = by_number.get(number)
            if group is None:
                group = by_number[number] = {
                    "group": number,
                    "score": score,
                    "accountIds": [],
                    "pairs": [],
                }
                result.groups.append(group)
            for account in (a, b):
                if account not in group["accountIds"]:
                    group["accountIds"].append(account)
            group["pairs"].append(
                {"accountA": a, "accountB": b, "score": score, "reasons": list(reasons)}
            )
        if describe:
            result.accounts = read_accounts(
                conn, (a for g in result.groups for a in g["accountIds"])
            )
    result.seconds = time.monotonic() - started
    return result
