"""Uninstall and the analysts' objects: the kit's views always go; the ``analytics`` schema
and the ``analyst`` role only when the kit created them, and never with anything of the
project's in them. Roles are cluster-wide: this session's template database also uses the
role, so its drop is refused there and the role stays, as it must."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from psycopg import sql

from customer_management.local import migrations, uninstall

Conn = psycopg.Connection[Any]
KIT_COMMENT = (
    "Customer management kit: reads the analytics views, no contact data. Grant it to a "
    "login (grant analyst to my_bi_user)."
)


@pytest.fixture
def bare_url(server_url: str, template_db: str) -> Iterator[str]:
    """A database with the shim only (the template exists, so the role does too)."""
    name = f"analytics_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
    url = psycopg.conninfo.make_conninfo(server_url, dbname=name)
    try:
        migrations.apply_shim(url)
        yield url
    finally:
        with psycopg.connect(server_url, autocommit=True) as admin:
            admin.execute(sql.SQL("drop database {} with (force)").format(sql.Identifier(name)))


def one(url: str, query: str) -> Any:
    """A single value."""
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(query).fetchone()
        assert row is not None
        return row[0]


def test_uninstall_takes_the_kits_schema_and_views(bare_url: str, template_db: str) -> None:
    migrations.apply_migrations(bare_url)
    listed = uninstall.installed_objects(bare_url)
    assert "view analytics.customer_journey" in listed
    assert "schema analytics" in listed
    # Made by the kit (for the template database first): the last uninstall drops it.
    assert "role analyst" in listed
    uninstall.uninstall(bare_url)
    assert one(bare_url, "select to_regnamespace('analytics') is null") is True
    # The template database still uses the role: it stays for it.
    assert one(bare_url, "select count(*) from pg_roles where rolname = 'analyst'") == 1
    assert uninstall.installed_objects(bare_url) == []


def test_a_projects_own_schema_and_role_stay(bare_url: str) -> None:
    with psycopg.connect(bare_url, autocommit=True) as conn:
        conn.execute(
            "create schema analytics; create table analytics.sales (id integer); "
            "comment on role analyst is 'Our BI team'"
        )
    try:
        migrations.apply_migrations(bare_url)
        recorded = one(
            bare_url,
            "select array_agg(kind order by kind) from customer_management.shared_objects "
            "where kind not in ('extension', 'function')",
        )
        assert recorded == ["schema_usage"]
        assert one(bare_url, "select count(*) from analytics.customer_journey") == 0
        uninstall.uninstall(bare_url)
        assert one(bare_url, "select to_regclass('analytics.sales') is not null") is True
        assert one(bare_url, "select to_regclass('analytics.customer_journey') is null") is True
        assert one(bare_url, "select has_schema_privilege('analyst', 'analytics', 'usage')") is (
            False
        )
        comment = one(
            bare_url,
            "select shobj_description(oid, 'pg_authid') from pg_roles where rolname = 'analyst'",
        )
        assert comment == "Our BI team"
    finally:
        with psycopg.connect(bare_url, autocommit=True) as conn:
            conn.execute(sql.SQL("comment on role analyst is {}").format(sql.Literal(KIT_COMMENT)))


def test_uninstall_refuses_when_the_project_builds_on_a_view(bare_url: str) -> None:
    migrations.apply_migrations(bare_url)
    with psycopg.connect(bare_url, autocommit=True) as conn:
        conn.execute("create view public.my_sources as select * from analytics.customer_journey")
    with pytest.raises(psycopg.errors.DependentObjectsStillExist) as refused:
        uninstall.uninstall(bare_url)
    assert "view public.my_sources" in str(refused.value.diag.message_detail)
    assert one(bare_url, "select to_regclass('analytics.customer_journey') is not null") is True
