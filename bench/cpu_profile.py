"""Where a lookup's server process spends its CPU: Linux ``perf`` sampling the one backend
that serves a client's returning-customer lookups, by symbol and by library.

``track_functions`` (bench/run.py's ``profile``) says which PL/pgSQL function a lookup's
time goes to; this says what the server does meanwhile (expression evaluation, planning,
executor set-up, JSON, the commit). Skipped, with the reason, when ``perf`` is missing or
the kernel does not let this user sample the server.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import psycopg

from bench import workloads

INSTALL_HINT = "install Linux perf (Debian: apt-get install linux-perf) to profile the server"
LIBRARY_LINE = re.compile(r"^\s*([\d.]+)%\s+(\S+)(?:\s+-)*\s*$")
SAMPLE_LINE = re.compile(r"^\s*([\d.]+)%\s+(\S+)\s+\[(.)\]\s+(.+?)\s*$")
# How long to wait for pgbench's connection to show in pg_stat_activity.
FIND_BACKEND_SECONDS = 5.0


def binary() -> str | None:
    """The perf command, if installed."""
    return shutil.which("perf")


def _pgbench_backend(url: str) -> int | None:
    """The process id of the server process serving pgbench's one client."""
    deadline = time.monotonic() + FIND_BACKEND_SECONDS
    with psycopg.connect(url, autocommit=True) as conn:
        while time.monotonic() < deadline:
            row = conn.execute(
                "select pid from pg_stat_activity where application_name = 'pgbench' "
                "and backend_type = 'client backend' limit 1"
            ).fetchone()
            if row is not None:
                return int(row[0])
            time.sleep(0.05)
    return None


def parse_report(text: str) -> list[dict[str, Any]]:
    """``perf report --stdio --sort dso,symbol`` lines as share, library and symbol; the
    samples of functions without a symbol (addresses) summed per library."""
    totals: dict[tuple[str, str], float] = {}
    for line in text.splitlines():
        match = SAMPLE_LINE.match(line)
        if match:
            share, dso, _, symbol = match.groups()
            symbol = re.split(r"\s{2,}", symbol)[0]  # perf pads with source-line columns
            if symbol.startswith("0x"):
                symbol = "(functions without a symbol)"
            totals[(dso, symbol)] = totals.get((dso, symbol), 0.0) + float(share)
    return [
        {"share": round(share, 2), "dso": dso, "symbol": symbol}
        for (dso, symbol), share in sorted(totals.items(), key=lambda item: -item[1])
    ]


def parse_libraries(text: str) -> list[dict[str, Any]]:
    """``perf report --stdio --sort dso`` lines: each library's share of the samples (the
    server itself, PL/pgSQL, libc, the kernel...)."""
    libraries = []
    for line in text.splitlines():
        match = LIBRARY_LINE.match(line)
        if match:
            libraries.append({"dso": match.group(2), "share": round(float(match.group(1)), 1)})
    return libraries


def profile(url: str, customers: int, seconds: int, top: int = 20) -> dict[str, Any]:
    """Sample the backend of one client's lookups for about ``seconds``; the ``top``
    symbols and the share of each library. Empty, with a reason, when perf cannot run."""
    perf = binary()
    if perf is None:
        return {"skipped": INSTALL_HINT}
    outcome: dict[str, Any] = {}
    runner = threading.Thread(
        target=lambda: outcome.update(run=workloads.run(url, "lookup", 1, seconds + 2, customers))
    )
    runner.start()
    try:
        pid = _pgbench_backend(url)
        if pid is None:
            return {"skipped": "pgbench's server process was not found"}
        with tempfile.TemporaryDirectory(prefix="cm-perf-") as workdir:
            data = Path(workdir) / "perf.data"
            recorded = subprocess.run(
                [perf, "record", "-q", "-e", "cpu-clock", "-F", "2000", "-p", str(pid),
                 "-o", str(data), "--", "sleep", str(seconds)],
                capture_output=True, text=True, check=False,
            )  # fmt: skip
            if recorded.returncode != 0 or not data.exists():
                return {"skipped": f"perf could not sample the server: {recorded.stderr[-300:]}"}
            report, libraries = (
                subprocess.run(
                    [perf, "report", "-i", str(data), "--stdio", "--no-children",
                     "--sort", sort, "--percent-limit", "0"],
                    capture_output=True, text=True, check=False,
                )
                for sort in ("dso,symbol", "dso")
            )  # fmt: skip
    finally:
        runner.join()
    samples = parse_report(report.stdout)
    if not samples:
        return {"skipped": f"perf reported no samples: {report.stderr[-300:]}"}
    return {
        "seconds": seconds,
        "top": samples[:top],
        "libraries": parse_libraries(libraries.stdout),
    }
