"""export_customer_data: every row any table keeps about the person is in the document, and
nothing about anyone else is; who may export whom.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from typing import Any

import psycopg
from psycopg import sql

from support.helpers import call_rpc, create_auth_user, with_code
from support.lifecycle import rpc, rpc_error, support_agent
from support.reads import insert_order

Conn = psycopg.Connection[Any]
PHONE = "+15556040001"
SECOND_PHONE = "+15556040002"
EMAIL = "yara@mail.com"
OTHER_PHONE = "+15556040099"
OTHER_EMAIL = "otto@mail.com"


def rows_mentioning(conn: Conn, needles: list[str]) -> dict[str, list[str]]:
    """Per table (outside the catalogs and Supabase Auth), the first column of every row
    whose text contains one of ``needles``."""
    tables = conn.execute(
        "select schemaname, tablename from pg_tables where schemaname not in "
        "('pg_catalog', 'information_schema', 'auth') order by 1, 2"
    ).fetchall()
    found: dict[str, list[str]] = {}
    for schema, name in tables:
        query = sql.SQL(
            "select (to_jsonb(t) -> (select a.attname from pg_attribute as a "
            "where a.attrelid = {rel}::regclass and a.attnum = 1))::text "
            "from {table} as t where t::text ilike any(%s)"
        ).format(rel=sql.Literal(f"{schema}.{name}"), table=sql.Identifier(schema, name))
        rows = conn.execute(query, ([f"%{n}%" for n in needles],)).fetchall()
        if rows:
            found[f"{schema}.{name}"] = [str(json.loads(row[0])) for row in rows]
    return found


def two_people(conn: Conn) -> tuple[dict[str, Any], list[str], list[str]]:
    """Yara (two merged accounts, orders, a used code, a conflict with Otto's account, a
    pending claim of her phone on Otto's account) and Otto. Returns Yara's live answer,
    her needles and Otto's needles."""
    first = call_rpc(conn, {"phone": PHONE, "firstName": "Yara", "source": "chatbot"})
    second = call_rpc(
        conn, with_code(conn, {"phone": SECOND_PHONE, "email": EMAIL, "source": "chatbot"})
    )
    merged = call_rpc(
        conn,
        with_code(
            conn, {"phone": PHONE, "email": EMAIL, "source": "chatbot", "mergeIfFound": True}
        ),
    )
    otto = call_rpc(
        conn, {"phone": OTHER_PHONE, "email": OTHER_EMAIL, "firstName": "Otto", "source": "webapp"}
    )
    _, otto_claims = create_auth_user(conn, email=OTHER_EMAIL)
    call_rpc(conn, {"phone": PHONE, "source": "webapp"}, "authenticated", otto_claims)
    call_rpc(conn, {"phone": SECOND_PHONE, "email": OTHER_EMAIL, "source": "webapp"})
    insert_order(conn, merged["customer"]["id"], dt.datetime(2026, 4, 2, tzinfo=dt.UTC))
    insert_order(conn, otto["customer"]["id"], dt.datetime(2026, 4, 3, tzinfo=dt.UTC))
    yara = [first["customer"]["id"], second["customer"]["id"], PHONE, SECOND_PHONE, EMAIL]
    others = [otto["customer"]["id"], OTHER_PHONE, OTHER_EMAIL, "Otto"]
    return merged, yara, others


def test_export_holds_every_row_about_the_person_and_nothing_else(conn: Conn) -> None:
    merged, yara, others = two_people(conn)
    document = rpc(conn, "export_customer_data", {"customer_id": merged["customer"]["id"]})
    text = json.dumps(document)

    about_her = rows_mentioning(conn, yara)
    assert {
        "public.customers",
        "public.orders",
        "customer_management.customer_identifiers",
        "customer_management.merge_log",
        "customer_management.audit_log",
        "customer_management.verifications",
        "customer_management.customer_conflicts",
        "public.customer_events",
    } <= set(about_her)
    exported = {
        "public.customers": [document["profile"]["id"]]
        + [a["id"] for a in document["mergedAccounts"]],
        "public.orders": [o["id"] for o in document["orders"]],
        "customer_management.order_summaries": [document["profile"]["id"]]
        + [a["id"] for a in document["mergedAccounts"]],
        "customer_management.customer_identifiers": [
            str(i["id"]) for i in document["identifiers"] + document["claimsOnOtherAccounts"]
        ],
        "customer_management.merge_log": [str(m["id"]) for m in document["merges"]],
        "customer_management.merge_undos": [str(m["id"]) for m in document["merges"]],
        "customer_management.audit_log": [str(a["id"]) for a in document["auditEntries"]],
        "customer_management.verifications": [v["id"] for v in document["verifications"]],
        "customer_management.customer_conflicts": [c["id"] for c in document["conflicts"]],
        "customer_management.rate_limit_counters": [
            r["bucket"] for r in document["rateLimitCounters"]
        ],
        "public.customer_events": [str(e["id"]) for e in document["events"]],
    }
    # The per-customer key is the kit's secret, not data about the person.
    assert set(about_her) - {"customer_management.customer_keys"} <= set(exported)
    for table, keys in about_her.items():
        if table != "customer_management.customer_keys":
            assert sorted(set(keys) - set(exported[table])) == [], table
    for needle in others:
        assert needle not in text, needle
    assert document["profile"]["firstName"] == "Yara"
    assert len(document["mergedAccounts"]) == 1
    assert [
        (c["type"], c["value"], c["status"], c["source"]) for c in document["claimsOnOtherAccounts"]
    ] == [("phone", PHONE, "pending", "webapp")]
    assert document["conflicts"][0]["otherAccounts"] == 1


def test_end_user_exports_their_own_and_a_merged_away_id_follows(conn: Conn) -> None:
    user_id, claims = create_auth_user(conn, email=EMAIL, phone=PHONE)
    own = call_rpc(conn, {"email": EMAIL, "source": "webapp"}, "authenticated", claims)
    document = rpc(conn, "export_customer_data", {}, "authenticated", claims)
    assert document["customerId"] == own["customer"]["id"]
    assert document["profile"]["authUserId"] == str(user_id)
    same = rpc(
        conn,
        "export_customer_data",
        {"customer_id": own["customer"]["id"]},
        "authenticated",
        claims,
    )
    assert same["identifiers"] == document["identifiers"]


def test_end_user_cannot_export_anyone_else(conn: Conn) -> None:
    """Another account and an id that does not exist answer alike."""
    other = call_rpc(conn, {"phone": OTHER_PHONE, "source": "chatbot"})["customer"]["id"]
    _, claims = create_auth_user(conn, email=EMAIL)
    call_rpc(conn, {"email": EMAIL, "source": "webapp"}, "authenticated", claims)
    answers = [
        rpc_error(conn, "export_customer_data", {"customer_id": target}, "authenticated", claims)
        for target in (other, str(uuid.uuid4()))
    ]
    assert answers[0] == answers[1]
    assert (answers[0]["sqlstate"], answers[0]["message"]) == ("42501", "forbidden")
    assert (
        rpc_error(conn, "export_customer_data", {"customer_id": other}, "anon")["sqlstate"]
        == "42501"
    )


def test_support_and_service_role_export_anyone(conn: Conn) -> None:
    merged, _, _ = two_people(conn)
    tombstone = next(
        cid
        for cid in rpc(conn, "export_customer_data", {"customer_id": merged["customer"]["id"]})[
            "mergedAccounts"
        ]
    )["id"]
    by_tombstone = rpc(conn, "export_customer_data", {"customer_id": tombstone})
    assert by_tombstone["customerId"] == merged["customer"]["id"]
    _, agent = support_agent(conn)
    by_agent = rpc(
        conn,
        "export_customer_data",
        {"customer_id": merged["customer"]["id"]},
        "authenticated",
        agent,
    )
    assert by_agent["identifiers"] == by_tombstone["identifiers"]
    error = rpc_error(conn, "export_customer_data", {"customer_id": str(uuid.uuid4())})
    assert (error["sqlstate"], error["message"]) == ("PT404", "not_found")
