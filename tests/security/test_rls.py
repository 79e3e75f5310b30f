"""Direct table access (``supabase.from(...)``) under real roles and claims.

An end user (``authenticated``) sees only their own live account and its orders, may change
only names, allergies and preferences, never inserts or deletes, and cannot touch the
private schema at all. ``anon`` gets nothing. ``service_role`` keeps full access to the
public tables (BYPASSRLS), as on Supabase.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import psycopg
import pytest

from support.helpers import call_rpc, create_auth_user, table_snapshot
from support.security import Conn, add_order, as_role, customer_state, sql_error

PERMISSION_DENIED = "42501"


@dataclass
class World:
    """Two signed-in users with accounts and orders, a chatbot-only account, a tombstone."""

    alice_claims: dict[str, Any]
    alice_customer: str
    alice_orders: list[str]
    bob_claims: dict[str, Any]
    bob_customer: str
    bob_orders: list[str]
    chatbot_customer: str
    chatbot_orders: list[str]
    tombstone: str
    tombstone_orders: list[str]


@pytest.fixture
def world(conn: Conn) -> World:
    """Accounts made through the RPC as their owners would make them, plus orders."""
    _, alice_claims = create_auth_user(conn, email="alice@example.com")
    alice = call_rpc(
        conn,
        {"email": "alice@example.com", "firstName": "Alice", "source": "webapp"},
        "authenticated",
        alice_claims,
    )["customer"]["id"]
    _, bob_claims = create_auth_user(conn, email="bob@example.com")
    bob = call_rpc(
        conn,
        {"email": "bob@example.com", "firstName": "Bob", "source": "webapp"},
        "authenticated",
        bob_claims,
    )["customer"]["id"]
    chatbot = call_rpc(conn, {"phone": "+15552220000", "firstName": "Carol", "source": "chatbot"})[
        "customer"
    ]["id"]
    # A tombstone still carrying Alice's auth user id (as an undone link could leave it):
    # the policy must hide it even from Alice.
    row = conn.execute(
        "insert into public.customers (first_name, auth_user_id, merged_into, merged_at) "
        "values ('Alice-old', %s, %s, now()) returning id::text",
        (alice_claims["sub"], alice),
    ).fetchone()
    assert row is not None
    tombstone = str(row[0])
    return World(
        alice_claims=alice_claims,
        alice_customer=alice,
        alice_orders=[add_order(conn, alice), add_order(conn, alice, "3.00")],
        bob_claims=bob_claims,
        bob_customer=bob,
        bob_orders=[add_order(conn, bob)],
        chatbot_customer=chatbot,
        chatbot_orders=[add_order(conn, chatbot)],
        tombstone=tombstone,
        tombstone_orders=[add_order(conn, tombstone)],
    )


def private_tables(conn: Conn) -> list[str]:
    """Every table of the private schema, qualified."""
    rows = conn.execute(
        "select format('customer_management.%I', tablename) from pg_tables "
        "where schemaname = 'customer_management' order by 1"
    ).fetchall()
    assert rows, "the private schema has tables"
    return [str(row[0]) for row in rows]


def test_end_user_sees_only_their_own_live_account(conn: Conn, world: World) -> None:
    """select * from customers returns Alice's live row only: no Bob, no chatbot, no tombstone."""
    with as_role(conn, "authenticated", world.alice_claims) as acting:
        ids = [row[0] for row in acting.execute("select id::text from public.customers")]
        by_id = acting.execute(
            "select count(*) from public.customers where id = any(%s::uuid[])",
            ([world.bob_customer, world.chatbot_customer, world.tombstone],),
        ).fetchone()
    assert ids == [world.alice_customer]
    assert by_id == (0,)


def test_end_user_sees_only_their_own_orders(conn: Conn, world: World) -> None:
    """select * from orders returns the orders of Alice's live account only."""
    with as_role(conn, "authenticated", world.alice_claims) as acting:
        ids = sorted(row[0] for row in acting.execute("select id::text from public.orders"))
    assert ids == sorted(world.alice_orders)


def test_user_without_an_account_sees_nothing(conn: Conn, world: World) -> None:
    """A signed-in user with no account (and a token without sub) reads zero rows."""
    _, claims = create_auth_user(conn, email="nobody@example.com")
    no_sub = {k: v for k, v in claims.items() if k != "sub"}
    for user_claims in (claims, no_sub):
        with as_role(conn, "authenticated", user_claims) as acting:
            customers = acting.execute("select count(*) from public.customers").fetchone()
            orders = acting.execute("select count(*) from public.orders").fetchone()
        assert (customers, orders) == ((0,), (0,))


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("first_name", "Alicia"),
        ("last_name", "Liddell"),
        ("allergies", ["nuts"]),
        ("preferences", '{"spice": "mild"}'),
    ],
)
def test_end_user_updates_harmless_columns_of_own_row(
    conn: Conn, world: World, column: str, value: Any
) -> None:
    """Names, allergies and preferences of one's own row change; updated_at is touched."""
    before = conn.execute(
        "select updated_at from public.customers where id = %s", (world.alice_customer,)
    ).fetchone()
    with as_role(conn, "authenticated", world.alice_claims) as acting:
        cur = acting.execute(
            f"update public.customers set {column} = %s where id = %s",
            (value, world.alice_customer),
        )
        assert cur.rowcount == 1
    row = conn.execute(
        f"select {column}::text, updated_at from public.customers where id = %s",
        (world.alice_customer,),
    ).fetchone()
    assert row is not None and before is not None
    assert row[1] > before[0]


IDENTITY_COLUMNS: list[tuple[str, Any]] = [
    ("phone", "+15559990000"),
    ("email", "mallory@example.com"),
    ("auth_user_id", None),
    ("merged_into", None),
    ("merged_at", None),
    ("created_at", "2000-01-01T00:00:00Z"),
    ("updated_at", "2000-01-01T00:00:00Z"),
    ("id", str(uuid.uuid4())),
]


def test_end_user_cannot_update_identity_columns(conn: Conn, world: World) -> None:
    """Identifiers, links, tombstone markers, id and timestamps: permission denied."""
    before = table_snapshot(conn)
    for column, value in IDENTITY_COLUMNS:
        error = sql_error(
            conn,
            "authenticated",
            world.alice_claims,
            f"update public.customers set {column} = %s where id = %s",
            (value, world.alice_customer),
        )
        assert error["sqlstate"] == PERMISSION_DENIED, (column, error)
        assert error["message"] == "permission denied for table customers", (column, error)
    assert table_snapshot(conn) == before


def test_end_user_cannot_update_other_rows(conn: Conn, world: World) -> None:
    """An update aimed at Bob's row, a chatbot row or a tombstone touches nothing."""
    others = [world.bob_customer, world.chatbot_customer, world.tombstone]
    before = table_snapshot(conn)
    with as_role(conn, "authenticated", world.alice_claims) as acting:
        cur = acting.execute(
            "update public.customers set first_name = 'pwned' where id = any(%s::uuid[])",
            (others,),
        )
        assert cur.rowcount == 0
        cur = acting.execute("update public.customers set last_name = 'pwned'")
        assert cur.rowcount == 1  # only Alice's own live row
        raise psycopg.Rollback()
    assert table_snapshot(conn) == before


END_USER_WRITES = [
    "insert into public.customers (first_name) values ('Mallory')",
    "insert into public.customers (first_name, auth_user_id) values ('Mallory', %(uid)s)",
    "delete from public.customers",
    "delete from public.customers where id = %(own)s",
    "truncate public.customers cascade",
    "insert into public.orders (customer_id) values (%(own)s)",
    "update public.orders set total = 0",
    "update public.orders set customer_id = %(own)s",
    "delete from public.orders",
    "truncate public.orders",
]


def test_end_user_cannot_insert_delete_or_write_orders(conn: Conn, world: World) -> None:
    """No insert, delete or truncate of customers; orders are read-only for end users."""
    before = table_snapshot(conn)
    params = {"uid": world.alice_claims["sub"], "own": world.alice_customer}
    for statement in END_USER_WRITES:
        error = sql_error(conn, "authenticated", world.alice_claims, statement, params)
        assert error["sqlstate"] == PERMISSION_DENIED, (statement, error)
        assert str(error["message"]).startswith("permission denied for table"), (statement, error)
    assert table_snapshot(conn) == before


@pytest.mark.parametrize("role", ["authenticated", "anon"])
def test_private_tables_refuse_every_statement(conn: Conn, world: World, role: str) -> None:
    """select, insert, update, delete and truncate on each private table: permission denied."""
    claims = world.alice_claims if role == "authenticated" else None
    before = table_snapshot(conn)
    refused: list[str] = []
    for table in private_tables(conn):
        first_column = conn.execute(
            "select attname from pg_attribute where attrelid = %s::regclass "
            "and attnum > 0 and not attisdropped and attidentity = '' and attgenerated = '' "
            "order by attnum limit 1",
            (table,),
        ).fetchone()
        assert first_column is not None
        column = first_column[0]
        for statement in (
            f"select * from {table}",
            f"insert into {table} default values",
            f'update {table} set "{column}" = "{column}"',
            f"delete from {table}",
            f"truncate {table}",
        ):
            error = sql_error(conn, role, claims, statement)
            assert error["sqlstate"] == PERMISSION_DENIED, (statement, error)
            refused.append(statement)
    assert len(refused) >= 5 * 8
    assert table_snapshot(conn) == before


# The kit functions an API role may execute directly: the definers behind the public RPCs,
# and for end users the two the end-user policies and the direct-edit guard call.
GRANTED = {
    "authenticated": {
        "resolve_customer",
        "issue_verification",
        "check_profile_edit",
        "signed_in_customer_id",
        "resolve_conflict_for_caller",
        "undo_merge_for_caller",
        "export_customer_data_for_caller",
        "erase_customer_for_caller",
        "current_customer_id_for_caller",
        "customer_orders_for_caller",
        "support_conflict_queue_for_caller",
        "support_find_customers_for_caller",
        "support_customer_view_for_caller",
        "support_merge_preview_for_caller",
        "support_possible_duplicates_for_caller",
        "support_duplicate_merge_preview_for_caller",
        "support_merge_duplicates_for_caller",
        "support_keep_duplicates_apart_for_caller",
    },
    "service_role": {
        "resolve_customer",
        "issue_verification",
        "resolve_conflict_for_caller",
        "undo_merge_for_caller",
        "export_customer_data_for_caller",
        "erase_customer_for_caller",
        "current_customer_id_for_caller",
        "customer_orders_for_caller",
        "support_conflict_queue_for_caller",
        "support_find_customers_for_caller",
        "support_customer_view_for_caller",
        "support_merge_preview_for_caller",
        "support_possible_duplicates_for_caller",
        "support_duplicate_merge_preview_for_caller",
        "support_merge_duplicates_for_caller",
        "support_keep_duplicates_apart_for_caller",
    },
}


@pytest.mark.parametrize("role", ["authenticated", "service_role"])
def test_private_functions_other_than_the_definer_are_not_executable(
    conn: Conn, world: World, role: str
) -> None:
    """Calling any kit function but those granted to the role directly: permission denied."""
    rows = conn.execute(
        """
        select p.oid::regprocedure::text, p.proname,
            coalesce((
                select string_agg(format('null::%%s', pg_catalog.format_type(t.oid, null)), ', '
                    order by a.ordinality)
                from unnest(p.proargtypes::oid[]) with ordinality as a (type_oid, ordinality)
                inner join pg_type as t on t.oid = a.type_oid
            ), '')
        from pg_proc as p
        inner join pg_namespace as n on n.oid = p.pronamespace
        where n.nspname = 'customer_management'
            and p.prorettype <> 'pg_catalog.trigger'::regtype
            and p.proname <> all(%s)
        order by 1
        """,
        (sorted(GRANTED[role]),),
    ).fetchall()
    assert len(rows) >= 20
    claims = world.alice_claims if role == "authenticated" else None
    before = table_snapshot(conn)
    for signature, name, args in rows:
        error = sql_error(conn, role, claims, f"select customer_management.{name}({args})")
        assert error["sqlstate"] == PERMISSION_DENIED, (signature, error)
        assert error["message"] == f"permission denied for function {name}", (signature, error)
    assert table_snapshot(conn) == before


def test_anon_has_no_table_access(conn: Conn, world: World) -> None:
    """A request with no JWT reads and writes nothing: permission denied."""
    before = table_snapshot(conn)
    for statement in (
        "select * from public.customers",
        "select * from public.orders",
        "update public.customers set first_name = 'x'",
        "insert into public.customers (first_name) values ('x')",
        "delete from public.orders",
    ):
        error = sql_error(conn, "anon", None, statement)
        assert error["sqlstate"] == PERMISSION_DENIED, (statement, error)
    assert table_snapshot(conn) == before


def test_service_role_keeps_full_access_to_public_tables(conn: Conn, world: World) -> None:
    """service_role bypasses RLS: sees every row (tombstones too), writes any column."""
    totals = conn.execute(
        "select (select count(*) from public.customers), (select count(*) from public.orders)"
    ).fetchone()
    with as_role(conn, "service_role") as acting:
        seen = acting.execute(
            "select (select count(*) from public.customers), (select count(*) from public.orders)"
        ).fetchone()
        tombstone = acting.execute(
            "select merged_into::text from public.customers where id = %s", (world.tombstone,)
        ).fetchone()
        new_id = acting.execute(
            "insert into public.customers (first_name, phone) values ('Svc', '+15553334444') "
            "returning id"
        ).fetchone()
        assert new_id is not None
        acting.execute(
            "update public.customers set first_name = 'Svc2' where id = %s", (new_id[0],)
        )
        # Contact columns show the account's identifiers: not edited directly, even here.
        with (
            pytest.raises(psycopg.errors.RaiseException, match="contact_follows_identifiers"),
            acting.transaction(),
        ):
            acting.execute(
                "update public.customers set phone = '+15553335555', "
                "email = 'svc@example.com' where id = %s",
                (new_id[0],),
            )
        acting.execute("insert into public.orders (customer_id) values (%s)", (new_id[0],))
        acting.execute("update public.orders set total = 1 where customer_id = %s", (new_id[0],))
        deleted = acting.execute(
            "delete from public.orders where customer_id = %s", (new_id[0],)
        ).rowcount
        assert deleted == 1
        assert (
            acting.execute("delete from public.customers where id = %s", (new_id[0],)).rowcount == 1
        )
        raise psycopg.Rollback()
    assert seen == totals
    assert tombstone == (world.alice_customer,)


def test_end_user_reads_do_not_change_other_accounts(conn: Conn, world: World) -> None:
    """Reading and editing as Alice leaves Bob's and the chatbot customer's data intact."""
    others = {
        key: customer_state(conn, key)
        for key in (world.bob_customer, world.chatbot_customer, world.tombstone)
    }
    with as_role(conn, "authenticated", world.alice_claims) as acting:
        acting.execute("select * from public.customers").fetchall()
        acting.execute("select * from public.orders").fetchall()
        acting.execute("update public.customers set first_name = 'Ally'")
    assert {key: customer_state(conn, key) for key in others} == others
