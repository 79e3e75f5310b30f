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
from support.helpers import call_rpc, create_auth_user
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


def while_holding_all(
    conn: Conn, db_url: str, first: Callable[[Conn], Any], racers: list[Callable[[Conn], Any]]
) -> tuple[Any, list[Outcome]]:
    """Run ``first`` in a service-role transaction and keep it open; run each racer on its
    own connection; commit ``first`` once every racer waits for a lock. Returns what
    ``first`` answered and what each racer answered (or its error)."""
    outcomes: list[Outcome] = [{} for _ in racers]

    def run(number: int) -> None:
        name = f"racer-{number}"
        with psycopg.connect(db_url, autocommit=True, application_name=name) as own:
            try:
                outcomes[number]["answer"] = racers[number](own)
            except psycopg.Error as error:
                outcomes[number]["error"] = (error.sqlstate, error.diag.message_primary)

    threads = [threading.Thread(target=run, args=(n,)) for n in range(len(racers))]
    with psycopg.connect(db_url, autocommit=True) as holder:
        with acting_as(holder, "service_role") as acting:
            answer = first(acting)
            for number, thread in enumerate(threads):
                thread.start()
                wait_until_blocked(conn, f"racer-{number}")
        for thread in threads:
            thread.join(timeout=30)
    return answer, outcomes


def while_holding(
    conn: Conn, db_url: str, first: Callable[[Conn], Any], second: Callable[[Conn], Any]
) -> tuple[Any, Outcome]:
    """``while_holding_all`` with one racer: what ``first`` and ``second`` answered."""
    answer, (outcome,) = while_holding_all(conn, db_url, first, [second])
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


def test_an_erasure_and_an_undo_waiting_for_one_merge_do_not_deadlock(
    conn: Conn, db_url: str
) -> None:
    """Merge 0 took x into t; merge 1 (s into t) holds t and s. An erasure of s and an
    undo of merge 0 both wait for it; once it commits, each finds its list of accounts
    grew. Each starts over with the whole list locked in id order, so neither holds a row
    the other waits for: both end with one of their documented answers, never a
    deadlock."""
    t = call_rpc(conn, {"phone": "+15556090051", "source": "chatbot"})["customer"]["id"]
    x = call_rpc(conn, {"email": "x51@mail.com", "source": "webapp"})["customer"]["id"]
    call_rpc(conn, {"email": "s51@mail.com", "source": "webapp"})
    first = call_rpc(
        conn,
        {
            "phone": "+15556090051",
            "email": "x51@mail.com",
            "source": "webapp",
            "mergeIfFound": True,
        },
    )
    (merge_zero,) = [i for n in first["notices"] for i in n.get("mergeIds", [])]
    assert first["customer"]["id"] == t
    s_id = one(
        conn,
        "select customer_id from customer_management.customer_identifiers "
        "where type = 'email' and value = 's51@mail.com'",
    )
    _, (erased, undone) = while_holding_all(
        conn,
        db_url,
        merging({"phone": "+15556090051", "email": "s51@mail.com", "source": "webapp"}),
        [
            lambda own: rpc(own, "erase_customer", {"customer_id": str(s_id)}),
            lambda own: rpc(own, "undo_merge", {"merge_id": merge_zero, "cascade": True}),
        ],
    )
    outcome = {"erasure": erased, "undo": undone}
    assert "error" not in erased, outcome
    assert str(s_id) in erased["answer"]["customerIds"], outcome
    assert left(conn, [str(s_id)]) == 0
    if "error" in undone:
        # The erasure went first: the whole person (t, x and s) is gone, and so is what
        # the undo would have restored.
        assert undone["error"] == ("PT409", "customer_erased"), outcome
        assert left(conn, [t, x]) == 0
    else:
        # The undo went first: t and x are apart again and stay; s alone was erased.
        assert erased["answer"]["customerIds"] == [str(s_id)], outcome
        assert left(conn, [t, x]) == 2
    assert violations(conn) == []


def test_deleting_a_login_waiting_for_an_erasure_of_its_customer_succeeds(
    conn: Conn, db_url: str
) -> None:
    """With erase_on_auth_user_delete, deleting a login erases its customer. When an
    erasure of that customer commits while the delete waits, there is nothing left to
    erase, and the login goes all the same."""
    conn.execute("update customer_management.settings set erase_on_auth_user_delete = true")
    user_id, claims = create_auth_user(conn, email="leaving61@mail.com")
    customer = call_rpc(
        conn, {"email": "leaving61@mail.com", "source": "webapp"}, "authenticated", claims
    )["customer"]["id"]

    def delete_login(own: Conn) -> None:
        own.execute("delete from auth.users where id = %s", (user_id,))

    _, outcome = while_holding(conn, db_url, erasing(customer), delete_login)
    assert "error" not in outcome, outcome
    assert one(conn, "select count(*) from auth.users where id = %s", (user_id,)) == 0
    assert left(conn, [customer]) == 0
    assert violations(conn) == []


def test_an_update_waiting_for_an_erasure_of_its_account_resolves_again(
    conn: Conn, db_url: str
) -> None:
    """A returning caller adds their name while their account is being erased: once the
    erasure commits, the request resolves again and finds nothing, so it starts a fresh
    account, as any request after an erasure does."""
    person = call_rpc(conn, {"phone": "+15556090071", "source": "chatbot"})["customer"]["id"]
    # A fresh rate-limit window: the request then waits for the account's row, not for
    # the counter the erasure deletes.
    conn.execute("delete from customer_management.rate_limit_counters")
    _, outcome = while_holding(
        conn,
        db_url,
        erasing(person),
        lambda own: call_rpc(
            own, {"phone": "+15556090071", "firstName": "Ada", "source": "chatbot"}
        ),
    )
    assert "error" not in outcome, outcome
    fresh = outcome["answer"]["customer"]
    assert fresh["id"] != person and fresh["isNewAccount"] is True
    assert left(conn, [person]) == 0
    assert violations(conn) == []


def test_an_erasure_waiting_for_an_undo_erases_the_account_it_named(
    conn: Conn, db_url: str
) -> None:
    """s was merged into t. While an undo of that merge holds both, the service role asks to
    erase s, which today is part of t's person. Once the undo commits, s is a person of its
    own again: s is erased, and t, which the request did not name, stays."""
    t, s_id = two_accounts(conn, "+15556090081", "named81@mail.com")
    merged = call_rpc(
        conn,
        {
            "phone": "+15556090081",
            "email": "named81@mail.com",
            "source": "webapp",
            "mergeIfFound": True,
        },
    )
    (merge_id,) = [i for n in merged["notices"] for i in n.get("mergeIds", [])]

    def undoing(acting: Conn) -> Any:
        return acting.execute("select public.undo_merge(%s)", (merge_id,)).fetchone()

    _, outcome = while_holding(
        conn,
        db_url,
        undoing,
        lambda own: rpc(own, "erase_customer", {"customer_id": s_id}),
    )
    assert "error" not in outcome, outcome
    assert outcome["answer"]["customerIds"] == [s_id]
    assert left(conn, [s_id]) == 0 and left(conn, [t]) == 1
    assert violations(conn) == []
