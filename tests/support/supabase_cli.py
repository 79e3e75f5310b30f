"""The real Supabase CLI (pinned, installed by ``make setup``) applying the kit's
migrations to a database, as a DBA does with ``supabase db push --db-url``.

Each call runs in a project directory of its own holding ``supabase/migrations`` and
``supabase/config.toml``, so the CLI writes nothing into the repository.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from support.releases import REPO, write_release

SUPABASE_CLI = REPO / ".local" / "supabase-cli" / "node_modules" / ".bin" / "supabase"


def supabase_cli(*args: str, workdir: Path) -> subprocess.CompletedProcess[str]:
    """Run the CLI in a project directory."""
    if not SUPABASE_CLI.exists():
        pytest.fail(f"the Supabase CLI is not installed at {SUPABASE_CLI}: run `make setup`")
    return subprocess.run(
        [str(SUPABASE_CLI), *args, "--workdir", str(workdir)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env={**os.environ, "DO_NOT_TRACK": "1", "SUPABASE_TELEMETRY_DISABLED": "1"},
    )


def current_project(directory: Path) -> Path:
    """A project holding every migration of this checkout."""
    (directory / "supabase").mkdir(parents=True)
    shutil.copytree(REPO / "supabase" / "migrations", directory / "supabase" / "migrations")
    shutil.copy(REPO / "supabase" / "config.toml", directory / "supabase" / "config.toml")
    return directory


def release_project(directory: Path, version: str) -> Path:
    """A project holding the migrations of a release only."""
    write_release(version, directory / "supabase" / "migrations")
    shutil.copy(REPO / "supabase" / "config.toml", directory / "supabase" / "config.toml")
    return directory


def push(url: str, project: Path) -> subprocess.CompletedProcess[str]:
    """``supabase db push --db-url`` of the project's migrations."""
    return supabase_cli(
        "db", "push", "--db-url", f"{url}?sslmode=disable", "--yes", workdir=project
    )
