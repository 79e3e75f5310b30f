"""Every SQL file of the kit passes sqlfluff (postgres dialect, config in .sqlfluff)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_sqlfluff_lint_passes_on_every_sql_file() -> None:
    """Migrations, shim, seed and pgTAP files: no lint violations."""
    sql_files = sorted(
        str(path.relative_to(ROOT))
        for folder in ("sql", "supabase")
        for path in (ROOT / folder).rglob("*.sql")
    )
    assert any(name.startswith("supabase/migrations/") for name in sql_files)
    result = subprocess.run(
        [sys.executable, "-m", "sqlfluff", "lint", "--processes", "2", *sql_files],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
