"""The benchmark report: ``bench/RESULTS.md``, its JSON twin and two PNG plots."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

from bench import splink_compare, suggest_compare
from bench.http import HttpRun
from bench.workloads import Run

# Each workload and the baseline it is measured against.
BASELINES = {
    "select-only": "select-only",
    "noop": "select-only",
    "counted-noop": "noop",
    "lookup": "select-only",
    "create": "tpcb-like",
    "create-floor": "tpcb-like",
    "tpcb-like": "tpcb-like",
    "mix": "select-only",
}
LABELS = {
    "select-only": "pgbench -S (one index lookup)",
    "noop": "no-op RPC (PostgREST-shaped transaction)",
    "counted-noop": "no-op RPC plus the rate-limit count every lookup writes",
    "lookup": "returning-customer lookup",
    "create": "new-customer create",
    "create-floor": "no-op writing a create's rows (the create floor)",
    "tpcb-like": "pgbench TPC-B-like",
    "mix": "mix: 85% lookup, 10% create, 5% conflict",
}


def find(runs: list[Run], workload: str, clients: int) -> Run | None:
    """The run of one workload at one client count."""
    return next((r for r in runs if r.workload == workload and r.clients == clients), None)


def ratio(a: float, b: float) -> float:
    """``a / b`` as a percentage, one decimal."""
    return round(100 * a / b, 1) if b else 0.0


# The table size of the scale target (lookup p50 there against the smallest size).
SCALE_TARGET_CUSTOMERS = 1_000_000


def targets(
    runs: list[Run], scale: list[dict[str, Any]], http_runs: list[HttpRun]
) -> list[dict[str, Any]]:
    """Each target of the performance issue: the measured value and whether it is met."""
    checks: list[dict[str, Any]] = []

    def add(name: str, value: float, goal: float, higher_is_better: bool, unit: str) -> None:
        met = value >= goal if higher_is_better else value <= goal
        checks.append({"target": name, "value": value, "goal": goal, "met": met, "unit": unit})

    s, noop, lookup = find(runs, "select-only", 8), find(runs, "noop", 8), find(runs, "lookup", 8)
    create, tpcb = find(runs, "create", 8), find(runs, "tpcb-like", 8)
    if s and lookup:
        add("lookup vs pgbench -S (8 clients)", ratio(lookup.tps, s.tps), 15.0, True, "%")
        add("lookup vs pgbench -S, stretch", ratio(lookup.tps, s.tps), 25.0, True, "%")
    if noop and lookup:
        add("lookup vs no-op RPC (8 clients)", ratio(lookup.tps, noop.tps), 35.0, True, "%")
    if create and tpcb:
        add("create vs TPC-B-like (8 clients)", ratio(create.tps, tpcb.tps), 50.0, True, "%")
    mix = find(runs, "mix", 8)
    if mix and noop:
        add("mix vs no-op RPC (8 clients)", ratio(mix.tps, noop.tps), 30.0, True, "%")
    if lookup:
        add(
            "lookup p99 / p50 (8 clients)", round(lookup.p99_ms / lookup.p50_ms, 2), 2.5, False, "x"
        )
    # The scale target is 1M against 10k; a larger size (bench-full's 10M) is
    # reported in the scale table beside it.
    within = [point for point in scale if point["customers"] <= SCALE_TARGET_CUSTOMERS]
    if len(within) >= 2:
        smallest, largest = within[0], within[-1]
        add(
            f"lookup p50 at {largest['customers']:,} / at {smallest['customers']:,}",
            round(largest["p50_ms"] / smallest["p50_ms"], 2),
            1.5,
            False,
            "x",
        )
    direct1 = next((h for h in http_runs if h.clients == 1 and h.path.startswith("direct")), None)
    proxy1 = next((h for h in http_runs if h.clients == 1 and h.path.startswith("proxy")), None)
    if direct1 and proxy1:
        add(
            "proxy adds to p50 (1 client)",
            round(proxy1.p50_ms - direct1.p50_ms, 3),
            1.0,
            False,
            "ms",
        )
    direct8 = next((h for h in http_runs if h.clients == 8 and h.path.startswith("direct")), None)
    proxy8 = next((h for h in http_runs if h.clients == 8 and h.path.startswith("proxy")), None)
    if direct8 and proxy8:
        add(
            "proxy throughput vs direct (8 clients)",
            ratio(proxy8.calls_per_second, direct8.calls_per_second),
            40.0,
            True,
            "%",
        )
    return checks


def lookup_floor(runs: list[Run]) -> list[str]:
    """What the lookup's one write costs on its own, at 8 clients: the counted no-op
    against the no-op and ``-S``, and the lookup against the counted no-op."""
    s, noop = find(runs, "select-only", 8), find(runs, "noop", 8)
    counted, lookup = find(runs, "counted-noop", 8), find(runs, "lookup", 8)
    if not (s and noop and counted and lookup):
        return []
    return [
        "",
        "## What the lookup's one write costs (8 clients)",
        "",
        "Every lookup counts the call against the caller's line (the per-identifier rate "
        "limit, kept in the database so it holds however many proxies run): one upsert, so "
        "the transaction takes a transaction id and commits a change, where `-S` and the "
        "no-op only read. The counted no-op is the no-op plus that count, made by the kit's "
        "own `apply_rate_limit`.",
        "",
        "| comparison | ratio |",
        "|---|---|",
        f"| counted no-op vs no-op RPC | {ratio(counted.tps, noop.tps)}% |",
        f"| counted no-op vs pgbench -S | {ratio(counted.tps, s.tps)}% |",
        f"| lookup vs counted no-op | {ratio(lookup.tps, counted.tps)}% |",
    ]


def create_floor(runs: list[Run]) -> list[str]:
    """What a create's writes cost on their own, at 8 clients: the create floor against
    TPC-B-like, and the create against both."""
    tpcb, floor = find(runs, "tpcb-like", 8), find(runs, "create-floor", 8)
    create = find(runs, "create", 8)
    if not (tpcb and floor and create):
        return []
    return [
        "",
        "## What a create's writes cost (8 clients)",
        "",
        "TPC-B-like writes four rows. A new caller's create writes the account (showing its "
        "line), the line's identifier (with its triggers: the default strength and the "
        "contact-column sync, which finds nothing to change), an audit row and the count; no "
        "outbox event (those record merges, undos and erasures). The create floor is a no-op "
        "that writes exactly those rows, with their indexes and triggers, and decides "
        "nothing.",
        "",
        "| comparison | ratio |",
        "|---|---|",
        f"| create floor vs TPC-B-like | {ratio(floor.tps, tpcb.tps)}% |",
        f"| create vs create floor | {ratio(create.tps, floor.tps)}% |",
        f"| create vs TPC-B-like | {ratio(create.tps, tpcb.tps)}% |",
    ]


def pooler_section(points: list[dict[str, Any]]) -> list[str]:
    """Lookups directly and through PgBouncer in transaction mode."""
    if len(points) < 2:
        return []
    direct, pooled = points[0], points[1]
    lines = [
        "",
        "## Through PgBouncer in transaction mode (8 clients)",
        "",
        "Supabase projects reach Postgres through a pooler in transaction mode (port 6543). "
        "The same lookups directly and through Debian's PgBouncer in transaction mode, both "
        "sent unprepared (`pgbench -M extended`: a statement prepared on one server "
        "connection is unknown to the next), interleaved.",
        "",
        "| path | TPS | p50 ms | p99 ms |",
        "|---|---|---|---|",
    ]
    for point in points:
        lines.append(
            f"| {point['path']} | {point['tps']:,.0f} | {point['p50_ms']} | {point['p99_ms']} |"
        )
    lines += [
        "",
        f"Through PgBouncer: {ratio(pooled['tps'], direct['tps'])}% of the direct throughput.",
    ]
    return lines


def cpu_section(cpu: dict[str, Any]) -> list[str]:
    """perf's samples of the server process serving one client's lookups."""
    if not cpu:
        return []
    lines = ["", "## Where the server process spends its CPU during lookups", ""]
    if "skipped" in cpu:
        return [*lines, f"Not measured: {cpu['skipped']}."]
    lines += [
        f"Linux `perf` sampling the one server process that serves a client's lookups for "
        f"{cpu['seconds']} s (`cpu-clock`, 2,000 Hz): share of the samples by library, then "
        "the symbols that take the most. Debian's PostgreSQL carries no debug symbols: the "
        "samples of its static functions (most of the executor's and PL/pgSQL's) are summed "
        "per library as functions without a symbol. The kernel's share is the socket "
        "round trip of each statement and the switches between pgbench and the server.",
        "",
        "| library | share |",
        "|---|---|",
    ]
    lines += [f"| `{row['dso']}` | {row['share']}% |" for row in cpu["libraries"][:8]]
    lines += ["", "| symbol | library | share |", "|---|---|---|"]
    lines += [f"| `{row['symbol']}` | `{row['dso']}` | {row['share']}% |" for row in cpu["top"]]
    return lines


def write(out: Path, results: dict[str, Any]) -> None:
    """RESULTS.md, results.json and the plots into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(results, indent=2, default=str) + "\n")
    _plots(out, results)
    (out / "RESULTS.md").write_text(markdown(results), encoding="utf-8")


def as_dicts(items: list[Any]) -> list[dict[str, Any]]:
    """Dataclasses as plain dicts for the JSON twin."""
    return [asdict(item) for item in items]


def markdown(results: dict[str, Any]) -> str:
    """The report as Markdown."""
    machine = results["machine"]
    runs = [Run(**r) for r in results["runs"]]
    lines = [
        "# Benchmark results",
        "",
        f"Measured {machine['date']} on {machine['cores']} cores ({machine['cpu']}), "
        f"PostgreSQL {machine['postgres']}, {results['main_size']:,} customers, "
        f"{machine['seconds']} s per point, the median of {machine['rounds']} interleaved "
        "rounds, durable settings (fsync and synchronous commit "
        f"on, shared_buffers {machine['shared_buffers']}). Every ratio compares two "
        "workloads of the same run on the same server; the absolute numbers belong to "
        "this machine only. Regenerate with `make bench` (`make bench-full` adds "
        "10,000,000 customers and longer runs).",
        "",
        "## Targets",
        "",
        "| target | measured | goal | met |",
        "|---|---|---|---|",
    ]
    for check in results["targets"]:
        sign = "≥" if check["target"].find("vs") >= 0 else "≤"
        lines.append(
            f"| {check['target']} | {check['value']}{check['unit']} | {sign} "
            f"{check['goal']}{check['unit']} | {'yes' if check['met'] else 'no'} |"
        )
    lines += lookup_floor(runs)
    lines += create_floor(runs)
    lines += [
        "",
        f"## Throughput and latency at {results['main_size']:,} customers",
        "",
        "| workload | clients | TPS | p50 ms | p99 ms | vs baseline |",
        "|---|---|---|---|---|---|",
    ]
    for workload, baseline in BASELINES.items():
        for run in sorted((r for r in runs if r.workload == workload), key=lambda r: r.clients):
            base = find(runs, baseline, run.clients)
            vs = f"{ratio(run.tps, base.tps)}% of {baseline}" if base else ""
            lines.append(
                f"| {LABELS[workload]} | {run.clients} | {run.tps:,.0f} | {run.p50_ms} | "
                f"{run.p99_ms} | {vs} |"
            )
    lines += [
        "",
        "![TPS by client count](tps_by_clients.png)",
        "",
        "## Lookup latency by table size (8 clients)",
        "",
        "| customers | identifiers | orders | TPS | p50 ms | p99 ms |",
        "|---|---|---|---|---|---|",
    ]
    for point in results["scale"]:
        lines.append(
            f"| {point['customers']:,} | {point['identifiers']:,} | {point['orders']:,} | "
            f"{point['tps']:,.0f} | {point['p50_ms']} | {point['p99_ms']} |"
        )
    lines += ["", "![Latency by table size](latency_by_size.png)", ""]
    lines += [
        "## Through the HTTP proxy",
        "",
        "The same lookups through the proxy (its own process) and directly with psycopg, "
        "driven by the same Python threads, in three alternating rounds per client count "
        "(latencies pooled), so a noisy moment of the machine lands on both paths.",
        "",
        "| path | clients | calls/s | p50 ms | p99 ms |",
        "|---|---|---|---|---|",
    ]
    for h in results["http"]:
        lines.append(
            f"| {h['path']} | {h['clients']} | {h['calls_per_second']:,.0f} | {h['p50_ms']} | "
            f"{h['p99_ms']} |"
        )
    lines += pooler_section(results.get("pooler", []))
    lines += ["", "## Where a lookup spends its time", ""]
    lines += [
        "`track_functions = 'pl'` over one client's lookups: calls per lookup and "
        "microseconds per lookup spent in each function itself.",
        "",
        "| function | calls per lookup | self µs per lookup | total µs per lookup |",
        "|---|---|---|---|",
    ]
    for row in results["profile"]:
        lines.append(
            f"| `{row['function']}` | {row['calls_per_lookup']} | {row['self_us']} | "
            f"{row['total_us']} |"
        )
    lines += cpu_section(results.get("cpu_profile", {}))
    lines += ["", "## Plans of the hot statements", ""]
    for name, plans in results["plans"].items():
        lines += [f"### {name}", ""]
        for plan in plans:
            lines += ["```", plan.strip(), "```", ""]
    if results.get("dedupe"):
        lines += splink_compare.markdown(results["dedupe"])
    if "suggest" in results:
        lines += suggest_compare.markdown(results["suggest"])
    if results.get("notes"):
        lines += ["## Notes", "", *results["notes"], ""]
    return "\n".join(lines).rstrip() + "\n"


def _plots(out: Path, results: dict[str, Any]) -> None:
    """TPS by client count, and lookup latency by table size."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    runs = [Run(**r) for r in results["runs"]]
    figure, axis = plt.subplots(figsize=(8, 5))
    for workload in BASELINES:
        points = sorted((r for r in runs if r.workload == workload), key=lambda r: r.clients)
        if points:
            axis.plot(
                [p.clients for p in points], [p.tps for p in points], marker="o",
                label=LABELS[workload],
            )  # fmt: skip
    axis.set_xlabel("clients")
    axis.set_ylabel("transactions per second")
    axis.set_yscale("log")
    axis.set_title(f"Throughput at {results['main_size']:,} customers")
    axis.legend(fontsize=8)
    axis.grid(True, alpha=0.3)
    figure.tight_layout()
    figure.savefig(out / "tps_by_clients.png", dpi=110)
    plt.close(figure)

    scale = results["scale"]
    figure, axis = plt.subplots(figsize=(8, 5))
    sizes = [p["customers"] for p in scale]
    axis.plot(sizes, [p["p50_ms"] for p in scale], marker="o", label="p50")
    axis.plot(sizes, [p["p99_ms"] for p in scale], marker="o", label="p99")
    axis.set_xscale("log")
    axis.set_xlabel("customers")
    axis.set_ylabel("lookup latency, ms (8 clients)")
    axis.set_title("Returning-customer lookup latency by table size")
    axis.legend()
    axis.grid(True, alpha=0.3)
    figure.tight_layout()
    figure.savefig(out / "latency_by_size.png", dpi=110)
    plt.close(figure)
