"""Apply the shim, the migrations and the seed the way the Supabase CLI would.

Migrations are ``supabase/migrations/<version>_<name>.sql``, applied in filename order, each
in its own transaction, and recorded in ``supabase_migrations.schema_migrations`` (version,
statements, name) exactly like ``supabase db push``, so either tool can continue the other's
work. Each file runs as one script through the simple query protocol (psycopg uses it when
no parameters are passed), which allows many statements and PL/pgSQL bodies.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import psycopg

from customer_management.local import paths
from customer_management.local.sqlsplit import split_statements

MIGRATION_NAME = re.compile(r"^(?P<version>[0-9]+)_(?P<name>.*)\.sql$")
# The history table as the Supabase CLI creates it (columns added if an older CLI made it).
HISTORY_DDL = """
create schema if not exists supabase_migrations;
create table if not exists supabase_migrations.schema_migrations (
    version text not null primary key
);
alter table supabase_migrations.schema_migrations add column if not exists statements text[];
alter table supabase_migrations.schema_migrations add column if not exists name text;
"""
SEEDED_MARKER = ".seeded"
# Serialises concurrent migrators on one database (an arbitrary, fixed advisory-lock key).
_LOCK_KEY = 0x5B_CE_11_0E


@dataclass(frozen=True)
class Migration:
    """One migration file: its version (timestamp prefix), name and path."""

    version: str
    name: str
    path: Path


def discover(directory: Path | None = None) -> list[Migration]:
    """List migration files in filename order; files not named ``<digits>_name.sql`` are
    skipped, as the Supabase CLI skips them."""
    directory = directory or paths.migrations_dir()
    found: list[Migration] = []
    for path in sorted(directory.glob("*.sql")):
        match = MIGRATION_NAME.match(path.name)
        if match:
            found.append(Migration(match["version"], match["name"], path))
    return found


def run_script(url: str, path: Path) -> None:
    """Run one SQL file as a single script: inside one transaction, or in the transaction
    the file itself opens and commits (``begin; ... commit;``)."""
    sql = path.read_text(encoding="utf-8")
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(sql)


def apply_shim(url: str) -> None:
    """Make plain Postgres look like Supabase (roles, auth schema); idempotent, local only."""
    run_script(url, paths.shim_file())


def apply_seed(url: str) -> bool:
    """Load ``supabase/seed.sql`` if the project has one; return whether it ran."""
    seed = paths.seed_file()
    if not seed.is_file():
        return False
    run_script(url, seed)
    return True


def applied_versions(url: str) -> list[str]:
    """Return the versions already recorded in the history table (empty if it is absent)."""
    with psycopg.connect(url, autocommit=True) as conn:
        exists = conn.execute(
            "select to_regclass('supabase_migrations.schema_migrations') is not null"
        ).fetchone()
        if not exists or not exists[0]:
            return []
        rows = conn.execute(
            "select version from supabase_migrations.schema_migrations order by version"
        ).fetchall()
        return [row[0] for row in rows]


def apply_migrations(url: str, directory: Path | None = None) -> list[str]:
    """Apply pending migrations in order, one transaction each; return the files applied.

    Running it again applies nothing. A failing migration rolls back alone and raises, so
    the ones before it stay applied and recorded.
    """
    with psycopg.connect(url) as conn:
        conn.execute(HISTORY_DDL)
    applied: list[str] = []
    for migration in discover(directory):
        if _apply_one(url, migration):
            applied.append(migration.path.name)
    return applied


def _apply_one(url: str, migration: Migration) -> bool:
    """Apply and record one migration unless recorded; a fresh session each, so a ``set``
    in one file cannot leak into the next. Return whether it ran."""
    sql = migration.path.read_text(encoding="utf-8")
    with psycopg.connect(url) as conn:
        conn.execute("select pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
        done = conn.execute(
            "select 1 from supabase_migrations.schema_migrations where version = %s",
            (migration.version,),
        ).fetchone()
        if done:
            return False
        conn.execute(sql)
        conn.execute(
            "insert into supabase_migrations.schema_migrations (version, statements, name)"
            " values (%s, %s, %s)",
            (migration.version, split_statements(sql), migration.name),
        )
    return True


def bring_up_to_date(
    url: str, state_dir: Path, say: Callable[[str], None], seed: bool = True
) -> None:
    """A local database as ``make run`` wants it: the shim, every pending migration, and the
    seed the first time (remembered by a marker in ``state_dir``). ``seed=False`` (a
    database for adopting a shop's data) leaves the demo seed out, for good: the marker is
    set all the same. ``say`` gets progress."""
    apply_shim(url)
    for name in apply_migrations(url):
        say(f"applied migration {name}")
    marker = state_dir / SEEDED_MARKER
    if not seed:
        if not marker.exists():
            say("no demo seed (--no-seed): this database stays without it")
            marker.touch()
        return
    if not marker.exists() and apply_seed(url):
        say("loaded supabase/seed.sql")
        marker.touch()
