"""Migration bookkeeping: order, recording like the Supabase CLI, idempotence, rollback.

Uses synthetic migration files on an empty database, so it does not depend on the
project's own migrations.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from customer_management.local.migrations import applied_versions, apply_migrations
from customer_management.local.server import url_for
from customer_management.local.sqlsplit import split_statements

FUNCTION_SQL = """
-- a function whose body holds semicolons
create function public.answer() returns int language plpgsql as $fn$
begin
    perform 1; -- not a statement end
    return 42;
end;
$fn$;
comment on function public.answer() is 'The answer; with a semicolon.';
"""


@pytest.fixture
def empty_db_url(server_url: str, pg_server: object) -> Iterator[str]:
    """A brand-new empty database (no shim, no migrations)."""
    name = f"empty_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
    try:
        yield server_url.rsplit("/", 1)[0] + "/" + name
    finally:
        with psycopg.connect(server_url, autocommit=True) as admin:
            admin.execute(sql.SQL("drop database {} with (force)").format(sql.Identifier(name)))


def write(directory: Path, name: str, text: str) -> None:
    """Write one migration file."""
    (directory / name).write_text(text, encoding="utf-8")


def test_applies_in_order_and_records_like_the_cli(empty_db_url: str, tmp_path: Path) -> None:
    """Files run in filename order and land in schema_migrations with version and name."""
    write(tmp_path, "20240102000000_second.sql", "insert into public.log values ('second');")
    write(tmp_path, "20240101000000_first.sql", "create table public.log (what text);")
    write(tmp_path, "20240103000000_function.sql", FUNCTION_SQL)
    write(tmp_path, "README.sql", "select 1/0;")  # not a migration name: skipped
    applied = apply_migrations(empty_db_url, tmp_path)
    assert applied == [
        "20240101000000_first.sql",
        "20240102000000_second.sql",
        "20240103000000_function.sql",
    ]
    with psycopg.connect(empty_db_url) as conn:
        rows = conn.execute(
            "select version, name, statements from supabase_migrations.schema_migrations "
            "order by version"
        ).fetchall()
        assert conn.execute("select public.answer()").fetchone() == (42,)
    assert [(v, n) for v, n, _ in rows] == [
        ("20240101000000", "first"),
        ("20240102000000", "second"),
        ("20240103000000", "function"),
    ]
    assert len(rows[2][2]) == 2


def test_running_twice_applies_nothing(empty_db_url: str, tmp_path: Path) -> None:
    """A second run finds everything recorded and does nothing."""
    write(tmp_path, "20240101000000_first.sql", "create table public.log (what text);")
    assert apply_migrations(empty_db_url, tmp_path) == ["20240101000000_first.sql"]
    assert apply_migrations(empty_db_url, tmp_path) == []
    assert applied_versions(empty_db_url) == ["20240101000000"]


def test_a_failing_migration_rolls_back_alone(empty_db_url: str, tmp_path: Path) -> None:
    """Earlier migrations stay; the failing one leaves no trace and is not recorded."""
    write(tmp_path, "20240101000000_first.sql", "create table public.log (what text);")
    write(
        tmp_path,
        "20240102000000_broken.sql",
        "create table public.half (x int); select 1/0;",
    )
    with pytest.raises(psycopg.errors.DivisionByZero):
        apply_migrations(empty_db_url, tmp_path)
    assert applied_versions(empty_db_url) == ["20240101000000"]
    with psycopg.connect(empty_db_url) as conn:
        assert conn.execute("select to_regclass('public.half')").fetchone() == (None,)


def test_a_new_file_is_applied_on_the_next_run(empty_db_url: str, tmp_path: Path) -> None:
    """Only the pending file runs when one is added later."""
    write(tmp_path, "20240101000000_first.sql", "create table public.log (what text);")
    apply_migrations(empty_db_url, tmp_path)
    write(tmp_path, "20240102000000_more.sql", "alter table public.log add column at date;")
    assert apply_migrations(empty_db_url, tmp_path) == ["20240102000000_more.sql"]


def test_split_statements_respects_quotes_comments_and_dollar_bodies() -> None:
    """Semicolons inside strings, identifiers, comments and $$ bodies do not split."""
    text = (
        "select 'a;b', \"c;d\"; -- e;f\n"
        "/* g; /* nested; */ h; */ select E'it\\'s;';\n"
        "do $$ begin perform 1; end $$;\n"
        "select $tag$;$tag$;"
    )
    assert split_statements(text) == [
        "select 'a;b', \"c;d\"",
        "-- e;f\n/* g; /* nested; */ h; */ select E'it\\'s;'",
        "do $$ begin perform 1; end $$",
        "select $tag$;$tag$",
    ]
    assert split_statements("-- only a comment\n") == []


def test_url_for_names_the_database() -> None:
    """Local URLs use the postgres superuser on 127.0.0.1."""
    assert url_for(5432, "x") == "postgresql://postgres@127.0.0.1:5432/x"
