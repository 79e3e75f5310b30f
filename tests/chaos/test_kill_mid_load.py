"""Killed mid-load: a concurrent mixed load (creates, lookups, updates, merges, conflicts
and their resolution, undos, erasures, orders, an import and an applying dedupe) runs
against a durable local server, which is killed with SIGKILL at a kill point, restarted,
and checked: check_invariants() finds nothing, every answer a client took as committed is
there with its audit entry, nothing refused or cut off left half a change, and the
interrupted batch commands finish when run again.

``make test`` runs one cycle at a random kill point (under a minute); ``make chaos`` runs
``CHAOS_CYCLES`` cycles on one database through every kill point in turn and writes the
numbers to ``.local/chaos-report.json`` (docs/reliability.md).
"""

from __future__ import annotations

import json
import os
import random
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest

from customer_management.local.server import LocalPostgres
from support.chaos.crash import durable_server
from support.chaos.cycle import KILL_POINTS, Cycle, CycleReport, KillPoint
from support.chaos.load import Names, Pools

CYCLES = int(os.environ.get("CUSTOMER_MANAGEMENT_CHAOS_CYCLES", "1"))
SEED = int(os.environ.get("CUSTOMER_MANAGEMENT_CHAOS_SEED", str(random.randrange(10**6))))
REPORT = os.environ.get("CUSTOMER_MANAGEMENT_CHAOS_REPORT")


@pytest.fixture(scope="module")
def server() -> Iterator[LocalPostgres]:
    """A durable server of its own, migrated, for every cycle of the run."""
    with durable_server() as local:
        yield local


def distinct(violations: Iterable[Any]) -> set[str]:
    """Violations counted once each (every cycle checks the whole database again)."""
    return {json.dumps(v, sort_keys=True, default=str) for v in violations}


def assert_cycle_held(report: CycleReport) -> None:
    """Everything a cycle must show."""
    context = json.dumps(report.as_json(), indent=1, default=str)[:6000]
    assert report.phase_reached, context
    assert report.killed_pids >= 1 and report.recovered, context
    assert report.worker_crashes == [], context
    if report.kill_point.endswith("kill -9 all"):
        assert report.in_doubt >= 1, context
    assert report.violations == [], context
    assert report.problems == [], context
    # Killing every process cuts a running batch command off. After a kill of the
    # postmaster alone its backends may finish what they run, and a command may complete:
    # then its answer must hold like any other.
    if report.kill_point == KillPoint("import", "all").label:
        assert report.import_interrupted, context
    if report.kill_point == KillPoint("dedupe", "all").label:
        assert report.dedupe_interrupted, context


def test_killed_mid_load_loses_nothing(server: LocalPostgres, tmp_path: Path) -> None:
    """Each cycle: load, kill -9, restart, check; the numbers are printed (and written to
    the report file when asked)."""
    rng = random.Random(SEED)
    start = 0 if CYCLES > 1 else rng.randrange(len(KILL_POINTS))
    names, pools = Names(), Pools()
    reports: list[CycleReport] = []
    began = time.monotonic()
    for number in range(1, CYCLES + 1):
        point = KILL_POINTS[(start + number - 1) % len(KILL_POINTS)]
        folder = tmp_path / f"cycle-{number}"
        folder.mkdir()
        report = Cycle(server, number, point, rng, names, pools, folder).run()
        reports.append(report)
        print(
            f"\ncycle {number} (seed {SEED}): {point.label}: "
            f"{report.requests['requests']} requests {report.requests['outcomes']}, "
            f"killed after {report.seconds_to_kill} s, back in {report.restart_seconds} s, "
            f"{len(report.problems)} problems, {report.batch_failures} batch failures, "
            f"{len(report.violations)} violations {report.violations[:3]}, "
            f"reruns {report.reruns}"
        )
    summary = {
        "seed": SEED,
        "cycles": len(reports),
        "killPoints": sorted({r.kill_point for r in reports}),
        "requests": sum(r.requests["requests"] for r in reports),
        "inDoubt": sum(r.in_doubt for r in reports),
        "importsInterrupted": sum(r.import_interrupted for r in reports),
        "dedupesInterrupted": sum(r.dedupe_interrupted for r in reports),
        "violations": len(distinct(v for r in reports for v in r.violations)),
        "batchFailuresBeforeKill": sum(len(r.batch_failures) for r in reports),
        "problems": sum(len(r.problems) for r in reports),
        "seconds": round(time.monotonic() - began, 1),
        "runs": [r.as_json() for r in reports],
    }
    if REPORT:
        Path(REPORT).write_text(json.dumps(summary, indent=2, default=str), encoding="utf-8")
    print({k: v for k, v in summary.items() if k != "runs"})
    for report in reports:
        assert_cycle_held(report)
