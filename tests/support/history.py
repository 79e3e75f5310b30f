"""A realistic history of one shop, made through the kit's own entry points, for the
invariant tests: accounts on both channels, orders, conflicts resolved every way, merges
(also through a chain of tombstones), undos (also cascaded), erasures, a deleted login,
expired claims, an import of legacy customers and a batch dedupe.

``build_history`` returns the ids the tests need to break one promise at a time.
"""

from __future__ import annotations

import csv
import datetime as dt
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg

from customer_management.batch import dedupe
from customer_management.batch.importer import Source, run_import
from customer_management.batch.progress import Progress
from support.helpers import call_rpc, create_auth_user
from support.lifecycle import rpc
from support.reads import insert_order, one

Conn = psycopg.Connection[Any]
START = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)


@dataclass
class History:
    """Handles into the history: accounts, merges and orders of each kind."""

    standing_merge: int  # a merge nothing undid (moved an order and identifiers)
    standing_survivor: str
    standing_tombstone: str
    moved_order: str  # an order that merge moved
    moved_identifier: int  # an identifier row that merge moved
    undone_merge: int  # a merge undone on its own (its accounts are live again)
    cascaded_merge: int  # a merge undone by a cascade from another undo
    erased_accounts: list[str]  # every account of one erased person (a chain of merges)
    live_account: str  # an account untouched by merges
    bare_account: str  # a live account without orders, merges or conflicts
    merges: int
    undos: int
    erasures: int


def merge_ids_of(answer: dict[str, Any]) -> list[int]:
    """The merge ids in a customer_management answer's notices."""
    return [i for n in answer.get("notices", []) for i in n.get("mergeIds", [])]


def create(conn: Conn, body: dict[str, Any]) -> str:
    """Create (or find) an account; its id."""
    answer = call_rpc(conn, body)
    return str(answer["customer"]["id"])


def merge(conn: Conn, body: dict[str, Any]) -> tuple[str, list[int]]:
    """A trusted request with mergeIfFound; the survivor and the merge ids."""
    answer = call_rpc(conn, {**body, "mergeIfFound": True})
    ids = merge_ids_of(answer)
    assert ids, answer
    return str(answer["customer"]["id"]), ids


def conflict(conn: Conn, body: dict[str, Any]) -> str:
    """A trusted request without mergeIfFound that meets several accounts; the conflict."""
    answer = call_rpc(conn, body)
    assert answer.get("error") == "Account conflict", answer
    return str(answer["conflictId"])


def import_and_dedupe(conn: Conn, url: str) -> None:
    """Legacy customers, some sharing a phone with each other and with an online account,
    imported from a CSV file, then deduplicated with the batch command's driver."""
    with tempfile.TemporaryDirectory(prefix="cm-history-") as folder:
        path = Path(folder) / "legacy.csv"
        with path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(
                ["legacy_id", "first_name", "last_name", "phone", "email", "created_at"]
            )
            writer.writerow(["L1", "Ola", "Berg", "+15556070001", "ola@old-shop.com", "2019-01-02"])
            writer.writerow(["L2", "Ola", "Berg", "+15556070001", "", "2019-05-02"])
            writer.writerow(["L3", "Per", "Lund", "+15556070003", "per@old-shop.com", "2020-01-01"])
            writer.writerow(["L4", "Amy", "Hart", "+15556070004", "amy@mail.com", "2018-01-01"])
        with Progress(enabled=False) as progress:
            run_import(url, Source(path=path), None, Path(folder) / "rejects.csv", progress)
            result = dedupe.apply(url, progress)
    assert result.merge_ids, result.as_json()


def build_history(conn: Conn, url: str) -> History:
    """Make the history described in the module docstring; return its handles."""
    day = dt.timedelta(days=1)
    bare = create(conn, {"phone": "+15556070100", "source": "chatbot"})

    # A phone account and a web account in conflict, resolved by merging: the web account's
    # order moves.
    phone_account = create(conn, {"phone": "+15556070101", "firstName": "Kim", "source": "chatbot"})
    email_account = create(conn, {"email": "kim@mail.com", "source": "webapp"})
    insert_order(conn, phone_account, START)
    moved_order = insert_order(conn, email_account, START + day)
    conflict_id = conflict(
        conn, {"phone": "+15556070101", "email": "kim@mail.com", "source": "webapp"}
    )
    resolved = rpc(
        conn, "resolve_conflict", {"conflict_id": conflict_id, "action": "merge", "reason": "same"}
    )
    (standing,) = resolved["mergeIds"]
    insert_order(conn, phone_account, START + 2 * day)
    moved_identifier = one(
        conn,
        "select moved_identifier_ids[1] from customer_management.merge_log where id = %s",
        (standing,),
    )

    # Kept separate, and escalated.
    create(conn, {"phone": "+15556070102", "source": "chatbot"})
    create(conn, {"email": "twin@mail.com", "source": "webapp"})
    separate = conflict(
        conn, {"phone": "+15556070102", "email": "twin@mail.com", "source": "webapp"}
    )
    rpc(conn, "resolve_conflict", {"conflict_id": separate, "action": "keep_separate"})
    create(conn, {"phone": "+15556070103", "source": "chatbot"})
    create(conn, {"email": "esc@mail.com", "source": "webapp"})
    escalated = conflict(
        conn, {"phone": "+15556070103", "email": "esc@mail.com", "source": "webapp"}
    )
    rpc(conn, "resolve_conflict", {"conflict_id": escalated, "action": "escalate"})

    # A merge undone on its own; the restored accounts get on with their lives.
    live = create(conn, {"phone": "+15556070104", "firstName": "Lou", "source": "chatbot"})
    other = create(conn, {"email": "lou@mail.com", "source": "webapp"})
    insert_order(conn, other, START + 3 * day)
    _, (undone,) = merge(
        conn, {"phone": "+15556070104", "email": "lou@mail.com", "source": "webapp"}
    )
    rpc(conn, "undo_merge", {"merge_id": undone, "reason": "two people"})
    call_rpc(conn, {"phone": "+15556070104", "lastName": "Ng", "source": "chatbot"})

    # A merge built on another one, undone by a cascade.
    create(conn, {"phone": "+15556070105", "source": "chatbot"})
    create(conn, {"email": "ria@mail.com", "source": "webapp"})
    _, (first,) = merge(
        conn, {"phone": "+15556070105", "email": "ria@mail.com", "source": "webapp"}
    )
    create(conn, {"email": "ria2@mail.com", "source": "webapp"})
    _, (second,) = merge(
        conn, {"phone": "+15556070105", "email": "ria2@mail.com", "source": "webapp"}
    )
    cascade = rpc(conn, "undo_merge", {"merge_id": first, "cascade": True, "reason": "oops"})
    assert cascade["undoneMergeIds"] == [second, first], cascade

    # An email and an order moved twice (q -> p, then p -> r), both merges undone in turn:
    # they go back to their first owner, not to the account the later merge took them from.
    create(conn, {"phone": "+15556070109", "source": "chatbot"})
    create(conn, {"phone": "+15556070110", "source": "chatbot"})
    first_owner = create(conn, {"email": "twice@mail.com", "source": "webapp"})
    insert_order(conn, first_owner, START + 5 * day)
    _, (inner,) = merge(
        conn, {"phone": "+15556070110", "email": "twice@mail.com", "source": "webapp"}
    )
    _, (outer,) = merge(
        conn, {"phone": "+15556070109", "email": "twice@mail.com", "source": "webapp"}
    )
    rpc(conn, "undo_merge", {"merge_id": outer, "reason": "not them"})
    rpc(conn, "undo_merge", {"merge_id": inner, "reason": "nor them"})

    # A chain of tombstones (a -> b -> c), then the person is erased with all of it.
    oldest = create(conn, {"phone": "+15556070106", "source": "chatbot"})
    middle = create(conn, {"phone": "+15556070107", "source": "chatbot"})
    newest = create(conn, {"email": "zed@mail.com", "source": "webapp"})
    insert_order(conn, newest, START + 4 * day)
    middle_id, _ = merge(
        conn, {"phone": "+15556070107", "email": "zed@mail.com", "source": "webapp"}
    )
    assert middle_id == middle
    chained = conflict(conn, {"phone": "+15556070106", "email": "zed@mail.com", "source": "webapp"})
    rpc(conn, "resolve_conflict", {"conflict_id": chained, "action": "merge"})
    rpc(conn, "erase_customer", {"customer_id": newest, "reason": "asked to"})

    # An end user's own account; their login is deleted later (the account stays).
    user_id, claims = create_auth_user(conn, email="web@mail.com")
    call_rpc(conn, {"email": "web@mail.com", "source": "webapp"}, "authenticated", claims)
    conn.execute("delete from auth.users where id = %s", (user_id,))

    # A chatbot caller's claimed email (pending), expired by maintenance.
    call_rpc(conn, {"phone": "+15556070108", "email": "claim@mail.com", "source": "chatbot"})
    conn.execute(
        "update customer_management.customer_identifiers set created_at = now() - interval "
        "'91 days' where value = 'claim@mail.com'"
    )
    rpc_maintenance = one(conn, "select customer_management.run_maintenance()")
    assert rpc_maintenance["pendingIdentifiersExpired"] >= 1, rpc_maintenance

    # Legacy customers: one shares a web customer's email, two share a phone.
    create(conn, {"email": "amy@mail.com", "source": "webapp"})
    import_and_dedupe(conn, url)

    counts = conn.execute(
        "select (select count(*) from customer_management.merge_log), "
        "(select count(*) from customer_management.merge_undos), "
        "(select count(*) from public.customer_events where event = 'erased')"
    ).fetchone()
    assert counts is not None
    return History(
        standing_merge=standing,
        standing_survivor=phone_account,
        standing_tombstone=email_account,
        moved_order=moved_order,
        moved_identifier=int(moved_identifier),
        undone_merge=undone,
        cascaded_merge=second,
        erased_accounts=sorted([oldest, middle, newest]),
        live_account=live,
        bare_account=bare,
        merges=int(counts[0]),
        undos=int(counts[1]),
        erasures=int(counts[2]),
    )
