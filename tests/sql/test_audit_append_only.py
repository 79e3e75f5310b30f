"""The audit trail (customer_management.audit_log, .merge_log, .merge_undos and the
public.customer_events outbox) is append-only for every role.

The API roles cannot write it; the table owner (here the ``postgres`` superuser, who owns
every migrated table) is stopped by a trigger with ``audit_log_append_only``. Erasure does
not need to change it: entries hold ids and keyed hashes, and the merge log's before-images
are sealed with a key erasure destroys.
"""

from __future__ import annotations

from typing import Any

import psycopg
import pytest

from support.helpers import call_rpc, create_auth_user, table_snapshot
from support.security import Conn, sql_error

AUDIT_TABLES = (
    "customer_management.audit_log",
    "customer_management.merge_log",
    "customer_management.merge_undos",
    "public.customer_events",
)
ORDER_KEYS = {
    "customer_management.audit_log": "id",
    "customer_management.merge_log": "id",
    "customer_management.merge_undos": "merge_id",
    "public.customer_events": "id",
}
TIMESTAMP_COLUMNS = {
    "customer_management.audit_log": "occurred_at",
    "customer_management.merge_log": "created_at",
    "customer_management.merge_undos": "undone_at",
    "public.customer_events": "occurred_at",
}
STATEMENTS = {
    "update": "update {table} set created_at = created_at",
    "delete": "delete from {table}",
    "truncate": "truncate {table}",
}


def timestamp_column(table: str) -> str:
    """The audit table's own timestamp column (a harmless column to 'update')."""
    return TIMESTAMP_COLUMNS[table]


def statement_for(kind: str, table: str) -> str:
    """An UPDATE, DELETE or TRUNCATE of the whole audit table."""
    return STATEMENTS[kind].format(table=table).replace("created_at", timestamp_column(table))


@pytest.fixture
def audited(conn: Conn) -> dict[str, Any]:
    """A merge through the RPC and its undo, so every audit table holds rows; returns an end
    user's claims."""
    call_rpc(conn, {"phone": "+15554440001", "source": "chatbot"})
    call_rpc(conn, {"email": "dana@mail.com", "source": "webapp"})
    merged = call_rpc(
        conn,
        {
            "phone": "+15554440001",
            "email": "dana@mail.com",
            "source": "webapp",
            "mergeIfFound": True,
        },
    )
    assert any(n["code"] == "accounts_merged" for n in merged.get("notices", []))
    counts = conn.execute(
        "select (select count(*) from customer_management.audit_log), (select count(*) from "
        "customer_management.merge_log)"
    ).fetchone()
    assert counts is not None and counts[0] >= 3 and counts[1] == 1
    conn.execute(
        "select public.undo_merge(%s, false, 'test')", (merged["notices"][-1]["mergeIds"][0],)
    )
    _, claims = create_auth_user(conn, email="dana@mail.com", phone="+15554440001")
    return claims


@pytest.mark.parametrize("role", ["authenticated", "service_role", "anon"])
def test_api_roles_cannot_touch_the_audit(conn: Conn, audited: dict[str, Any], role: str) -> None:
    """authenticated, service_role and anon: select, insert, update, delete, truncate refused
    (but the service role reads the events outbox, which is there for it)."""
    claims = audited if role == "authenticated" else None
    before = table_snapshot(conn)
    for table in AUDIT_TABLES:
        readable = role == "service_role" and table == "public.customer_events"
        statements = [
            *([] if readable else [f"select * from {table}"]),
            f"insert into {table} default values",
            *(statement_for(kind, table) for kind in STATEMENTS),
        ]
        for statement in statements:
            error = sql_error(conn, role, claims, statement)
            assert error["sqlstate"] == "42501", (statement, error)
            assert str(error["message"]).startswith("permission denied"), (statement, error)
    assert table_snapshot(conn) == before


@pytest.mark.parametrize("table", AUDIT_TABLES)
@pytest.mark.parametrize("kind", list(STATEMENTS))
def test_table_owner_is_refused_by_the_trigger(
    conn: Conn, audited: dict[str, Any], table: str, kind: str
) -> None:
    """The owner (superuser) gets audit_log_append_only for UPDATE, DELETE and TRUNCATE."""
    owner = conn.execute(
        "select tableowner from pg_tables where %s = schemaname || '.' || tablename", (table,)
    ).fetchone()
    current = conn.execute("select current_user").fetchone()
    assert owner == current, "the test connection acts as the table owner"
    before = table_snapshot(conn)
    with pytest.raises(psycopg.Error) as caught:
        conn.execute(statement_for(kind, table))
    assert caught.value.diag.sqlstate == "42501"
    assert caught.value.diag.message_primary == "audit_log_append_only"
    assert table_snapshot(conn) == before


@pytest.mark.parametrize("table", AUDIT_TABLES)
@pytest.mark.parametrize("kind", ["delete", "truncate"])
def test_erasure_flag_never_allows_delete_or_truncate(
    conn: Conn, audited: dict[str, Any], table: str, kind: str
) -> None:
    """Even with the erasure flag set, the owner cannot delete or truncate audit rows."""
    before = table_snapshot(conn)
    with pytest.raises(psycopg.Error) as caught, conn.transaction():
        conn.execute("select set_config('customer_management.audit_erasure', 'on', true)")
        conn.execute(statement_for(kind, table))
    assert caught.value.diag.message_primary == "audit_log_append_only"
    assert table_snapshot(conn) == before


@pytest.mark.parametrize("table", AUDIT_TABLES)
def test_end_user_setting_the_erasure_flag_gains_nothing(
    conn: Conn, audited: dict[str, Any], table: str
) -> None:
    """The flag is a plain setting anyone can set; privileges still refuse the API roles."""
    before = table_snapshot(conn)
    for role in ("authenticated", "service_role"):
        error = sql_error(
            conn,
            role,
            audited if role == "authenticated" else None,
            "select set_config('customer_management.audit_erasure', 'on', true); "
            + statement_for("update", table),
        )
        assert error["sqlstate"] == "42501", error
    assert table_snapshot(conn) == before


def test_rpc_calls_only_append(conn: Conn, audited: dict[str, Any]) -> None:
    """Further calls add audit rows and never change or remove an existing one."""
    before = {
        table: [
            row[0]
            for row in conn.execute(
                f"select t::text from {table} as t order by {ORDER_KEYS[table]}"
            )
        ]
        for table in AUDIT_TABLES
    }
    call_rpc(conn, {"phone": "+15554440001", "firstName": "Dana", "source": "webapp"})
    call_rpc(conn, {"phone": "+15554440002", "source": "chatbot"})
    for table in AUDIT_TABLES:
        after = [
            row[0]
            for row in conn.execute(
                f"select t::text from {table} as t order by {ORDER_KEYS[table]}"
            )
        ]
        assert after[: len(before[table])] == before[table]
    grown = conn.execute("select count(*) from customer_management.audit_log").fetchone()
    assert grown is not None and grown[0] > len(before["customer_management.audit_log"])


def test_audit_events_name_fields_not_values(conn: Conn, audited: dict[str, Any]) -> None:
    """audit_log details say what changed (fields, identifier types), never the values."""
    call_rpc(conn, {"phone": "+15554440001", "firstName": "Dana", "source": "webapp"})
    call_rpc(
        conn,
        {"phone": "+15554440001", "email": "dana.work@mail.com", "source": "webapp"},
    )
    call_rpc(
        conn,
        {
            "phone": "+15554440001",
            "email": "dana@mail.com",
            "lastName": "Quill",
            "allergies": ["kiwi"],
            "source": "webapp",
        },
        "authenticated",
        audited,
    )
    text = conn.execute(
        "select coalesce(string_agg(a::text, ' '), '') from customer_management.audit_log as a"
    ).fetchone()
    assert text is not None
    for value in ("5554440001", "dana@mail.com", "dana.work@mail.com", "Dana", "Quill", "kiwi"):
        assert value.lower() not in str(text[0]).lower(), value
    actions = {row[0] for row in conn.execute("select action from customer_management.audit_log")}
    assert {"create", "merge", "link", "update"} <= actions
