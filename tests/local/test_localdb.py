"""The embedded local database: ``db start`` / ``stop`` / ``status`` and ``migrate``.

These run the real command in a subprocess against a temporary data dir and a free port,
as a user would (as root they exercise the hand-over to the ``postgres`` OS user).
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from customer_management.local.migrations import discover
from customer_management.local.server import free_port

FINGERPRINT = """
select coalesce(jsonb_agg(x order by x), '[]')::text from (
    select 'rel ' || c.oid::regclass::text || ' ' || c.relkind::text as x
    from pg_class c join pg_namespace n on n.oid = c.relnamespace
    where n.nspname not in ('pg_catalog', 'information_schema', 'pg_toast')
    union all
    select 'fn ' || p.oid::regprocedure::text || ' ' || md5(p.prosrc)
    from pg_proc p join pg_namespace n on n.oid = p.pronamespace
    where n.nspname not in ('pg_catalog', 'information_schema')
    union all
    select 'policy ' || polname || ' ' || polrelid::regclass::text from pg_policy
    union all
    select 'role ' || rolname from pg_roles
    union all
    select 'migration ' || version || ' ' || name || ' ' || md5(statements::text)
    from supabase_migrations.schema_migrations
) as objects
"""


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    """Run ``customer-management`` with ``args`` in a subprocess, capturing output."""
    return subprocess.run(
        [sys.executable, "-m", "customer_management", *args],
        capture_output=True,
        text=True,
        check=False,
        stdin=subprocess.DEVNULL,
        timeout=120,
    )


def last_line(result: subprocess.CompletedProcess[str]) -> str:
    """The last non-empty line of a command's stdout (where ``db start`` prints the URL)."""
    lines = [line for line in result.stdout.splitlines() if line.strip()]
    assert lines, result.stderr
    return lines[-1]


@pytest.fixture(scope="module")
def started(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str]]:
    """Start a local database in a temporary data dir; always stop it afterwards."""
    data_dir = tmp_path_factory.mktemp("localdb") / "state"
    port = free_port()
    result = cli("db", "start", "--data-dir", str(data_dir), "--port", str(port))
    try:
        assert result.returncode == 0, result.stdout + result.stderr
        yield data_dir, last_line(result)
    finally:
        cli("db", "stop", "--data-dir", str(data_dir))


def test_db_start_prints_a_url_that_accepts_connections(started: tuple[Path, str]) -> None:
    """The last line is a postgresql:// URL; shim and every migration are in place."""
    _, url = started
    assert url.startswith("postgresql://postgres@127.0.0.1:")
    with psycopg.connect(url) as conn:
        versions = conn.execute(
            "select version from supabase_migrations.schema_migrations order by 1"
        ).fetchall()
        roles = conn.execute(
            "select count(*) from pg_roles "
            "where rolname in ('anon', 'authenticated', 'service_role', 'authenticator')"
        ).fetchone()
    assert [v for (v,) in versions] == [m.version for m in discover()]
    assert roles == (4,)


def test_second_start_is_a_no_op_that_prints_the_url(started: tuple[Path, str]) -> None:
    """Starting a running data dir changes nothing and prints the same URL."""
    data_dir, url = started
    again = cli("db", "start", "--data-dir", str(data_dir), "--port", str(free_port()))
    assert again.returncode == 0, again.stderr
    assert "already running" in again.stdout
    assert last_line(again) == url
    status = cli("db", "status", "--data-dir", str(data_dir))
    assert status.returncode == 0
    assert last_line(status) == url


def test_migrate_twice_changes_nothing(started: tuple[Path, str]) -> None:
    """``migrate`` on an up-to-date database applies nothing and leaves the schema as is."""
    _, url = started
    with psycopg.connect(url) as conn:
        before = conn.execute(FINGERPRINT).fetchone()
    for _ in range(2):
        result = cli("migrate", "--db-url", url, "--with-shim")
        assert result.returncode == 0, result.stderr
        assert "0 migration(s) applied" in result.stdout
    with psycopg.connect(url) as conn:
        assert conn.execute(FINGERPRINT).fetchone() == before


def test_stop_stops_the_server(tmp_path: Path) -> None:
    """``db stop`` shuts the server down; ``status`` then exits 3; stop again is harmless."""
    data_dir = tmp_path / "state"
    start = cli("db", "start", "--data-dir", str(data_dir), "--port", str(free_port()))
    assert start.returncode == 0, start.stdout + start.stderr
    url = last_line(start)
    stop = cli("db", "stop", "--data-dir", str(data_dir))
    assert stop.returncode == 0, stop.stderr
    assert "stopped" in stop.stdout
    assert cli("db", "status", "--data-dir", str(data_dir)).returncode == 3
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(url, connect_timeout=2)
    assert "not running" in cli("db", "stop", "--data-dir", str(data_dir)).stdout
