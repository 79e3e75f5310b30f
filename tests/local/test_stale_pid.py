"""A killed server is not a running server: ``kill -9`` of the local postmaster, then
``db status``, ``db start``, ``db stop`` and ``run`` as a user would type them.

After ``kill -9`` (an OOM kill, a crash) ``postmaster.pid`` stays behind. Its PID may be
dead, a zombie nobody reaped yet, or reused by another process of the same OS user: the
last two fool ``pg_ctl status`` (a signal 0 reaches them), which is how ``db start`` once
said "already running" while nothing listened. These tests build each case with a real
server killed by SIGKILL and check that ``db status`` says "not running", ``db stop``
signals nobody, and ``db start`` / ``run`` bring up a server the proxy can use.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import psycopg
import pytest

from customer_management.local.osuser import as_user, server_user
from customer_management.local.server import (
    PidFile,
    free_port,
    is_postmaster_of,
    pg_bindir,
    server_processes_of,
    url_for,
)
from support.proxy import SERVICE_KEY
from support.running import Running, run_command

pytestmark = pytest.mark.skipif(
    not Path("/proc/self/stat").is_file(), reason="process identity is read from /proc"
)
CHATBOT_LOOKUP = {"phone": "+15551234567", "source": "chatbot"}


@dataclass
class Cluster:
    """A local database made by ``db start`` in a throwaway state dir."""

    state_dir: Path
    port: int

    @property
    def data_dir(self) -> Path:
        return self.state_dir / "pgdata"

    @property
    def pid_file(self) -> Path:
        return self.data_dir / "postmaster.pid"

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        """``customer-management db ARGS --data-dir STATE`` in a subprocess."""
        return subprocess.run(
            [sys.executable, "-m", "customer_management", "db", *args],
            capture_output=True,
            text=True,
            check=False,
            stdin=subprocess.DEVNULL,
            timeout=180,
        )

    def start(self) -> subprocess.CompletedProcess[str]:
        result = self.cli("start", "--data-dir", str(self.state_dir), "--port", str(self.port))
        assert result.returncode == 0, result.stdout + result.stderr
        return result

    def status(self) -> subprocess.CompletedProcess[str]:
        return self.cli("status", "--data-dir", str(self.state_dir))

    def stop(self) -> subprocess.CompletedProcess[str]:
        return self.cli("stop", "--data-dir", str(self.state_dir))

    def postmaster(self) -> int:
        pid_file = PidFile.read(self.pid_file)
        assert pid_file is not None, "no postmaster.pid"
        assert is_postmaster_of(pid_file.pid, self.data_dir), "not a live postmaster"
        return pid_file.pid

    def kill_9(self) -> int:
        """SIGKILL the postmaster, as the OOM killer does; wait until it and its children
        are gone (they notice the postmaster's death by themselves). Return its PID."""
        pid = self.postmaster()
        os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while server_processes_of(self.data_dir):
            assert time.monotonic() < deadline, "the killed server's processes linger"
            time.sleep(0.05)
        assert self.pid_file.exists(), "kill -9 leaves postmaster.pid behind"
        return pid

    def point_pid_file_at(self, pid: int) -> None:
        """Make the stale pid file name ``pid`` (as if the old PID had been reused)."""
        lines = self.pid_file.read_text(encoding="utf-8").splitlines(keepends=True)
        lines[0] = f"{pid}\n"
        self.pid_file.write_text("".join(lines), encoding="utf-8")

    def pg_ctl_status(self) -> int:
        """``pg_ctl status`` as the server's OS user: what the kit used to trust."""
        command = as_user(
            [str(pg_bindir() / "pg_ctl"), "status", "-D", str(self.data_dir)], server_user()
        )
        return subprocess.run(command, capture_output=True, cwd="/", check=False).returncode

    def accepts_connections(self) -> bool:
        try:
            with psycopg.connect(url_for(self.port), connect_timeout=5) as conn:
                return conn.execute("select 1").fetchone() == (1,)
        except psycopg.OperationalError:
            return False


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    """A migrated and seeded local database; stopped and removed afterwards. Not under
    pytest's tmp_path: a concurrent session may reset that to 0700 (see ``run_dir``)."""
    base = Path(tempfile.mkdtemp(prefix="cm-killed-"))
    made = Cluster(base / "db", free_port())
    try:
        made.start()
        yield made
    finally:
        made.stop()
        for pid in server_processes_of(made.data_dir):
            os.kill(pid, signal.SIGKILL)
        shutil.rmtree(base, ignore_errors=True)


def impostor(*, zombie: bool) -> subprocess.Popen[bytes]:
    """A process of the server's OS user (a PID that ``kill(pid, 0)`` reaches): alive, or
    killed and left unreaped (a zombie), as a postmaster's PID may be after a crash."""
    process = subprocess.Popen(
        as_user(["sleep", "600"], server_user()), cwd="/", start_new_session=True
    )
    stat = Path(f"/proc/{process.pid}/stat")
    deadline = time.monotonic() + 10
    while not stat.read_text().startswith(f"{process.pid} (sleep) "):  # setpriv has exec'd
        assert time.monotonic() < deadline, "sleep did not start"
        time.sleep(0.01)
    if zombie:
        os.kill(process.pid, signal.SIGKILL)  # and no wait(): nobody reaps it
        while stat.read_text().rpartition(")")[2].split()[0] != "Z":
            assert time.monotonic() < deadline, "no zombie"
            time.sleep(0.01)
    return process


def assert_reported_not_running(cluster: Cluster) -> None:
    status = cluster.status()
    assert status.returncode == 3, status.stdout + status.stderr
    assert status.stdout.startswith("not running"), status.stdout
    assert "postmaster.pid is stale" in status.stdout, status.stdout


def test_status_start_and_stop_after_kill_9(cluster: Cluster) -> None:
    """kill -9: status says not running; stop signals nothing; start clears the stale files
    (saying so) and starts a server that accepts connections."""
    cluster.kill_9()
    assert not cluster.accepts_connections()
    assert_reported_not_running(cluster)

    stop = cluster.stop()
    assert stop.returncode == 0 and stop.stdout.strip() == "not running", stop.stdout

    start = cluster.start()
    assert "removed the stale postmaster.pid" in start.stdout, start.stdout
    assert "started PostgreSQL" in start.stdout, start.stdout
    assert "already running" not in start.stdout
    assert start.stdout.strip().splitlines()[-1] == url_for(cluster.port)
    assert cluster.accepts_connections()

    status = cluster.status()
    assert status.returncode == 0 and status.stdout.startswith("running"), status.stdout


def test_run_serves_again_after_kill_9(cluster: Cluster) -> None:
    """``run`` (what ``make run`` starts) after a kill -9: the database comes back and the
    proxy connects to it: the printed chatbot lookup finds the seeded customer."""
    cluster.start()
    cluster.kill_9()
    api_port = free_port()
    running = Running(run_command(cluster.state_dir, cluster.port, api_port))
    try:
        banner = running.banner()
        assert "API URL" in banner
        response = httpx.post(
            f"http://127.0.0.1:{api_port}/functions/v1/customer-management",
            json=CHATBOT_LOOKUP,
            headers={"Authorization": f"Bearer {SERVICE_KEY}"},
            timeout=30,
        )
        assert response.status_code == 200, response.text
        assert response.json()["summary"] == "Welcome back John! You have 2 previous orders."
        health = httpx.get(f"http://127.0.0.1:{api_port}/health", timeout=30)
        assert health.status_code == 200, health.text
    finally:
        code = running.stop()
    assert code in (0, 130), "".join(running.stderr)
    # run stopped the server it started, cleanly: no stale file this time.
    status = cluster.status()
    assert status.returncode == 3 and status.stdout.startswith("not running"), status.stdout
    assert "postmaster.pid is stale" not in status.stdout


@pytest.mark.parametrize("zombie", [False, True], ids=["pid-reused", "zombie"])
def test_a_pid_that_fools_pg_ctl_is_not_a_server(cluster: Cluster, zombie: bool) -> None:
    """The stale PID now belongs to another process of the server's user (alive, or a
    zombie). ``pg_ctl status`` takes it for the server; the kit does not, never signals
    it, and starts the real server."""
    cluster.start()
    cluster.kill_9()
    other = impostor(zombie=zombie)
    try:
        cluster.point_pid_file_at(other.pid)
        assert cluster.pg_ctl_status() == 0, "pg_ctl status is fooled (the reason for the fix)"
        assert_reported_not_running(cluster)

        stop = cluster.stop()
        assert stop.stdout.strip() == "not running", stop.stdout
        if not zombie:
            assert other.poll() is None, "db stop signalled a process that is not the server"

        start = cluster.start()
        assert "started PostgreSQL" in start.stdout, start.stdout
        assert cluster.accepts_connections()
        assert cluster.postmaster() != other.pid
        if not zombie:
            assert other.poll() is None, "db start signalled a process that is not the server"
    finally:
        if other.poll() is None:
            other.kill()
        other.wait(timeout=10)
