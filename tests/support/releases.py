"""Released migrations: the manifests in ``supabase/releases`` and the files they name.

A release's manifest (``supabase/releases/<version>.sha256``, ``sha256sum`` format) lists
every migration file of that release with its SHA-256. Released files never change, so the
files a manifest names, as they are in ``supabase/migrations`` today, are that release's
migrations. When the release's git tag is present, its tree must agree with the manifest;
a shallow clone without tags falls back to the verified files.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
MIGRATIONS = REPO / "supabase" / "migrations"
RELEASES = REPO / "supabase" / "releases"


def released_versions() -> list[str]:
    """Every release with a manifest, oldest first (``0.1.0``, ...)."""
    names = [path.name.removesuffix(".sha256") for path in RELEASES.glob("*.sha256")]
    return sorted(names, key=lambda v: tuple(int(part) for part in v.split(".")))


def manifest(version: str) -> dict[str, str]:
    """File name -> SHA-256 of one release's migrations."""
    entries: dict[str, str] = {}
    for line in (RELEASES / f"{version}.sha256").read_text(encoding="utf-8").splitlines():
        if line.strip():
            digest, name = line.split(maxsplit=1)
            entries[name.lstrip("*")] = digest
    return entries


def sha256(data: bytes) -> str:
    """The hex SHA-256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


def changed_files(version: str, directory: Path = MIGRATIONS) -> dict[str, str]:
    """Files of a release that are no longer as released in ``directory``: name -> what
    happened."""
    problems: dict[str, str] = {}
    for name, digest in manifest(version).items():
        path = directory / name
        if not path.is_file():
            problems[name] = "deleted or renamed"
        elif sha256(path.read_bytes()) != digest:
            problems[name] = "edited"
    return problems


def tag_files(version: str) -> dict[str, bytes] | None:
    """The migration files in the release's git tag, or None when the tag is not here
    (a shallow clone, an archive)."""
    git = shutil.which("git")
    if git is None or not (REPO / ".git").exists():
        return None
    found = subprocess.run(
        [git, "rev-parse", "--verify", "--quiet", f"refs/tags/{version}^{{commit}}"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    if found.returncode != 0:
        return None
    listing = subprocess.run(
        [git, "ls-tree", "--name-only", f"{version}:supabase/migrations"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    return {
        name: subprocess.run(
            [git, "show", f"{version}:supabase/migrations/{name}"],
            cwd=REPO,
            capture_output=True,
            check=True,
        ).stdout
        for name in listing
        if name.endswith(".sql")
    }


def write_release(version: str, directory: Path) -> str:
    """Write a release's migration files into ``directory``: from its git tag when present,
    else the manifest-verified files of today's tree. Returns where they came from."""
    directory.mkdir(parents=True, exist_ok=True)
    expected = manifest(version)
    from_tag = tag_files(version)
    if from_tag is not None:
        files, origin = from_tag, f"tag {version}"
    else:
        files = {name: (MIGRATIONS / name).read_bytes() for name in expected}
        origin = f"supabase/migrations, checked against supabase/releases/{version}.sha256"
    actual = {name: sha256(data) for name, data in files.items()}
    if actual != expected:
        raise AssertionError(f"the migrations of {version} ({origin}) differ from its manifest")
    for name, data in files.items():
        (directory / name).write_bytes(data)
    return origin
