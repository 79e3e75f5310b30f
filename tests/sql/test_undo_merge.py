"""undo_merge: both accounts back exactly, chains refused or cascaded, every undo logged,
and a property test over random histories of creates, updates, orders and merges.
"""

from __future__ import annotations

import datetime as dt
import os
from typing import Any

import psycopg
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from support.helpers import call_rpc, cloned_database, create_auth_user, table_snapshot
from support.lifecycle import EMAIL, PHONE, raise_conflict, rpc, rpc_error, support_agent
from support.reads import count_customers, customer, insert_order, one, without

Conn = psycopg.Connection[Any]
EXAMPLES = int(os.environ.get("CM_UNDO_EXAMPLES", "25"))


def merge_request(phone: str = PHONE, email: str = EMAIL) -> dict[str, Any]:
    return {"phone": phone, "email": email, "source": "webapp", "mergeIfFound": True}


def merge_ids_of(answer: dict[str, Any]) -> list[int]:
    return [i for n in answer.get("notices", []) for i in n.get("mergeIds", [])]


def state(conn: Conn, ids: list[str]) -> dict[str, Any]:
    """Rows (but updated_at), identifier rows and order placement of some accounts."""
    rows = {cid: without(customer(conn, cid), "updated_at") for cid in ids}
    idents = conn.execute(
        "select id, customer_id::text, type, value, display_value, status, verified_at, "
        "last_used_at, source from customer_management.customer_identifiers "
        "where customer_id = any(%s::uuid[]) order by id",
        (ids,),
    ).fetchall()
    orders = conn.execute(
        "select id::text, customer_id::text from public.orders "
        "where customer_id = any(%s::uuid[]) order by id",
        (ids,),
    ).fetchall()
    return {"rows": rows, "identifiers": idents, "orders": orders}


def test_undo_restores_both_accounts_and_keeps_later_orders(conn: Conn) -> None:
    """Rows, identifiers and moved orders come back; an order placed on the survivor after
    the merge stays there; the conflict the merge closed is open again; the undo is in the
    log, the audit and the outbox."""
    conflicted = raise_conflict(conn)
    ids = [conflicted.phone_account, conflicted.email_account]
    start = dt.datetime(2026, 5, 1, tzinfo=dt.UTC)
    moved_order = insert_order(conn, conflicted.email_account, start)
    call_rpc(conn, {"email": EMAIL, "firstName": "Kim", "allergies": ["soy"], "source": "webapp"})
    before = state(conn, ids)

    merged = call_rpc(conn, merge_request())
    (merge_id,) = merge_ids_of(merged)
    later_order = insert_order(conn, conflicted.phone_account, start + dt.timedelta(days=3))
    assert state(conn, ids) != before

    answer = rpc(conn, "undo_merge", {"merge_id": merge_id, "reason": "wrong person"})
    assert answer["undoneMergeIds"] == [merge_id]
    assert sorted(a["id"] for a in answer["accounts"]) == sorted(ids)
    after = state(conn, ids)
    assert after["rows"] == before["rows"]
    assert after["identifiers"] == before["identifiers"]
    placement = dict(after["orders"])
    assert placement[moved_order] == conflicted.email_account
    assert placement[later_order] == conflicted.phone_account

    status = one(
        conn,
        "select status from customer_management.customer_conflicts where id = %s",
        (conflicted.conflict_id,),
    )
    assert status == "open"
    assert (
        one(
            conn,
            "select customer_management.read_note(reason) from customer_management.merge_undos "
            "where merge_id = %s",
            (merge_id,),
        )
        == "wrong person"
    )
    assert conn.execute(
        "select event, merge_id from public.customer_events order by id"
    ).fetchall() == [("merged", merge_id), ("merge_undone", merge_id)]
    assert (
        one(conn, "select count(*) from customer_management.audit_log where action = 'undo'") == 1
    )


def test_the_same_merge_is_undone_once(conn: Conn) -> None:
    raise_conflict(conn)
    (merge_id,) = merge_ids_of(call_rpc(conn, merge_request()))
    rpc(conn, "undo_merge", {"merge_id": merge_id})
    before = table_snapshot(conn)
    error = rpc_error(conn, "undo_merge", {"merge_id": merge_id})
    assert (error["sqlstate"], error["message"]) == ("PT409", "merge_already_undone")
    assert table_snapshot(conn) == before


def test_later_merges_refuse_or_cascade(conn: Conn) -> None:
    """B into A, then C into A: undoing the first names the second; with cascade both are
    undone, newest first, and all three accounts are as before the first."""
    raise_conflict(conn)
    third = call_rpc(conn, {"phone": "+15556010009", "source": "webapp"})["customer"]["id"]
    ids = [row[0] for row in conn.execute("select id::text from public.customers").fetchall()]
    before = state(conn, ids)
    (first,) = merge_ids_of(call_rpc(conn, merge_request()))
    (second,) = merge_ids_of(call_rpc(conn, merge_request(phone="+15556010009")))
    assert customer(conn, third)["merged_into"] is not None

    snapshot = table_snapshot(conn)
    error = rpc_error(conn, "undo_merge", {"merge_id": first})
    assert (error["sqlstate"], error["message"]) == ("PT409", "undo_blocked_by_later_merges")
    assert str(second) in str(error["detail"])
    assert table_snapshot(conn) == snapshot

    answer = rpc(conn, "undo_merge", {"merge_id": first, "cascade": True})
    assert answer["undoneMergeIds"] == [second, first]
    assert state(conn, ids) == before
    assert count_customers(conn) == 3
    cascaded = one(
        conn,
        "select cascaded_from from customer_management.merge_undos where merge_id = %s",
        (second,),
    )
    assert cascaded == first


def test_an_identifier_taken_since_blocks_the_undo(conn: Conn) -> None:
    """The merged account's phone (only vouched for) went to the line's caller after the
    merge (she declined the second proof and got an account of her own): restoring it would
    give one phone to two accounts, so the undo is refused and nothing changes."""
    call_rpc(conn, {"phone": PHONE, "source": "webapp"})
    call_rpc(conn, {"email": EMAIL, "source": "webapp"})
    (merge_id,) = merge_ids_of(call_rpc(conn, merge_request()))
    call_rpc(conn, {"phone": PHONE, "source": "chatbot", "withoutSecondProof": True})
    before = table_snapshot(conn)
    error = rpc_error(conn, "undo_merge", {"merge_id": merge_id})
    assert (error["sqlstate"], error["message"]) == ("PT409", "undo_blocked")
    assert "phone" in str(error["detail"])
    assert table_snapshot(conn) == before


def test_only_the_service_role_and_support_undo(conn: Conn) -> None:
    raise_conflict(conn)
    (merge_id,) = merge_ids_of(call_rpc(conn, merge_request()))
    _, user = create_auth_user(conn, email=EMAIL, phone=PHONE)
    before = table_snapshot(conn)
    for role, claims in (("authenticated", user), ("anon", None)):
        error = rpc_error(conn, "undo_merge", {"merge_id": merge_id}, role, claims)
        assert error["sqlstate"] == "42501", error
    assert table_snapshot(conn) == before
    _, agent = support_agent(conn)
    answer = rpc(conn, "undo_merge", {"merge_id": merge_id}, "authenticated", agent)
    assert answer["undoneMergeIds"] == [merge_id]


def test_unknown_merge_is_not_found(conn: Conn) -> None:
    error = rpc_error(conn, "undo_merge", {"merge_id": 424242})
    assert (error["sqlstate"], error["message"]) == ("PT404", "not_found")


def test_a_login_passes_to_the_survivor_and_back(conn: Conn) -> None:
    """The survivor chosen by support has no login; the merged account's login passes to it
    (the user still reaches their account) and goes back with the undo."""
    user_id, claims = create_auth_user(conn, email=EMAIL)
    web = call_rpc(conn, {"email": EMAIL, "source": "webapp"}, "authenticated", claims)
    chatbot = call_rpc(conn, {"phone": PHONE, "source": "chatbot"})
    conflict = call_rpc(conn, {"phone": PHONE, "email": EMAIL, "source": "webapp"})
    answer = rpc(
        conn,
        "resolve_conflict",
        {
            "conflict_id": conflict["conflictId"],
            "action": "merge",
            "survivor_id": chatbot["customer"]["id"],
        },
    )
    survivor = customer(conn, chatbot["customer"]["id"])
    assert survivor["auth_user_id"] == str(user_id)
    again = call_rpc(conn, {"source": "webapp"}, "authenticated", claims)
    assert again["customer"]["id"] == chatbot["customer"]["id"]

    rpc(conn, "undo_merge", {"merge_id": answer["mergeIds"][0]})
    assert customer(conn, web["customer"]["id"])["auth_user_id"] == str(user_id)
    assert customer(conn, chatbot["customer"]["id"])["auth_user_id"] is None


# The property: for random histories of visits (creates and updates), orders and merges,
# all made by a trusted backend, undoing any merge (with cascade) gives back the accounts
# of that merge as they were before it: rows column by column but updated_at, every
# identifier that existed then, and the placement of every order that existed then.

PHONES = [f"+1555602{n:04d}" for n in range(4)]
EMAILS = [f"p{n}@mail.com" for n in range(4)]
SEED_VISITS = [{"phone": phone} for phone in PHONES] + [{"email": email} for email in EMAILS]
details = {
    "firstName": st.none() | st.sampled_from(["Ana", "Bo", "Cy"]),
    "lastName": st.none() | st.sampled_from(["Lee", "Moe"]),
    "allergies": st.none() | st.lists(st.sampled_from(["nuts", "soy", "milk"]), max_size=2),
}
visit = st.one_of(
    st.fixed_dictionaries(
        {
            "phone": st.sampled_from(PHONES),
            "email": st.sampled_from(EMAILS),
            "mergeIfFound": st.booleans() | st.just(True),
            **details,
        }
    ),
    st.fixed_dictionaries({"phone": st.sampled_from(PHONES), **details}),
    st.fixed_dictionaries({"email": st.sampled_from(EMAILS), **details}),
)
step = st.one_of(
    st.tuples(st.just("visit"), visit),
    st.tuples(st.just("order"), st.integers(min_value=0, max_value=20)),
)


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(steps=st.lists(step, min_size=2, max_size=14), pick=st.integers(min_value=0))
def test_undo_gives_back_the_accounts_as_before_the_merge(
    server_url: str, template_db: str, steps: list[tuple[str, Any]], pick: int
) -> None:
    with (
        cloned_database(server_url, template_db, "test_undo") as url,
        psycopg.connect(url, autocommit=True) as conn,
    ):
        history: list[tuple[list[int], dict[str, Any]]] = []
        when = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
        for seed in SEED_VISITS:
            call_rpc(conn, {**seed, "source": "webapp"})
        for kind, arg in steps:
            live = [
                row[0]
                for row in conn.execute(
                    "select id::text from public.customers where merged_into is null order by id"
                ).fetchall()
            ]
            if kind == "order":
                if live:
                    when += dt.timedelta(hours=1)
                    insert_order(conn, live[arg % len(live)], when)
                continue
            body = {key: value for key, value in arg.items() if value is not None}
            snapshot = state(conn, live)
            answer = call_rpc(conn, {**body, "source": "webapp"})
            made = merge_ids_of(answer)
            if made:
                history.append((made, snapshot))
        event(f"merging requests: {min(len(history), 3)}{'+' if len(history) > 3 else ''}")
        if not history:
            return
        made, snapshot = history[pick % len(history)]
        accounts = sorted(
            {
                str(x)
                for row in conn.execute(
                    "select survivor_id, merged_id from customer_management.merge_log "
                    "where id = any(%s)",
                    (made,),
                ).fetchall()
                for x in row
            }
        )
        rpc(conn, "undo_merge", {"merge_id": min(made), "cascade": True})
        after = state(conn, accounts)
        expected_rows = {cid: snapshot["rows"][cid] for cid in accounts}
        assert after["rows"] == expected_rows
        existed = {row[0] for row in snapshot["identifiers"]}
        assert [row for row in after["identifiers"] if row[0] in existed] == [
            row for row in snapshot["identifiers"] if row[1] in accounts
        ]
        placed_then = {order: owner for order, owner in snapshot["orders"] if owner in accounts}
        placed_now = dict(
            conn.execute(
                "select id::text, customer_id::text from public.orders where id::text = any(%s)",
                (list(placed_then),),
            ).fetchall()
        )
        assert placed_now == placed_then
