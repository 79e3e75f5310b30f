"""Where the kit's files live, so every command finds the SQL without being told.

The project root is the directory holding ``supabase/migrations`` (or ``supabase/config.toml``,
since git drops empty directories). It is found by walking up
from this file (an editable install or a checkout) and can be overridden with the environment
variable ``CUSTOMER_MANAGEMENT_ROOT`` (a wheel installed elsewhere, or tests using a copy).
"""

from __future__ import annotations

import os
from pathlib import Path

ROOT_ENV = "CUSTOMER_MANAGEMENT_ROOT"


def project_root() -> Path:
    """Return the project root, honouring ``CUSTOMER_MANAGEMENT_ROOT``, so SQL is found."""
    override = os.environ.get(ROOT_ENV)
    if override:
        return Path(override).resolve()
    here = Path(__file__).resolve()
    for candidate in here.parents:
        supabase = candidate / "supabase"
        if (supabase / "migrations").is_dir() or (supabase / "config.toml").is_file():
            return candidate
    raise FileNotFoundError(
        f"cannot find the project root (a directory containing supabase/migrations) above "
        f"{here}; set {ROOT_ENV} to the checkout"
    )


def migrations_dir() -> Path:
    """Return ``supabase/migrations``, the Supabase CLI's ordered migration files."""
    return project_root() / "supabase" / "migrations"


def shim_file() -> Path:
    """Return ``sql/supabase_shim.sql``, which makes plain Postgres look like Supabase."""
    return project_root() / "sql" / "supabase_shim.sql"


def seed_file() -> Path:
    """Return ``supabase/seed.sql``, the demo data a local database starts with."""
    return project_root() / "supabase" / "seed.sql"


def pgtap_dir() -> Path:
    """Return ``supabase/tests/database``, where ``supabase test db`` looks for pgTAP files."""
    return project_root() / "supabase" / "tests" / "database"


def default_data_dir() -> Path:
    """Return ``.local/db`` under the root: the default home of ``db start`` (git-ignored)."""
    return project_root() / ".local" / "db"
