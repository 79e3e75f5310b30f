"""Lifecycle requests that wait for a concurrent change of the same person.

The kill-mid-load chaos run (tests/chaos) sends merges, undos and erasures from several
connections at once; these races showed up there, in check_invariants() or as errors,
before the kit looked again after locking. Each test replays one step by step: a first
request holds its accounts' row locks, uncommitted; a second request starts and waits for
them; the first commits.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from typing import Any

import psycopg

from customer_management.local.rpc_session import acting_as
from support.helpers import call_rpc
from support.lifecycle import rpc
from support.reads import one

Conn = psycopg.Connection[Any]
Outcome = dict[str, Any]


def wait_until_blocked(conn: Conn, application_name: str) -> None:
    """Wait until the session named ``application_name`` waits for a lock."""
    for _ in range(500):
        waiting = one(
            conn,
            "select count(*) from pg_stat_activity where application_name = %s "
            "and wait_event_type = 'Lock'",
            (application_name,),
        )
        if waiting:
            return
        time.sleep(0.01)
    raise AssertionError(f"{application_name} never waited for a lock")


def while_holding(
    conn: Conn, db_url: str, first: Callable[[Conn], Any], second: Callable[[Conn], Any]
) -> tuple[Any, Outcome]:
    """Run ``first`` in a service-role transaction and keep it open; run ``second`` on
    its own connection; commit ``first`` once ``second`` waits for it. Returns what
    ``first`` answered and what ``second`` answered (or its error)."""
    outcome: Outcome = {}

    def run() -> None:
        with psycopg.connect(db_url, autocommit=True, application_name="racer") as own:
            try:
                outcome["answer"] = second(own)
            except psycopg.Error as error:
                outcome["error"] = (error.sqlstate, error.diag.message_primary)

    with psycopg.connect(db_url, autocommit=True) as holder:
        with acting_as(holder, "service_role") as acting:
            answer = first(acting)
            racer = threading.Thread(target=run)
            racer.start()
            wait_until_blocked(conn, "racer")
        racer.join(timeout=30)
    return answer, outcome


def merging(body: dict[str, Any]) -> Callable[[Conn], list[int]]:
    """A mergeIfFound request, inside the caller's transaction; its merge ids."""

    def run(acting: Conn) -> list[int]:
        row = acting.execute(
            "select public.customer_management(%s::jsonb)",
            (json.dumps({**body, "mergeIfFound": True}),),
        ).fetchone()
        assert row is not None
        merge_ids = [i for n in row[0].get("notices", []) for i in n.get("mergeIds", [])]
        assert merge_ids, row[0]
        return merge_ids

    return run


def erasing(customer_id: str) -> Callable[[Conn], Any]:
    """erase_customer of one id, inside the caller's transaction."""

    def run(acting: Conn) -> Any:
        row = acting.execute(
            "select public.erase_customer(customer_id => %s)", (customer_id,)
        ).fetchone()
        return None if row is None else row[0]

    return run


def violations(conn: Conn) -> list[tuple[str, Any]]:
    """What check_invariants reports."""
    return [
        (str(r[0]), r[1])
        for r in conn.execute("select * from customer_management.check_invariants()").fetchall()
    ]


def two_accounts(conn: Conn, phone: str, email: str) -> tuple[str, str]:
    """A chatbot account (older: the survivor of their merge) and a web account."""
    older = call_rpc(conn, {"phone": phone, "source": "chatbot"})["customer"]["id"]
    newer = call_rpc(conn, {"email": email, "source": "webapp"})["customer"]["id"]
    return older, newer


def left(conn: Conn, ids: list[str]) -> int:
    """How many of these accounts exist."""
    return int(
        one(conn, "select count(*) from public.customers where id = any(%s::uuid[])", (ids,))
    )


def test_erasure_of_the_survivor_waiting_for_a_merge_erases_both(conn: Conn, db_url: str) -> None:
    """Erasing the survivor while the merge commits: both accounts go."""
    older, newer = two_accounts(conn, "+15556090001", "race@mail.com")
    _, outcome = while_holding(
        conn,
        db_url,
        merging({"phone": "+15556090001", "email": "race@mail.com", "source": "webapp"}),
        lambda own: rpc(own, "erase_customer", {"customer_id": older}),
    )
    assert "error" not in outcome, outcome
    assert sorted(outcome["answer"]["customerIds"]) == sorted([older, newer])
    assert left(conn, [older, newer]) == 0
    assert violations(conn) == []


def test_erasure_of_the_merged_account_waiting_for_its_merge_erases_the_person(
    conn: Conn, db_url: str
) -> None:
    """Erasing the account being merged away: the person is erased, survivor included."""
    older, newer = two_accounts(conn, "+15556090021", "gone@mail.com")
    _, outcome = while_holding(
        conn,
        db_url,
        merging({"phone": "+15556090021", "email": "gone@mail.com", "source": "webapp"}),
        lambda own: rpc(own, "erase_customer", {"customer_id": newer}),
    )
    assert "error" not in outcome, outcome
    assert left(conn, [older, newer]) == 0, violations(conn)
    assert violations(conn) == []


def test_a_second_erasure_waiting_for_the_first_erases_nothing_again(
    conn: Conn, db_url: str
) -> None:
    """Two erasures of one person at once: the second answers not_found and records
    nothing."""
    person = call_rpc(conn, {"phone": "+15556090031", "source": "chatbot"})["customer"]["id"]
    _, outcome = while_holding(
        conn,
        db_url,
        erasing(person),
        lambda own: rpc(own, "erase_customer", {"customer_id": person}),
    )
    assert outcome.get("error") == ("PT404", "not_found"), (outcome, violations(conn))
    assert violations(conn) == []


def test_undo_waiting_for_a_merge_built_on_it_is_refused(conn: Conn, db_url: str) -> None:
    """Merge 1 takes d's email into s. While merge 2 (w into s) holds s, an undo of merge
    1 starts and waits. Merge 2 builds on merge 1, so the undo is refused like any undo
    with later merges on it."""
    survivor, _ = two_accounts(conn, "+15556090011", "d@mail.com")
    call_rpc(conn, {"email": "w@mail.com", "source": "webapp"})
    first = call_rpc(
        conn,
        {"phone": "+15556090011", "email": "d@mail.com", "source": "webapp", "mergeIfFound": True},
    )
    (first_merge,) = [i for n in first["notices"] for i in n.get("mergeIds", [])]
    assert first["customer"]["id"] == survivor

    (second_merge,), outcome = while_holding(
        conn,
        db_url,
        merging({"phone": "+15556090011", "email": "w@mail.com", "source": "webapp"}),
        lambda own: rpc(own, "undo_merge", {"merge_id": first_merge}),
    )
    assert outcome.get("error") == ("PT409", "undo_blocked_by_later_merges"), (
        outcome,
        violations(conn),
    )
    rpc(conn, "undo_merge", {"merge_id": second_merge})
    rpc(conn, "undo_merge", {"merge_id": first_merge})
    assert violations(conn) == []


def test_a_merge_waiting_for_an_erasure_of_one_account_resolves_again(
    conn: Conn, db_url: str
) -> None:
    """A merge of two accounts waits while one of them is being erased: once the erasure
    commits, the request resolves again and finds only the account that is left."""
    older, newer = two_accounts(conn, "+15556090041", "left@mail.com")
    _, outcome = while_holding(
        conn,
        db_url,
        erasing(older),
        lambda own: call_rpc(
            own,
            {
                "phone": "+15556090041",
                "email": "left@mail.com",
                "source": "webapp",
                "mergeIfFound": True,
            },
        ),
    )
    assert "error" not in outcome, outcome
    assert outcome["answer"]["customer"]["id"] == newer
    assert left(conn, [older, newer]) == 1
    assert violations(conn) == []
