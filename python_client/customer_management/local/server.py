"""A local PostgreSQL server built from the binaries on this machine.

``LocalPostgres`` keeps everything under one state directory::

    STATE/pgdata/           the cluster (PGDATA)
    STATE/postgres.log      the server log
    STATE/.s.PGSQL.PORT     the unix socket (when the path is short enough)

It listens on 127.0.0.1 only, authenticates with ``trust`` (a developer's machine), and as
root runs as the ``postgres`` OS user (see ``osuser``). ``root_safe_binaries`` gives
``testing.postgresql`` the same ability for the pytest fixtures.

A ``postmaster.pid`` proves nothing by itself: after ``kill -9`` of the postmaster (an OOM
kill, a crash) the file stays, its PID may be a zombie nobody reaped yet or, later, another
process. ``status`` therefore believes a server runs only when that PID is a live
``postgres`` whose working directory is this data dir *and* the port answers a connection
from the same data dir; ``start`` clears what a dead server left behind (after its orphaned
children are gone) and starts a new one.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import stat
import subprocess
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
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
PROBE_TIMEOUT_SECONDS = 3
ORPHAN_WAIT_SECONDS = 15.0  # a dead postmaster's children exit on their own, within seconds
NOT_READY_WAIT_SECONDS = 120.0  # crash recovery of a large cluster can take a while

# What ``LocalPostgres.status`` finds.
RUNNING = "running"  # a live postmaster of this data dir that accepts connections
NOT_READY = "not ready"  # a live postmaster of this data dir that refuses connections (yet)
STALE = "stale"  # a postmaster.pid whose server is gone (killed, crashed, PID reused)
STOPPED = "stopped"  # no postmaster.pid
UNINITIALISED = "uninitialised"  # no cluster yet


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


@dataclass(frozen=True)
class PidFile:
    """What ``postmaster.pid`` says: lines 1 (PID), 2 (data dir), 4 (port), 8 (status)."""

    pid: int
    data_dir: str
    port: int | None
    status: str

    @classmethod
    def read(cls, path: Path) -> PidFile | None:
        """Parse the file; None when it is missing or unreadable as a postmaster's."""
        try:
            lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
            pid = int(lines[0])
        except (OSError, IndexError, ValueError):
            return None
        port = int(lines[3]) if len(lines) > 3 and lines[3].strip().isdigit() else None
        status = lines[7].strip() if len(lines) > 7 else ""
        return cls(pid, lines[1] if len(lines) > 1 else "", port, status)


@dataclass(frozen=True)
class ServerStatus:
    """The state of a cluster (``RUNNING``, ``NOT_READY``, ``STALE``, ``STOPPED``,
    ``UNINITIALISED``), the PID and port its pid file names, and why, in words."""

    state: str
    pid: int | None = None
    port: int | None = None
    detail: str = ""

    @property
    def running(self) -> bool:
        """True only for a live postmaster of this data dir that accepts connections."""
        return self.state == RUNNING


def _same_path(a: str | os.PathLike[str], b: str | os.PathLike[str]) -> bool:
    """True when two paths name the same file (resolving links; False if either is gone)."""
    try:
        return os.path.samefile(a, b)
    except OSError:
        return os.path.realpath(a) == os.path.realpath(b)


def _proc_fields(pid: int) -> list[str] | None:
    """``/proc/PID/stat`` after the command name: state, ppid, ... (None: no such process)."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    return text.rpartition(")")[2].split()


def _is_server_process_of(pid: int, data_dir: Path) -> bool:
    """A live (not zombie) ``postgres`` process working in ``data_dir``: the postmaster or
    one of its children (they all ``chdir`` there). Linux ``/proc`` only."""
    fields = _proc_fields(pid)
    if not fields or fields[0] in ("Z", "X", "x"):
        return False
    try:
        cwd = os.readlink(f"/proc/{pid}/cwd").removesuffix(" (deleted)")
        exe = os.readlink(f"/proc/{pid}/exe").removesuffix(" (deleted)")
    except OSError:  # gone, or another user's process (then it is not our server either)
        return False
    return Path(exe).name == "postgres" and _same_path(cwd, data_dir)


def is_postmaster_of(pid: int, data_dir: Path) -> bool | None:
    """True when ``pid`` is the live postmaster of ``data_dir`` (not a zombie, not a PID
    reused by another process, not one of the server's children); None without ``/proc``."""
    if not Path("/proc/self/stat").is_file():
        return None
    if pid <= 0 or not _is_server_process_of(pid, data_dir):
        return False
    fields = _proc_fields(pid)
    parent = int(fields[1]) if fields and len(fields) > 1 and fields[1].isdigit() else 0
    return not (parent > 1 and _is_server_process_of(parent, data_dir))


def server_processes_of(data_dir: Path) -> list[int]:
    """PIDs of live ``postgres`` processes working in ``data_dir`` (Linux; [] elsewhere)."""
    try:
        pids = [int(name) for name in os.listdir("/proc") if name.isdigit()]
    except OSError:
        return []
    return sorted(pid for pid in pids if _is_server_process_of(pid, data_dir))


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

    @property
    def pid_file(self) -> Path:
        """``postmaster.pid``: written by a starting server, removed by a clean stop."""
        return self.data_dir / "postmaster.pid"

    def running_port(self) -> int | None:
        """Return the port of the running server (from postmaster.pid), or None."""
        status = self.status()
        return status.port if status.running else None

    def is_running(self) -> bool:
        """True only when this data dir's server is alive and accepts connections."""
        return self.status().running

    def postmaster_pid(self) -> int | None:
        """The PID of this data dir's live postmaster (ready or not), else None."""
        if not self.is_initialised():
            return None
        pid_file = PidFile.read(self.pid_file)
        if pid_file is None:
            return None
        identity = is_postmaster_of(pid_file.pid, self.data_dir)
        if identity is None:  # no /proc: pg_ctl's own check (a signal 0 to the PID)
            alive = self._run("pg_ctl", "status", "-D", str(self.data_dir)).returncode == 0
            return pid_file.pid if alive else None
        return pid_file.pid if identity else None

    def status(self) -> ServerStatus:
        """What runs here, checked rather than read: the pid file's PID must be this data
        dir's live postmaster and its port must accept a connection to this data dir."""
        if not self.is_initialised():
            return ServerStatus(UNINITIALISED, detail="no cluster yet")
        pid_file = PidFile.read(self.pid_file)
        if pid_file is None:
            if self.pid_file.exists():
                return ServerStatus(STALE, detail="postmaster.pid is unreadable")
            return ServerStatus(STOPPED)
        pid, port = pid_file.pid, pid_file.port
        if self.postmaster_pid() != pid:
            return ServerStatus(
                STALE,
                pid,
                port,
                f"postmaster.pid is stale: PID {pid} is no live server of this data dir "
                "(killed or crashed; the PID may be another process now)",
            )
        if port is None:
            return ServerStatus(NOT_READY, pid, None, "starting: no port in postmaster.pid yet")
        accepted, why = self.probe(port)
        if accepted:
            return ServerStatus(RUNNING, pid, port)
        return ServerStatus(NOT_READY, pid, port, why)

    def probe(self, port: int) -> tuple[bool, str]:
        """Connect to ``port`` and check it serves this data dir; (ok, why not)."""
        import psycopg

        try:
            with psycopg.connect(
                url_for(port),
                connect_timeout=PROBE_TIMEOUT_SECONDS,
                application_name="customer-management status",
            ) as conn:
                row = conn.execute("select pg_catalog.current_setting('data_directory')").fetchone()
        except psycopg.Error as exc:
            message = str(exc).strip().splitlines()
            return False, (message[-1] if message else type(exc).__name__)
        served = str(row[0]) if row else ""
        if not _same_path(served, self.data_dir):
            return False, f"port {port} is served by another cluster ({served})"
        return True, ""

    def start(self, report: Callable[[str], None] | None = None) -> bool:
        """Initialise if needed and start; return False when it was already running.

        A live server that is not ready yet (crash recovery) is waited for; what a dead one
        left (a stale ``postmaster.pid``, socket lock files) is cleared first, once its
        orphaned children are gone. ``report`` receives a line for each such repair.
        """
        self.initialise()
        status = self.status()
        if status.running:
            return False
        if status.state == NOT_READY:
            status = self._wait_until_ready(status)
            if status.running:
                return False
            if status.state == NOT_READY:
                raise LocalDbError(
                    f"PostgreSQL (PID {status.pid}) holds {self.data_dir} but does not "
                    f"accept connections ({status.detail}); stop it or read {self.log_file}\n"
                    f"--- last lines of {self.log_file} ---\n{self.log_tail()}"
                )
        if status.state == STALE:
            self._clear_stale(status, report)
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

    def _wait_until_ready(self, status: ServerStatus) -> ServerStatus:
        """Poll a live but unready server until it accepts connections, dies or times out."""
        deadline = time.monotonic() + NOT_READY_WAIT_SECONDS
        while status.state == NOT_READY and time.monotonic() < deadline:
            time.sleep(0.25)
            status = self.status()
        return status

    def _clear_stale(self, status: ServerStatus, report: Callable[[str], None] | None) -> None:
        """Remove what a dead server left, once no process of it works in the data dir."""
        deadline = time.monotonic() + ORPHAN_WAIT_SECONDS
        leftovers = server_processes_of(self.data_dir)
        while leftovers and time.monotonic() < deadline:
            time.sleep(0.2)
            leftovers = server_processes_of(self.data_dir)
        if leftovers:
            raise LocalDbError(
                f"the server of {self.data_dir} is gone but its processes "
                f"{', '.join(map(str, leftovers))} still run; end them, then start again"
            )
        for lock in (self.pid_file, *self._stale_socket_locks()):
            try:
                lock.unlink()
            except FileNotFoundError:
                continue
            except OSError as exc:
                raise LocalDbError(f"cannot remove the stale {lock}: {exc}") from None
            if report is not None:
                gone = f" of PID {status.pid}" if status.pid is not None else ""
                report(f"removed the stale {lock.name}{gone}: that server is gone")

    def _stale_socket_locks(self) -> list[Path]:
        """``.s.PGSQL.<port>.lock`` files in the state dir whose PID is no live server here."""
        stale: list[Path] = []
        for lock in self.state_dir.glob(".s.PGSQL.*.lock"):
            pid_file = PidFile.read(lock)
            if pid_file is None or not is_postmaster_of(pid_file.pid, self.data_dir):
                stale.append(lock)
        return stale

    def stop(self) -> bool:
        """Stop the server (fast mode: roll back open transactions); False if it was down.

        A stale ``postmaster.pid`` is not a server: nothing is signalled (its PID may belong
        to another process now); the file is left for ``start`` to clear.
        """
        if self.postmaster_pid() is None:
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
