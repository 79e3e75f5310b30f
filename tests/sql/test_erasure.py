"""erase_customer: afterwards no table holds the person's name, phone or email in clear
text; orders stay without a customer; the audit's keyed hashes still match the erased
identifiers; other people's merges stay undoable; a deleted login can erase its customer.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import psycopg
from psycopg import sql

from support.helpers import call_rpc, create_auth_user, table_snapshot, with_code
from support.lifecycle import rpc, rpc_error
from support.reads import insert_order, one, set_settings

Conn = psycopg.Connection[Any]
NAME = "Zebulon"
PHONE = "+15556030001"
OTHER_PHONE = "+15556030002"
EMAIL = "zebulon@mail.com"


def tables_holding(conn: Conn, needle: str) -> list[str]:
    """Every table (outside the catalogs and Supabase Auth, which the host owns) with a row
    whose text contains ``needle``."""
    tables = conn.execute(
        "select schemaname, tablename from pg_tables where schemaname not in "
        "('pg_catalog', 'information_schema', 'auth')"
    ).fetchall()
    holding = []
    for schema, name in tables:
        query = sql.SQL("select count(*) from {} as t where t::text ilike %s").format(
            sql.Identifier(schema, name)
        )
        row = conn.execute(query, (f"%{needle}%",)).fetchone()
        if row and row[0]:
            holding.append(f"{schema}.{name}")
    return holding


def person_with_history(conn: Conn) -> tuple[str, list[str]]:
    """A person with two merged accounts, a pending claim of their phone on someone else's
    account, a used verification code, orders, a conflict and rate-limit counters. Returns
    the live id and the ids of every account of theirs."""
    chatbot = call_rpc(conn, {"phone": PHONE, "firstName": NAME, "source": "chatbot"})
    web = call_rpc(
        conn, with_code(conn, {"phone": OTHER_PHONE, "email": EMAIL, "source": "chatbot"})
    )
    call_rpc(conn, {"email": "someone@mail.com", "source": "webapp"})
    _, claims = create_auth_user(conn, email="someone@mail.com")
    claimed = call_rpc(conn, {"phone": PHONE, "source": "webapp"}, "authenticated", claims)
    assert claimed["verificationRequired"] == [{"type": "phone", "value": PHONE}]
    merged = call_rpc(
        conn,
        with_code(
            conn, {"phone": PHONE, "email": EMAIL, "source": "chatbot", "mergeIfFound": True}
        ),
    )
    live = merged["customer"]["id"]
    start = dt.datetime(2026, 4, 1, tzinfo=dt.UTC)
    insert_order(conn, live, start)
    insert_order(conn, live, start + dt.timedelta(days=1))
    return live, sorted({chatbot["customer"]["id"], web["customer"]["id"]})


def test_nothing_of_the_person_is_left_in_clear_text(conn: Conn) -> None:
    live, accounts = person_with_history(conn)
    for needle in (NAME, PHONE, PHONE[2:], EMAIL):
        assert tables_holding(conn, needle), needle
    digests = {
        kind: one(conn, "select customer_management.identifier_digest(%s, %s)", (kind, value))
        for kind, value in (("phone", PHONE), ("email", EMAIL))
    }

    answer = rpc(conn, "erase_customer", {"customer_id": live, "reason": "customer asked"})
    assert answer["erased"] is True
    assert sorted(answer["customerIds"]) == accounts
    assert answer["ordersKept"] == 2

    for needle in (NAME, PHONE, PHONE[2:], EMAIL):
        assert tables_holding(conn, needle) == [], needle
    orders = conn.execute(
        "select customer_id, customer_erased_at is not null from public.orders"
    ).fetchall()
    assert orders == [(None, True), (None, True)]
    assert (
        one(conn, "select count(*) from public.customers where id = any(%s::uuid[])", (accounts,))
        == 0
    )
    details = one(
        conn, "select details::text from customer_management.audit_log where action = 'erasure'"
    )
    assert digests["phone"] in details and digests["email"] in details
    assert (
        one(
            conn,
            "select count(*) from customer_management.merge_log "
            "where customer_management.unseal(survivor_id, survivor_before) is not null",
        )
        == 0
    )
    events = conn.execute(
        "select event, customer_ids::text[] from public.customer_events"
    ).fetchall()
    assert ("erased", accounts) in [(event, sorted(ids)) for event, ids in events]


def test_words_about_the_person_are_gone_with_them(conn: Conn) -> None:
    """A caller escalated a conflict in her own words, support merged with a note and undid
    it with another: after her erasure no table holds any of those words in clear, and no
    note about her can be read."""
    words = "I am Zoe Private, zoe.private@example.org, my other number is 555 0199"
    web = call_rpc(conn, {"email": "zoe.private@example.org", "source": "webapp"})
    both = {"phone": PHONE, "email": "zoe.private@example.org", "source": "chatbot"}
    call_rpc(conn, {"phone": PHONE, "source": "chatbot"})
    conflict = call_rpc(conn, with_code(conn, both))["conflictId"]
    rpc(conn, "resolve_conflict", {"conflict_id": conflict, "action": "escalate", "reason": words})
    merged = rpc(
        conn,
        "resolve_conflict",
        {"conflict_id": conflict, "action": "merge", "reason": "Zoe Private confirmed by phone"},
    )
    rpc(
        conn,
        "undo_merge",
        {"merge_id": merged["mergeIds"][0], "reason": "Zoe Private says not hers"},
    )
    notes = [
        row[0]
        for row in conn.execute("select 'note:' || id from customer_management.notes").fetchall()
    ]
    assert len(notes) == 3
    assert all(one(conn, "select customer_management.read_note(%s)", (n,)) for n in notes)
    for account in (web["customer"]["id"],):
        rpc(conn, "erase_customer", {"customer_id": account, "reason": "Zoe Private asked"})
    for needle in ("Zoe Private", "zoe.private", "555 0199", "not hers"):
        assert tables_holding(conn, needle) == [], needle
    assert [one(conn, "select customer_management.read_note(%s)", (n,)) for n in notes] == [
        None,
        None,
        None,
    ]


def test_an_erased_phone_can_start_afresh(conn: Conn) -> None:
    live, _ = person_with_history(conn)
    rpc(conn, "erase_customer", {"customer_id": live})
    fresh = call_rpc(conn, {"phone": PHONE, "source": "chatbot"})
    assert fresh["customer"]["isNewAccount"] is True
    assert fresh["orderHistory"] == []


def test_undo_of_an_erased_persons_merge_is_refused(conn: Conn) -> None:
    """Their merge cannot be undone (the key is gone); another person's merge still can."""
    live, _ = person_with_history(conn)
    call_rpc(conn, {"phone": "+15556030007", "source": "webapp"})
    call_rpc(conn, {"email": "other@mail.com", "source": "webapp"})
    others = call_rpc(
        conn,
        {
            "phone": "+15556030007",
            "email": "other@mail.com",
            "source": "webapp",
            "mergeIfFound": True,
        },
    )
    other_merge = others["notices"][0]["mergeIds"][0]
    person_merge = one(
        conn, "select min(id) from customer_management.merge_log where survivor_id = %s", (live,)
    )
    rpc(conn, "erase_customer", {"customer_id": live})

    before = table_snapshot(conn)
    error = rpc_error(conn, "undo_merge", {"merge_id": person_merge})
    assert (error["sqlstate"], error["message"]) == ("PT409", "customer_erased")
    assert table_snapshot(conn) == before
    assert rpc(conn, "undo_merge", {"merge_id": other_merge})["undoneMergeIds"] == [other_merge]


def test_end_user_erases_their_own_account_only(conn: Conn) -> None:
    user_id, claims = create_auth_user(conn, email=EMAIL)
    own = call_rpc(conn, {"email": EMAIL, "source": "webapp"}, "authenticated", claims)
    other = call_rpc(conn, {"phone": OTHER_PHONE, "source": "chatbot"})["customer"]["id"]
    before = table_snapshot(conn)
    for target in (other, str(uuid.uuid4())):
        error = rpc_error(conn, "erase_customer", {"customer_id": target}, "authenticated", claims)
        assert (error["sqlstate"], error["message"]) == ("42501", "forbidden")
    error = rpc_error(conn, "erase_customer", {"customer_id": other}, "anon")
    assert error["sqlstate"] == "42501"
    assert table_snapshot(conn) == before

    answer = rpc(conn, "erase_customer", {}, "authenticated", claims)
    assert answer["customerIds"] == [own["customer"]["id"]]
    assert tables_holding(conn, EMAIL) == []
    assert one(conn, "select count(*) from auth.users where id = %s", (user_id,)) == 1
    error = rpc_error(conn, "erase_customer", {}, "authenticated", claims)
    assert (error["sqlstate"], error["message"]) == ("PT404", "not_found")


def test_unknown_customer_is_not_found_for_the_service_role(conn: Conn) -> None:
    error = rpc_error(conn, "erase_customer", {"customer_id": str(uuid.uuid4())})
    assert (error["sqlstate"], error["message"]) == ("PT404", "not_found")
    error = rpc_error(conn, "erase_customer", {})
    assert (error["sqlstate"], error["message"]) == ("P0001", "invalid_request")


def test_deleting_the_login_erases_when_settings_say_so(conn: Conn) -> None:
    """By default a deleted login only unlinks its customer; with erase_on_auth_user_delete
    the customer is erased with it."""
    kept_user, kept_claims = create_auth_user(conn, email="kept@mail.com")
    kept = call_rpc(conn, {"source": "webapp"}, "authenticated", kept_claims)
    conn.execute("delete from auth.users where id = %s", (kept_user,))
    assert (
        one(conn, "select count(*) from public.customers where id = %s", (kept["customer"]["id"],))
        == 1
    )

    set_settings(conn, erase_on_auth_user_delete=True)
    user_id, claims = create_auth_user(conn, email=EMAIL)
    gone = call_rpc(
        conn, {"email": EMAIL, "phone": PHONE, "source": "webapp"}, "authenticated", claims
    )
    assert tables_holding(conn, EMAIL) and tables_holding(conn, PHONE)
    insert_order(conn, gone["customer"]["id"], dt.datetime(2026, 4, 1, tzinfo=dt.UTC))
    conn.execute("delete from auth.users where id = %s", (user_id,))
    assert tables_holding(conn, EMAIL) == [] and tables_holding(conn, PHONE) == []
    assert (
        one(conn, "select count(*) from public.customers where id = %s", (gone["customer"]["id"],))
        == 0
    )
    assert one(conn, "select count(*) from public.orders where customer_id is null") == 1
    assert one(
        conn,
        "select source is null and details ->> 'reason' = 'auth_user_deleted' "
        "from customer_management.audit_log where action = 'erasure'",
    )
