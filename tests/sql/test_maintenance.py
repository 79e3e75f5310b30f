"""run_maintenance cleans temporary data and says what it did; pg_cron schedules it where
installed, and uninstall takes the job away again.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
import testing.postgresql

from customer_management.local import uninstall
from customer_management.local.migrations import apply_migrations, apply_shim
from customer_management.local.server import initdb_args, root_safe_binaries
from customer_management.local.server import url_for as _url_for
from support.helpers import call_rpc, create_auth_user
from support.lifecycle import rpc
from support.reads import one, set_settings

Conn = psycopg.Connection[Any]
PHONE = "+15556050001"


def test_maintenance_removes_only_what_has_expired(conn: Conn) -> None:
    """Past minutes' counters, claims older than the retention and verification records long
    expired go; this minute's counters, recent claims and fresh codes stay. The report
    counts them, and each expired claim leaves a keyed hash in the audit."""
    _, claims = create_auth_user(conn, email="lee@mail.com")
    own = call_rpc(
        conn, {"phone": PHONE, "email": "lee@mail.com", "source": "webapp"}, "authenticated", claims
    )
    assert own["verificationRequired"] == [{"type": "phone", "value": PHONE}]
    call_rpc(
        conn,
        {"phone": "+15556050002", "email": "lee@mail.com", "source": "webapp"},
        "authenticated",
        claims,
    )
    rpc(conn, "request_verification", {"identifier_type": "phone", "identifier_value": PHONE})
    rpc(conn, "request_verification", {"identifier_type": "email", "identifier_value": "x@y.com"})
    conn.execute(
        "insert into customer_management.rate_limit_counters (bucket, window_start, calls) "
        "select 'identifier:phone:+1555605' || n, date_trunc('minute', now()) - interval "
        "'10 minutes', 1 from generate_series(1, 3) as n"
    )
    conn.execute(
        "update customer_management.customer_identifiers set created_at = now() - interval "
        "'91 days' where value = %s",
        (PHONE,),
    )
    conn.execute(
        "update customer_management.verifications set expires_at = now() - interval '8 days' "
        "where identifier_value = %s",
        (PHONE,),
    )
    counters_now = one(
        conn,
        "select count(*) from customer_management.rate_limit_counters "
        "where window_start = date_trunc('minute', now())",
    )
    assert counters_now >= 1

    report = one(conn, "select customer_management.run_maintenance()")
    assert report["rateLimitCountersPruned"] == 3
    assert report["pendingIdentifiersExpired"] == 1
    assert report["verificationsDeleted"] == 1
    assert (
        one(
            conn,
            "select count(*) from customer_management.customer_identifiers where value = %s",
            (PHONE,),
        )
        == 0
    )
    assert (
        one(
            conn,
            "select count(*) from customer_management.customer_identifiers "
            "where value = '+15556050002' and status = 'pending'",
        )
        == 1
    )
    assert one(conn, "select count(*) from customer_management.verifications") == 1
    assert one(conn, "select count(*) from customer_management.rate_limit_counters") == counters_now
    digest = one(conn, "select customer_management.identifier_digest('phone', %s)", (PHONE,))
    details = one(
        conn, "select details::text from customer_management.audit_log where action = 'expire'"
    )
    assert digest in details and PHONE not in details


def test_retention_comes_from_settings(conn: Conn) -> None:
    _, claims = create_auth_user(conn, email="lee@mail.com")
    call_rpc(
        conn, {"phone": PHONE, "email": "lee@mail.com", "source": "webapp"}, "authenticated", claims
    )
    conn.execute(
        "update customer_management.customer_identifiers set created_at = now() - interval "
        "'3 days' where value = %s",
        (PHONE,),
    )
    assert (
        one(conn, "select customer_management.run_maintenance()")["pendingIdentifiersExpired"] == 0
    )
    set_settings(conn, pending_identifier_retention=dt.timedelta(days=2))
    assert (
        one(conn, "select customer_management.run_maintenance()")["pendingIdentifiersExpired"] == 1
    )


def test_without_pg_cron_nothing_is_scheduled(conn: Conn) -> None:
    assert one(conn, "select customer_management.schedule_maintenance()") is False


@pytest.fixture(scope="module")
def cron_server(tmp_path_factory: pytest.TempPathFactory, server_url: str) -> Iterator[str]:
    """A server with pg_cron preloaded, its jobs run in database postgres."""
    with psycopg.connect(server_url) as admin:
        available = one(
            admin, "select count(*) from pg_available_extensions where name = 'pg_cron'"
        )
    if not available:
        pytest.skip("pg_cron is not installed (make system-deps installs postgresql-15-cron)")
    binaries = root_safe_binaries(Path(tmp_path_factory.mktemp("cronbin")))
    server = testing.postgresql.Postgresql(
        initdb=binaries["initdb"],
        postgres=binaries["postgres"],
        initdb_args=" ".join([*initdb_args(), "--no-sync"]),
        postgres_args="-h 127.0.0.1 -c fsync=off -c shared_preload_libraries=pg_cron "
        "-c cron.database_name=postgres",
    )
    try:
        yield _url_for(server.settings["port"])
    finally:
        server.stop()


def test_pg_cron_schedules_maintenance_and_uninstall_removes_it(cron_server: str) -> None:
    """Installed where pg_cron is: the job exists from the first migrate, runs the
    maintenance function, and goes away with the kit."""
    with psycopg.connect(cron_server, autocommit=True) as conn:
        conn.execute("create extension if not exists pg_cron")
    apply_shim(cron_server)
    apply_migrations(cron_server)
    with psycopg.connect(cron_server, autocommit=True) as conn:
        jobs = conn.execute(
            "select schedule, command from cron.job where jobname = "
            "'customer-management-maintenance'"
        ).fetchall()
        assert jobs == [("*/15 * * * *", "select customer_management.run_maintenance()")]
        assert one(conn, "select customer_management.schedule_maintenance('0 * * * *')") is True
        assert (
            one(
                conn,
                "select schedule from cron.job where jobname = 'customer-management-maintenance'",
            )
            == "0 * * * *"
        )
    uninstall.uninstall(cron_server)
    with psycopg.connect(cron_server, autocommit=True) as conn:
        assert one(conn, "select count(*) from cron.job") == 0
        assert one(conn, "select count(*) from pg_extension where extname = 'pg_cron'") == 1
