"""``make bench``: how fast the RPC answers, and what each call costs the database.

Starts a throwaway local Postgres with durable settings (fsync on, synchronous commit on,
as a real server runs), then measures, through the real RPC under the service role:

- returning-customer lookups (the chatbot's hot path) on 1 and on 8 connections;
- account creations on 8 connections;
- WAL flushes (``pg_stat_wal.wal_sync``) and WAL bytes per call for both, which shows
  whether a lookup waits on a WAL flush at commit (it should not: it writes nothing but an
  unlogged rate-limit counter).

Numbers are printed as a table and as JSON (``--json``). Rate limits are raised for the run:
the benchmark measures resolution, not the limiter.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import psycopg

from customer_management.local import migrations
from customer_management.local.rpc_session import call_customer_management
from customer_management.local.server import LocalPostgres, free_port

DURABLE_SETTINGS = {"fsync": "on", "synchronous_commit": "on", "max_connections": "50"}


@dataclass
class Measurement:
    """One benchmark line."""

    name: str
    connections: int
    calls: int
    seconds: float
    calls_per_second: float
    p50_ms: float
    p95_ms: float
    wal_syncs_per_call: float
    wal_bytes_per_call: float


def wal_counters(conn: psycopg.Connection[Any]) -> tuple[int, int]:
    """WAL flushes so far and the current WAL insert position in bytes."""
    row = conn.execute(
        "select wal_sync, pg_current_wal_insert_lsn() - '0/0'::pg_lsn from pg_stat_wal"
    ).fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


def run_load(
    url: str,
    name: str,
    connections: int,
    bodies: list[dict[str, Any]],
    admin: psycopg.Connection[Any],
) -> Measurement:
    """Send ``bodies`` through ``connections`` parallel sessions; time each call."""
    latencies: list[float] = []
    lock = threading.Lock()
    queue = list(reversed(bodies))
    errors: list[BaseException] = []

    def worker() -> None:
        with psycopg.connect(url, autocommit=True) as conn:
            while True:
                with lock:
                    if not queue:
                        return
                    body = queue.pop()
                started = time.perf_counter()
                try:
                    call_customer_management(conn, body, "service_role")
                except psycopg.Error as exc:
                    errors.append(exc)
                    return
                elapsed = time.perf_counter() - started
                with lock:
                    latencies.append(elapsed)

    syncs_before, bytes_before = wal_counters(admin)
    started = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - started
    admin.execute("select pg_stat_clear_snapshot()")
    syncs_after, bytes_after = wal_counters(admin)
    if errors:
        raise RuntimeError(f"{name}: {len(errors)} calls failed, first: {errors[0]}")
    ordered = sorted(latencies)
    calls = len(ordered)
    return Measurement(
        name=name,
        connections=connections,
        calls=calls,
        seconds=round(seconds, 3),
        calls_per_second=round(calls / seconds, 1),
        p50_ms=round(statistics.median(ordered) * 1000, 3),
        p95_ms=round(ordered[int(calls * 0.95) - 1] * 1000, 3),
        wal_syncs_per_call=round((syncs_after - syncs_before) / calls, 3),
        wal_bytes_per_call=round((bytes_after - bytes_before) / calls, 1),
    )


def phone(n: int) -> str:
    """A distinct valid NANP number for customer ``n``."""
    return f"+1212{n:07d}"


def benchmark(url: str, customers: int, lookups: int) -> list[Measurement]:
    """Seed ``customers`` accounts, then measure lookups and creations."""
    results: list[Measurement] = []
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute(
            "update customer_management.settings set rate_limit_per_user_per_minute = 1000000, "
            "rate_limit_per_identifier_per_minute = 1000000"
        )
        create_bodies = [
            {"phone": phone(n), "firstName": f"Customer{n}", "source": "chatbot"}
            for n in range(customers)
        ]
        results.append(run_load(url, "create account", 8, create_bodies, admin))
        lookup_bodies = [
            {"phone": phone(n % customers), "source": "chatbot"} for n in range(lookups)
        ]
        results.append(run_load(url, "returning-customer lookup", 1, lookup_bodies, admin))
        results.append(run_load(url, "returning-customer lookup", 8, lookup_bodies, admin))
    return results


def with_server(action: Callable[[str], list[Measurement]]) -> list[Measurement]:
    """Run ``action`` against a fresh, durable, migrated local server."""
    state_dir = Path(tempfile.mkdtemp(prefix="customer-management-bench-"))
    server = LocalPostgres(state_dir, port=free_port(), settings=DURABLE_SETTINGS)
    try:
        server.start()
        migrations.apply_shim(server.url)
        migrations.apply_migrations(server.url)
        return action(server.url)
    finally:
        try:
            server.stop()
        finally:
            shutil.rmtree(state_dir, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the table (and JSON with ``--json``)."""
    parser = argparse.ArgumentParser(prog="python -m customer_management.dev.bench")
    parser.add_argument("--customers", type=int, default=2000)
    parser.add_argument("--lookups", type=int, default=4000)
    parser.add_argument("--json", action="store_true", help="print JSON only")
    args = parser.parse_args(argv)
    results = with_server(lambda url: benchmark(url, args.customers, args.lookups))
    if args.json:
        print(json.dumps([asdict(r) for r in results], indent=2))
        return 0
    header = f"{'benchmark':28} {'conns':>5} {'calls':>6} {'calls/s':>9} {'p50 ms':>8} "
    header += f"{'p95 ms':>8} {'WAL flushes/call':>17} {'WAL bytes/call':>15}"
    print(header)
    for r in results:
        print(
            f"{r.name:28} {r.connections:>5} {r.calls:>6} {r.calls_per_second:>9} "
            f"{r.p50_ms:>8} {r.p95_ms:>8} {r.wal_syncs_per_call:>17} {r.wal_bytes_per_call:>15}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
