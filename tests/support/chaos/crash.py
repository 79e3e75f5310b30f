"""A durable local server to kill, and the kill.

The server keeps every commit it acknowledged (fsync, full-page writes and synchronous
commit on): a crash may then lose only work no client was told had committed. It is the
kit's own ``LocalPostgres`` (as root it runs as an unprivileged OS user), whose ``start``
also brings a killed server back: it waits for the dead server's processes, clears the
stale pid file and lets PostgreSQL recover from its WAL.

Two ways to die: ``postmaster`` is ``kill -9`` of the postmaster alone (an OOM kill; its
backends notice and exit, finishing at most the statement they run), ``all`` is
``kill -9`` of every process of the server at once (as a power cut would).
"""

from __future__ import annotations

import os
import shutil
import signal
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from customer_management.local.migrations import apply_migrations, apply_shim
from customer_management.local.server import (
    LocalDbError,
    LocalPostgres,
    free_port,
    server_processes_of,
)

DURABLE_SETTINGS = {
    "fsync": "on",
    "full_page_writes": "on",
    "synchronous_commit": "on",
    "max_connections": "60",
    "shared_preload_libraries": "",
}
KILL_MODES = ("postmaster", "all")
RECOVERY_LINE = "automatic recovery in progress"


@contextmanager
def durable_server() -> Iterator[LocalPostgres]:
    """A fresh durable server with the shim and every migration; removed afterwards."""
    # Under the system temp dir, not pytest's: the server's OS user must reach it.
    folder = Path(tempfile.mkdtemp(prefix="cm-chaos-"))
    server = LocalPostgres(folder / "db", port=free_port(), settings=DURABLE_SETTINGS)
    try:
        server.start()
        apply_shim(server.url)
        apply_migrations(server.url)
        yield server
    finally:
        with suppress(LocalDbError):
            server.stop()
        shutil.rmtree(folder, ignore_errors=True)


def kill(server: LocalPostgres, mode: str) -> list[int]:
    """``kill -9`` the server (``postmaster`` or ``all`` its processes); the PIDs hit."""
    pid = server.postmaster_pid()
    if pid is None:
        raise LocalDbError("no live postmaster to kill")
    targets = [pid] if mode == "postmaster" else server_processes_of(server.data_dir)
    for target in targets:
        try:
            os.kill(target, signal.SIGKILL)
        except ProcessLookupError:
            continue
    return targets


def recoveries(server: LocalPostgres) -> int:
    """How many crash recoveries the server log reports."""
    try:
        return server.log_file.read_text(errors="replace").count(RECOVERY_LINE)
    except OSError:
        return 0


def restart(server: LocalPostgres) -> float:
    """Bring the killed server back (crash recovery included); the seconds it took."""
    started = time.monotonic()
    server.start()
    return time.monotonic() - started
