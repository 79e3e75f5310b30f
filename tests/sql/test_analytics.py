"""The analytics views on a fixed fixture: each returns the numbers worked out by hand below;
the role ``analyst`` reads them and no contact data; ``anon`` and ``authenticated`` read
nothing.

The fixture (live accounts A, B, C, D, E, G; F merged into A; G merged into D and undone):

====  =========  ====================  =================  ============================
acct  created    account_sources       active identifiers orders
====  =========  ====================  =================  ============================
A     today      chatbot               phone, email (+F's phone)   2
B     today      webapp                email               0
C     today      chatbot, webapp       phone (+ pending email)     1
D     2 days     webapp, chatbot       phone, email        0
E     40 days    (imported, none)      none                1
F     2 days     chatbot               (moved to A)        0
G     2 days     chatbot               phone               0
====  =========  ====================  =================  ============================

plus one order of an erased customer, and conflicts K1 (open, 3 days, B+C), K2 (escalated,
1 day, A+D), K3 (kept separate after 120 hours, C+D), K4 (open on A+F for 96 hours until
the merge of F closed it).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest

from customer_management.local.rpc_session import call_rpc as call_named_rpc
from support.security import Conn, as_role, sql_error

VIEWS = (
    "customer_journey",
    "daily_merge_rate",
    "account_completeness",
    "open_conflicts",
    "merge_activity",
    "resolution_quality",
)
IDS = {name: f"00000000-0000-4000-8000-00000000000{n}" for n, name in enumerate("ABCDEFG", 1)}
CONFLICTS = {f"K{n}": f"00000000-0000-4000-9000-00000000000{n}" for n in range(1, 5)}

FIXTURE = """
insert into public.customers (id, first_name, phone, email, preferences, created_at) values
    (%(A)s, 'Ann', '+12015550001', 'ann@gmail.com',
     '{"account_sources": ["chatbot"]}', %(today)s),
    (%(B)s, 'Ben', null, 'ben@gmail.com', '{"account_sources": ["webapp"]}', %(today)s),
    (%(C)s, 'Cat', '+12015550003', null,
     '{"account_sources": ["chatbot", "webapp"]}', %(today)s),
    (%(D)s, 'Dan', '+12015550004', 'dan@gmail.com',
     '{"account_sources": ["webapp", "chatbot"]}', %(two_days)s),
    (%(E)s, 'Eve', null, null,
     '{"account_sources": [], "created_via": "import"}', %(forty_days)s),
    (%(F)s, 'Fay', '+12015550006', null, '{"account_sources": ["chatbot"]}', %(two_days)s),
    (%(G)s, 'Gus', '+12015550007', null, '{"account_sources": ["chatbot"]}', %(two_days)s);
insert into customer_management.customer_identifiers
    (customer_id, type, value, display_value, status, verified_at, source, created_at) values
    (%(A)s, 'phone', '+12015550001', '+12015550001', 'active', %(today)s, 'chatbot', %(today)s),
    (%(A)s, 'email', 'ann@gmail.com', 'ann@gmail.com', 'active', null, 'webapp', %(today)s),
    (%(B)s, 'email', 'ben@gmail.com', 'ben@gmail.com', 'active', %(tomorrow)s, 'webapp',
     %(today)s),
    (%(C)s, 'phone', '+12015550003', '+12015550003', 'active', %(today)s, 'chatbot',
     %(today)s),
    (%(C)s, 'email', 'cat@gmail.com', 'cat@gmail.com', 'pending', null, 'chatbot', %(today)s),
    (%(D)s, 'phone', '+12015550004', '+12015550004', 'active', %(two_days)s, 'chatbot',
     %(two_days)s),
    (%(D)s, 'email', 'dan@gmail.com', 'dan@gmail.com', 'active', null, 'webapp', %(two_days)s),
    (%(F)s, 'phone', '+12015550006', '+12015550006', 'active', %(two_days)s, 'chatbot',
     %(two_days)s),
    (%(G)s, 'phone', '+12015550007', '+12015550007', 'active', %(two_days)s, 'chatbot',
     %(two_days)s);
insert into public.orders (customer_id, total, created_at) values
    (%(A)s, 10, %(today)s), (%(A)s, 20, %(today)s), (%(C)s, 30, %(today)s),
    (%(E)s, 40, %(forty_days)s);
insert into public.orders (customer_id, total, customer_erased_at) values (null, 50, now());
insert into customer_management.customer_conflicts
    (id, customer_ids, identifier_types, status, source, actor_role, occurrences, created_at,
     last_seen_at, resolved_at, resolved_by_role) values
    (%(K1)s, array[%(B)s, %(C)s]::uuid[], '{email}', 'open', 'chatbot', 'service_role', 2,
     now() - interval '3 days', now(), null, null),
    (%(K2)s, array[%(A)s, %(D)s]::uuid[], '{phone}', 'escalated', 'webapp', 'authenticated', 1,
     now() - interval '1 day', now(), now(), 'service_role'),
    (%(K3)s, array[%(C)s, %(D)s]::uuid[], '{phone}', 'kept_separate', 'webapp',
     'authenticated', 1, now() - interval '10 days', now() - interval '5 days',
     now() - interval '5 days', 'service_role'),
    (%(K4)s, array[%(A)s, %(F)s]::uuid[], '{phone}', 'open', 'chatbot', 'service_role', 1,
     now() - interval '4 days', now(), null, null);
"""
MERGE = (
    "select customer_management.merge_customer(%s, %s, row('postgres', null, true)"
    "::customer_management.api_caller, 'support', 'analytics test', null)"
)


@pytest.fixture
def fixture(conn: Conn) -> None:
    """The accounts, identifiers, orders, conflicts, merges and undo of the table above."""
    midnight = conn.execute("select date_trunc('day', now(), 'UTC')").fetchone()
    assert midnight is not None
    today: dt.datetime = midnight[0] + dt.timedelta(seconds=1)
    params = {
        **IDS,
        **CONFLICTS,
        "today": today,
        "tomorrow": today + dt.timedelta(days=1),
        "two_days": today - dt.timedelta(days=2),
        "forty_days": today - dt.timedelta(days=40),
    }
    for statement in FIXTURE.split(";\n"):
        if statement.strip():
            conn.execute(statement, params)
    conn.execute(MERGE, (IDS["A"], IDS["F"]))
    merge_id = conn.execute(MERGE, (IDS["D"], IDS["G"])).fetchone()
    assert merge_id is not None
    call_named_rpc(conn, "undo_merge", {"merge_id": merge_id[0], "reason": "not the same"})


def rows(conn: Conn, view: str, role: str | None = None) -> list[tuple[Any, ...]]:
    """A view's rows, read as ``role`` when given."""
    if role is None:
        return [tuple(r) for r in conn.execute(f"select * from analytics.{view}").fetchall()]
    with as_role(conn, role) as acting:
        return [tuple(r) for r in acting.execute(f"select * from analytics.{view}").fetchall()]


def test_customer_journey(conn: Conn, fixture: None) -> None:
    assert rows(conn, "customer_journey") == [
        (["chatbot"], 2, Decimal("1.00")),
        (["chatbot", "webapp"], 2, Decimal("2.00")),
        ([], 1, Decimal("0.00")),
        (["webapp"], 1, Decimal("1.00")),
    ]


def test_daily_merge_rate(conn: Conn, fixture: None) -> None:
    today = conn.execute("select (now() at time zone 'UTC')::date").fetchone()
    assert today is not None
    assert rows(conn, "daily_merge_rate") == [
        (today[0], 3, 1, Decimal("33.33")),
        (today[0] - dt.timedelta(days=2), 2, 1, Decimal("50.00")),
    ]


def test_account_completeness(conn: Conn, fixture: None) -> None:
    assert rows(conn, "account_completeness") == [
        ("Complete", 2, Decimal("33.33")),
        ("Phone Only", 2, Decimal("33.33")),
        ("Email Only", 1, Decimal("16.67")),
        ("Incomplete", 1, Decimal("16.67")),
    ]


def test_open_conflicts(conn: Conn, fixture: None) -> None:
    found = rows(conn, "open_conflicts")
    shown = [(str(r[0]), r[1], r[2], sorted(map(str, r[3])), *r[4:8], r[11]) for r in found]
    assert shown == [
        (CONFLICTS["K1"], "open", 2, sorted([IDS["B"], IDS["C"]]), ["email"], "chatbot",
         "service_role", 2, 3),
        (CONFLICTS["K2"], "escalated", 2, sorted([IDS["A"], IDS["D"]]), ["phone"], "webapp",
         "authenticated", 1, 1),
    ]  # fmt: skip
    assert [round(r[10].total_seconds() / 3600) for r in found] == [72, 24]


def test_merge_activity(conn: Conn, fixture: None) -> None:
    today = conn.execute("select (now() at time zone 'UTC')::date").fetchone()
    assert today is not None
    # Both merges by this session (postgres), the undo through the RPC (service_role).
    assert rows(conn, "merge_activity") == [
        (today[0], "support", "postgres", 2, 0),
        (today[0], "support", "service_role", 0, 1),
    ]


def test_resolution_quality(conn: Conn, fixture: None) -> None:
    assert rows(conn, "resolution_quality") == [
        ("merges", "all", Decimal(2)),
        ("undone_merges", "all", Decimal(1)),
        ("undo_rate_percent", "all", Decimal("50.00")),
        ("conflicts_resolved", "kept_separate", Decimal(1)),
        ("conflicts_resolved", "merged", Decimal(1)),
        ("hours_to_resolution_avg", "kept_separate", Decimal("120.00")),
        ("hours_to_resolution_avg", "merged", Decimal("96.00")),
        ("claims_stored_unverified", "all", Decimal(4)),
        ("claims_verified_later", "all", Decimal(1)),
        ("claims_verified_percent", "all", Decimal("25.00")),
        ("orders", "chatbot", Decimal(2)),
        ("orders", "chatbot+webapp", Decimal(1)),
        ("orders", "erased", Decimal(1)),
        ("orders", "none", Decimal(1)),
    ]


def test_the_analyst_reads_every_view_as_the_owner_does(conn: Conn, fixture: None) -> None:
    for view in VIEWS:
        mine, theirs = rows(conn, view, "analyst"), rows(conn, view)
        if view == "open_conflicts":  # age is measured at each read
            mine, theirs = [r[:10] for r in mine], [r[:10] for r in theirs]
        assert mine == theirs, view


@pytest.mark.parametrize(
    "statement",
    [
        "select first_name from public.customers",
        "select last_name from public.customers",
        "select phone from public.customers",
        "select email from public.customers",
        "select allergies from public.customers",
        "select preferences from public.customers",
        "select id from public.customers",
        "select * from public.orders",
        "select value from customer_management.customer_identifiers",
        "select display_value from customer_management.customer_identifiers",
        "select * from customer_management.customer_identifiers",
        "select survivor_before from customer_management.merge_log",
        "select * from customer_management.audit_log",
        "select reason from customer_management.merge_undos",
        "select resolution_reason from customer_management.customer_conflicts",
        "select * from customer_management.legacy_ids",
        "select customer_management.normalize_phone('+12015550001')",
    ],
)
def test_the_analyst_reads_no_contact_data(conn: Conn, fixture: None, statement: str) -> None:
    error = sql_error(conn, "analyst", None, statement)
    assert error["sqlstate"] == "42501", error


def test_the_channels_view_holds_no_contact_data(conn: Conn, fixture: None) -> None:
    with as_role(conn, "analyst") as acting:
        cursor = acting.execute("select * from customer_management.customer_channels")
        columns = [c.name for c in cursor.description or ()]
        assert len(cursor.fetchall()) == 7
    assert columns == ["customer_id", "created_at", "live", "merged_at", "channels", "created_via"]


@pytest.mark.parametrize("role", ["anon", "authenticated", "service_role"])
def test_api_roles_cannot_read_the_views(conn: Conn, fixture: None, role: str) -> None:
    claims = {"role": role, "sub": IDS["A"]} if role == "authenticated" else None
    for view in VIEWS:
        error = sql_error(conn, role, claims, f"select * from analytics.{view}")
        assert error["sqlstate"] == "42501", (view, error)
        assert error["message"] == "permission denied for schema analytics"


def test_the_analyst_has_only_the_grants_the_views_need(conn: Conn) -> None:
    granted = conn.execute(
        """
        select format('%s.%s', c.relname, a.attname)
        from pg_attribute as a
        inner join pg_class as c on c.oid = a.attrelid
        inner join pg_namespace as n on n.oid = c.relnamespace
        where n.nspname in ('public', 'customer_management') and c.relkind in ('r', 'p')
            and a.attnum > 0 and not a.attisdropped
            and has_column_privilege('analyst', c.oid, a.attnum, 'SELECT')
        order by 1
        """
    ).fetchall()
    assert [g[0] for g in granted] == [
        "customer_conflicts.actor_role",
        "customer_conflicts.created_at",
        "customer_conflicts.customer_ids",
        "customer_conflicts.id",
        "customer_conflicts.identifier_types",
        "customer_conflicts.last_seen_at",
        "customer_conflicts.occurrences",
        "customer_conflicts.resolved_at",
        "customer_conflicts.source",
        "customer_conflicts.status",
        "customer_identifiers.created_at",
        "customer_identifiers.customer_id",
        "customer_identifiers.source",
        "customer_identifiers.status",
        "customer_identifiers.type",
        "customer_identifiers.verified_at",
        "merge_log.actor_role",
        "merge_log.created_at",
        "merge_log.id",
        "merge_log.source",
        "merge_undos.actor_role",
        "merge_undos.merge_id",
        "merge_undos.undone_at",
        "orders.customer_id",
    ]
    writes = conn.execute(
        """
        select count(*) from pg_class as c
        inner join pg_namespace as n on n.oid = c.relnamespace
        where n.nspname in ('public', 'customer_management', 'analytics')
            and (has_table_privilege('analyst', c.oid, 'INSERT, UPDATE, DELETE, TRUNCATE')
                or has_any_column_privilege('analyst', c.oid, 'INSERT, UPDATE'))
        """
    ).fetchone()
    assert writes == (0,)


def test_the_role_and_schema_are_recorded_as_the_kits(conn: Conn) -> None:
    recorded = conn.execute(
        "select kind, name from customer_management.shared_objects "
        "where kind in ('role', 'schema', 'schema_usage', 'extension') order by kind, name"
    ).fetchall()
    assert recorded == [
        ("extension", "fuzzystrmatch"),
        ("extension", "pg_trgm"),
        ("role", "analyst"),
        ("schema", "analytics"),
    ]
    role = conn.execute(
        "select rolcanlogin, shobj_description(oid, 'pg_authid') from pg_roles "
        "where rolname = 'analyst'"
    ).fetchone()
    assert role is not None and role[0] is False
    assert str(role[1]).startswith("Customer management kit:")


def test_the_views_are_security_invoker(conn: Conn) -> None:
    options = conn.execute(
        "select c.relname, c.reloptions from pg_class as c "
        "inner join pg_namespace as n on n.oid = c.relnamespace "
        "where n.nspname = 'analytics' order by 1"
    ).fetchall()
    assert [name for name, _ in options] == sorted(VIEWS)
    assert all("security_invoker=true" in (opts or []) for _, opts in options)
