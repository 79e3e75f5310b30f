"""The rooms of the repository and the one way imports go between them
(``docs/development.md`` draws them).

The package users install (``python_client/customer_management``) never imports the
development tools (``tools/``), the benchmark (``bench/``) or the tests; inside the package
each room imports only the rooms below it. Checked twice: every import statement and every
module named in a string (``importlib.import_module``), read from the source; and every
module of the package imported for real, in a process where the repository's root is not
on the path.
"""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PACKAGE = REPO / "python_client" / "customer_management"
# What each room of the package may import of the others (a room always imports itself).
ALLOWED: dict[str, set[str]] = {
    "contract": set(),
    "statuses": {"contract"},
    "tokens": set(),
    "csvsafe": set(),
    "client": {"statuses", "contract"},
    "local": {"tokens"},
    "batch": {"csvsafe"},
    "analytics": {"csvsafe"},
    "proxy": {"local", "statuses", "contract", "tokens"},
    "mcp": {"client", "statuses", "contract", "tokens"},
    "cli": {
        "__init__",
        "local",
        "proxy",
        "mcp",
        "batch",
        "analytics",
        "client",
        "contract",
        "tokens",
    },
    "__init__": {"client"},
    "__main__": {"cli"},
}
# Rooms outside the package: what they may import.
OUTSIDE: dict[str, set[str]] = {
    "tools": {"customer_management"},
    "bench": {"customer_management"},
}
DEVELOPMENT = ("tools", "bench", "support", "tests", "conftest")
MODULE_NAME = re.compile(r"^(customer_management|tools|bench|support)(\.[a-z_][a-z0-9_]*)*$")


def references(path: Path) -> Iterator[str]:
    """Every module a file imports, or names in a string the way import_module takes it."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if "." in node.module or node.module not in ("customer_management", *OUTSIDE):
                yield node.module
            yield from (f"{node.module}.{alias.name}" for alias in node.names)
        elif (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and MODULE_NAME.match(node.value)
            and is_module(node.value)
        ):
            yield node.value


def is_module(name: str) -> bool:
    """True when a dotted name is a module of this repository (not, say, a file name)."""
    parts = name.split(".")
    base = PACKAGE.parent if parts[0] == "customer_management" else REPO
    if parts[0] == "support":
        base = REPO / "tests"
    path = base.joinpath(*parts)
    return len(parts) > 1 and (path.with_suffix(".py").is_file() or path.is_dir())


def package_room(path: Path) -> str:
    """The room of a file in the package: its first folder, or its module name."""
    return path.relative_to(PACKAGE).parts[0].removesuffix(".py")


def target_room(module: str) -> str | None:
    """The package room a module name points into (None: not the package)."""
    parts = module.split(".")
    if parts[0] != "customer_management":
        return None
    if len(parts) == 1:
        return "__init__"
    room = parts[1]
    return room if room in ALLOWED else "__init__"


def shown(path: Path) -> str:
    """A file's path from the repository's root (or the package's parent)."""
    base = REPO if path.is_relative_to(REPO) else PACKAGE.parent
    return str(path.relative_to(base))


def violations() -> list[str]:
    """Each import that goes the wrong way, as ``file: module (why)``."""
    found: list[str] = []
    for path in sorted(PACKAGE.rglob("*.py")):
        room = package_room(path)
        for module in references(path):
            top = module.split(".")[0]
            if top in DEVELOPMENT:
                found.append(f"{shown(path)}: {module} (development code)")
                continue
            target = target_room(module)
            if target is not None and target != room and target not in ALLOWED[room]:
                found.append(f"{shown(path)}: {module} ({room} may not use {target})")
    for name, allowed in OUTSIDE.items():
        for path in sorted((REPO / name).rglob("*.py")):
            for module in references(path):
                top = module.split(".")[0]
                if top in (*OUTSIDE, "customer_management") and top != name and top not in allowed:
                    found.append(f"{shown(path)}: {module} ({name} may not use {top})")
    return found


def test_imports_go_one_way() -> None:
    assert violations() == []


def test_the_check_sees_a_wrong_way(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A client module importing the proxy, and the package importing the tools, are both
    reported."""
    fake = tmp_path / "customer_management"
    (fake / "client").mkdir(parents=True)
    (fake / "client" / "core.py").write_text("from customer_management.proxy import app\n")
    (fake / "cli").mkdir()
    (fake / "cli" / "demo.py").write_text(
        "import importlib\nimportlib.import_module('tools.pgtap_runner')\n"
    )
    monkeypatch.setattr(sys.modules[__name__], "PACKAGE", fake)
    monkeypatch.setattr(sys.modules[__name__], "OUTSIDE", {})
    assert [line.split(": ", 1)[1] for line in violations()] == [
        "tools.pgtap_runner (development code)",
        "customer_management.proxy (client may not use proxy)",
        "customer_management.proxy.app (client may not use proxy)",
    ]


IMPORT_EVERYTHING = """
import importlib, pkgutil, sys
import customer_management
from customer_management.cli import REGISTRARS, build_parser

prefix = "customer_management."
names = [m.name for m in pkgutil.walk_packages(customer_management.__path__, prefix)]
for name in names:
    importlib.import_module(name)
parser = build_parser()
commands = parser._subparsers._group_actions[0].choices
for command in commands:
    try:
        parser.parse_args([command, "--help"])
    except SystemExit:
        pass
def from_the_repository(module):
    path = str(getattr(module, "__file__", "") or "")
    return (
        path.startswith({repo!r} + "/")
        and not path.startswith({package!r} + "/")
        and not path.startswith(sys.prefix + "/")
    )

outside = sorted(
    name for name, module in list(sys.modules.items())
    if name.split(".")[0] in {development!r} or from_the_repository(module)
)
print(len(names), len(commands), outside)
"""


def test_every_user_module_and_command_loads_without_development_code(tmp_path: Path) -> None:
    probe = IMPORT_EVERYTHING.format(
        development=set(DEVELOPMENT), repo=str(REPO), package=str(PACKAGE)
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    result = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    modules, commands, outside = result.stdout.rsplit("\n", 2)[-2].split(" ", 2)
    assert int(modules) > 60
    assert int(commands) >= 12
    assert outside == "[]"
