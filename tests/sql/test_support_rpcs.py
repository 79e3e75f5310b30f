"""The support RPCs: the conflict queue, the customer search, a customer's full view and the
merge preview. Service role and support agents only; end users and anon get forbidden and
learn nothing; none of them changes anything.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import psycopg
import pytest

from customer_management.local import auth_users
from support.helpers import call_rpc, create_auth_user, table_snapshot
from support.lifecycle import EMAIL, PHONE, raise_conflict, rpc, rpc_error, support_agent
from support.reads import insert_order, one

Conn = psycopg.Connection[Any]
AGENT = "authenticated"


def support_calls(conflict_id: str, customer_id: str) -> list[tuple[str, dict[str, Any]]]:
    """One call of each support RPC, on existing ids."""
    return [
        ("support_conflict_queue", {}),
        ("support_conflict_queue", {"status": "escalated", "after_conflict_id": conflict_id}),
        ("support_find_customers", {"phone": PHONE}),
        ("support_find_customers", {"email": EMAIL}),
        ("support_customer_view", {"customer_id": customer_id}),
        ("support_merge_preview", {"conflict_id": conflict_id}),
        ("support_merge_preview", {"conflict_id": conflict_id, "survivor_id": customer_id}),
    ]


def error_of(conn: Conn, function: str, args: dict[str, Any], role: str, claims: Any) -> Any:
    """sqlstate, message, detail and hint of a refused call."""
    return rpc_error(conn, function, args, role, claims)


def test_end_users_and_anon_get_forbidden_and_learn_nothing(conn: Conn) -> None:
    """An end user (even the person the data is about) gets the same forbidden for existing
    and unknown ids; anon may not execute the functions; nothing changes."""
    conflicted = raise_conflict(conn)
    _, person = create_auth_user(conn, email=EMAIL, phone=PHONE)
    _, stranger = create_auth_user(conn, email="someone@else.example")
    before = table_snapshot(conn)
    unknown = str(uuid.uuid4())
    for claims in (person, stranger):
        for (function, args), (_, unknown_args) in zip(
            support_calls(conflicted.conflict_id, conflicted.phone_account),
            support_calls(unknown, unknown),
            strict=True,
        ):
            known = error_of(conn, function, args, "authenticated", claims)
            assert (known["sqlstate"], known["message"]) == ("42501", "forbidden"), function
            assert error_of(conn, function, unknown_args, "authenticated", claims) == known
        # Bad arguments do not get past the door either.
        bad = error_of(conn, "support_conflict_queue", {"status": "nope"}, "authenticated", claims)
        assert bad["message"] == "forbidden"
    for function, args in support_calls(conflicted.conflict_id, conflicted.phone_account):
        error = error_of(conn, function, args, "anon", None)
        assert error["sqlstate"] == "42501", function
        assert str(error["message"]).startswith("permission denied for function"), error
    assert table_snapshot(conn) == before


def test_the_agent_role_is_read_at_each_call(conn: Conn) -> None:
    """A support agent passes; once the role is taken away, or the agent banned, the same
    token gets forbidden. A user who put role=support in user_metadata is no agent."""
    conflicted = raise_conflict(conn)
    agent_id, agent = support_agent(conn)
    assert rpc(conn, "support_conflict_queue", {}, AGENT, agent)["total"] == 1

    conn.execute(
        "update auth.users set raw_app_meta_data = raw_app_meta_data - 'role' where id = %s",
        (agent_id,),
    )
    error = error_of(conn, "support_conflict_queue", {}, AGENT, agent)
    assert (error["sqlstate"], error["message"]) == ("42501", "forbidden")

    conn.execute(
        'update auth.users set raw_app_meta_data = raw_app_meta_data || \'{"role": "support"}\','
        " banned_until = now() + interval '1 day' where id = %s",
        (agent_id,),
    )
    view = {"customer_id": conflicted.phone_account}
    assert error_of(conn, "support_customer_view", view, AGENT, agent)["message"] == "forbidden"

    pretender = auth_users.create_user(conn, "pretender@shop.example")
    conn.execute(
        'update auth.users set raw_user_meta_data = \'{"role": "support"}\' where id = %s',
        (pretender.id,),
    )
    claims = {**pretender.claims(), "user_metadata": {"role": "support"}}
    assert error_of(conn, "support_customer_view", view, AGENT, claims)["message"] == "forbidden"


def test_queue_is_oldest_first_with_age_occurrences_and_unmasked_accounts(conn: Conn) -> None:
    """Open conflicts oldest first, with their age, occurrences and each account's id,
    email and phone; a repeat of the request bumps occurrences."""
    first = raise_conflict(conn)
    second = raise_conflict(conn, phone="+15556010002", email="lee@mail.com")
    call_rpc(conn, {"phone": PHONE, "email": EMAIL, "source": "webapp"})
    conn.execute(
        "update customer_management.customer_conflicts set created_at = now() - interval '2 hours'"
        " where id = %s",
        (first.conflict_id,),
    )
    _, agent = support_agent(conn)

    queue = rpc(conn, "support_conflict_queue", {}, AGENT, agent)
    assert queue["status"] == "open" and queue["total"] == 2 and queue["nextAfter"] is None
    assert [c["id"] for c in queue["conflicts"]] == [first.conflict_id, second.conflict_id]
    oldest = queue["conflicts"][0]
    assert 7200 <= oldest["ageSeconds"] < 7260
    assert oldest["occurrences"] == 2
    assert oldest["identifierTypes"] == ["email", "phone"]
    assert {(a["id"], a.get("phone"), a.get("email")) for a in oldest["accounts"]} == {
        (first.phone_account, PHONE, None),
        (first.email_account, None, EMAIL),
    }
    by_service = rpc(conn, "support_conflict_queue", {}, "service_role")
    assert [c["id"] for c in by_service["conflicts"]] == [c["id"] for c in queue["conflicts"]]


def test_queue_pages_by_keyset_and_filters_by_status(conn: Conn) -> None:
    """page_size and after_conflict_id walk the queue without repeats, even among conflicts
    recorded in the same instant; other statuses have their own queue."""
    conflicts = [
        raise_conflict(conn, phone=f"+1555601{n:04d}", email=f"p{n}@mail.com").conflict_id
        for n in range(5)
    ]
    conn.execute("update customer_management.customer_conflicts set created_at = '2026-01-01'")
    rpc(conn, "resolve_conflict", {"conflict_id": conflicts[0], "action": "escalate"})
    seen: list[str] = []
    after = None
    while True:
        args: dict[str, Any] = {"page_size": 2}
        if after is not None:
            args["after_conflict_id"] = after
        page = rpc(conn, "support_conflict_queue", args)
        assert len(page["conflicts"]) <= 2 and page["total"] == 4
        seen += [c["id"] for c in page["conflicts"]]
        after = page["nextAfter"]
        if after is None:
            break
    assert sorted(seen) == sorted(conflicts[1:]) and len(seen) == 4
    assert seen == sorted(seen)  # equal created_at: ordered by id
    escalated = rpc(conn, "support_conflict_queue", {"status": "escalated"})
    assert [c["id"] for c in escalated["conflicts"]] == [conflicts[0]]
    assert escalated["conflicts"][0]["resolvedBy"] == {"role": "service_role"}


@pytest.mark.parametrize(
    ("args", "sqlstate", "message"),
    [
        ({"status": "closed"}, "P0001", "invalid_request"),
        ({"status": None}, "P0001", "invalid_request"),
        ({"page_size": 0}, "P0001", "invalid_page"),
        ({"page_size": 201}, "P0001", "invalid_page"),
        ({"after_conflict_id": "5b0c5f34-60a9-4d47-9ab3-39c1b1a7c5d1"}, "PT404", "not_found"),
    ],
)
def test_queue_refuses_bad_arguments(
    conn: Conn, args: dict[str, Any], sqlstate: str, message: str
) -> None:
    error = rpc_error(conn, "support_conflict_queue", args)
    assert (error["sqlstate"], error["message"]) == (sqlstate, message)


def test_find_customers_normalises_like_the_rpc_and_matches_exactly(conn: Conn) -> None:
    """The phone typed any way the RPC reads it, the email in any case and with spaces,
    find the account; a near miss finds nothing."""
    conflicted = raise_conflict(conn)
    _, agent = support_agent(conn)

    def find(**args: Any) -> Any:
        return rpc(conn, "support_find_customers", args, AGENT, agent)

    by_phone = find(phone="(555) 601-0001")
    assert by_phone["phone"] == PHONE and by_phone["email"] is None
    assert [c["id"] for c in by_phone["customers"]] == [conflicted.phone_account]
    assert by_phone["customers"][0]["matchedBy"] == [
        {"type": "phone", "status": "active", "onAccount": conflicted.phone_account}
    ]
    assert by_phone["customers"][0]["phone"] == PHONE
    assert by_phone["customers"][0]["source"] == "chatbot"

    by_email = find(email="  KIM@Mail.com ")
    assert by_email["email"] == EMAIL
    assert [c["id"] for c in by_email["customers"]] == [conflicted.email_account]

    both = find(phone="+1 555 601 0001", email=EMAIL)
    assert [c["id"] for c in both["customers"]] == [
        conflicted.phone_account,
        conflicted.email_account,
    ]
    assert find(email="kim@mail.co")["customers"] == []
    assert find(phone="+15556010000")["customers"] == []
    assert find(email="unknown")["customers"] == []  # a placeholder matches nothing


def test_find_follows_merges_and_shows_pending_claims(conn: Conn) -> None:
    """After a merge both identifiers lead to the survivor; an email only claimed on the
    phone is found as a pending claim, not as the account's own."""
    conflicted = raise_conflict(conn)
    rpc(conn, "resolve_conflict", {"conflict_id": conflicted.conflict_id, "action": "merge"})
    found = rpc(conn, "support_find_customers", {"phone": PHONE, "email": EMAIL})
    assert [c["id"] for c in found["customers"]] == [conflicted.phone_account]
    assert {m["type"] for m in found["customers"][0]["matchedBy"]} == {"phone", "email"}

    caller = call_rpc(conn, {"phone": "+15556010077", "email": "ann@mail.com", "source": "chatbot"})
    claim = rpc(conn, "support_find_customers", {"email": "ann@mail.com"})
    assert [c["id"] for c in claim["customers"]] == [caller["customer"]["id"]]
    assert claim["customers"][0]["matchedBy"][0]["status"] == "pending"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({}, "invalid_request"),
        ({"phone": "  ", "email": ""}, "invalid_request"),
        ({"phone": "555-01"}, "invalid_phone"),
        ({"email": "not an email"}, "invalid_email"),
    ],
)
def test_find_refuses_bad_input(conn: Conn, args: dict[str, Any], message: str) -> None:
    error = rpc_error(conn, "support_find_customers", args)
    assert (error["sqlstate"], error["message"]) == ("P0001", message)


def test_customer_view_shows_history_with_both_sides_and_undo_state(conn: Conn) -> None:
    """After an agent's merge: the survivor's view (also reached by the merged-away id) has
    both accounts' identifiers and orders, the merge with both ids, the agent as actor and
    what an undo would restore; after the agent's undo the merge shows as undone."""
    conflicted = raise_conflict(conn)
    insert_order(conn, conflicted.email_account, dt.datetime(2026, 11, 1, tzinfo=dt.UTC))
    agent_id, agent = support_agent(conn)
    merged = rpc(
        conn,
        "resolve_conflict",
        {"conflict_id": conflicted.conflict_id, "action": "merge", "reason": "same person"},
        AGENT,
        agent,
    )
    (merge_id,) = merged["mergeIds"]

    view = rpc(
        conn, "support_customer_view", {"customer_id": conflicted.email_account}, AGENT, agent
    )
    assert view["customerId"] == conflicted.phone_account
    assert view["requestedId"] == conflicted.email_account
    assert view["account"]["phone"] == PHONE and view["account"]["email"] == EMAIL
    assert view["account"]["orderCount"] == 1
    assert {(i["type"], i["status"]) for i in view["identifiers"]} == {
        ("phone", "active"),
        ("email", "active"),
    }
    phone_row = next(i for i in view["identifiers"] if i["type"] == "phone")
    assert phone_row["verifiedAt"] is not None  # the chatbot's line
    assert len(view["orders"]) == 1
    (merge,) = view["merges"]
    assert merge["id"] == merge_id
    assert (merge["survivorId"], merge["mergedId"]) == (
        conflicted.phone_account,
        conflicted.email_account,
    )
    assert merge["actor"] == {"role": "authenticated", "userId": str(agent_id)}
    assert merge["reason"] == "same person" and merge["undone"] is None
    assert [i["type"] for i in merge["movedIdentifiers"]] == ["email"]
    assert merge["undo"]["possible"] is True and merge["undo"]["laterMerges"] == []
    restores = merge["undo"]["restores"]
    assert restores["account"]["id"] == conflicted.email_account
    assert restores["account"]["email"] == EMAIL
    assert restores["survivor"]["email"] is None and restores["survivor"]["phone"] == PHONE
    assert (restores["identifiers"], restores["orders"], restores["conflicts"]) == (1, 1, 1)
    (conflict,) = view["conflicts"]
    assert conflict["status"] == "merged"
    assert {a["id"] for a in conflict["accounts"]} == {
        conflicted.phone_account,
        conflicted.email_account,
    }
    assert conflict["resolvedBy"] == {"role": "authenticated", "userId": str(agent_id)}
    resolve = next(a for a in view["auditEntries"] if a["action"] == "resolve")
    assert resolve["actor"] == {"role": "authenticated", "userId": str(agent_id)}
    assert resolve["relatedCustomerId"] is not None

    undone = rpc(conn, "undo_merge", {"merge_id": merge_id, "reason": "wrong merge"}, AGENT, agent)
    assert undone["undoneMergeIds"] == [merge_id]
    after = rpc(conn, "support_customer_view", {"customer_id": conflicted.phone_account})
    (merge,) = after["merges"]
    assert merge["undo"] is None
    assert merge["undone"]["reason"] == "wrong merge"
    assert merge["undone"]["actor"] == {"role": "authenticated", "userId": str(agent_id)}
    assert after["account"]["email"] is None and after["orders"] == []
    other = rpc(conn, "support_customer_view", {"customer_id": conflicted.email_account})
    assert other["customerId"] == conflicted.email_account
    assert other["account"]["orderCount"] == 1
    assert [c["status"] for c in other["conflicts"]] == ["open"]


def test_customer_view_names_later_merges_that_block_an_undo(conn: Conn) -> None:
    conflicted = raise_conflict(conn)
    rpc(conn, "resolve_conflict", {"conflict_id": conflicted.conflict_id, "action": "merge"})
    call_rpc(conn, {"phone": "+15556010009", "source": "webapp"})
    call_rpc(
        conn,
        {"phone": "+15556010009", "email": EMAIL, "source": "webapp", "mergeIfFound": True},
    )
    view = rpc(conn, "support_customer_view", {"customer_id": conflicted.phone_account})
    second, first = view["merges"]
    assert first["undo"]["possible"] is False
    assert first["undo"]["laterMerges"] == [second["id"]]
    assert second["undo"]["possible"] is True


@pytest.mark.parametrize(
    ("args", "sqlstate", "message"),
    [
        ({"customer_id": None}, "P0001", "invalid_request"),
        ({"customer_id": "1e4f1f3a-5a1b-4b9a-8f0e-0f6c3d2b1a00"}, "PT404", "not_found"),
    ],
)
def test_customer_view_refuses_bad_ids(
    conn: Conn, args: dict[str, Any], sqlstate: str, message: str
) -> None:
    error = rpc_error(conn, "support_customer_view", args)
    assert (error["sqlstate"], error["message"]) == (sqlstate, message)


def test_merge_preview_says_what_the_merge_then_does(conn: Conn) -> None:
    """The preview names the rule's survivor (the older account), the identifiers and orders
    the other account hands over and the result; it changes nothing, and the merge that
    follows does exactly that."""
    conflicted = raise_conflict(conn)
    insert_order(conn, conflicted.email_account, dt.datetime(2026, 11, 1, tzinfo=dt.UTC))
    _, agent = support_agent(conn)
    before = table_snapshot(conn)
    preview = rpc(
        conn, "support_merge_preview", {"conflict_id": conflicted.conflict_id}, AGENT, agent
    )
    assert table_snapshot(conn) == before
    assert preview["canMerge"] is True and preview["blockedBecause"] is None
    assert preview["survivorId"] == preview["ruleSurvivorId"] == conflicted.phone_account
    assert preview["survivorChosen"] is False
    assert [a["willSurvive"] for a in preview["accounts"]] == [True, False]
    (move,) = preview["moves"]
    assert move["fromId"] == conflicted.email_account
    assert [(i["type"], i["value"]) for i in move["identifiers"]] == [("email", EMAIL)]
    assert move["orders"] == 1
    result = preview["result"]
    assert (result["id"], result["phone"], result["email"]) == (
        conflicted.phone_account,
        PHONE,
        EMAIL,
    )
    assert result["accountSources"] == ["chatbot", "webapp"] and result["orderCount"] == 1

    merged = rpc(
        conn, "resolve_conflict", {"conflict_id": conflicted.conflict_id, "action": "merge"}
    )
    assert merged["customer"]["id"] == preview["survivorId"]
    moved = one(
        conn,
        "select moved_identifier_ids from customer_management.merge_log where id = %s",
        (merged["mergeIds"][0],),
    )
    assert moved == [i["id"] for i in move["identifiers"]]
    assert merged["customer"]["accountSources"] == result["accountSources"]


def test_merge_preview_with_a_chosen_survivor(conn: Conn) -> None:
    """survivor_id turns the preview around; a merged-away id is followed; an id outside
    the conflict is invalid_survivor."""
    conflicted = raise_conflict(conn)
    args = {"conflict_id": conflicted.conflict_id, "survivor_id": conflicted.email_account}
    preview = rpc(conn, "support_merge_preview", args)
    assert preview["survivorId"] == conflicted.email_account
    assert preview["ruleSurvivorId"] == conflicted.phone_account
    assert preview["survivorChosen"] is True
    (move,) = preview["moves"]
    assert move["fromId"] == conflicted.phone_account
    assert [i["type"] for i in move["identifiers"]] == ["phone"]
    assert preview["result"]["id"] == conflicted.email_account

    error = rpc_error(
        conn,
        "support_merge_preview",
        {"conflict_id": conflicted.conflict_id, "survivor_id": str(uuid.uuid4())},
    )
    assert (error["sqlstate"], error["message"]) == ("P0001", "invalid_survivor")


def test_merge_preview_says_why_a_merge_cannot_happen(conn: Conn) -> None:
    """Two logins: merge_blocked. A resolved conflict: conflict_closed. One of its accounts
    merged elsewhere: conflict_outdated. Nothing is previewed as moving."""
    _, first_user = create_auth_user(conn, email="one@mail.com")
    _, second_user = create_auth_user(conn, phone="+15556010044")
    call_rpc(conn, {"email": "one@mail.com", "source": "webapp"}, "authenticated", first_user)
    call_rpc(conn, {"phone": "+15556010044", "source": "webapp"}, "authenticated", second_user)
    two_logins = call_rpc(
        conn, {"phone": "+15556010044", "email": "one@mail.com", "source": "webapp"}
    )
    preview = rpc(conn, "support_merge_preview", {"conflict_id": two_logins["conflictId"]})
    assert (preview["canMerge"], preview["blockedBecause"]) == (False, "merge_blocked")
    assert preview["moves"] == [] and preview["result"] is None

    conflicted = raise_conflict(conn)
    rpc(conn, "resolve_conflict", {"conflict_id": conflicted.conflict_id, "action": "escalate"})
    escalated = rpc(conn, "support_merge_preview", {"conflict_id": conflicted.conflict_id})
    assert escalated["canMerge"] is True
    rpc(conn, "resolve_conflict", {"conflict_id": conflicted.conflict_id, "action": "merge"})
    closed = rpc(conn, "support_merge_preview", {"conflict_id": conflicted.conflict_id})
    assert (closed["canMerge"], closed["blockedBecause"]) == (False, "conflict_closed")

    # The email that tied the accounts is released from one of them (as the verified owner
    # rule releases an identifier): the conflict no longer stands as recorded.
    other = raise_conflict(conn, phone="+15556010055", email="max@mail.com")
    conn.execute(
        "select customer_management.release_identifier(ci.id, row('postgres', null, true)"
        "::customer_management.api_caller, 'support', 'test') "
        "from customer_management.customer_identifiers as ci "
        "where ci.customer_id = %s and ci.type = 'email'",
        (other.email_account,),
    )
    stale = rpc(conn, "support_merge_preview", {"conflict_id": other.conflict_id})
    assert stale["conflict"]["status"] == "open"
    assert (stale["canMerge"], stale["blockedBecause"]) == (False, "conflict_outdated")
    assert stale["moves"] == []


def test_merge_preview_refuses_bad_ids(conn: Conn) -> None:
    error = rpc_error(conn, "support_merge_preview", {"conflict_id": None})
    assert (error["sqlstate"], error["message"]) == ("P0001", "invalid_request")
    error = rpc_error(conn, "support_merge_preview", {"conflict_id": str(uuid.uuid4())})
    assert (error["sqlstate"], error["message"]) == ("PT404", "not_found")
