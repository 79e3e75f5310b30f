"""The batch commands as an operator runs them: ``customer-management import`` of a legacy
CSV file and ``customer-management dedupe --apply``, each a subprocess whose output goes to
files (a full pipe would stall it), started, watched and waited for; and ``BatchRounds``,
which keeps them busy during the load: import a fresh file, dedupe, and again.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import random
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from support.chaos.load import Names

# Small steps, so that a kill lands inside the work: import chunks of 25 rows (still one
# transaction), dedupe commits one group per transaction.
IMPORT_CHUNK_LINES = "25"
DEDUPE_BATCH_SIZE = "1"
LEGACY_PAIRS = 150
ONLINE_PHONES_IN_FILE = 10
MAX_ATTEMPTS = 3


def cli(*args: str) -> list[str]:
    """``customer-management ARGS`` with this interpreter."""
    return [sys.executable, "-m", "customer_management", *args]


def import_command(path: Path, url: str) -> list[str]:
    """Import a customers file, with a JSON summary."""
    return cli("import", str(path), "--json", "--chunk-lines", IMPORT_CHUNK_LINES, "--db-url", url)


def dedupe_command(url: str, apply: bool = True) -> list[str]:
    """Deduplicate (apply, or a dry run), with JSON output."""
    flags = ["--apply", "--batch-size", DEDUPE_BATCH_SIZE] if apply else []
    return cli("dedupe", *flags, "--json", "--db-url", url)


@dataclass
class BatchJob:
    """A running (or finished) batch command."""

    name: str
    process: subprocess.Popen[bytes]
    stdout: Path
    stderr: Path
    started_at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))

    @classmethod
    def start(cls, name: str, command: list[str], folder: Path) -> BatchJob:
        """Start ``command``; its output goes to ``folder/name.out`` and ``.err``."""
        stdout, stderr = folder / f"{name}.out", folder / f"{name}.err"
        with stdout.open("wb") as out, stderr.open("wb") as err:
            process = subprocess.Popen(command, stdout=out, stderr=err, stdin=subprocess.DEVNULL)
        return cls(name, process, stdout, stderr)

    def running(self) -> bool:
        """Still working."""
        return self.process.poll() is None

    def wait(self, timeout: float = 120.0) -> int:
        """Its exit status, once it ended."""
        return self.process.wait(timeout=timeout)

    def output(self) -> dict[str, Any]:
        """The JSON it printed (the command's ``--json`` summary)."""
        parsed: dict[str, Any] = json.loads(self.stdout.read_text(encoding="utf-8"))
        return parsed

    def errors(self) -> str:
        """What it printed on stderr (the reason it failed)."""
        return self.stderr.read_text(encoding="utf-8", errors="replace")[-2000:]


def run(name: str, command: list[str], folder: Path) -> BatchJob:
    """Run a batch command to its end."""
    job = BatchJob.start(name, command, folder)
    job.wait()
    return job


def write_legacy_file(
    path: Path, prefix: str, names: Names, online_phones: list[str], pairs: int
) -> list[str]:
    """A legacy export: ``pairs`` pairs of records that share a phone (the same person
    twice), and records that share a phone with accounts the online load made. Returns
    every legacy id in the file."""
    legacy_ids: list[str] = []
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["legacy_id", "first_name", "last_name", "phone", "email", "created_at"])
        for pair in range(pairs):
            phone = f"+1555{7_000_000 + names.number():07d}"
            for half in ("a", "b"):
                legacy_id = f"C{prefix}-{pair}{half}"
                email = f"{legacy_id.lower()}@old-shop.com"
                writer.writerow([legacy_id, "Ola", "Berg", phone, email, "2019-03-01"])
                legacy_ids.append(legacy_id)
        for number, phone in enumerate(online_phones):
            legacy_id = f"C{prefix}-online{number}"
            writer.writerow([legacy_id, "Per", "Lund", phone, "", "2018-06-01"])
            legacy_ids.append(legacy_id)
    return legacy_ids


class BatchRounds:
    """Round after round: write a fresh legacy file, import it, dedupe. A step that failed
    before the kill (it lost a race with the online load: a deadlock, a serialisation
    failure) is recorded and run again, as an operator would, up to ``MAX_ATTEMPTS``."""

    def __init__(
        self,
        url: str,
        folder: Path,
        cycle: int,
        names: Names,
        online_phones: Callable[[], list[str]],
        rng: random.Random,
    ) -> None:
        self.url = url
        self.folder = folder
        self.cycle = cycle
        self.names = names
        self.online_phones = online_phones
        self.rng = rng
        self.files: list[Path] = []
        self.legacy_ids: list[str] = []
        self.failures: list[str] = []
        self.starts: dict[str, int] = {}
        self.step = ""
        self.job: BatchJob | None = None
        self._attempts = 0

    def next_round(self) -> None:
        """A new legacy file (pairs sharing a phone, some sharing one with online
        accounts), and its import."""
        path = self.folder / f"legacy-{self.cycle}-{len(self.files) + 1}.csv"
        phones = self.online_phones()
        online = self.rng.sample(phones, min(ONLINE_PHONES_IN_FILE, len(phones)))
        prefix = f"{self.cycle}.{len(self.files) + 1}"
        self.legacy_ids += write_legacy_file(path, prefix, self.names, online, LEGACY_PAIRS)
        self.files.append(path)
        self._begin("import")

    def _begin(self, step: str, retry: bool = False) -> None:
        self._attempts = self._attempts + 1 if retry else 1
        self.step = step
        self.starts[step] = self.starts.get(step, 0) + 1
        command = import_command(self.files[-1], self.url) if step == "import" else None
        self.job = BatchJob.start(
            f"{step}-{self.starts[step]}", command or dedupe_command(self.url), self.folder
        )

    def poll(self) -> None:
        """Move on when a step ended: import -> dedupe -> next round; a failed step again."""
        job = self.job
        if job is None or job.running():
            return
        if job.wait() != 0:
            self.failures.append(f"{job.name}: {job.errors().strip()[-300:]}")
            if self._attempts < MAX_ATTEMPTS:
                self._begin(self.step, retry=True)
            else:
                self.job = None
            return
        if self.step == "import":
            self._begin("dedupe")
        else:
            self.next_round()

    def active(self, step: str) -> BatchJob | None:
        """The job of ``step`` if it is running now."""
        job = self.job
        return job if job is not None and self.step == step and job.running() else None

    def cut_off(self) -> str | None:
        """After the kill: the step that was running and ended with an error, if any."""
        job = self.job
        if job is None or job.wait(timeout=60) == 0:
            return None
        return self.step
