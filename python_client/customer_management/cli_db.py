"""``customer-management db start|stop|status``: the embedded local Supabase-like Postgres."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

SEEDED_MARKER = ".seeded"


def register(subparsers: Any) -> None:
    """Add the ``db`` group and its ``start``, ``stop`` and ``status`` commands."""
    db = subparsers.add_parser("db", help="run a local Supabase-compatible PostgreSQL")
    actions = db.add_subparsers(dest="db_command", metavar="ACTION")
    actions.required = True

    start = actions.add_parser(
        "start", help="initialise (first time), start, migrate and seed; print the URL last"
    )
    _add_data_dir(start)
    start.add_argument("--port", type=int, default=None, help="TCP port (default 54322)")
    start.set_defaults(func=cmd_start)

    stop = actions.add_parser("stop", help="stop the local server")
    _add_data_dir(stop)
    stop.set_defaults(func=cmd_stop)

    status = actions.add_parser("status", help="say whether it runs; exit 3 when it does not")
    _add_data_dir(status)
    status.set_defaults(func=cmd_status)


def _add_data_dir(parser: argparse.ArgumentParser) -> None:
    """Add ``--data-dir`` (default ``.local/db`` under the project root)."""
    parser.add_argument(
        "--data-dir", type=Path, default=None, help="state directory (default .local/db)"
    )


def _server(args: argparse.Namespace) -> Any:
    """Build the LocalPostgres for the chosen data dir (imports lazily: keeps --help fast)."""
    from customer_management import paths
    from customer_management.localdb import DEFAULT_PORT, LocalPostgres

    data_dir: Path = args.data_dir or paths.default_data_dir()
    port: int = getattr(args, "port", None) or DEFAULT_PORT
    return LocalPostgres(data_dir, port=port)


def cmd_start(args: argparse.Namespace) -> int:
    """Start (or find running) the server, bring its schema up to date, print its URL."""
    from customer_management import migrations
    from customer_management.localdb import LocalDbError

    server = _server(args)
    try:
        if not server.start():
            print(f"already running (data dir {server.state_dir})")
            print(server.url)
            return 0
    except LocalDbError as exc:
        print(exc, file=sys.stderr)
        return 1
    print(f"started PostgreSQL (data dir {server.state_dir}, log {server.log_file})")
    url: str = server.url
    migrations.apply_shim(url)
    print("applied the Supabase shim")
    for name in migrations.apply_migrations(url):
        print(f"applied migration {name}")
    marker = server.state_dir / SEEDED_MARKER
    if not marker.exists() and migrations.apply_seed(url):
        print("loaded supabase/seed.sql")
        marker.touch()
    print(url)
    return 0


def cmd_stop(args: argparse.Namespace) -> int:
    """Stop the server of the data dir; stopping a stopped server is fine."""
    from customer_management.localdb import LocalDbError

    server = _server(args)
    try:
        stopped = server.stop()
    except LocalDbError as exc:
        print(exc, file=sys.stderr)
        return 1
    print("stopped" if stopped else "not running")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    """Print whether the server runs (and its URL); exit 0 if running, 3 if not."""
    server = _server(args)
    if server.is_running():
        print(f"running (data dir {server.state_dir})")
        print(server.url)
        return 0
    print(f"not running (data dir {server.state_dir})")
    return 3
