"""resolve_conflict: merge, keep separate or escalate; who may do which; stale conflicts are
re-checked, not applied.
"""

from __future__ import annotations

import uuid
from typing import Any

import psycopg
import pytest

from support.helpers import call_rpc, create_auth_user, table_snapshot
from support.lifecycle import (
    EMAIL,
    PHONE,
    conflict_row,
    raise_conflict,
    raise_end_user_conflict,
    rpc,
    rpc_error,
    support_agent,
)
from support.reads import count_customers, customer, notice_codes, one

Conn = psycopg.Connection[Any]


def resolve(conn: Conn, conflict_id: str, action: str, **kwargs: Any) -> Any:
    role = kwargs.pop("role", "service_role")
    claims = kwargs.pop("claims", None)
    return rpc(
        conn,
        "resolve_conflict",
        {"conflict_id": conflict_id, "action": action, **kwargs},
        role,
        claims,
    )


def test_service_role_merge_answers_like_customer_management(conn: Conn) -> None:
    """A merge closes the conflict, records who and why, and answers with the survivor in
    the customer_management shape plus the conflict's state and the merge ids."""
    conflicted = raise_conflict(conn)
    answer = resolve(conn, conflicted.conflict_id, "merge", reason="same person, checked")

    assert answer["conflict"]["status"] == "merged"
    assert answer["conflict"]["id"] == conflicted.conflict_id
    assert answer["conflict"]["reason"] == "same person, checked"
    assert answer["conflict"]["resolvedBy"] == {"role": "service_role"}
    assert len(answer["mergeIds"]) == 1
    assert answer["customer"]["id"] == conflicted.phone_account
    assert answer["customer"]["phone"] == PHONE and answer["customer"]["email"] == EMAIL
    assert {"orderHistory", "summary"} <= set(answer)
    assert customer(conn, conflicted.email_account)["merged_into"] == conflicted.phone_account
    stored = conflict_row(conn, conflicted.conflict_id)
    assert stored["status"] == "merged"
    assert stored["resolved_by_role"] == "service_role"
    # The words are kept sealed in a note; the conflict holds its reference.
    assert stored["resolution_reason"].startswith("note:")
    assert (
        one(conn, "select customer_management.read_note(%s)", (stored["resolution_reason"],))
        == "same person, checked"
    )
    audit = one(
        conn,
        "select details from customer_management.audit_log where action = 'resolve'",
    )
    assert audit["action"] == "merge" and audit["merge_log_ids"] == answer["mergeIds"]


def test_merge_into_a_chosen_survivor(conn: Conn) -> None:
    """survivor_id picks the account that stays; a merged-away id is followed to its
    survivor; an id outside the conflict is refused and changes nothing."""
    conflicted = raise_conflict(conn)
    before = table_snapshot(conn)
    error = rpc_error(
        conn,
        "resolve_conflict",
        {
            "conflict_id": conflicted.conflict_id,
            "action": "merge",
            "survivor_id": str(uuid.uuid4()),
        },
    )
    assert (error["sqlstate"], error["message"]) == ("P0001", "invalid_survivor")
    assert table_snapshot(conn) == before

    answer = resolve(conn, conflicted.conflict_id, "merge", survivor_id=conflicted.email_account)
    assert answer["customer"]["id"] == conflicted.email_account
    assert customer(conn, conflicted.phone_account)["merged_into"] == conflicted.email_account


def test_keep_separate_stops_the_pair_being_flagged_again(conn: Conn) -> None:
    """Kept separate: the same request answers with the same conflict (one more sighting,
    no new row), and mergeIfFound no longer merges the pair."""
    conflicted = raise_conflict(conn)
    answer = resolve(conn, conflicted.conflict_id, "keep_separate", reason="twins")
    assert answer["conflict"]["status"] == "kept_separate"
    assert answer["mergeIds"] == [] and "customer" not in answer

    again = call_rpc(conn, {"phone": PHONE, "email": EMAIL, "source": "webapp"})
    assert again["conflictId"] == conflicted.conflict_id
    merged = call_rpc(
        conn, {"phone": PHONE, "email": EMAIL, "source": "webapp", "mergeIfFound": True}
    )
    assert merged["conflictId"] == conflicted.conflict_id
    assert notice_codes(merged) == ["kept_separate"]
    assert count_customers(conn) == 2
    rows = conn.execute(
        "select status, occurrences from customer_management.customer_conflicts"
    ).fetchall()
    assert rows == [("kept_separate", 3)]


def test_escalate_then_support_merges(conn: Conn) -> None:
    """Escalated: the end user's part is over; the service role may still merge it."""
    conflicted = raise_conflict(conn)
    answer = resolve(conn, conflicted.conflict_id, "escalate", reason="caller unsure")
    assert answer["conflict"]["status"] == "escalated"
    assert count_customers(conn) == 2
    merged = resolve(conn, conflicted.conflict_id, "merge")
    assert merged["conflict"]["status"] == "merged"
    assert count_customers(conn) == 1


def test_support_agent_resolves_any_conflict_and_is_audited(conn: Conn) -> None:
    """A support agent (app_metadata.role = support) merges like the service role; the
    audit names the agent."""
    conflicted = raise_conflict(conn)
    agent_id, claims = support_agent(conn)
    answer = resolve(
        conn,
        conflicted.conflict_id,
        "merge",
        reason="ticket 12",
        role="authenticated",
        claims=claims,
    )
    assert answer["conflict"]["status"] == "merged"
    assert answer["conflict"]["resolvedBy"] == {"role": "authenticated", "userId": str(agent_id)}
    row = conn.execute(
        "select actor_uid, source from customer_management.audit_log where action = 'resolve'"
    ).fetchone()
    assert row == (agent_id, "support")


def test_closed_conflicts_are_not_resolved_twice(conn: Conn) -> None:
    conflicted = raise_conflict(conn)
    resolve(conn, conflicted.conflict_id, "merge")
    error = rpc_error(
        conn, "resolve_conflict", {"conflict_id": conflicted.conflict_id, "action": "merge"}
    )
    assert (error["sqlstate"], error["message"]) == ("PT409", "conflict_closed")


@pytest.mark.parametrize(
    ("args", "code"),
    [
        ({"action": "delete"}, "invalid_action"),
        ({"action": None}, "invalid_action"),
        ({"action": "escalate", "reason": "x" * 1001}, "invalid_reason"),
        ({"action": "keep_separate", "survivor_id": str(uuid.uuid4())}, "invalid_survivor"),
    ],
)
def test_bad_arguments_change_nothing(conn: Conn, args: dict[str, Any], code: str) -> None:
    conflicted = raise_conflict(conn)
    before = table_snapshot(conn)
    error = rpc_error(conn, "resolve_conflict", {"conflict_id": conflicted.conflict_id, **args})
    assert (error["sqlstate"], error["message"]) == ("P0001", code)
    assert table_snapshot(conn) == before


def test_unknown_conflict_is_not_found_for_the_service_role(conn: Conn) -> None:
    error = rpc_error(
        conn, "resolve_conflict", {"conflict_id": str(uuid.uuid4()), "action": "merge"}
    )
    assert (error["sqlstate"], error["message"]) == ("PT404", "not_found")


def test_anon_cannot_call_it(conn: Conn) -> None:
    conflicted = raise_conflict(conn)
    error = rpc_error(
        conn,
        "resolve_conflict",
        {"conflict_id": conflicted.conflict_id, "action": "merge"},
        role="anon",
    )
    assert error["sqlstate"] == "42501"


def test_end_user_merges_a_conflict_their_own_proofs_open(conn: Conn) -> None:
    """The user whose confirmed phone and email opened the two accounts merges them."""
    conflicted, _, claims = raise_end_user_conflict(conn)
    answer = resolve(conn, conflicted.conflict_id, "merge", role="authenticated", claims=claims)
    assert answer["conflict"]["status"] == "merged"
    assert "id" not in answer["conflict"]["accounts"][0]
    assert "reason" not in answer["conflict"]
    assert count_customers(conn) == 1


def test_end_user_may_keep_separate_or_escalate_their_conflict(conn: Conn) -> None:
    conflicted, _, claims = raise_end_user_conflict(conn)
    answer = resolve(conn, conflicted.conflict_id, "escalate", role="authenticated", claims=claims)
    assert answer["conflict"]["status"] == "escalated"
    error = rpc_error(
        conn,
        "resolve_conflict",
        {"conflict_id": conflicted.conflict_id, "action": "merge"},
        "authenticated",
        claims,
    )
    assert (error["sqlstate"], error["message"]) == ("PT409", "conflict_closed")


def test_another_user_learns_nothing_about_a_conflict(conn: Conn) -> None:
    """Someone else's conflict and a conflict that does not exist answer alike: forbidden."""
    conflicted, _, _ = raise_end_user_conflict(conn)
    _, stranger = create_auth_user(conn, email="stranger@mail.com")
    before = table_snapshot(conn)
    answers = [
        rpc_error(
            conn,
            "resolve_conflict",
            {"conflict_id": conflict_id, "action": action},
            "authenticated",
            stranger,
        )
        for conflict_id in (conflicted.conflict_id, str(uuid.uuid4()))
        for action in ("merge", "keep_separate")
    ]
    assert all(answer == answers[0] for answer in answers)
    assert (answers[0]["sqlstate"], answers[0]["message"]) == ("42501", "forbidden")
    assert table_snapshot(conn) == before


def test_end_user_conflict_raised_by_the_service_role_is_not_theirs(conn: Conn) -> None:
    """A conflict only the backend met cannot be resolved by an end user, even one whose
    email is among its accounts."""
    conflicted = raise_conflict(conn)
    _, claims = create_auth_user(conn, email=EMAIL, phone=PHONE)
    error = rpc_error(
        conn,
        "resolve_conflict",
        {"conflict_id": conflicted.conflict_id, "action": "merge"},
        "authenticated",
        claims,
    )
    assert (error["sqlstate"], error["message"]) == ("42501", "forbidden")


def test_end_user_who_lost_a_proof_cannot_merge(conn: Conn) -> None:
    """The user raised the conflict with a confirmed phone, then the phone was changed in
    Supabase Auth: their proofs no longer open both accounts, so no merge."""
    conflicted, user_id, claims = raise_end_user_conflict(conn)
    conn.execute("update auth.users set phone_confirmed_at = null where id = %s", (user_id,))
    before = table_snapshot(conn)
    error = rpc_error(
        conn,
        "resolve_conflict",
        {"conflict_id": conflicted.conflict_id, "action": "merge"},
        "authenticated",
        claims,
    )
    assert (error["sqlstate"], error["message"]) == ("42501", "forbidden")
    assert table_snapshot(conn) == before


def test_accounts_of_two_logins_are_never_merged(conn: Conn) -> None:
    """A trusted backend met two accounts that belong to two logins: even the service role
    gets merge_blocked, and nothing changes."""
    _, first = create_auth_user(conn, email="first@mail.com")
    _, second = create_auth_user(conn, email="second@mail.com")
    call_rpc(conn, {"email": "first@mail.com", "source": "webapp"}, "authenticated", first)
    call_rpc(conn, {"email": "second@mail.com", "source": "webapp"}, "authenticated", second)
    answer = call_rpc(conn, {"email": "first@mail.com", "phone": PHONE, "source": "webapp"})
    call_rpc(conn, {"email": "second@mail.com", "phone": "+15556010002", "source": "webapp"})
    conflict = call_rpc(
        conn,
        {"email": "first@mail.com", "phone": "+15556010002", "source": "webapp"},
    )
    assert "customer" in answer and conflict["error"] == "Account conflict"
    before = table_snapshot(conn)
    error = rpc_error(
        conn, "resolve_conflict", {"conflict_id": conflict["conflictId"], "action": "merge"}
    )
    assert (error["sqlstate"], error["message"]) == ("PT409", "merge_blocked")
    assert table_snapshot(conn) == before


def test_a_stale_conflict_is_rechecked_not_applied(conn: Conn) -> None:
    """The phone that tied the accounts was released after the conflict was recorded:
    the merge is not applied, the conflict becomes outdated and says why."""
    conflicted = raise_conflict(conn)
    conn.execute(
        "update customer_management.customer_identifiers set status = 'pending' "
        "where type = 'phone' and value = %s",
        (PHONE,),
    )
    answer = resolve(conn, conflicted.conflict_id, "merge")
    assert answer["conflict"]["status"] == "outdated"
    assert notice_codes(answer) == ["conflict_outdated"]
    assert answer["mergeIds"] == [] and "customer" not in answer
    assert count_customers(conn) == 2


def test_any_merge_of_a_conflicts_accounts_closes_it(conn: Conn) -> None:
    """Merged through mergeIfFound instead: the conflict is closed as merged at once; a
    conflict of the merged-away account with a third one is closed as outdated."""
    conflicted = raise_conflict(conn)
    other = call_rpc(conn, {"phone": "+15556010003", "source": "webapp"})["customer"]["id"]
    side = call_rpc(conn, {"email": EMAIL, "phone": "+15556010003", "source": "webapp"})[
        "conflictId"
    ]
    merged = call_rpc(
        conn, {"phone": PHONE, "email": EMAIL, "source": "webapp", "mergeIfFound": True}
    )
    assert notice_codes(merged) == ["accounts_merged"]
    assert merged["notices"][0]["mergeIds"]
    assert conflict_row(conn, conflicted.conflict_id)["status"] == "merged"
    assert conflict_row(conn, side)["status"] == "outdated"
    assert customer(conn, other)["merged_into"] is None
