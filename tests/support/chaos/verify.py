"""The checks after the restart: the database keeps its promises, and it agrees with what
the clients were told.

- ``check_invariants()`` returns no rows.
- Every answer a client took as committed is there: accounts created or found (or erased
  since, by an erasure the audit records), merge ids in the merge log, conflicts, undos in
  merge_undos, erasures done, orders stored; and each such change has its audit entry.
- A request the server refused left no trace: no audit entry, no row.
- A request the kill cut off did all of its work or none: its audit entry exists exactly
  when its change does.

Each check returns its problems as sentences; an empty list is a pass.
"""

from __future__ import annotations

import json
from typing import Any

import psycopg

from support.chaos.journal import ERROR, IN_DOUBT, OK, Journal, Kind, Request

Conn = psycopg.Connection[Any]
ANSWERED_BY_CUSTOMER_MANAGEMENT = (
    Kind.CREATE,
    Kind.LOOKUP,
    Kind.UPDATE,
    Kind.MERGE,
    Kind.CONFLICT,
)


def violations(conn: Conn) -> list[tuple[str, dict[str, Any]]]:
    """``customer_management.check_invariants()``, as (invariant, details) pairs."""
    rows = conn.execute("select * from customer_management.check_invariants()").fetchall()
    return [(str(row[0]), dict(row[1])) for row in rows]


def _set(conn: Conn, query: str, params: tuple[Any, ...] = ()) -> set[Any]:
    return {row[0] for row in conn.execute(query, params).fetchall()}


def _by_reason(conn: Conn, action: str, tags: list[str]) -> dict[str, int]:
    """How many audit entries of ``action`` carry each reason tag. Reasons are kept in
    sealed notes (the entry holds ``note:<id>``): read back while their people live."""
    rows = conn.execute(
        "select r.reason, count(*) from customer_management.audit_log as a "
        "cross join lateral (select customer_management.read_note(a.details ->> 'reason') "
        "as reason) as r where a.action = %s and r.reason = any(%s) group by 1",
        (action, tags),
    ).fetchall()
    return {str(row[0]): int(row[1]) for row in rows}


def _unreadable_resolutions(conn: Conn, conflict_ids: list[str]) -> dict[str, int]:
    """How many audit 'resolve' entries of each conflict have a reason that can no longer be
    read (a person it is about was erased since, and their note with them)."""
    rows = conn.execute(
        "select a.details ->> 'conflict_id', count(*) from customer_management.audit_log as a "
        "where a.action = 'resolve' and a.details ->> 'conflict_id' = any(%s) "
        "and customer_management.read_note(a.details ->> 'reason') is null group by 1",
        (conflict_ids,),
    ).fetchall()
    return {str(row[0]): int(row[1]) for row in rows}


def erased_accounts(conn: Conn) -> set[str]:
    """Every account an erasure entry lists."""
    return _set(
        conn,
        "select jsonb_array_elements_text(a.details -> 'accounts') "
        "from customer_management.audit_log as a where a.action = 'erasure'",
    )


def committed_answers_are_there(conn: Conn, journal: Journal) -> list[str]:
    """Every ``ok`` answer is visible after the restart, with its audit entry."""
    problems: list[str] = []
    answered = [r for kind in ANSWERED_BY_CUSTOMER_MANAGEMENT for r in journal.of(kind, OK)]
    accounts = {r.result["customerId"] for r in answered if "customerId" in r.result}
    created = {r.result["customerId"] for r in answered if r.result.get("isNew")}
    existing = _set(
        conn, "select id::text from public.customers where id = any(%s::uuid[])", (list(accounts),)
    )
    erased = erased_accounts(conn)
    for lost in sorted(accounts - existing - erased):
        problems.append(f"account {lost} was answered, and is gone without an erasure")
    audited = _set(
        conn,
        "select customer_id::text from customer_management.audit_log "
        "where action = 'create' and customer_id = any(%s::uuid[])",
        (list(created),),
    )
    for unaudited in sorted(created - audited):
        problems.append(f"account {unaudited} was created without a create audit entry")

    merges = {m for r in answered for m in r.result.get("mergeIds", [])}
    merges |= {m for r in journal.of(Kind.RESOLVE, OK) for m in r.result["mergeIds"]}
    logged = _set(
        conn,
        "select id from customer_management.merge_log where id = any(%s)",
        (sorted(merges),),
    )
    for missing in sorted(merges - logged):
        problems.append(f"merge {missing} was answered, and is not in the merge log")

    conflicts = {r.result["conflictId"] for r in answered if "conflictId" in r.result}
    recorded = _set(
        conn,
        "select details ->> 'conflict_id' from customer_management.audit_log "
        "where action = 'conflict' and details ->> 'conflict_id' = any(%s)",
        (sorted(conflicts),),
    )
    stored = _set(
        conn,
        "select id::text from customer_management.customer_conflicts where id = any(%s::uuid[])",
        (sorted(conflicts),),
    )
    for missing in sorted(conflicts - (recorded & stored)):
        problems.append(f"conflict {missing} was answered, and is not stored and audited")

    problems += _undos_are_there(conn, journal.of(Kind.UNDO, OK))
    problems += _erasures_are_there(conn, journal.of(Kind.ERASE, OK))
    resolves = journal.of(Kind.RESOLVE, OK)
    audited_resolves = _by_reason(conn, "resolve", [r.tag for r in resolves])
    unreadable = _unreadable_resolutions(conn, [r.args["conflict_id"] for r in resolves])
    for request in resolves:
        found = audited_resolves.get(request.tag)
        if found is None and unreadable.get(request.args["conflict_id"], 0) > 0:
            continue  # its people were erased since, and the words with them
        if found != 1:
            problems.append(f"resolution {request.tag} was answered without one audit entry")

    orders = {r.result["orderId"] for r in journal.of(Kind.ORDER, OK)}
    kept = _set(
        conn, "select id::text from public.orders where id = any(%s::uuid[])", (sorted(orders),)
    )
    for lost in sorted(orders - kept):
        problems.append(f"order {lost} was answered, and is gone")
    return problems


def _undos_are_there(conn: Conn, undos: list[Request]) -> list[str]:
    """Each merge an answered undo names is in merge_undos once, with one audit entry (a
    merge is undone at most once, so its id tells whose undo it was)."""
    problems: list[str] = []
    for request in undos:
        undone = request.result["undoneMergeIds"]
        logged = _set(
            conn,
            "select merge_id from customer_management.merge_undos where merge_id = any(%s)",
            (undone,),
        )
        if logged != set(undone):
            problems.append(f"undo {request.tag} of {undone} was answered; logged: {logged}")
        audited = conn.execute(
            "select count(*) from customer_management.audit_log as a where a.action = 'undo' "
            "and (a.details ->> 'merge_log_id')::bigint = any(%s)",
            (undone,),
        ).fetchone()
        if audited is None or int(audited[0]) != len(undone):
            problems.append(f"undo {request.tag} of {undone} has {audited} audit entries")
    return problems


def _erasures_are_there(conn: Conn, erasures: list[Request]) -> list[str]:
    """An answered erasure left none of its accounts, and one audit entry lists them (an
    erasure's reason is not stored: the accounts tell which entry is whose)."""
    problems: list[str] = []
    for request in erasures:
        audited = conn.execute(
            "select count(*) from customer_management.audit_log as a "
            "where a.action = 'erasure' and a.details -> 'accounts' @> %s::jsonb",
            (json.dumps(request.result["customerIds"]),),
        ).fetchone()
        left = _set(
            conn,
            "select id::text from public.customers where id = any(%s::uuid[])",
            (request.result["customerIds"],),
        )
        if left:
            problems.append(f"erasure {request.tag} was answered; accounts left: {left}")
        if audited is None or int(audited[0]) != 1:
            problems.append(f"erasure {request.tag} was answered without one audit entry")
    return problems


def _creations(conn: Conn, requests: list[Request]) -> dict[str, tuple[bool, bool]]:
    """For each new identifier a create brought: (its change is there: the identifier is
    stored or an erasure removed it; a create audit entry names it)."""
    kinds = ["phone" if r.tag.startswith("+") else "email" for r in requests]
    rows = conn.execute(
        """
        select
            v.value,
            exists (
                select 1 from customer_management.customer_identifiers as ci
                where ci.type = v.type and ci.value = v.value
            ) or exists (
                select 1 from customer_management.audit_log as a
                where a.action = 'erasure' and a.details -> 'identifiers' @> d.digests
            ),
            exists (
                select 1 from customer_management.audit_log as a
                where a.action = 'create' and a.details -> 'identifiers' @> d.digests
            )
        from unnest(%s::text[], %s::text[]) as v (type, value)
        cross join lateral (
            select jsonb_build_array(jsonb_build_object(
                'digest', customer_management.identifier_digest(v.type, v.value)
            )) as digests
        ) as d
        """,
        (kinds, [r.tag for r in requests]),
    ).fetchall()
    return {str(row[0]): (bool(row[1]), bool(row[2])) for row in rows}


def refusals_left_no_trace(conn: Conn, journal: Journal) -> list[str]:
    """A refused request changed nothing and has no audit entry."""
    problems: list[str] = []
    for value, (there, audited) in _creations(conn, journal.of(Kind.CREATE, ERROR)).items():
        if there or audited:
            problems.append(f"refused create of {value} left a trace")
    refused_resolves = journal.of(Kind.RESOLVE, ERROR)
    for tag, count in _by_reason(conn, "resolve", [r.tag for r in refused_resolves]).items():
        problems.append(f"refused resolution {tag} has {count} audit entries")
    refused_undos = journal.of(Kind.UNDO, ERROR)
    for tag, count in _by_reason(conn, "undo", [r.tag for r in refused_undos]).items():
        problems.append(f"refused undo {tag} has {count} audit entries")
    undone = _set(
        conn,
        "select r.reason from customer_management.merge_undos as u cross join lateral "
        "(select customer_management.read_note(u.reason) as reason) as r "
        "where r.reason = any(%s)",
        ([r.tag for r in refused_undos],),
    )
    problems += [f"refused undo {tag} is in merge_undos" for tag in sorted(undone)]
    return problems


def cut_off_requests_all_or_nothing(conn: Conn, journal: Journal) -> list[str]:
    """A request the kill cut off either committed whole or not at all."""
    problems: list[str] = []
    for value, (there, audited) in _creations(conn, journal.of(Kind.CREATE, IN_DOUBT)).items():
        if there != audited:
            problems.append(f"cut-off create of {value}: stored {there}, audited {audited}")
    undos = journal.of(Kind.UNDO, IN_DOUBT)
    audited_undos = _by_reason(conn, "undo", [r.tag for r in undos])
    for request in undos:
        logged = conn.execute(
            "select count(*) from customer_management.merge_undos as u "
            "where customer_management.read_note(u.reason) = %s",
            (request.tag,),
        ).fetchone()
        if logged is None or int(logged[0]) != audited_undos.get(request.tag, 0):
            problems.append(f"cut-off undo {request.tag}: undos and audit entries disagree")
    resolves = journal.of(Kind.RESOLVE, IN_DOUBT)
    for row in conn.execute(
        "select a.details ->> 'conflict_id', m.value::bigint, exists ("
        "select 1 from customer_management.merge_log as l where l.id = m.value::bigint) "
        "from customer_management.audit_log as a "
        "cross join lateral jsonb_array_elements_text(a.details -> 'merge_log_ids') as m "
        "where a.action = 'resolve' and a.details ->> 'conflict_id' = any(%s)",
        ([r.args["conflict_id"] for r in resolves],),
    ).fetchall():
        if not row[2]:
            problems.append(f"cut-off resolution {row[0]} audits merge {row[1]}, not logged")
    return problems


def every_request_ended(journal: Journal) -> list[str]:
    """Each request got an answer or an error: none is left without an outcome."""
    return [
        f"{r.kind} {r.tag} of worker {r.worker} has no outcome"
        for r in journal.requests
        if r.outcome not in (OK, ERROR, IN_DOUBT)
    ]
