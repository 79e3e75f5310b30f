"""Where the kit's SQL lives, and where local state goes.

The SQL ships inside the package (``customer_management/bundled``): in a checkout and an
editable install those are links to the repository's ``supabase/`` and ``sql/`` (and
``console/``, the support console the proxy serves); a wheel carries copies. Either way
every command finds the migrations without being told, from any working directory.

Local state (the embedded database) goes to ``.local/`` under the current directory, the way
the Supabase CLI keeps its project in ``./supabase``; ``CUSTOMER_MANAGEMENT_DATA_DIR``
overrides it.
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

DATA_DIR_ENV = "CUSTOMER_MANAGEMENT_DATA_DIR"


def bundled() -> Path:
    """The package's ``bundled`` directory (``supabase/`` and ``sql/`` inside)."""
    return Path(str(resources.files("customer_management") / "bundled"))


def migrations_dir() -> Path:
    """``supabase/migrations``: the Supabase CLI's ordered migration files."""
    return bundled() / "supabase" / "migrations"


def seed_file() -> Path:
    """``supabase/seed.sql``: the sample data a local database starts with."""
    return bundled() / "supabase" / "seed.sql"


def shim_file() -> Path:
    """``sql/supabase_shim.sql``: makes a plain local Postgres look like Supabase."""
    return bundled() / "sql" / "supabase_shim.sql"


def uninstall_file() -> Path:
    """``sql/uninstall.sql``: drops everything the kit created, nothing else."""
    return bundled() / "sql" / "uninstall.sql"


def default_data_dir() -> Path:
    """``.local/db`` under the current directory (or ``$CUSTOMER_MANAGEMENT_DATA_DIR``)."""
    override = os.environ.get(DATA_DIR_ENV)
    return Path(override) if override else Path.cwd() / ".local" / "db"
