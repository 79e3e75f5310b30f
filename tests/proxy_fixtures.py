"""Fixtures for the HTTP layer: the proxy on a free port, in front of the test's database.

Load with ``pytest_plugins = ["proxy_fixtures"]`` in a test module. ``proxy`` starts the
real ASGI app under uvicorn in a background thread, connected as ``authenticator`` (the
login PostgREST uses) to the ``db_url`` fixture's fresh database, and stops it afterwards.
``forward_proxy`` is a second proxy in forward mode whose upstream is ``proxy``.
``shared_db_url`` / ``shared_proxy`` are the same, once per test module, for tests that
leave no trace (errors roll back) and would otherwise pay for a database each.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import psycopg
import pytest
from psycopg import sql

from customer_management.localdb import url_for
from customer_management.proxy import Settings
from proxy_support import ANON_KEY, Proxy, as_authenticator, start_proxy


@pytest.fixture
def proxy(db_url: str) -> Iterator[Proxy]:
    """The proxy in database mode on the test's database."""
    server = start_proxy(Settings(db_url=as_authenticator(db_url), pool_max_size=4))
    try:
        with httpx.Client(timeout=30) as http:
            yield Proxy(server.url, http)
    finally:
        server.stop()


@pytest.fixture
def forward_proxy(proxy: Proxy) -> Iterator[Proxy]:
    """A proxy in forward mode whose upstream 'Supabase project' is ``proxy``."""
    server = start_proxy(Settings(upstream_url=proxy.url, upstream_key=ANON_KEY))
    try:
        with httpx.Client(timeout=30) as http:
            yield Proxy(server.url, http)
    finally:
        server.stop()


@pytest.fixture(scope="module")
def shared_db_url(pg_server: Any, server_url: str, template_db: str) -> Iterator[str]:
    """A fresh migrated database for a whole test module (dropped afterwards)."""
    name = f"shared_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute(
            sql.SQL("create database {} template {}").format(
                sql.Identifier(name), sql.Identifier(template_db)
            )
        )
    try:
        yield url_for(pg_server.settings["port"], name)
    finally:
        with psycopg.connect(server_url, autocommit=True) as admin:
            admin.execute(
                sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name))
            )


@pytest.fixture(scope="module")
def shared_proxy(shared_db_url: str) -> Iterator[Proxy]:
    """The proxy in database mode on the module's shared database."""
    server = start_proxy(Settings(db_url=as_authenticator(shared_db_url), pool_max_size=4))
    try:
        with httpx.Client(timeout=30) as http:
            yield Proxy(server.url, http)
    finally:
        server.stop()


@pytest.fixture
def shared_conn(shared_db_url: str) -> Iterator[psycopg.Connection[Any]]:
    """A superuser autocommit connection to the module's shared database."""
    with psycopg.connect(shared_db_url, autocommit=True) as connection:
        yield connection
