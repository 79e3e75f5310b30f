"""``customer-management migrate``: apply pending migrations to any Postgres or Supabase."""

from __future__ import annotations

import argparse
import os
from typing import Any

URL_ENVS = ("SUPABASE_DB_URL", "DATABASE_URL")


def register(subparsers: Any) -> None:
    """Add the ``migrate`` command."""
    parser = subparsers.add_parser(
        "migrate",
        help="apply pending supabase/migrations and record them like the Supabase CLI",
    )
    parser.add_argument(
        "--db-url",
        default=next((os.environ[e] for e in URL_ENVS if os.environ.get(e)), None),
        help="postgresql:// URL (default $SUPABASE_DB_URL or $DATABASE_URL)",
    )
    parser.add_argument(
        "--with-shim",
        action="store_true",
        help="first apply sql/supabase_shim.sql (plain local Postgres only, never Supabase)",
    )
    parser.set_defaults(func=cmd_migrate, parser=parser)


def cmd_migrate(args: argparse.Namespace) -> int:
    """Apply the shim when asked, then pending migrations; print what was applied."""
    from customer_management import migrations

    if not args.db_url:
        args.parser.error("--db-url is required (or set SUPABASE_DB_URL / DATABASE_URL)")
    if args.with_shim:
        migrations.apply_shim(args.db_url)
        print("applied the Supabase shim")
    applied = migrations.apply_migrations(args.db_url)
    for name in applied:
        print(f"applied migration {name}")
    print(f"{len(applied)} migration(s) applied; database is up to date")
    return 0
