"""A local PostgreSQL server built from the binaries on this machine.

``LocalPostgres`` keeps everything under one state directory::

    STATE/pgdata/           the cluster (PGDATA)
    STATE/postgres.log      the server log
    STATE/.s.PGSQL.PORT     the unix socket (when the path is short enough)

It listens on 127.0.0.1 only, authenticates with ``trust`` (a developer's machine), and as
root runs as the ``postgres`` OS user (see ``osuser``). ``root_safe_binaries`` gives
``testing.postgresql`` the same ability for the pytest fixtures.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import stat
import subprocess
from collections.abc import Mapping
from pathlib import Path

from customer_management.local.osuser import (
    ServerUser,
    as_user,
    hand_over,
    make_traversable,
    server_user,
)

DEFAULT_PORT = 54322
BINDIR_ENV = "CUSTOMER_MANAGEMENT_PG_BINDIR"
SETTINGS_FILE = "customer_management.conf"
# Throwaway servers (tests, demo, pgTAP): durability is pointless, commit semantics are not,
# so synchronous_commit stays on (benchmarks must measure real commits).
THROWAWAY_SETTINGS: Mapping[str, str] = {
    "fsync": "off",
    "full_page_writes": "off",
    "max_connections": "100",
    "shared_preload_libraries": "",
}
_SOCKET_PATH_MAX = 100  # sun_path is 108 bytes on Linux; leave room for the terminator


class LocalDbError(RuntimeError):
    """A local server could not be initialised, started or stopped."""


def pg_bindir() -> Path:
    """Find the directory with ``initdb``/``pg_ctl``/``postgres`` (env override first)."""
    override = os.environ.get(BINDIR_ENV)
    candidates: list[Path] = [Path(override)] if override else []
    on_path = shutil.which("pg_ctl")
    if on_path:
        candidates.append(Path(os.path.realpath(on_path)).parent)
    versions = glob.glob("/usr/lib/postgresql/*/bin")
    versions.sort(key=lambda p: int(Path(p).parent.name) if Path(p).parent.name.isdigit() else 0)
    candidates.extend(Path(p) for p in reversed(versions))
    for candidate in candidates:
        if all((candidate / name).is_file() for name in ("initdb", "pg_ctl", "postgres")):
            return candidate
    raise LocalDbError(
        "PostgreSQL server binaries not found (initdb, pg_ctl, postgres); install "
        f"postgresql-15 or set {BINDIR_ENV}"
    )


def initdb_locale() -> str:
    """Pick ``C.UTF-8`` when the OS has it (lower() on non-ASCII emails needs it), else C."""
    try:
        out = subprocess.run(["locale", "-a"], capture_output=True, text=True, check=False)
    except OSError:
        return "C"
    names = {line.strip().lower() for line in out.stdout.splitlines()}
    return "C.UTF-8" if {"c.utf8", "c.utf-8"} & names else "C"


def initdb_args() -> list[str]:
    """The initdb options every local cluster uses: superuser postgres, trust, UTF-8."""
    return ["-U", "postgres", "--auth=trust", "-E", "UTF8", f"--locale={initdb_locale()}"]


def free_port() -> int:
    """Ask the kernel for a free TCP port on 127.0.0.1 (for throwaway servers)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def url_for(port: int = DEFAULT_PORT, database: str = "postgres", user: str = "postgres") -> str:
    """The connection URL of a local server (as the ``postgres`` superuser by default;
    the API logs in as ``authenticator``, like PostgREST)."""
    return f"postgresql://{user}@127.0.0.1:{port}/{database}"


def _conf_value(value: str) -> str:
    """Quote a setting for postgresql.conf (quoted strings are valid for every type)."""
    return "'" + value.replace("\\", "\\\\").replace("'", "''") + "'"


class LocalPostgres:
    """One local cluster under a state directory: init, start, stop, status."""

    def __init__(
        self,
        state_dir: Path,
        port: int = DEFAULT_PORT,
        settings: Mapping[str, str] | None = None,
    ) -> None:
        """Describe the server; nothing is touched until ``start`` or ``initialise``."""
        self.state_dir = state_dir.resolve()
        self.port = port
        self.settings = dict(settings or {})
        self.bindir = pg_bindir()
        self.user: ServerUser | None = server_user()

    @property
    def data_dir(self) -> Path:
        """PGDATA of this cluster."""
        return self.state_dir / "pgdata"

    @property
    def log_file(self) -> Path:
        """Where the server writes its log (read it when start fails)."""
        return self.state_dir / "postgres.log"

    @property
    def url(self) -> str:
        """URL of the running server (its actual port), else of the configured port."""
        return url_for(self.running_port() or self.port)

    def _run(self, *argv: str) -> subprocess.CompletedProcess[str]:
        """Run a server binary as the server user, from ``/`` (its home may be unreadable)."""
        command = as_user([str(self.bindir / argv[0]), *argv[1:]], self.user)
        return subprocess.run(
            command,
            capture_output=True,
            text=True,
            cwd="/",
            stdin=subprocess.DEVNULL,
            check=False,
        )

    def is_initialised(self) -> bool:
        """Tell whether initdb has already run here."""
        return (self.data_dir / "PG_VERSION").is_file()

    def _prepare_state_dir(self) -> None:
        """Create the state dir, owned by the server user and reachable through its parents."""
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.state_dir.chmod(0o700)
        if self.user is not None:
            for changed in make_traversable(self.state_dir, self.user):
                print(f"note: added o+x to {changed} so {self.user.name} can reach its data")
            hand_over(self.state_dir, self.user)

    def initialise(self) -> bool:
        """Run initdb the first time; return True when a new cluster was created."""
        self._prepare_state_dir()
        if self.is_initialised():
            return False
        result = self._run("initdb", "-D", str(self.data_dir), *initdb_args())
        if result.returncode != 0:
            raise LocalDbError(f"initdb failed:\n{result.stdout}{result.stderr}")
        with (self.data_dir / "postgresql.conf").open("a", encoding="utf-8") as conf:
            conf.write(
                f"\n# Written by customer-management on every start.\n"
                f"include_if_exists = '{SETTINGS_FILE}'\n"
            )
        return True

    def _socket_dir(self) -> str:
        """Use the state dir for the unix socket unless the path would be too long."""
        socket_path = self.state_dir / f".s.PGSQL.{self.port}"
        return str(self.state_dir) if len(str(socket_path)) <= _SOCKET_PATH_MAX else ""

    def _write_settings(self) -> None:
        """Write port, listen address, socket dir and extra settings for the next start."""
        values = {
            "port": str(self.port),
            "listen_addresses": "127.0.0.1",
            "unix_socket_directories": self._socket_dir(),
            "logging_collector": "off",
            **self.settings,
        }
        path = self.data_dir / SETTINGS_FILE
        path.write_text(
            "".join(f"{name} = {_conf_value(value)}\n" for name, value in values.items()),
            encoding="utf-8",
        )
        if self.user is not None:
            os.chown(path, self.user.uid, self.user.gid)

    def running_port(self) -> int | None:
        """Return the port of the running server (from postmaster.pid), or None."""
        if not self.is_running():
            return None
        try:
            lines = (self.data_dir / "postmaster.pid").read_text(encoding="utf-8").splitlines()
            return int(lines[3])
        except (OSError, IndexError, ValueError):
            return None

    def is_running(self) -> bool:
        """Ask ``pg_ctl status`` whether the server of this data dir is up."""
        if not self.is_initialised():
            return False
        return self._run("pg_ctl", "status", "-D", str(self.data_dir)).returncode == 0

    def start(self) -> bool:
        """Initialise if needed and start; return False when it was already running."""
        self.initialise()
        if self.is_running():
            return False
        self._write_settings()
        if self.user is not None:
            hand_over(self.state_dir, self.user)
        result = self._run(
            "pg_ctl", "start", "-w", "-t", "60",
            "-D", str(self.data_dir), "-l", str(self.log_file),
        )  # fmt: skip
        if result.returncode != 0:
            raise LocalDbError(
                f"pg_ctl start failed:\n{result.stdout}{result.stderr}\n"
                f"--- last lines of {self.log_file} ---\n{self.log_tail()}"
            )
        return True

    def stop(self) -> bool:
        """Stop the server (fast mode: roll back open transactions); False if it was down."""
        if not self.is_running():
            return False
        result = self._run("pg_ctl", "stop", "-w", "-m", "fast", "-D", str(self.data_dir))
        if result.returncode != 0:
            raise LocalDbError(f"pg_ctl stop failed:\n{result.stdout}{result.stderr}")
        return True

    def log_tail(self, lines: int = 30) -> str:
        """The end of the server log, for error messages."""
        try:
            return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


_WRAPPER = """#!/bin/sh
# Written by customer_management.local.server.root_safe_binaries: run {name} as {user}.
# Hands the data dir (-D) and socket dir (-k) to {user}, makes the base dir passable,
# then execs through setpriv so the caller's signals reach the server itself.
set -eu
data=""
sockdir=""
prev=""
for arg in "$@"; do
  case "$prev" in
    -D) data=$arg ;;
    -k) sockdir=$arg ;;
  esac
  case "$arg" in
    --pgdata=*) data=${{arg#--pgdata=}} ;;
  esac
  prev=$arg
done
if [ -n "$data" ]; then
  mkdir -p "$data"
  chown -R {uid}:{gid} "$data"
  base=$(dirname "$data")
  if [ -z "$(find "$base" -maxdepth 0 -perm -o+x)" ]; then chmod o+x "$base"; fi
  case "$data" in /*) cd / ;; esac
fi
if [ -n "$sockdir" ]; then
  mkdir -p "$sockdir"
  chown {uid}:{gid} "$sockdir"
fi
exec setpriv --reuid={uid} --regid={gid} --init-groups {binary} "$@"
"""


def root_safe_binaries(directory: Path) -> dict[str, str]:
    """Return ``initdb``/``postgres`` paths for ``testing.postgresql`` that work as root.

    As root, writes wrapper scripts into ``directory`` that chown testing.postgresql's
    ``base_dir/data`` and ``base_dir/tmp`` to the server user and exec the real binary via
    setpriv (so its SIGINT/SIGTERM stops the server). Otherwise returns the real binaries.
    """
    bindir = pg_bindir()
    user = server_user()
    if user is None:
        return {name: str(bindir / name) for name in ("initdb", "postgres")}
    directory.mkdir(parents=True, exist_ok=True)
    paths: dict[str, str] = {}
    for name in ("initdb", "postgres"):
        wrapper = directory / name
        wrapper.write_text(
            _WRAPPER.format(
                name=name, user=user.name, uid=user.uid, gid=user.gid, binary=bindir / name
            ),
            encoding="utf-8",
        )
        wrapper.chmod(wrapper.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
        paths[name] = str(wrapper)
    return paths
