"""``customer-management db start|stop|status``: the embedded local Supabase-like Postgres."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any


def register(subparsers: Any) -> None:
    """Add the ``db`` group and its ``start``, ``stop`` and ``status`` commands."""
    db = subparsers.add_parser("db", help="run a local Supabase-compatible PostgreSQL")
    actions = db.add_subparsers(dest="db_command", metavar="ACTION")
    actions.required = True

    start = actions.add_parser(
        "start", help="initialise (first time), start, migrate and seed; print the URL last"
    )
    add_data_dir(start)
    start.add_argument("--port", type=int, default=None, help="TCP port (default 54322)")
    start.add_argument(
        "--no-seed",
        action="store_true",
        help="leave out the demo customer of supabase/seed.sql, for good (a database for "
        "importing a shop's own customers)",
    )
    start.set_defaults(func=cmd_start)

    stop = actions.add_parser("stop", help="stop the local server")
    add_data_dir(stop)
    stop.set_defaults(func=cmd_stop)

    status = actions.add_parser("status", help="say whether it runs; exit 3 when it does not")
    add_data_dir(status)
    status.set_defaults(func=cmd_status)


def add_data_dir(parser: argparse.ArgumentParser) -> None:
    """Add ``--data-dir`` (default ``.local/db`` under the current directory)."""
    parser.add_argument(
        "--data-dir", type=Path, default=None, help="state directory (default .local/db)"
    )


def local_server(data_dir: Path | None, port: int | None = None) -> Any:
    """The LocalPostgres of a data dir (imported lazily: keeps ``--help`` fast)."""
    from customer_management.local import paths
    from customer_management.local.server import DEFAULT_PORT, LocalPostgres

    return LocalPostgres(data_dir or paths.default_data_dir(), port=port or DEFAULT_PORT)


def cmd_start(args: argparse.Namespace) -> int:
    """Start (or find running) the server, bring its schema up to date, print its URL."""
    from customer_management.local import migrations
    from customer_management.local.server import DEFAULT_PORT, LocalDbError

    server = local_server(args.data_dir, args.port)
    port = args.port or DEFAULT_PORT
    if not server.status().running and port_in_use(port):
        print(
            f"port {port} is taken by another program (another local database, or `make run` "
            f"of another checkout): start this one on a free port, e.g. "
            f"`customer-management db start --port {port + 10}`, and use the URL it prints",
            file=sys.stderr,
        )
        return 1
    try:
        started = server.start(report=print)
    except LocalDbError as exc:
        print(exc, file=sys.stderr)
        return 1
    if started:
        print(f"started PostgreSQL (data dir {server.state_dir}, log {server.log_file})")
    else:
        print(f"already running (data dir {server.state_dir})")
    url: str = server.url
    migrations.bring_up_to_date(url, server.state_dir, print, seed=not args.no_seed)
    print(url)
    return 0


def cmd_stop(args: argparse.Namespace) -> int:
    """Stop the server of the data dir; stopping a stopped server is fine."""
    from customer_management.local.server import LocalDbError

    server = local_server(args.data_dir)
    try:
        stopped = server.stop()
    except LocalDbError as exc:
        print(exc, file=sys.stderr)
        return 1
    print("stopped" if stopped else "not running")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    """Print whether the server runs (and its URL); exit 0 if running, 3 if not.

    "running" means checked, not read from ``postmaster.pid``: its PID is this data dir's
    live postmaster and the port accepts a connection (see ``LocalPostgres.status``).
    """
    from customer_management.local.server import NOT_READY, STALE

    server = local_server(args.data_dir)
    status = server.status()
    if status.running:
        print(f"running (data dir {server.state_dir}, PID {status.pid})")
        print(url_for_port(status.port))
        return 0
    if status.state == NOT_READY:
        print(
            f"not accepting connections (data dir {server.state_dir}): PostgreSQL "
            f"(PID {status.pid}) is starting, recovering or stopping: {status.detail}"
        )
    elif status.state == STALE:
        print(
            f"not running (data dir {server.state_dir}): {status.detail}; "
            "`customer-management db start` clears it and starts the server"
        )
    else:
        print(f"not running (data dir {server.state_dir})")
    return 3


def url_for_port(port: int | None) -> str:
    """The local server's URL on ``port``."""
    from customer_management.local.server import DEFAULT_PORT, url_for

    return url_for(port or DEFAULT_PORT)


def port_in_use(port: int) -> bool:
    """Whether something accepts connections on 127.0.0.1:``port``."""
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.settimeout(1.0)
        return probe.connect_ex(("127.0.0.1", port)) == 0
