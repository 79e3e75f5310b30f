"""customer_management.check_invariants(): silent on a healthy database after a realistic
history, and for each invariant a database broken in exactly that way (as a superuser,
with the append-only triggers and foreign keys out of the way where they stand guard)
yields exactly that violation, naming the rows.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
import pytest

from support.history import History, build_history
from support.reads import one

Conn = psycopg.Connection[Any]
Violation = tuple[str, dict[str, Any]]
MIGRATIONS = [
    Path(__file__).resolve().parents[2] / "supabase/migrations" / name
    for name in (
        "20261124005000_create_check_invariants.sql",
        "20261206101400_check_contact_and_strength_invariants.sql",
    )
]


def violations(conn: Conn) -> list[Violation]:
    """What check_invariants reports, as (invariant, details) pairs."""
    rows = conn.execute("select * from customer_management.check_invariants()").fetchall()
    return [(str(row[0]), dict(row[1])) for row in rows]


@pytest.fixture
def history(conn: Conn, db_url: str) -> History:
    """The realistic history, checked healthy before a test breaks it."""
    made = build_history(conn, db_url)
    assert violations(conn) == []
    return made


def replica(conn: Conn, statement: str, params: tuple[Any, ...] = ()) -> None:
    """Run one statement with triggers off (append-only guards, foreign keys), as a
    superuser repairing by hand would."""
    with conn.transaction():
        conn.execute("set local session_replication_role = replica")
        conn.execute(statement, params)


def forge_merge(conn: Conn, survivor: str, merged: str, move: bool = True) -> int:
    """A merge-log row with its audit entry and outbox event, as merge_customer writes them
    (before-images are opaque bytes here); with ``move`` the merged account points at the
    survivor afterwards."""
    merge_id = int(
        one(
            conn,
            "insert into customer_management.merge_log (survivor_id, merged_id, "
            "survivor_before, merged_before, actor_role, source, reason) values "
            "(%s, %s, '\\x00', '\\x00', 'postgres', 'support', 'forged') returning id",
            (survivor, merged),
        )
    )
    conn.execute(
        "insert into customer_management.audit_log (action, customer_id, related_customer_id, "
        "actor_role, source, details) values ('merge', %s, %s, 'postgres', 'support', %s)",
        (survivor, merged, json.dumps({"merge_log_id": merge_id})),
    )
    conn.execute(
        "insert into public.customer_events (event, customer_ids, merge_id) "
        "values ('merged', array[%s, %s]::uuid[], %s)",
        (survivor, merged, merge_id),
    )
    if move:
        conn.execute(
            "update public.customers set merged_into = %s, merged_at = now() where id = %s",
            (survivor, merged),
        )
    return merge_id


def forge_undo(conn: Conn, merge_id: int, survivor: str, merged: str) -> None:
    """A merge_undos row with its audit entry and outbox event, and nothing restored."""
    conn.execute(
        "insert into customer_management.merge_undos (merge_id, actor_role, reason) "
        "values (%s, 'postgres', 'forged')",
        (merge_id,),
    )
    conn.execute(
        "insert into customer_management.audit_log (action, customer_id, related_customer_id, "
        "actor_role, source, details) values ('undo', %s, %s, 'postgres', 'support', %s)",
        (survivor, merged, json.dumps({"merge_log_id": merge_id})),
    )
    conn.execute(
        "insert into public.customer_events (event, customer_ids, merge_id) "
        "values ('merge_undone', array[%s, %s]::uuid[], %s)",
        (survivor, merged, merge_id),
    )


def new_account(conn: Conn, merged_into: str | None = None) -> str:
    """A customer row inserted by hand (no identifiers, no audit)."""
    return str(
        one(
            conn,
            "insert into public.customers (merged_into, merged_at) values "
            "(%s, case when %s::uuid is null then null else now() end) returning id::text",
            (merged_into, merged_into),
        )
    )


def test_a_healthy_history_has_no_violations(conn: Conn, history: History) -> None:
    """Every kind of change the kit makes, and the result is silent (the fixture checks);
    the history really holds what the invariants are about."""
    assert history.merges >= 6 and history.undos >= 3 and history.erasures >= 1
    counts = conn.execute(
        "select (select count(*) from public.customers where merged_into is not null), "
        "(select count(*) from public.orders where customer_id is null), "
        "(select count(*) from customer_management.audit_log where action = 'expire'), "
        "(select count(*) from customer_management.merge_log where source = 'dedupe'), "
        "(select count(*) from customer_management.merge_undos where cascaded_from is not null)"
    ).fetchone()
    assert counts is not None
    tombstones, erased_orders, expired, deduped, cascaded = counts
    assert tombstones >= 2 and erased_orders == 1 and expired >= 1
    assert deduped >= 1 and cascaded == 1


def test_the_function_is_for_dbas_only(conn: Conn) -> None:
    """No API role may execute it; it pins an empty search_path and is documented."""
    for role in ("public", "anon", "authenticated", "service_role"):
        grantee = "public" if role == "public" else role
        allowed = one(
            conn,
            "select bool_or(a.privilege_type = 'EXECUTE') from pg_proc as p "
            "cross join lateral aclexplode(p.proacl) as a "
            "left join pg_roles as r on r.oid = a.grantee "
            "where p.oid = 'customer_management.check_invariants()'::regprocedure "
            "and coalesce(r.rolname, 'public') = %s",
            (grantee,),
        )
        assert not allowed, role
    config, comment = conn.execute(
        "select proconfig, obj_description(oid, 'pg_proc') from pg_proc "
        "where oid = 'customer_management.check_invariants()'::regprocedure"
    ).fetchone() or (None, None)
    assert config == ['search_path=""'] and comment
    with conn.transaction():
        conn.execute("set local role service_role")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("select * from customer_management.check_invariants()")
        raise psycopg.Rollback


def active_on_tombstone(conn: Conn, h: History) -> dict[str, Any]:
    """A fresh active phone inserted on a tombstone."""
    identifier = one(
        conn,
        "insert into customer_management.customer_identifiers (customer_id, type, value, "
        "display_value, status, source) values (%s, 'phone', '+15556079901', "
        "'+15556079901', 'active', 'chatbot') returning id",
        (h.standing_tombstone,),
    )
    return {"identifierId": identifier, "customerId": h.standing_tombstone}


def active_twice(conn: Conn, h: History) -> dict[str, Any]:
    """The unique index gone, a live account's active phone copied onto another."""
    conn.execute("drop index customer_management.customer_identifiers_active_key")
    first = one(
        conn,
        "select id from customer_management.customer_identifiers "
        "where customer_id = %s and type = 'phone' and status = 'active'",
        (h.bare_account,),
    )
    second = one(
        conn,
        "insert into customer_management.customer_identifiers (customer_id, type, value, "
        "display_value, status, source) select %s, type, value, display_value, 'active', "
        "source from customer_management.customer_identifiers where id = %s returning id",
        (h.live_account, first),
    )
    return {"identifierIds": [first, second]}


def chain_cycle(conn: Conn, h: History) -> dict[str, Any]:
    """Two accounts merged into each other, each merge logged, audited and announced."""
    a, b = new_account(conn), new_account(conn)
    forge_merge(conn, a, b)
    forge_merge(conn, b, a)
    return {"customerIds": sorted([a, b])}


def unexplained_tombstone(conn: Conn, h: History) -> dict[str, Any]:
    """An account inserted as a tombstone, with no merge behind it."""
    tombstone = new_account(conn, merged_into=h.live_account)
    return {"customerId": tombstone, "mergedInto": h.live_account}


def merge_reverted_by_hand(conn: Conn, h: History) -> dict[str, Any]:
    """A standing merge's tombstone made live again without an undo (showing nothing: its
    identifiers are with the survivor)."""
    replica(
        conn,
        "update public.customers set merged_into = null, merged_at = null, phone = null, "
        "email = null where id = %s",
        (h.standing_tombstone,),
    )
    return {"mergeId": h.standing_merge, "mergedExists": True, "mergedInto": None}


def undo_left_tombstone(conn: Conn, h: History) -> dict[str, Any]:
    """A later merge of a tombstone into another account, logged as undone, while the
    account stayed the tombstone of its earlier merge: that undo restored nothing."""
    later = forge_merge(conn, h.live_account, h.standing_tombstone, move=False)
    forge_undo(conn, later, h.live_account, h.standing_tombstone)
    return {"mergeId": later, "customerId": h.standing_tombstone, "problem": "account still merged"}


def cascade_from_standing(conn: Conn, h: History) -> dict[str, Any]:
    """An undo recorded as cascaded from a merge that was never undone."""
    replica(
        conn,
        "update customer_management.merge_undos set cascaded_from = %s where merge_id = %s",
        (h.standing_merge, h.undone_merge),
    )
    return {"mergeId": h.undone_merge, "cascadedFrom": h.standing_merge}


def account_deleted(conn: Conn, h: History) -> dict[str, Any]:
    """A created account deleted by hand, not erased: its audit entries name it."""
    conn.execute(
        "delete from customer_management.customer_identifiers where customer_id = %s",
        (h.bare_account,),
    )
    replica(conn, "delete from public.customers where id = %s", (h.bare_account,))
    return {"customerId": h.bare_account}


def erasure_not_done(conn: Conn, h: History) -> dict[str, Any]:
    """An erasure entry and event for an account that is still there."""
    conn.execute(
        "insert into customer_management.audit_log (action, customer_id, actor_role, "
        "details) values ('erasure', %s, 'postgres', %s)",
        (h.bare_account, json.dumps({"accounts": [h.bare_account]})),
    )
    conn.execute(
        "insert into public.customer_events (event, customer_ids) values "
        "('erased', array[%s]::uuid[])",
        (h.bare_account,),
    )
    return {"customerId": h.bare_account}


def order_without_account(conn: Conn, h: History) -> dict[str, Any]:
    """An order for an account that never existed (foreign key not checked)."""
    ghost = str(uuid.uuid4())
    with conn.transaction():
        conn.execute("set local session_replication_role = replica")
        order = one(
            conn, "insert into public.orders (customer_id) values (%s) returning id::text", (ghost,)
        )
    return {"orderId": order, "customerId": ghost}


def order_unlinked(conn: Conn, h: History) -> dict[str, Any]:
    """An order's customer cleared without an erasure (its check constraint dropped)."""
    order = str(insert_plain_order(conn, h.live_account))
    conn.execute("alter table public.orders drop constraint orders_check")
    conn.execute("update public.orders set customer_id = null where id = %s", (order,))
    return {"orderId": order, "customerId": None}


def insert_plain_order(conn: Conn, customer_id: str) -> str:
    """An order placed on an account."""
    return str(
        one(
            conn, "insert into public.orders (customer_id) values (%s) returning id", (customer_id,)
        )
    )


def order_deleted(conn: Conn, h: History) -> dict[str, Any]:
    """An order a merge moved, deleted."""
    conn.execute("delete from public.orders where id = %s", (h.moved_order,))
    return {"orderId": h.moved_order, "mergeId": h.standing_merge}


def order_moved_away(conn: Conn, h: History) -> dict[str, Any]:
    """An order a standing merge moved to its survivor, now with someone else."""
    conn.execute(
        "update public.orders set customer_id = %s where id = %s", (h.live_account, h.moved_order)
    )
    return {
        "orderId": h.moved_order,
        "standingMergeId": h.standing_merge,
        "customerId": h.live_account,
        "expectedWith": h.standing_survivor,
    }


def identifier_moved_away(conn: Conn, h: History) -> dict[str, Any]:
    """An identifier a standing merge moved to its survivor, now on someone else."""
    conn.execute(
        "update customer_management.customer_identifiers set customer_id = %s where id = %s",
        (h.live_account, h.moved_identifier),
    )
    return {
        "identifierId": h.moved_identifier,
        "standingMergeId": h.standing_merge,
        "customerId": h.live_account,
        "expectedWith": h.standing_survivor,
    }


def merge_unaudited(conn: Conn, h: History) -> dict[str, Any]:
    """A merge's audit entry deleted."""
    replica(
        conn,
        "delete from customer_management.audit_log where action = 'merge' "
        "and details ->> 'merge_log_id' = %s",
        (str(h.standing_merge),),
    )
    return {"mergeId": h.standing_merge, "auditEntries": 0}


def merge_audited_twice(conn: Conn, h: History) -> dict[str, Any]:
    """A merge audit entry naming no merge."""
    audit = one(
        conn,
        "insert into customer_management.audit_log (action, customer_id, related_customer_id, "
        "actor_role, details) values ('merge', %s, %s, 'postgres', '{\"merge_log_id\": 99999}') "
        "returning id",
        (h.live_account, h.bare_account),
    )
    return {"auditId": audit, "mergeId": 99999}


def undo_unaudited(conn: Conn, h: History) -> dict[str, Any]:
    """An undo's audit entry deleted."""
    replica(
        conn,
        "delete from customer_management.audit_log where action = 'undo' "
        "and details ->> 'merge_log_id' = %s",
        (str(h.undone_merge),),
    )
    return {"mergeId": h.undone_merge, "auditEntries": 0}


def erasure_unannounced(conn: Conn, h: History) -> dict[str, Any]:
    """An erasure's outbox event deleted."""
    replica(conn, "delete from public.customer_events where event = 'erased'")
    return {"customerIds": h.erased_accounts, "eventIds": []}


def merge_unannounced(conn: Conn, h: History) -> dict[str, Any]:
    """A merge's outbox event deleted."""
    replica(
        conn,
        "delete from public.customer_events where event = 'merged' and merge_id = %s",
        (h.standing_merge,),
    )
    return {"mergeId": h.standing_merge, "events": 0}


def undo_unannounced(conn: Conn, h: History) -> dict[str, Any]:
    """An undo's outbox event deleted."""
    replica(
        conn,
        "delete from public.customer_events where event = 'merge_undone' and merge_id = %s",
        (h.cascaded_merge,),
    )
    return {"mergeId": h.cascaded_merge, "events": 0}


def undo_over_standing_merge(conn: Conn, h: History) -> dict[str, Any]:
    """Merge 1 (b into a), then merge 2 (c into a), then merge 1 undone while merge 2
    stands: the undo restored a as merge 1 found it, under merge 2."""
    a, b, c = new_account(conn), new_account(conn), new_account(conn)
    first = forge_merge(conn, a, b)
    later = forge_merge(conn, a, c)
    forge_undo(conn, first, a, b)
    conn.execute(
        "update public.customers set merged_into = null, merged_at = null where id = %s", (b,)
    )
    return {"mergeId": first, "laterMergeId": later}


def erased_again(conn: Conn, h: History) -> dict[str, Any]:
    """A second erasure entry and event for a person erased before."""
    conn.execute(
        "insert into customer_management.audit_log (action, customer_id, actor_role, "
        "details) values ('erasure', %s, 'postgres', %s)",
        (h.erased_accounts[0], json.dumps({"accounts": h.erased_accounts})),
    )
    conn.execute(
        "insert into public.customer_events (event, customer_ids) values ('erased', %s::uuid[])",
        (h.erased_accounts,),
    )
    return {"customerIds": h.erased_accounts}


def contact_edited_by_hand(conn: Conn, h: History) -> dict[str, Any]:
    """A live account made to show a phone it does not hold."""
    replica(
        conn, "update public.customers set phone = '+15556070999' where id = %s", (h.bare_account,)
    )
    return {"customerId": h.bare_account, "type": "phone"}


def contact_cleared_by_hand(conn: Conn, h: History) -> dict[str, Any]:
    """A live account that holds its phone made to show none."""
    replica(conn, "update public.customers set phone = null where id = %s", (h.bare_account,))
    return {"customerId": h.bare_account, "type": "phone"}


def vouched_identifier_taken_by_hand(conn: Conn, h: History) -> dict[str, Any]:
    """A vouched email set aside (pending) on a live account with no conflict, hold or
    audit entry saying why."""
    identifier_id = one(
        conn,
        "insert into customer_management.customer_identifiers (customer_id, type, value, "
        "display_value, status, strength, source) values (%s, 'email', 'taken@mail.com', "
        "'taken@mail.com', 'pending', 'vouched', 'webapp') returning id",
        (h.bare_account,),
    )
    return {"identifierId": identifier_id, "customerId": h.bare_account, "strength": "vouched"}


Break = Callable[[Conn, History], dict[str, Any]]
BREAKS: list[tuple[str, str, Break]] = [
    ("identifier_active_on_tombstone", "active_on_tombstone", active_on_tombstone),
    ("identifier_active_twice", "active_twice", active_twice),
    ("merge_chain_broken", "chain_cycle", chain_cycle),
    ("tombstone_unexplained", "unexplained_tombstone", unexplained_tombstone),
    ("merge_not_in_effect", "merge_reverted_by_hand", merge_reverted_by_hand),
    ("undone_merge_not_restored", "undo_left_tombstone", undo_left_tombstone),
    ("undone_merge_not_restored", "cascade_from_standing", cascade_from_standing),
    ("account_lost", "account_deleted", account_deleted),
    ("erased_account_present", "erasure_not_done", erasure_not_done),
    ("order_orphaned", "order_without_account", order_without_account),
    ("order_orphaned", "order_unlinked", order_unlinked),
    ("order_lost", "order_deleted", order_deleted),
    ("order_misplaced", "order_moved_away", order_moved_away),
    ("identifier_misplaced", "identifier_moved_away", identifier_moved_away),
    ("merge_audit_mismatch", "merge_unaudited", merge_unaudited),
    ("merge_audit_mismatch", "merge_audited_twice", merge_audited_twice),
    ("undo_audit_mismatch", "undo_unaudited", undo_unaudited),
    ("erasure_audit_mismatch", "erasure_unannounced", erasure_unannounced),
    ("merge_event_mismatch", "merge_unannounced", merge_unannounced),
    ("undo_event_mismatch", "undo_unannounced", undo_unannounced),
    ("undo_skipped_later_merge", "undo_over_standing_merge", undo_over_standing_merge),
    ("erasure_repeated", "erased_again", erased_again),
    ("shown_contact_unbacked", "contact_edited_by_hand", contact_edited_by_hand),
    ("contact_not_shown", "contact_cleared_by_hand", contact_cleared_by_hand),
    (
        "strong_identifier_taken_unexplained",
        "vouched_identifier_taken_by_hand",
        vouched_identifier_taken_by_hand,
    ),
]
# Breaks that touch several accounts: one row per account.
ONE_ROW_PER_ACCOUNT = ("merge_chain_broken", "erasure_repeated")


def matches(details: dict[str, Any], expected: dict[str, Any]) -> bool:
    """True when ``details`` holds every expected key with the expected value (ids as
    text); a list of ``customerIds`` is compared as a set."""
    for key, value in expected.items():
        found = details.get(key)
        if isinstance(value, list) and isinstance(found, list):
            if sorted(map(str, found)) != sorted(map(str, value)):
                return False
        elif (None if found is None else str(found)) != (None if value is None else str(value)):
            return False
    return True


@pytest.mark.parametrize(
    ("invariant", "breaking"), [(name, fn) for name, _, fn in BREAKS], ids=[b[1] for b in BREAKS]
)
def test_each_broken_invariant_is_reported_alone(
    conn: Conn, history: History, invariant: str, breaking: Break
) -> None:
    """Break one promise; check_invariants names that one invariant and the rows."""
    expected = breaking(conn, history)
    found = violations(conn)
    assert found, f"{invariant}: nothing reported"
    assert {name for name, _ in found} == {invariant}, found
    if invariant in ONE_ROW_PER_ACCOUNT:
        assert sorted(str(d["customerId"]) for _, d in found) == sorted(expected["customerIds"])
        return
    assert len(found) == 1, found
    assert matches(found[0][1], expected), found


def test_every_invariant_has_a_break() -> None:
    """Each invariant the function reports is broken by some case above."""
    text = "".join(path.read_text(encoding="utf-8") for path in MIGRATIONS)
    declared = set(re.findall(r"select (?:distinct on \([^)]*\) )?'([a-z_]+)'::text", text))
    assert len(declared) >= 22
    assert declared == {name for name, _, _ in BREAKS}
