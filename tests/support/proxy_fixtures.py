"""Fixtures for the HTTP layer: the proxy on a free port, in front of the test's database.

Load with ``pytest_plugins = ["support.proxy_fixtures"]`` in a test module. ``proxy`` starts the
real ASGI app under uvicorn in a background thread, connected as ``authenticator`` (the
login PostgREST uses) to the ``db_url`` fixture's fresh database, and stops it afterwards.
``forward_proxy`` is a second proxy in forward mode whose upstream is ``proxy``.
``shared_db_url`` / ``shared_proxy`` are the same, once per test module, for tests that
leave no trace (errors roll back) and would otherwise pay for a database each.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from customer_management.proxy import Settings
from support.helpers import cloned_database
from support.proxy import ANON_KEY, Proxy, as_authenticator, serving


@pytest.fixture
def proxy(db_url: str) -> Iterator[Proxy]:
    """The proxy in database mode on the test's database."""
    with serving(Settings(db_url=as_authenticator(db_url), pool_max_size=4)) as proxy:
        yield proxy


@pytest.fixture
def forward_proxy(proxy: Proxy) -> Iterator[Proxy]:
    """A proxy in forward mode whose upstream 'Supabase project' is ``proxy``."""
    with serving(Settings(upstream_url=proxy.url, upstream_key=ANON_KEY)) as forwarding:
        yield forwarding


@pytest.fixture(scope="module")
def shared_db_url(server_url: str, template_db: str) -> Iterator[str]:
    """A fresh migrated database for a whole test module (dropped afterwards)."""
    with cloned_database(server_url, template_db, "shared") as url:
        yield url


@pytest.fixture(scope="module")
def shared_proxy(shared_db_url: str) -> Iterator[Proxy]:
    """The proxy in database mode on the module's shared database."""
    with serving(Settings(db_url=as_authenticator(shared_db_url), pool_max_size=4)) as proxy:
        yield proxy


@pytest.fixture
def shared_conn(shared_db_url: str) -> Iterator[psycopg.Connection[Any]]:
    """A superuser autocommit connection to the module's shared database."""
    with psycopg.connect(shared_db_url, autocommit=True) as connection:
        yield connection
