"""The README's commands are run, and say what they do.

``make test`` is what CI runs; this runs ``make run`` (on its own ports and data dir) and
``make demo``, checks the banner against the README's copy of it, runs the curl the banner
prints, and the README's Python example against the running API.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from customer_management.local import keys
from customer_management.local.server import free_port
from support.running import Running, curl_from, run_args

REPO = Path(__file__).resolve().parents[2]
README = (REPO / "README.md").read_text(encoding="utf-8")


def fenced(language: str) -> list[str]:
    """The README's code blocks of one language ("" for blocks without one)."""
    blocks: list[str] = []
    current: list[str] | None = None
    current_language = ""
    for line in README.splitlines():
        if line.startswith("```") and current is None:
            current, current_language = [], line[3:].strip()
        elif line.startswith("```"):
            if current_language == language:
                blocks.append("\n".join(current or []) + "\n")
            current = None
        elif current is not None:
            current.append(line)
    return blocks


def shell_commands() -> list[str]:
    """Every command of the README's ``sh`` blocks, comments stripped."""
    commands = []
    for block in fenced("sh"):
        for line in block.splitlines():
            command = line.split("#", 1)[0].strip()
            if command:
                commands.append(command)
    return commands


def test_the_readme_shows_exactly_the_two_commands() -> None:
    """Only commands that CI (``make test``) or this module runs."""
    assert shell_commands() == ["make run", "make test"]


def test_make_run_prints_the_readme_banner_and_serves_it(run_dir: Path) -> None:
    db_port, api_port = free_port(), free_port()
    options = " ".join(run_args(run_dir, db_port, api_port))
    running = Running(["make", "--no-print-directory", "run", f"ARGS={options}"], cwd=REPO)
    try:
        banner = running.banner()
        # The key lines are the README's, character for character; the URLs carry the
        # test's ports instead of 54321 / 54322.
        (shown,) = [b for b in fenced("") if "Customer management API is running" in b]
        for label in ("JWT secret:", "anon key:", "service_role key:"):
            expected = next(line for line in shown.splitlines() if label in line)
            assert expected in banner.splitlines(), label
        assert f"         API URL: http://127.0.0.1:{api_port}" in banner.splitlines()
        assert f"          DB URL: postgresql://postgres@127.0.0.1:{db_port}/postgres" in (
            banner.splitlines()
        )

        answer = subprocess.run(
            curl_from(banner), capture_output=True, text=True, check=True, timeout=30
        ).stdout
        assert "Welcome back John! You have 2 previous orders." in answer

        (example,) = fenced("python")
        printed = subprocess.run(
            [sys.executable, "-c", example],
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
            env={
                **os.environ,
                "SUPABASE_URL": f"http://127.0.0.1:{api_port}",
                "SUPABASE_SERVICE_ROLE_KEY": keys.service_role_key(),
            },
        ).stdout
        assert printed.strip() == "Welcome back John! You have 2 previous orders."
    finally:
        status = running.stop()
    # make itself ends on the signal (-2) or reports the interrupted recipe (2).
    assert status in (0, 130, 2, -2), "".join(running.stderr)
    assert "stopped PostgreSQL" in "".join(running.stderr)


def test_make_demo_replays_the_three_scenarios() -> None:
    result = subprocess.run(
        ["make", "--no-print-directory", "demo", "ARGS=--compact"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    for heading in ("Scenario 1", "Scenario 2", "Scenario 3"):
        assert heading in result.stdout
    # The caller on the phone proves an email with a code before it opens anything.
    assert "POST /rest/v1/rpc/request_verification" in result.stdout
    assert "Please verify your email to link it to this account." in result.stdout
    assert "Done: the throwaway database has been removed." in result.stdout
