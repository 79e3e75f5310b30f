"""PgBouncer in transaction mode in front of a local server, as Supabase's pooler (port 6543).

Debian's ``pgbouncer`` (1.18 on bookworm) is started on a free port with a throwaway
configuration: every database of the server, ``auth_type = trust`` for the logins given,
``pool_mode = transaction`` and a small pool whose server connections are all open and
taken in turn (``server_round_robin``), so that consecutive transactions of one client run
on different server connections and anything that leans on the session (a ``SET``, a
session lock, a prepared statement) fails instead of passing by luck. PgBouncer
refuses to run as root: as root it runs as the server's OS user, like the server.

The benchmark measures one point through it; the tests run the HTTP suite's core, the CLI
and the client through it.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from psycopg.conninfo import conninfo_to_dict, make_conninfo

from customer_management.local.osuser import as_user, hand_over, server_user
from customer_management.local.server import free_port

CANDIDATES = ("pgbouncer", "/usr/sbin/pgbouncer")
INSTALL_HINT = "apt-get install pgbouncer (make setup installs it when run as root)"


def binary() -> str | None:
    """The pgbouncer executable, or None when it is not installed."""
    for candidate in CANDIDATES:
        found = shutil.which(candidate)
        if found:
            return found
    return None


@dataclass(frozen=True)
class Pooler:
    """A running PgBouncer: its port, and the pooled URL of a direct one."""

    port: int
    server_port: int

    def url_for(self, direct_url: str) -> str:
        """The same database, user and options, through the pooler."""
        params = conninfo_to_dict(direct_url)
        params["host"] = "127.0.0.1"
        params["port"] = str(self.port)
        return make_conninfo(**params)  # type: ignore[arg-type]


def _config(server_port: int, port: int, directory: Path, pool: int) -> str:
    """pgbouncer.ini: every database of the server, transaction pooling, trust."""
    return "\n".join(
        [
            "[databases]",
            f"* = host=127.0.0.1 port={server_port}",
            "[pgbouncer]",
            "listen_addr = 127.0.0.1",
            f"listen_port = {port}",
            "unix_socket_dir =",
            "auth_type = trust",
            f"auth_file = {directory / 'users.txt'}",
            "pool_mode = transaction",
            f"default_pool_size = {pool}",
            # Every server connection open, and taken in turn: one client's consecutive
            # transactions run on different ones.
            f"min_pool_size = {pool}",
            "server_round_robin = 1",
            "max_client_conn = 200",
            f"logfile = {directory / 'pgbouncer.log'}",
            f"pidfile = {directory / 'pgbouncer.pid'}",
            # What psycopg and pgbench may send at connect time.
            "ignore_startup_parameters = extra_float_digits,options",
            "",
        ]
    )


def _wait_for(port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    """Until PgBouncer accepts connections (it exits at once on a bad configuration)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"pgbouncer exited:\n{log.read_text(errors='replace')[-2000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"pgbouncer did not listen on {port}")


@contextmanager
def running(
    server_port: int, users: Sequence[str] = ("postgres", "authenticator"), pool: int = 2
) -> Iterator[Pooler]:
    """PgBouncer in transaction mode in front of ``127.0.0.1:server_port`` until exit."""
    executable = binary()
    if executable is None:
        raise FileNotFoundError(f"pgbouncer is not installed: {INSTALL_HINT}")
    directory = Path(tempfile.mkdtemp(prefix="customer-management-pgbouncer-"))
    port = free_port()
    (directory / "pgbouncer.ini").write_text(
        _config(server_port, port, directory, pool), encoding="utf-8"
    )
    (directory / "users.txt").write_text(
        "".join(f'"{user}" ""\n' for user in users), encoding="utf-8"
    )
    user = server_user()
    hand_over(directory, user)
    log = directory / "pgbouncer.log"
    process = subprocess.Popen(
        as_user([executable, str(directory / "pgbouncer.ini")], user),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd="/",
    )
    try:
        _wait_for(port, process, log)
        yield Pooler(port=port, server_port=server_port)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        shutil.rmtree(directory, ignore_errors=True)
