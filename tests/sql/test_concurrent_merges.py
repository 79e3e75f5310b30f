"""Concurrent merges that share accounts but no identifiers.

Per group, three accounts exist: Y (email E), Z (phone Q) and, created last so that it is
the one merged away, X (phone P and email F). Four requests then race on different
connections: {P, E, mergeIfFound}, {F, Q, mergeIfFound}, {P, allergies} and {F, firstName}.
No two of them share an identifier, so the advisory locks do not order them; the row locks
and the re-check for accounts merged meanwhile must. Afterwards each group is one live
account holding P, Q, E and F plus the allergy and the name, identifiers sit only on live
accounts, and no call failed.
"""

from __future__ import annotations

import queue
import threading
from typing import Any

import psycopg

from support.helpers import call_rpc
from support.reads import set_settings

Conn = psycopg.Connection[Any]
GROUPS = 40
WORKERS = 8


def _group(n: int) -> dict[str, str]:
    return {
        "P": f"+1212{3_000_000 + n:07d}",
        "Q": f"+1213{3_000_000 + n:07d}",
        "E": f"e{n}@mail.com",
        "F": f"f{n}@mail.com",
    }


def _race(db_url: str, bodies: list[dict[str, Any]]) -> list[BaseException]:
    """Send ``bodies`` from ``WORKERS`` connections; return what failed."""
    work: queue.Queue[dict[str, Any]] = queue.Queue()
    for body in bodies:
        work.put(body)
    failures: list[BaseException] = []

    def worker() -> None:
        with psycopg.connect(db_url, autocommit=True) as own:
            while True:
                try:
                    body = work.get_nowait()
                except queue.Empty:
                    return
                try:
                    call_rpc(own, body)
                except psycopg.Error as exc:
                    failures.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(WORKERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return failures


def test_overlapping_merges_leave_one_live_account_per_group(conn: Conn, db_url: str) -> None:
    """Every group ends as one live account with everything; no call fails."""
    set_settings(conn, rate_limit_per_identifier_per_minute=10_000)
    for n in range(GROUPS):
        ids = _group(n)
        call_rpc(conn, {"email": ids["E"], "source": "webapp"})
        call_rpc(conn, {"phone": ids["Q"], "source": "webapp"})
        call_rpc(conn, {"phone": ids["P"], "email": ids["F"], "source": "webapp"})

    bodies: list[dict[str, Any]] = []
    for n in range(GROUPS):
        ids = _group(n)
        bodies += [
            {"phone": ids["P"], "email": ids["E"], "mergeIfFound": True, "source": "webapp"},
            {"email": ids["F"], "phone": ids["Q"], "mergeIfFound": True, "source": "webapp"},
            {"phone": ids["P"], "allergies": [f"allergy{n}"], "source": "webapp"},
            {"email": ids["F"], "firstName": f"Member{n}", "source": "webapp"},
        ]
    assert _race(db_url, bodies) == []

    for n in range(GROUPS):
        ids = _group(n)
        owners = conn.execute(
            "select distinct ci.customer_id, c.merged_into is null, c.first_name, c.allergies "
            "from customer_management.customer_identifiers as ci "
            "join public.customers as c on c.id = ci.customer_id "
            "where ci.status = 'active' and ci.value = any(%s)",
            ([ids["P"], ids["Q"], ids["E"], ids["F"]],),
        ).fetchall()
        assert len(owners) == 1, (n, owners)
        _, live, first_name, allergies = owners[0]
        assert live
        assert first_name == f"Member{n}"
        assert allergies == [f"allergy{n}"]

    on_tombstones = conn.execute(
        "select count(*) from customer_management.customer_identifiers as ci "
        "join public.customers as c on c.id = ci.customer_id "
        "where ci.status = 'active' and c.merged_into is not null"
    ).fetchone()
    assert on_tombstones == (0,)
    live = conn.execute("select count(*) from public.customers where merged_into is null")
    assert live.fetchone() == (GROUPS,)
    merges = conn.execute("select count(*) from customer_management.merge_log").fetchone()
    assert merges == (2 * GROUPS,)
