"""Released migrations are history: never edited, renamed or deleted.

A project that ran ``supabase db push`` recorded each file's version as applied and never
runs that version again, so a change to a released file never reaches it. Each release's
manifest (``supabase/releases/<version>.sha256``) pins its files; changes come as new
migrations, later than every released one (the CLI refuses to apply a migration older than
the last one a database has, unless told to).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from customer_management import __version__
from support import releases
from support.releases import (
    MIGRATIONS,
    REPO,
    changed_files,
    manifest,
    released_versions,
    sha256,
    tag_files,
    write_release,
)

VERSION_LINE = re.compile(r'^version = "(?P<version>[^"]+)"$', re.MULTILINE)


def test_there_is_a_released_version() -> None:
    assert released_versions()[0] == "0.1.0"
    assert len(manifest("0.1.0")) == 50


@pytest.mark.parametrize("version", released_versions())
def test_released_migrations_are_unchanged(version: str) -> None:
    changed = changed_files(version)
    assert changed == {}, (
        f"migrations released in {version} changed: {changed}. A released migration is "
        "never edited, renamed or deleted: restore it and put the change in a new migration."
    )


def test_an_edited_renamed_or_deleted_file_is_caught(tmp_path: Path) -> None:
    copy = tmp_path / "migrations"
    shutil.copytree(MIGRATIONS, copy)
    edited, renamed, deleted = sorted(manifest("0.1.0"))[:3]
    with (copy / edited).open("a", encoding="utf-8") as file:
        file.write("\n")
    (copy / renamed).rename(copy / renamed.replace("_create_", "_make_"))
    (copy / deleted).unlink()
    assert changed_files("0.1.0", copy) == {
        edited: "edited",
        renamed: "deleted or renamed",
        deleted: "deleted or renamed",
    }


def test_new_migrations_come_after_every_released_one() -> None:
    released = {name for version in released_versions() for name in manifest(version)}
    last = max(name.split("_", 1)[0] for name in released)
    new = sorted(p.name for p in MIGRATIONS.glob("*.sql") if p.name not in released)
    early = [name for name in new if name.split("_", 1)[0] <= last]
    assert early == [], f"new migrations must be later than {last}, the last released one"


@pytest.mark.parametrize("version", released_versions())
def test_the_release_tag_agrees_with_its_manifest(version: str) -> None:
    files = tag_files(version)
    if files is None:
        pytest.skip(f"no git tag {version} in this checkout (a shallow clone)")
    assert {name: sha256(data) for name, data in files.items()} == manifest(version)


def test_the_release_files_come_from_the_tag_or_the_verified_tree(tmp_path: Path) -> None:
    origin = write_release("0.1.0", tmp_path)
    assert origin.startswith(("tag 0.1.0", "supabase/migrations"))
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(manifest("0.1.0"))


def test_a_clone_without_tags_takes_the_verified_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(releases, "tag_files", lambda version: None)
    origin = releases.write_release("0.1.0", tmp_path)
    assert origin == "supabase/migrations, checked against supabase/releases/0.1.0.sha256"
    written = {p.name: sha256(p.read_bytes()) for p in tmp_path.iterdir()}
    assert written == manifest("0.1.0")


def test_the_command_reports_the_version_of_pyproject() -> None:
    pyproject = (REPO / "pyproject.toml").read_text(encoding="utf-8")
    match = VERSION_LINE.search(pyproject)
    assert match is not None
    result = subprocess.run(
        [sys.executable, "-m", "customer_management", "--version"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout.strip() == f"customer-management {match['version']}"
    assert __version__ == match["version"]


def test_the_changelog_has_an_entry_for_every_release() -> None:
    changelog = (REPO / "CHANGELOG.md").read_text(encoding="utf-8")
    headings = re.findall(r"^## (\S+)", changelog, re.MULTILINE)
    assert headings[0] == "Unreleased"
    assert set(released_versions()) <= set(headings)
    for section in re.split(r"^## ", changelog, flags=re.MULTILINE)[1:]:
        for audience in ("Callers", "DBAs", "Analysts"):
            assert f"### {audience}" in section, f"{section.split()[0]}: no {audience} heading"


def test_the_license_is_the_one_pyproject_names() -> None:
    assert 'license = "MIT"' in (REPO / "pyproject.toml").read_text(encoding="utf-8")
    assert (REPO / "LICENSE").read_text(encoding="utf-8").startswith("MIT License")
