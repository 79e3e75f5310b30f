"""Starved and cut off: the real proxy on a real Postgres whose pool is exhausted, whose
database is stopped (or killed) and restarted under it, and whose statements run past the
statement timeout.

It must answer PostgREST's statuses and codes (504 ``PGRST003``; 503 ``PGRST000`` /
``PGRST001`` / ``57P01``; ``57014`` with PostgREST's status for it), never hang, never leak
a connection (the database never sees more than ``pool_max_size`` of them, and afterwards
the pool still serves ``pool_max_size`` requests at once), serve again by itself once the
database is back, and ``/health`` must say the truth at every step. Pool size and timeouts
are the proxy's settings, set small here so each scenario takes seconds.
"""

from __future__ import annotations

import os
import shutil
import signal
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from customer_management import statuses
from customer_management.local.migrations import apply_migrations, apply_shim
from customer_management.local.server import (
    THROWAWAY_SETTINGS,
    LocalPostgres,
    PidFile,
    free_port,
    server_processes_of,
)
from customer_management.proxy import Settings
from customer_management.proxy.db import APPLICATION_NAME
from support.proxy import Proxy, as_authenticator, serving

POOL = 3
POOL_TIMEOUT = 0.5
# Never hangs: no answer, whatever happens, takes longer than this.
PROMPT = 3.0
OUTAGE_CODES = {"PGRST000", "PGRST001", "57P01"}


def lookup(phone: str) -> dict[str, Any]:
    """A chatbot request (creates the customer the first time)."""
    return {"phone": phone, "source": "chatbot"}


@pytest.fixture(scope="module")
def local_db() -> Iterator[LocalPostgres]:
    """A migrated server of our own (the session's shared one must not be stopped)."""
    base = Path(tempfile.mkdtemp(prefix="cm-starved-"))
    server = LocalPostgres(base / "db", port=free_port(), settings=THROWAWAY_SETTINGS)
    try:
        server.start()
        apply_shim(server.url)
        apply_migrations(server.url)
        yield server
    finally:
        try:
            server.stop()
        finally:
            for pid in server_processes_of(server.data_dir):
                os.kill(pid, signal.SIGKILL)
            shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def db(local_db: LocalPostgres) -> LocalPostgres:
    """The module's server, running (a test before may have stopped or killed it)."""
    local_db.start()
    return local_db


def settings_for(server: LocalPostgres, **overrides: Any) -> Settings:
    """Small pool, short timeouts: each scenario takes seconds."""
    values: dict[str, Any] = {
        "db_url": as_authenticator(server.url),
        "pool_min_size": 1,
        "pool_max_size": POOL,
        "pool_timeout_seconds": POOL_TIMEOUT,
        "pool_reconnect_timeout_seconds": 2.0,
        "health_timeout_seconds": 0.5,
        "statement_timeout_ms": 5000,
        "connect_timeout_seconds": 2,
    }
    values.update(overrides)
    return Settings(**values)


def proxy_backends(server: LocalPostgres) -> list[tuple[int, str, str | None]]:
    """The proxy's connections as the server sees them: (pid, state, wait event type)."""
    with psycopg.connect(server.url, autocommit=True) as conn:
        rows = conn.execute(
            "select pid, state, wait_event_type from pg_stat_activity where application_name = %s",
            (APPLICATION_NAME,),
        ).fetchall()
    return [(int(pid), str(state), wait) for pid, state, wait in rows]


def timed(call: Callable[[], httpx.Response]) -> tuple[httpx.Response, float]:
    """The response and how long it took."""
    started = time.monotonic()
    response = call()
    return response, time.monotonic() - started


def health(proxy: Proxy) -> tuple[httpx.Response, float]:
    return timed(lambda: proxy.http.get(proxy.url + "/health"))


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> float:
    """Poll until ``condition()``; return the time it took."""
    started = time.monotonic()
    while not condition():
        assert time.monotonic() - started < timeout, f"timed out waiting for {what}"
        time.sleep(0.05)
    return time.monotonic() - started


class LockedCustomers:
    """``lock table public.customers`` in a superuser transaction: every request of the kit
    blocks on it (holding its pooled connection) until ``release``."""

    def __init__(self, server: LocalPostgres) -> None:
        self.conn = psycopg.connect(server.url)
        self.conn.execute("lock table public.customers in access exclusive mode")

    def release(self) -> None:
        self.conn.commit()
        self.conn.close()


def assert_serves_a_full_pool(proxy: Proxy, server: LocalPostgres, tag: str) -> None:
    """No slot leaked: POOL requests held at once all complete; the server never sees more
    than POOL proxy connections, none left in a transaction."""
    lock = LockedCustomers(server)
    with ThreadPoolExecutor(POOL) as pool:
        futures = [
            pool.submit(lambda i=i: proxy.function(lookup(f"+1555010{tag}{i:03d}")))
            for i in range(POOL)
        ]
        wait_for(
            lambda: sum(1 for _, _, wait in proxy_backends(server) if wait == "Lock") == POOL,
            10,
            "every pooled connection to wait on the lock",
        )
        lock.release()
        answers = [f.result(timeout=30) for f in futures]
    assert [a.status_code for a in answers] == [200] * POOL, [a.text for a in answers]
    backends = proxy_backends(server)
    assert len(backends) <= POOL, backends
    assert not [b for b in backends if b[1].startswith("idle in transaction")], backends


def test_pool_exhausted_is_504_pgrst003_then_serves(db: LocalPostgres) -> None:
    """Every connection busy: the next request waits pool_timeout_seconds and gets 504
    PGRST003; /health says the pool is exhausted; once they finish, all is well."""
    with serving(settings_for(db)) as proxy:
        assert proxy.function(lookup("+15550100001")).status_code == 200
        lock = LockedCustomers(db)
        executor = ThreadPoolExecutor(POOL)
        try:
            held: list[Future[httpx.Response]] = [
                executor.submit(proxy.function, lookup(f"+155501001{i:02d}")) for i in range(POOL)
            ]
            wait_for(
                lambda: sum(1 for _, _, w in proxy_backends(db) if w == "Lock") == POOL,
                10,
                "the pool to be exhausted",
            )
            starved, took = timed(lambda: proxy.function(lookup("+15550100199")))
            assert starved.status_code == 504, starved.text
            assert starved.json()["code"] == "PGRST003"
            assert starved.json()["message"] == (
                "Timed out acquiring connection from connection pool."
            )
            assert statuses.status_for_code("PGRST003", "service_role") == 504
            assert POOL_TIMEOUT * 0.8 <= took < PROMPT, took

            busy, took = health(proxy)
            assert busy.status_code == 503, busy.text
            assert busy.json()["code"] == "PGRST003"
            assert busy.json()["pool"]["size"] == POOL
            assert busy.json()["pool"]["available"] == 0
            assert took < PROMPT

            assert len(proxy_backends(db)) == POOL
        finally:
            lock.release()
            answers = [f.result(timeout=30) for f in held]
            executor.shutdown()
        assert [a.status_code for a in answers] == [200] * POOL
        ok, _ = health(proxy)
        assert ok.status_code == 200 and ok.json() == {"status": "ok"}
        assert_serves_a_full_pool(proxy, db, "1")


def test_statement_timeout_is_57014_with_postgrest_status(db: LocalPostgres) -> None:
    """A statement past statement_timeout is cancelled by the server: 57014 with the status
    PostgREST gives it, promptly; its connection goes back to the pool, reusable."""
    with serving(settings_for(db, statement_timeout_ms=300)) as proxy:
        lock = LockedCustomers(db)
        try:
            slow, took = timed(lambda: proxy.function(lookup("+15550100201")))
            rpc, _ = timed(lambda: proxy.rpc(lookup("+15550100202")))
        finally:
            lock.release()
        for answer in (slow, rpc):
            assert answer.status_code == statuses.status_for_sqlstate("57014", "service_role")
            body = answer.json()
            assert body["code"] == "57014", body
            assert body["message"] == "canceling statement due to statement timeout"
        assert 0.3 <= took < PROMPT, took
        ok, _ = health(proxy)
        assert ok.status_code == 200, ok.text
        assert proxy.function(lookup("+15550100201")).status_code == 200
        assert_serves_a_full_pool(proxy, db, "2")


def kill_9(server: LocalPostgres) -> None:
    """SIGKILL the postmaster (a crash, an OOM kill) and wait until its children are gone."""
    pid_file = PidFile.read(server.pid_file)
    assert pid_file is not None
    os.kill(pid_file.pid, signal.SIGKILL)
    wait_for(lambda: not server_processes_of(server.data_dir), 30, "the server to die")


@pytest.mark.parametrize("how", ["stopped", "killed"])
def test_database_gone_and_back_under_the_proxy(db: LocalPostgres, how: str) -> None:
    """The database stops (pg_ctl stop -m fast) or dies (kill -9) under a proxy with warm
    connections: every request is a prompt 503 with PostgREST's code, /health says 503 the
    whole time; after restart the proxy serves again by itself, with no leaked slot."""
    with serving(settings_for(db)) as proxy:
        assert_serves_a_full_pool(proxy, db, "3")  # every slot holds a live connection
        if how == "stopped":
            db.stop()
        else:
            kill_9(db)
        codes: set[str] = set()
        for i in range(2 * POOL + 2):  # more than the pool's broken connections
            answer, took = timed(lambda i=i: proxy.function(lookup(f"+155501003{i:02d}")))
            assert answer.status_code == 503, answer.text
            assert took < PROMPT, took
            codes.add(answer.json()["code"])
            down, took = health(proxy)
            assert down.status_code == 503, down.text
            assert down.json()["status"] == "unavailable"
            assert took < PROMPT, took
        assert codes <= OUTAGE_CODES, codes
        assert down.json()["code"] == "PGRST000", down.json()
        assert "database" in down.json(), down.json()
        assert all(statuses.status_for_code(code, "service_role") == 503 for code in codes)

        db.start()
        back = wait_for(
            lambda: proxy.function(lookup("+15550100399")).status_code == 200, 15, "recovery"
        )
        assert back < 10, back
        ok, _ = health(proxy)
        assert ok.status_code == 200, ok.text
        assert_serves_a_full_pool(proxy, db, "4")


def test_proxy_started_before_the_database(db: LocalPostgres) -> None:
    """A proxy whose database is down from the start answers 503 PGRST000 at once (not
    after pool_timeout_seconds) and serves as soon as the database comes up."""
    db.stop()
    with serving(settings_for(db, pool_timeout_seconds=5.0)) as proxy:
        for _ in range(3):
            answer, took = timed(lambda: proxy.function(lookup("+15550100401")))
            assert answer.status_code == 503 and answer.json()["code"] == "PGRST000"
            assert took < 1.5, took
        down, _ = health(proxy)
        assert down.status_code == 503 and down.json()["code"] == "PGRST000"
        db.start()
        wait_for(lambda: health(proxy)[0].status_code == 200, 15, "health to turn ok")
        assert proxy.function(lookup("+15550100401")).status_code == 200


def test_requests_racing_a_restart_never_hang(db: LocalPostgres) -> None:
    """Clients keep calling while the database stops and starts: every answer comes in time
    and is a 200 or a documented 503/504; afterwards nothing leaked."""
    with serving(settings_for(db)) as proxy:
        stop = threading.Event()
        seen: list[tuple[int, str | None, float]] = []

        def client(n: int) -> None:
            i = 0
            while not stop.is_set():
                i += 1
                phone = f"+1555015{n}{i % 1000:03d}"
                answer, took = timed(lambda phone=phone: proxy.function(lookup(phone)))
                code = answer.json().get("code") if answer.status_code != 200 else None
                seen.append((answer.status_code, code, took))

        threads = [threading.Thread(target=client, args=(n,)) for n in range(4)]
        for thread in threads:
            thread.start()
        try:
            time.sleep(0.5)
            db.stop()
            time.sleep(1.0)
            db.start()
            time.sleep(1.5)
        finally:
            stop.set()
            for thread in threads:
                thread.join(30)
        statuses_seen = {status for status, _, _ in seen}
        assert statuses_seen <= {200, 503, 504}, seen
        assert {code for _, code, _ in seen if code} <= OUTAGE_CODES | {"PGRST003"}, seen
        assert max(took for _, _, took in seen) < PROMPT + 5.0
        wait_for(lambda: proxy.function(lookup("+15550100501")).status_code == 200, 15, "recovery")
        assert_serves_a_full_pool(proxy, db, "5")
