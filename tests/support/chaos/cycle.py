"""One kill-and-recover cycle: the mixed load and the batch commands run, the server is
killed at the kill point, restarted, and everything is checked; then the interrupted batch
commands are run again and must finish.

A kill point is a moment (``mixed load``: any time; ``import``: while the import's
transaction is open; ``dedupe``: once the applying dedupe has committed merges, while it is
still at work) and a way to die (``postmaster`` or ``all``, see ``crash``).
"""

from __future__ import annotations

import random
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import psycopg

from customer_management.local.server import LocalPostgres
from support.chaos import batch, crash, verify
from support.chaos.journal import IN_DOUBT, Journal
from support.chaos.load import Names, Pools, Worker

WORKERS = 6
WARM_UP_SECONDS = 3.0
PHASE_TIMEOUT_SECONDS = 40.0
POLL_SECONDS = 0.02
# Once inside its phase, the kill comes at each poll with this chance: a random moment of
# the phase (about 0.4 s into an import, 0.15 s into a dedupe's merging).
KILL_CHANCE = {"import": 0.05, "dedupe": 0.12}
# The clients go on for a while after the kill: a backend orphaned by the postmaster's
# death serves a client that keeps sending (it notices the death only when it waits).
AFTER_KILL_SECONDS = 1.0
IMPORT_OPEN = (
    "select count(*) from pg_stat_activity where xact_start is not null "
    "and query ilike '%import%' and pid <> pg_backend_pid()"
)
DEDUPE_MERGES = (
    "select count(*) from customer_management.merge_log where source = 'dedupe' "
    "and created_at >= %s"
)


@dataclass(frozen=True)
class KillPoint:
    """When to kill (``mixed load``, ``import``, ``dedupe``) and how (``postmaster``,
    ``all``)."""

    phase: str
    mode: str

    @property
    def label(self) -> str:
        """How reports name it."""
        return f"{self.phase} / kill -9 {self.mode}"


KILL_POINTS = (
    KillPoint("dedupe", "postmaster"),
    KillPoint("import", "all"),
    KillPoint("mixed load", "postmaster"),
    KillPoint("dedupe", "all"),
    KillPoint("import", "postmaster"),
    KillPoint("mixed load", "all"),
)


@dataclass
class CycleReport:
    """What one cycle did and found."""

    cycle: int
    kill_point: str
    seconds_to_kill: float = 0.0
    killed_pids: int = 0
    requests: dict[str, Any] = field(default_factory=dict)
    in_doubt: int = 0
    import_interrupted: bool = False
    dedupe_interrupted: bool = False
    phase_reached: bool = False
    restart_seconds: float = 0.0
    recovered: bool = False
    worker_crashes: list[str] = field(default_factory=list)
    batch_starts: dict[str, int] = field(default_factory=dict)
    batch_failures: list[str] = field(default_factory=list)
    legacy_files: int = 0
    violations: list[Any] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    reruns: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0

    def as_json(self) -> dict[str, Any]:
        """For the report file."""
        return asdict(self)


class Cycle:
    """Runs one cycle against a durable server (see the module docstring)."""

    def __init__(
        self,
        server: LocalPostgres,
        number: int,
        point: KillPoint,
        rng: random.Random,
        names: Names,
        pools: Pools,
        folder: Path,
    ) -> None:
        self.server = server
        self.url = server.url
        self.point = point
        self.rng = rng
        self.names = names
        self.pools = pools
        self.folder = folder
        self.journal = Journal()
        self.stop = threading.Event()
        self.report = CycleReport(number, point.label)
        self.rounds = batch.BatchRounds(
            self.url, folder, number, names, lambda: pools.snapshot()["phones"], rng
        )

    def run(self) -> CycleReport:
        """Load, kill, restart, check, rerun the batch commands, check again."""
        started = time.monotonic()
        number = self.report.cycle
        recoveries_before = crash.recoveries(self.server)
        workers = [
            Worker(n, self.url, self.journal, self.pools, self.names, self.stop, seed, number)
            for n, seed in enumerate(self.rng.randrange(2**32) for _ in range(WORKERS))
        ]
        for worker in workers:
            worker.start()
        with psycopg.connect(self.url, autocommit=True) as monitor:
            self._drive(monitor)
        self.report.seconds_to_kill = round(time.monotonic() - started, 2)
        self.report.killed_pids = len(crash.kill(self.server, self.point.mode))
        time.sleep(AFTER_KILL_SECONDS)
        self.stop.set()
        for worker in workers:
            worker.join(timeout=60)
            if worker.is_alive():
                self.report.worker_crashes.append(f"{worker.name} still running after 60 s")
            elif worker.crash is not None:
                self.report.worker_crashes.append(f"{worker.name}: {worker.crash!r}")
        cut_off = self.rounds.cut_off()
        self.report.import_interrupted = cut_off == "import"
        self.report.dedupe_interrupted = cut_off == "dedupe"
        self.report.batch_starts = dict(self.rounds.starts)
        self.report.batch_failures = list(self.rounds.failures)
        self.report.legacy_files = len(self.rounds.files)

        self.report.restart_seconds = round(crash.restart(self.server), 2)
        self.report.recovered = crash.recoveries(self.server) == recoveries_before + 1
        self.report.requests = self.journal.counts()
        self.report.in_doubt = self.report.requests["outcomes"].get(IN_DOUBT, 0)
        with psycopg.connect(self.server.url, autocommit=True) as conn:
            self._record_violations(conn)
            self.report.problems = [
                *verify.every_request_ended(self.journal),
                *verify.committed_answers_are_there(conn, self.journal),
                *verify.refusals_left_no_trace(conn, self.journal),
                *verify.cut_off_requests_all_or_nothing(conn, self.journal),
            ]
            self._rerun_batch_commands(conn)
            self._record_violations(conn)
        self.report.seconds = round(time.monotonic() - started, 2)
        return self.report

    def _record_violations(self, conn: psycopg.Connection[Any]) -> None:
        """What check_invariants reports now, each violation once."""
        found = verify.violations(conn)
        self.report.violations.extend(v for v in found if v not in self.report.violations)

    def _drive(self, monitor: psycopg.Connection[Any]) -> None:
        """Warm up, keep the batch commands busy, and return at the kill point."""
        time.sleep(WARM_UP_SECONDS)
        self.rounds.next_round()
        deadline = time.monotonic() + PHASE_TIMEOUT_SECONDS
        kill_at = time.monotonic() + self.rng.uniform(0.5, 5.0)
        while time.monotonic() < deadline:
            time.sleep(POLL_SECONDS)
            self.rounds.poll()
            if self._at_kill_point(monitor, kill_at):
                self.report.phase_reached = True
                return

    def _at_kill_point(self, monitor: psycopg.Connection[Any], kill_at: float) -> bool:
        """``mixed load``: the chosen moment has come. ``import``, ``dedupe``: the command
        is inside its transaction(s), and the dice say now."""
        phase = self.point.phase
        if phase == "mixed load":
            return time.monotonic() >= kill_at
        job = self.rounds.active(phase)
        if job is None:
            return False
        if phase == "import":
            inside = _count(monitor, IMPORT_OPEN) > 0
        else:
            inside = _count(monitor, DEDUPE_MERGES, (job.started_at,)) > 0
        return inside and self.rng.random() < KILL_CHANCE[phase]

    def _rerun_batch_commands(self, conn: psycopg.Connection[Any]) -> None:
        """Run every import of the cycle and the dedupe again: all finish; afterwards every
        legacy record is known and a dry run plans no merge."""
        reruns: dict[str, Any] = {"import": []}
        for number, path in enumerate(self.rounds.files, 1):
            command = batch.import_command(path, self.url)
            rerun = batch.run(f"import-rerun-{number}", command, self.folder)
            reruns["import"].append(rerun.process.returncode)
            if rerun.process.returncode != 0:
                self.report.problems.append(f"import rerun failed: {rerun.errors()}")
        legacy_ids = self.rounds.legacy_ids
        known = _count(
            conn,
            "select count(*) from customer_management.legacy_ids where legacy_id = any(%s)",
            (legacy_ids,),
        )
        reruns["legacyIdsKnown"] = f"{known}/{len(legacy_ids)}"
        if known != len(legacy_ids):
            self.report.problems.append(f"after the import reruns: {reruns['legacyIdsKnown']}")
        deduped = batch.run("dedupe-rerun", batch.dedupe_command(self.url), self.folder)
        reruns["dedupe"] = deduped.process.returncode
        if deduped.process.returncode != 0:
            self.report.problems.append(f"dedupe rerun failed: {deduped.errors()}")
        else:
            reruns["dedupeMerges"] = deduped.output()["totals"].get("merges", 0)
        dry_run = batch.dedupe_command(self.url, apply=False)
        planned = batch.run("dedupe-dry-run", dry_run, self.folder)
        left = planned.output()["plan"]["mergesPlanned"] if planned.process.returncode == 0 else -1
        reruns["mergesLeft"] = left
        if left != 0:
            self.report.problems.append(f"after the dedupe rerun a dry run plans {left} merges")
        self.report.reruns = reruns


def _count(conn: psycopg.Connection[Any], query: str, params: tuple[Any, ...] | None = None) -> int:
    row = conn.execute(query, params).fetchone()
    return int(row[0]) if row else 0
