"""``customer-management migrate | uninstall``: install the kit into any Postgres or
Supabase project, and take it out again."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

URL_ENVS = ("SUPABASE_DB_URL", "DATABASE_URL")


def _add_db_url(parser: argparse.ArgumentParser) -> None:
    """``--db-url`` (default ``$SUPABASE_DB_URL`` or ``$DATABASE_URL``)."""
    parser.add_argument(
        "--db-url",
        default=next((os.environ[e] for e in URL_ENVS if os.environ.get(e)), None),
        help="postgresql:// URL (default $SUPABASE_DB_URL or $DATABASE_URL)",
    )


def register(subparsers: Any) -> None:
    """Add ``migrate`` and ``uninstall``."""
    migrate = subparsers.add_parser(
        "migrate",
        help="apply pending supabase/migrations and record them like the Supabase CLI",
    )
    _add_db_url(migrate)
    migrate.add_argument(
        "--with-shim",
        action="store_true",
        help="first apply sql/supabase_shim.sql (plain local Postgres only, never Supabase)",
    )
    migrate.set_defaults(func=cmd_migrate, parser=migrate)

    uninstall = subparsers.add_parser(
        "uninstall",
        help="drop everything the kit created (its schema, tables, functions, triggers) "
        "and nothing else",
    )
    _add_db_url(uninstall)
    uninstall.add_argument(
        "--dry-run", action="store_true", help="list what would be dropped; change nothing"
    )
    uninstall.set_defaults(func=cmd_uninstall, parser=uninstall)


def cmd_migrate(args: argparse.Namespace) -> int:
    """Apply the shim when asked, then pending migrations; print what was applied."""
    from customer_management.local import migrations

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


def cmd_uninstall(args: argparse.Namespace) -> int:
    """List (``--dry-run``) or drop the kit's objects; print each one."""
    import psycopg

    from customer_management.local import uninstall

    if not args.db_url:
        args.parser.error("--db-url is required (or set SUPABASE_DB_URL / DATABASE_URL)")
    if uninstall.is_outdated(args.db_url):
        print(
            "this database has an older version of the kit, which does not list what it "
            "created: apply the pending migrations first (customer-management migrate, or "
            "supabase db push), then uninstall",
            file=sys.stderr,
        )
        return 1
    objects = uninstall.installed_objects(args.db_url)
    if not objects:
        print("the customer management kit is not installed here; nothing to drop")
        return 0
    verb = "would drop" if args.dry_run else "dropping"
    for item in objects:
        print(f"{verb} {item}")
    if args.dry_run:
        print(f"{len(objects)} object(s); nothing was changed (dry run)")
        return 0
    try:
        uninstall.uninstall(args.db_url)
    except psycopg.Error as exc:
        diag = exc.diag
        for line in (diag.message_primary, diag.message_detail, diag.message_hint):
            if line:
                print(line, file=sys.stderr)
        return 1
    print(f"dropped {len(objects)} object(s); the kit is uninstalled", file=sys.stdout)
    return 0
