"""Pytest fixtures: one real local Postgres per session and a fresh migrated DB per test.

The server comes from ``testing.postgresql`` (root-safe through ``root_safe_binaries``).
Shim and migrations are applied once to the template ``cm_template``; each test gets its own
``CREATE DATABASE ... TEMPLATE cm_template`` copy (a file copy: fast), dropped afterwards.
Fixtures: ``pg_server`` (session, the testing.postgresql instance), ``server_url`` (session,
URL of its ``postgres`` database), ``template_db`` (session, the template's name),
``db_url`` (per test, URL of a fresh migrated database) and ``conn`` (per test, autocommit
psycopg connection to it as the ``postgres`` superuser).
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import testing.postgresql
from psycopg import sql

from customer_management.local.migrations import apply_migrations, apply_shim
from customer_management.local.server import THROWAWAY_SETTINGS, initdb_args, root_safe_binaries
from customer_management.local.server import url_for as _url_for
from support.helpers import cloned_database

TEMPLATE = "cm_template"


def _postgres_args() -> str:
    """Server options for tests: 127.0.0.1, no fsync, no full-page writes (commits stay sync).

    testing.postgresql splits this string on whitespace, so values must not contain spaces.
    """
    settings = " ".join(f"-c {name}={value}" for name, value in THROWAWAY_SETTINGS.items())
    return f"-h 127.0.0.1 -c logging_collector=off {settings}"


@pytest.fixture(scope="session")
def pg_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[testing.postgresql.Postgresql]:
    """One PostgreSQL server for the whole session (initdb cached by the factory)."""
    binaries = root_safe_binaries(Path(tmp_path_factory.mktemp("pgbin")))
    factory = testing.postgresql.PostgresqlFactory(
        cache_initialized_db=True,
        initdb=binaries["initdb"],
        postgres=binaries["postgres"],
        initdb_args=" ".join([*initdb_args(), "--no-sync"]),
        postgres_args=_postgres_args(),
    )
    server = factory()
    try:
        yield server
    finally:
        server.stop()
        factory.clear_cache()


@pytest.fixture(scope="session")
def server_url(pg_server: testing.postgresql.Postgresql) -> str:
    """URL of the session server's ``postgres`` database (for admin statements)."""
    return _url_for(pg_server.settings["port"])


@pytest.fixture(scope="session")
def template_db(pg_server: testing.postgresql.Postgresql, server_url: str) -> str:
    """Create ``cm_template`` with the shim and every migration (no seed), once."""
    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute(sql.SQL("create database {}").format(sql.Identifier(TEMPLATE)))
    url = _url_for(pg_server.settings["port"], TEMPLATE)
    apply_shim(url)
    apply_migrations(url)
    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute(
            sql.SQL("alter database {} with is_template true").format(sql.Identifier(TEMPLATE))
        )
    return TEMPLATE


@pytest.fixture
def db_url(server_url: str, template_db: str) -> Iterator[str]:
    """A fresh migrated database for one test; dropped (WITH FORCE) afterwards."""
    with cloned_database(server_url, template_db, "test") as url:
        yield url


@pytest.fixture
def conn(db_url: str) -> Iterator[psycopg.Connection[tuple[object, ...]]]:
    """An autocommit connection to the test's database as the ``postgres`` superuser."""
    with psycopg.connect(db_url, autocommit=True) as connection:
        yield connection


@pytest.fixture
def run_dir() -> Iterator[Path]:
    """A state dir for a local server directly under the system temp dir. Not pytest's
    tmp_path: a concurrent pytest session resets /tmp/pytest-of-<user> to 0700, locking the
    postgres OS user out."""
    path = Path(tempfile.mkdtemp(prefix="cm-run-test-"))
    try:
        yield path / "db"
    finally:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def fresh_conn(
    server_url: str, template_db: str
) -> Iterator[psycopg.Connection[tuple[object, ...]]]:
    """A second freshly migrated database, for comparing what a caller sees in two worlds
    that differ in one fact."""
    with (
        cloned_database(server_url, template_db, "test_world") as url,
        psycopg.connect(url, autocommit=True) as connection,
    ):
        yield connection
