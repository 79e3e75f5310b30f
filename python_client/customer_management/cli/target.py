"""Which database the batch commands (``import``, ``dedupe``, ``report``) work on.

``--db-url`` if given, else ``$SUPABASE_DB_URL``, ``$DATABASE_URL`` or
``$CUSTOMER_MANAGEMENT_DB_URL`` (as ``migrate`` and ``run`` read them), else the embedded
local database that ``make run`` and ``customer-management db start`` serve.
"""

from __future__ import annotations

import argparse
import os

URL_ENVS = ("SUPABASE_DB_URL", "DATABASE_URL", "CUSTOMER_MANAGEMENT_DB_URL")


def add_db_url(parser: argparse.ArgumentParser) -> None:
    """Add ``--db-url``."""
    parser.add_argument(
        "--db-url",
        default=None,
        help="postgresql:// URL (default $SUPABASE_DB_URL, $DATABASE_URL, else the local "
        "database of `make run`)",
    )


def database_url(args: argparse.Namespace) -> str:
    """The URL to connect to, as documented above."""
    if args.db_url:
        return str(args.db_url)
    for name in URL_ENVS:
        if os.environ.get(name):
            return os.environ[name]
    from customer_management.local.server import url_for

    return url_for()


def describe_failure(error: Exception) -> str:
    """One line for a database error that stopped a command."""
    import psycopg

    if isinstance(error, psycopg.OperationalError):
        return (
            f"cannot reach the database ({str(error).strip()}); start it with `make run` "
            "or pass --db-url"
        )
    if isinstance(error, psycopg.errors.UndefinedFunction) and "customer_management." in str(error):
        return (
            "the kit is not installed in this database, or is older than this command: run "
            "`customer-management migrate --db-url ...`"
        )
    if isinstance(error, psycopg.Error) and error.diag.message_primary:
        detail = error.diag.message_detail
        return error.diag.message_primary + (f": {detail}" if detail else "")
    return str(error)
