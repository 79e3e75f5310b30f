"""Deduplicating accounts in batch: the plan (a dry run that changes nothing) and applying it.

The work is the kit's SQL (``dedupe_plan``, ``plan_dedupe``, ``apply_dedupe_batch``,
``finish_dedupe``); this module only drives it. A dry run reads ``dedupe_plan``, which
writes nothing. Applying takes the run lease (``start_dedupe``; another run holding it is
waited for), plans afresh from the accounts as they are, then commits a few groups per
transaction, each renewing the lease: an interruption loses only the batch in flight, and
a rerun plans again from what is left (merged accounts are tombstones by then), so it
continues where the last run stopped.

Nothing depends on the connection between transactions (no session setting, no session
lock, no prepared statement), so the URL may be a pooler's in transaction mode.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Any
from uuid import UUID

import psycopg

from customer_management.batch.accounts import read_accounts, survivor_rule
from customer_management.batch.progress import Progress

Conn = psycopg.Connection[Any]
DEFAULT_BATCH_SIZE = 100
DEFAULT_MAX_GROUP_SIZE = 10
# A batch that lost a race with the online path (a member merged meanwhile, a deadlock)
# is retried from the start: its transaction rolled back whole.
RETRYABLE = (psycopg.errors.SerializationFailure, psycopg.errors.DeadlockDetected)
MAX_ATTEMPTS = 5
# While another applying run holds the lease, ask again this often.
LEASE_POLL_SECONDS = 1.0
# A run whose client died stops at the server's next check instead of finishing its batch.
CHECK_CLIENT_SQL = "select set_config('client_connection_check_interval', '1s', true)"

# The groups of a dry run, computed and read in one go (dedupe_plan writes nothing). They come
# in group order; the dry run sorts them again on arrival (linear on sorted rows), which is
# cheaper than the server sorting the function's whole result by group_no.
PLAN_QUERY = """
select p.group_no, p.planned, p.survivor_id::text, p.member_ids::text[], p.ties
from customer_management.dedupe_plan(%s) as p
"""
# The groups an applying run stored.
GROUPS_QUERY = """
select g.group_no, g.planned, g.survivor_id::text, g.member_ids::text[], g.ties
from customer_management.dedupe_groups as g
where g.run_id = %s
order by g.group_no
"""
# The held identifiers before a run, and how many of them are active after it: merges
# activate the survivor's held copy of what the merged account held, finish_dedupe the ones
# nobody else holds any more; both count as made active.
HELD_QUERY = """
select coalesce(array_agg(h.identifier_id), '{}')
from customer_management.import_held_identifiers as h
"""
HELD_ACTIVE_QUERY = """
select count(*) from customer_management.customer_identifiers as ci
where ci.id = any(%s) and ci.status = 'active'
"""
PLANNED = (
    "merge",
    "conflict",
    "contested",
    "kept_separate",
    "undone_before",
    "escalated",
    "too_large",
)


@dataclass
class DedupeResult:
    """A plan (and, once applied, what was done); ``as_json`` is the ``--json`` output."""

    applied: bool
    plan: dict[str, Any]
    groups: list[dict[str, Any]] = field(default_factory=list)
    totals: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def merge_ids(self) -> list[int]:
        """Every merge-log id the run made, in order."""
        return [m for g in self.groups for m in g.get("mergeIds") or []]

    def as_json(self) -> dict[str, Any]:
        """The result as ``dedupe --json`` prints it."""
        document: dict[str, Any] = {
            "dryRun": not self.applied,
            "plan": {k: v for k, v in self.plan.items() if k != "runId"},
            "groups": self.groups,
        }
        if self.applied:
            document["totals"] = self.totals
            document["mergeIds"] = self.merge_ids
        document["seconds"] = round(self.seconds, 3)
        return document


def _as_tie(tie: str) -> dict[str, Any]:
    """A tie "type value held/other" as JSON: the value, and how strongly the held account
    and the other account hold it (verified, vouched or claimed)."""
    kind, value, strengths = tie.split(" ", 2)
    held, _, other = strengths.partition("/")
    return {"type": kind, "value": value, "strengths": [held, other]}


def _as_groups(rows: Iterable[Any]) -> list[dict[str, Any]]:
    """Plan rows as JSON-ready dicts."""
    return [
        {
            "group": number,
            "planned": planned,
            "survivorId": survivor,
            "memberIds": members,
            "ties": [_as_tie(tie) for tie in ties],
        }
        for number, planned, survivor, members, ties in rows
    ]


def summarise(groups: list[dict[str, Any]]) -> dict[str, Any]:
    """The plan's counts, as plan_dedupe reports them for an applying run."""
    planned = dict.fromkeys(PLANNED, 0)
    identifiers = accounts = merges = 0
    for group in groups:
        size = len(group["memberIds"])
        identifiers += len(group["ties"])
        accounts += size
        decision = group["planned"]
        if decision in planned:
            planned[decision] += 1
        if decision == "merge":
            merges += size - 1
    return {
        "identifiers": identifiers,
        "accounts": accounts,
        "groups": len(groups),
        "planned": planned,
        "mergesPlanned": merges,
    }


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while a plan is read and shaped.

    A large plan is a few hundred thousand small lists, strings and dicts, none in a cycle;
    the collector would scan the growing heap over and over as they are made.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def dry_run(url: str, max_group_size: int = DEFAULT_MAX_GROUP_SIZE) -> DedupeResult:
    """The plan, computed by dedupe_plan, which only reads: nothing changes."""
    started = time.monotonic()
    with _gc_paused():
        with psycopg.connect(url, prepare_threshold=None) as conn:
            # Binary rows: the arrays are read without parsing their text form.
            rows = conn.execute(PLAN_QUERY, (max_group_size,), binary=True).fetchall()
            conn.rollback()
        rows.sort(key=itemgetter(0))
        groups = _as_groups(rows)
        result = DedupeResult(False, summarise(groups), groups)
    result.seconds = time.monotonic() - started
    return result


def apply(
    url: str,
    progress: Progress,
    max_group_size: int = DEFAULT_MAX_GROUP_SIZE,
    batch_size: int = DEFAULT_BATCH_SIZE,
    on_batch: Callable[[list[dict[str, Any]]], None] | None = None,
) -> DedupeResult:
    """Plan afresh and apply the plan in committed batches; return what was done."""
    started = time.monotonic()
    with psycopg.connect(url, autocommit=True, prepare_threshold=None) as conn:
        holder = _take_lease(conn)
        held_row = conn.execute(HELD_QUERY).fetchone()
        held_before: list[int] = held_row[0] if held_row else []
        with conn.transaction():
            conn.execute(CHECK_CLIENT_SQL)
            conn.execute("select customer_management.renew_dedupe_lease(%s)", (holder,))
            row = conn.execute(
                "select customer_management.plan_dedupe(%s)", (max_group_size,)
            ).fetchone()
            assert row is not None
            plan: dict[str, Any] = row[0]
        run_id = UUID(plan["runId"])
        result = DedupeResult(True, plan, _as_groups(conn.execute(GROUPS_QUERY, (run_id,))))
        by_number = {g["group"]: g for g in result.groups}
        with progress.step("merging groups", len(result.groups)) as bar:
            while True:
                done = _apply_batch(conn, run_id, holder, batch_size)
                if not done:
                    break
                for entry in done:
                    group = by_number[entry["group"]]
                    group.update(
                        outcome=entry["outcome"],
                        mergeIds=entry["mergeIds"],
                        conflictId=entry["conflictId"],
                    )
                    if entry["survivorId"]:
                        group["survivorId"] = entry["survivorId"]
                bar.advance(len(done))
                if on_batch is not None:
                    on_batch(done)
        with conn.transaction():
            row = conn.execute(
                "select customer_management.finish_dedupe(%s, %s)", (run_id, holder)
            ).fetchone()
            assert row is not None
            result.totals = row[0]
        active = conn.execute(HELD_ACTIVE_QUERY, (held_before,)).fetchone()
        result.totals["heldIdentifiersActive"] = active[0] if active else 0
    result.seconds = time.monotonic() - started
    return result


def describe(url: str, result: DedupeResult) -> None:
    """Name each group's accounts (legacy ids, names, contact data) and say which part of
    the fixed rule chose its survivor: what a person needs to read the plan."""
    with psycopg.connect(url, prepare_threshold=None) as conn:
        accounts = read_accounts(conn, (m for g in result.groups for m in g["memberIds"]))
    for group in result.groups:
        members = [accounts[m] for m in group["memberIds"] if m in accounts]
        group["accounts"] = [a.as_json() for a in members]
        survivor = accounts.get(group["survivorId"] or "")
        if survivor is not None:
            group["survivorRule"] = survivor_rule(
                survivor, (a for a in members if a.id != survivor.id)
            )


def _take_lease(conn: Conn) -> UUID:
    """The applying-run lease, once no other run holds it (asked for again every second)."""
    while True:
        try:
            row = conn.execute("select customer_management.start_dedupe()").fetchone()
        except psycopg.Error as exc:  # dedupe_running is PT409, no class of psycopg's
            if exc.diag.message_primary != "dedupe_running":
                raise
            time.sleep(LEASE_POLL_SECONDS)
            continue
        assert row is not None
        holder: UUID = row[0]
        return holder


def _apply_batch(conn: Conn, run_id: UUID, holder: UUID, batch_size: int) -> list[dict[str, Any]]:
    """One committed batch, renewing the run's lease; retried when it lost a race with a
    concurrent request."""
    for attempt in range(1, MAX_ATTEMPTS + 1):
        try:
            with conn.transaction():
                conn.execute(CHECK_CLIENT_SQL)
                conn.execute("select customer_management.renew_dedupe_lease(%s)", (holder,))
                row = conn.execute(
                    "select customer_management.apply_dedupe_batch(%s, %s)", (run_id, batch_size)
                ).fetchone()
        except RETRYABLE:
            if attempt == MAX_ATTEMPTS:
                raise
            time.sleep(0.05 * attempt)
            continue
        assert row is not None
        done: list[dict[str, Any]] = row[0]
        return done
    return []
