"""Run the whole benchmark and write the report (``python -m bench``)."""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psycopg

from bench import (
    cpu_profile,
    data,
    http,
    pgbouncer,
    plans,
    report,
    splink_compare,
    suggest_compare,
    workloads,
)
from customer_management.local import migrations
from customer_management.local.server import LocalPostgres, free_port

DURABLE_SETTINGS = {
    "fsync": "on",
    "synchronous_commit": "on",
    "full_page_writes": "on",
    "max_connections": "60",
    "shared_buffers": "1GB",
    "shared_preload_libraries": "",
}
CLIENTS = (1, 4, 8)
MIX = {"lookup": 85, "create": 10, "conflict": 5}
QUICK_SIZES = (10_000, 100_000, 1_000_000)
# People of the deduplication comparison against Splink (splink_compare).
QUICK_DEDUPE_PEOPLE = 100_000
FULL_DEDUPE_PEOPLE = 1_000_000
FULL_SIZES = (10_000, 100_000, 1_000_000, 10_000_000)
# People and seeds of the possible-duplicates comparison (suggest_compare): the scoring was
# set on seed 1; seeds 2 and 3 were never looked at while setting it.
QUICK_SUGGEST_POINTS = ((10_000, 1), (10_000, 2), (10_000, 3), (100_000, 2))
FULL_SUGGEST_POINTS = (*QUICK_SUGGEST_POINTS, (100_000, 3), (1_000_000, 2))
# The quick run leaves Splink out at 100,000 people (over five minutes there).
QUICK_SPLINK_MAX_RECORDS = 20_000
MAIN_SIZE = 1_000_000


def say(text: str) -> None:
    """Progress on stderr (the report is the output)."""
    print(f"[{time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


def table_counts(conn: psycopg.Connection[Any]) -> dict[str, int]:
    """How many customers, identifiers and orders the database holds."""
    row = conn.execute(
        "select (select count(*) from public.customers), "
        "(select count(*) from customer_management.customer_identifiers), "
        "(select count(*) from public.orders)"
    ).fetchone()
    assert row is not None
    return {"customers": row[0], "identifiers": row[1], "orders": row[2]}


def profile(url: str, customers: int, seconds: int) -> list[dict[str, Any]]:
    """Per-function cost of lookups: one client, ``track_functions = 'pl'``."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("alter database postgres set track_functions = 'pl'")
        conn.execute("select pg_stat_reset()")
    try:
        run = workloads.run(url, "lookup", 1, seconds, customers)
        time.sleep(1.0)  # let the backends report their statistics
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("select pg_stat_clear_snapshot()")
            rows = conn.execute(
                "select schemaname || '.' || funcname, calls, self_time, total_time "
                "from pg_stat_user_functions where schemaname in ('public', "
                "'customer_management', 'auth') order by self_time desc"
            ).fetchall()
    finally:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("alter database postgres reset track_functions")
    lookups = max(run.transactions, 1)
    return [
        {
            "function": name,
            "calls_per_lookup": round(calls / lookups, 2),
            "self_us": round(1000 * self_ms / lookups, 1),
            "total_us": round(1000 * total_ms / lookups, 1),
        }
        for name, calls, self_ms, total_ms in rows
    ]


def interleaved(
    url: str, clients: int, seconds: int, customers: int, rounds: int
) -> list[workloads.Run]:
    """Every workload at one client count, in ``rounds`` interleaved rounds so that a noisy
    moment of a shared machine does not land on one workload only; the median run of each."""
    names = (
        "select-only",
        "noop",
        "counted-noop",
        "lookup",
        "create",
        "create-floor",
        "tpcb-like",
        "mix",
    )
    measured: dict[str, list[workloads.Run]] = {name: [] for name in names}
    for round_number in range(rounds):
        for name in names:
            say(f"{name} at {clients} client(s), round {round_number + 1} of {rounds}")
            weights = MIX if name == "mix" else None
            measured[name].append(workloads.run(url, name, clients, seconds, customers, weights))
    return [sorted(runs, key=lambda r: r.tps)[len(runs) // 2] for runs in measured.values()]


def through_pooler(
    url: str, server_port: int, seconds: int, customers: int, rounds: int
) -> list[dict[str, Any]]:
    """Lookups at 8 clients directly and through PgBouncer in transaction mode (one server
    connection per client), interleaved; both unprepared (``-M extended``), as a client
    behind Supabase's transaction pooler sends them. Empty when PgBouncer is missing."""
    if pgbouncer.binary() is None:
        say(f"no point through PgBouncer: {pgbouncer.INSTALL_HINT}")
        return []
    measured: dict[str, list[workloads.Run]] = {"direct": [], "PgBouncer": []}
    with pgbouncer.running(server_port, users=("postgres",), pool=8) as pooler:
        pooled = pooler.url_for(url)
        for round_number in range(rounds):
            for path, target in (("direct", url), ("PgBouncer", pooled)):
                say(f"lookup {path}, unprepared, round {round_number + 1} of {rounds}")
                measured[path].append(
                    workloads.run(target, "lookup", 8, seconds, customers, protocol="extended")
                )
    return [
        {"path": path, **report.as_dicts([sorted(runs, key=lambda r: r.tps)[len(runs) // 2]])[0]}
        for path, runs in measured.items()
    ]


def benchmark(
    url: str, server_port: int, sizes: tuple[int, ...], seconds: int, rounds: int
) -> dict[str, Any]:
    """Everything measured on one server; the report's data. The full matrix runs at 1M
    customers (or at the largest size below it, for a smaller trial run)."""
    main_size = max((s for s in sizes if s <= MAIN_SIZE), default=sizes[0])
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "update customer_management.settings set rate_limit_per_user_per_minute = 100000000, "
            "rate_limit_per_identifier_per_minute = 100000000"
        )
        version = conn.execute("show server_version").fetchone()
    say("pgbench baselines: pgbench -i -s 10 and the no-op RPC")
    workloads.initialise_baselines(url, scale=10)
    scale: list[dict[str, Any]] = []
    runs: list[workloads.Run] = []
    loaded = 0
    for size in sizes:
        say(f"loading customers {loaded:,} .. {size:,} with COPY")
        data.load_in_parallel(url, loaded, size)
        loaded = size
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("vacuum analyze")
            counts = table_counts(conn)
        say(f"lookup at {size:,} customers")
        workloads.run(url, "lookup", 8, max(2, seconds // 3), size)  # warm the cache
        point = workloads.run(url, "lookup", 8, seconds, size)
        scale.append({**counts, "tps": point.tps, "p50_ms": point.p50_ms, "p99_ms": point.p99_ms})
        if size == main_size:
            for clients in CLIENTS:
                runs += interleaved(url, clients, seconds, size, rounds)
            say("lookups through PgBouncer")
            pooled_runs = through_pooler(url, server_port, seconds, size, rounds)
            say("proxy against direct psycopg")
            http_runs = http.compare(url, size, seconds, (1, 8))
            say("profile of a lookup")
            costs = profile(url, size, seconds)
            say("perf samples of a lookup's server process")
            cpu = cpu_profile.profile(url, size, seconds)
            say("plans of the hot statements")
            hot = plans.explain_calls(url, plans.hot_calls(size))
    return {
        "machine": {
            "date": dt.date.today().isoformat(),
            "cores": os.cpu_count(),
            "cpu": platform.processor() or platform.machine(),
            "postgres": version[0] if version else "?",
            "seconds": seconds,
            "rounds": rounds,
            "shared_buffers": DURABLE_SETTINGS["shared_buffers"],
        },
        "main_size": main_size,
        "runs": report.as_dicts(runs),
        "scale": scale,
        "http": report.as_dicts(http_runs),
        "pooler": pooled_runs,
        "profile": costs,
        "cpu_profile": cpu,
        "plans": hot,
        "targets": report.targets(runs, scale, http_runs),
    }


def main(argv: list[str] | None = None) -> int:
    """Start a durable throwaway server, measure, write the report."""
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("--full", action="store_true", help="10M customers, 15 s per point")
    parser.add_argument("--seconds", type=int, default=None, help="seconds per point")
    parser.add_argument(
        "--out", type=Path, default=None, help="report directory (bench, or bench/full)"
    )
    parser.add_argument(
        "--sizes", default=None, help="customer counts, comma-separated (a trial run)"
    )
    parser.add_argument(
        "--dedupe-people", type=int, default=None, help="people of the Splink comparison"
    )
    args = parser.parse_args(argv)
    sizes: tuple[int, ...] = FULL_SIZES if args.full else QUICK_SIZES
    if args.sizes:
        sizes = tuple(int(size) for size in args.sizes.split(","))
    seconds = args.seconds or (15 if args.full else 5)
    out: Path = args.out or (Path("bench/full") if args.full else Path("bench"))
    rounds = 3 if args.full else 2
    state_dir = Path(tempfile.mkdtemp(prefix="customer-management-bench-"))
    server = LocalPostgres(state_dir, port=free_port(), settings=DURABLE_SETTINGS)
    started = time.monotonic()
    try:
        server.start()
        migrations.apply_shim(server.url)
        migrations.apply_migrations(server.url)
        results = benchmark(server.url, server.port, sizes, seconds, rounds)
        people = FULL_DEDUPE_PEOPLE if args.full else QUICK_DEDUPE_PEOPLE
        say(f"batch deduplication against Splink, {args.dedupe_people or people:,} people")
        results["dedupe"] = splink_compare.on_server(server.url, args.dedupe_people or people)
        results["targets"].append(splink_compare.target(results["dedupe"]))
        say("possible duplicates against Splink")
        results["suggest"] = suggest_compare.run(
            server.url,
            FULL_SUGGEST_POINTS if args.full else QUICK_SUGGEST_POINTS,
            suggest_compare.SPLINK_MAX_RECORDS if args.full else QUICK_SPLINK_MAX_RECORDS,
        )
        results["targets"].append(suggest_compare.target(results["suggest"]))
    finally:
        try:
            server.stop()
        finally:
            shutil.rmtree(state_dir, ignore_errors=True)
    results["machine"]["wall_seconds"] = round(time.monotonic() - started)
    report.write(out, results)
    say(f"wrote {out / 'RESULTS.md'} in {results['machine']['wall_seconds']} s")
    for check in results["targets"]:
        print(
            f"{check['target']}: {check['value']}{check['unit']} (goal {check['goal']}"
            f"{check['unit']}, {'met' if check['met'] else 'missed'})"
        )
    return 0
