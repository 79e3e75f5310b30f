"""The package as users get it: a client that stays thin, SQL that ships inside the wheel,
extras that say what they bring, and a contract whose generated types are current."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import uuid
import zipfile
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from tools import contract_codegen

REPO = Path(__file__).resolve().parents[2]
SERVER_PACKAGES = ("starlette", "uvicorn", "psycopg_pool")


def test_importing_the_client_pulls_in_no_server_package() -> None:
    """A chatbot developer's ``from customer_management import Client`` stays thin."""
    probe = (
        "import sys\n"
        "from customer_management import Client, Resolution\n"
        "import customer_management.client\n"
        f"print(sorted(m for m in sys.modules if m.split('.')[0] in {SERVER_PACKAGES!r}))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


def test_generated_contract_types_are_current() -> None:
    """``client/contract_types.py`` and ``_shared/contract.ts`` match the JSON Schema."""
    assert contract_codegen.main(["--check", "--root", str(REPO)]) == 0


@pytest.fixture
def fresh_db_url(server_url: str) -> Iterator[str]:
    """An empty database: no shim, no migrations."""
    name = f"wheel_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
    try:
        yield server_url.rsplit("/", 1)[0] + "/" + name
    finally:
        with psycopg.connect(server_url, autocommit=True) as admin:
            admin.execute(sql.SQL("drop database {} with (force)").format(sql.Identifier(name)))


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A wheel built from a copy of the repository (the checkout stays untouched)."""
    tmp_path = tmp_path_factory.mktemp("wheel")
    source = tmp_path / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(REPO / name, source / name)
    for name in ("python_client", "supabase", "sql", "console"):
        shutil.copytree(
            REPO / name,
            source / name,
            symlinks=True,
            ignore=shutil.ignore_patterns("__pycache__", "*.egg-info", ".temp"),
        )
    out = tmp_path / "dist"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(out), str(source)],
        check=True,
        capture_output=True,
        text=True,
    )
    (wheel,) = out.glob("customer_management-*.whl")
    return wheel


def test_the_wheel_holds_what_users_import_or_run_and_nothing_else(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
    package = "customer_management/"
    tops = {name.split("/")[0] for name in names}
    assert tops == {"customer_management", f"{wheel.name.rsplit('-', 3)[0]}.dist-info"}
    for room in ("client", "cli", "mcp", "batch", "analytics", "local", "proxy"):
        assert f"{package}{room}/__init__.py" in names, room
    for module in ("__init__.py", "__main__.py", "contract.py", "statuses.py", "py.typed"):
        assert package + module in names, module
    assert package + "local/demo.py" in names
    # What the commands need at run time, as files inside the package.
    bundled = package + "bundled/"
    migrations = sorted(p.name for p in (REPO / "supabase" / "migrations").glob("*.sql"))
    assert (
        sorted(n.rsplit("/", 1)[1] for n in names if n.startswith(bundled + "supabase/migrations/"))
        == migrations
    )
    for data in (
        "supabase/seed.sql",
        "supabase/functions/_shared/contract.schema.json",
        "sql/uninstall.sql",
        "sql/supabase_shim.sql",
        "console/index.html",
        "console/app.js",
        "console/console.css",
        "console/config.json",
    ):
        assert bundled + data in names, data
    console = {p.name for p in (REPO / "console").glob("*.js")}
    assert {n.rsplit("/", 1)[1] for n in names if n.startswith(bundled + "console/")} >= console
    if (REPO / "console" / "vendor" / "supabase.js").exists():
        assert bundled + "console/vendor/supabase.js" in names
    # Development code stays out: the tools, the benchmark, the tests, caches.
    for name in names:
        assert not re.search(r"(^|/)(dev|tools|bench|tests|__pycache__)/", name), name
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)


def test_a_wheel_installed_outside_the_checkout_migrates_a_fresh_database(
    wheel: Path, tmp_path: Path, fresh_db_url: str
) -> None:
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet"]
    command = str(venv / "bin" / "customer-management")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()

    # The package alone: the command runs and names the extra a missing piece needs.
    subprocess.run([*pip, "--no-deps", str(wheel)], check=True, capture_output=True)
    bare = subprocess.run(
        [command, "migrate", "--db-url", fresh_db_url],
        cwd=elsewhere,
        capture_output=True,
        text=True,
        check=False,
    )
    assert bare.returncode == 2, bare.stderr
    assert "pip install 'customer-management[local]'" in bare.stderr

    subprocess.run([*pip, f"{wheel}[local]"], check=True, capture_output=True)
    migrated = subprocess.run(
        [command, "migrate", "--db-url", fresh_db_url, "--with-shim"],
        cwd=elsewhere,
        capture_output=True,
        text=True,
        check=False,
    )
    assert migrated.returncode == 0, migrated.stdout + migrated.stderr
    assert "applied migration 20261124000100_create_customer_management_schema.sql" in (
        migrated.stdout
    )
    location = subprocess.run(
        [
            str(venv / "bin" / "python"),
            "-c",
            "import customer_management; print(customer_management.__file__)",
        ],
        cwd=elsewhere,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert str(REPO) not in location, "the test must run the installed copy"
    with psycopg.connect(fresh_db_url, autocommit=True) as conn:
        assert conn.execute(
            "select to_regprocedure('public.customer_management(jsonb)') is not null"
        ).fetchone() == (True,)
