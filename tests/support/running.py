"""A long-running ``customer-management run`` (or ``make run``) for tests: its banner, the
curl it prints, and a clean stop of the whole process group."""

from __future__ import annotations

import os
import queue
import shlex
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any


def run_command(data_dir: Path, db_port: int, api_port: int) -> list[str]:
    """``customer-management run`` on a data dir and two ports."""
    return [
        sys.executable,
        "-m",
        "customer_management",
        "run",
        *run_args(data_dir, db_port, api_port),
    ]


def run_args(data_dir: Path, db_port: int, api_port: int) -> list[str]:
    """The options that keep a test's ``run`` off the developer's own ports and data."""
    return ["--data-dir", str(data_dir), "--db-port", str(db_port), "--port", str(api_port)]


class Running:
    """A subprocess (in its own process group) whose stdout is read in the background."""

    def __init__(self, command: Sequence[str], cwd: Path | None = None) -> None:
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        self.process = subprocess.Popen(
            list(command),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            cwd=cwd,
            start_new_session=True,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.stderr: list[str] = []
        assert self.process.stdout is not None and self.process.stderr is not None
        threading.Thread(
            target=self._pump, args=(self.process.stdout, self.lines.put), daemon=True
        ).start()
        threading.Thread(
            target=self._pump, args=(self.process.stderr, self.stderr.append), daemon=True
        ).start()

    @staticmethod
    def _pump(stream: Any, sink: Any) -> None:
        for line in stream:
            sink(line)

    def banner(self, timeout: float = 120.0) -> str:
        """Stdout up to the end of the banner (the token hint line)."""
        text = ""
        deadline = time.monotonic() + timeout
        while "customer-management token" not in text:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or self.process.poll() is not None:
                raise AssertionError(f"no banner; stdout={text!r} stderr={''.join(self.stderr)}")
            try:
                text += self.lines.get(timeout=min(remaining, 1.0))
            except queue.Empty:
                continue
        return text

    def stop(self, signum: int = signal.SIGINT) -> int:
        """Send ``signum`` to the whole process group (as Ctrl-C does) and wait for the exit."""
        os.killpg(self.process.pid, signum)
        return self.process.wait(timeout=60)


def curl_from(banner_text: str) -> list[str]:
    """The printed curl command as an argv list (continuation lines joined)."""
    start = banner_text.index("curl ")
    command = banner_text[start:].split("\n\n")[0].replace("\\\n", " ")
    return shlex.split(command)
