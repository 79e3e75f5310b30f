"""Run the pgTAP files (``supabase/tests/database/*.sql``) with pg_prove on a throwaway DB.

This is what ``supabase test db`` does, without Docker: a fresh migrated database, the
``pgtap`` extension in schema ``extensions``, and ``pg_prove`` over the files in order.
Usage: ``python -m tools.pgtap_runner [FILE...]``; exits non-zero on failure.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import psycopg

from customer_management.local.throwaway import throwaway_database

# Where `supabase test db` looks for pgTAP files, in this checkout.
PGTAP_DIR = Path(__file__).resolve().parents[1] / "supabase" / "tests" / "database"


def prepare(url: str) -> None:
    """Install pgTAP into ``extensions`` (as on Supabase) so test files may assume it."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("create schema if not exists extensions")
        conn.execute("create extension if not exists pgtap with schema extensions")


def run_pg_prove(url: str, files: Sequence[Path]) -> int:
    """Run pg_prove on ``files``; ``extensions`` is on the search path like on Supabase."""
    env = dict(os.environ)
    env["PGOPTIONS"] = (env.get("PGOPTIONS", "") + " -c search_path=public,extensions").strip()
    command = ["pg_prove", "--dbname", url, "--ext", ".sql", "--failures", *map(str, files)]
    return subprocess.run(command, env=env, check=False).returncode


def main(argv: Sequence[str] | None = None) -> int:
    """Collect the files, start the throwaway database, run pg_prove, return its status."""
    parser = argparse.ArgumentParser(prog="python -m tools.pgtap_runner")
    parser.add_argument("files", nargs="*", type=Path, help="pgTAP files (default: all)")
    args = parser.parse_args(argv)
    files: list[Path] = args.files or sorted(PGTAP_DIR.glob("*.sql"))
    if not files:
        print(f"no pgTAP files in {PGTAP_DIR}; nothing to run")
        return 0
    if shutil.which("pg_prove") is None:
        print("pg_prove not found: run `make setup`", file=sys.stderr)
        return 2
    with throwaway_database() as url:
        prepare(url)
        return run_pg_prove(url, files)


if __name__ == "__main__":
    sys.exit(main())
