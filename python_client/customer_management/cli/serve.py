"""``customer-management run | serve``: the local API, like ``supabase start``.

``run`` starts the embedded database (data kept in ``.local/db``), brings its schema up to
date, loads the seed once, and serves the proxy on 127.0.0.1:54321 until Ctrl-C or SIGTERM,
then stops the database it started. ``serve`` is the proxy alone, for a database that is
already running (or, with ``--forward``, for a hosted project).
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from pathlib import Path
from types import FrameType
from typing import Any

DEFAULT_HOST = "127.0.0.1"
DEFAULT_API_PORT = 54321
CHATBOT_LOOKUP = '{"phone":"+15551234567","source":"chatbot"}'


def register(subparsers: Any) -> None:
    """Add ``run`` and ``serve``."""
    run = subparsers.add_parser(
        "run", help="start the local database and the API on 127.0.0.1:54321 (Ctrl-C stops both)"
    )
    run.add_argument("--data-dir", type=Path, default=None, help="default .local/db")
    run.add_argument("--db-port", type=int, default=None, help="database port (default 54322)")
    _add_listen(run)
    run.set_defaults(func=cmd_run)

    serve = subparsers.add_parser("serve", help="serve the API proxy for an existing database")
    serve.add_argument("--db-url", default=None, help="libpq URL (default: the local database)")
    serve.add_argument(
        "--forward",
        action="store_true",
        help="forward to a Supabase project instead (SUPABASE_URL and SUPABASE_ANON_KEY, or "
        "--upstream-url/--upstream-key)",
    )
    serve.add_argument("--upstream-url", default=None)
    serve.add_argument("--upstream-key", default=None)
    _add_listen(serve)
    serve.set_defaults(func=cmd_serve)


def _add_listen(parser: argparse.ArgumentParser) -> None:
    """``--host`` and ``--port`` of the API."""
    parser.add_argument("--host", default=DEFAULT_HOST)
    parser.add_argument("--port", type=int, default=DEFAULT_API_PORT)


def _interrupt(signum: int, frame: FrameType | None) -> None:
    """SIGTERM behaves like Ctrl-C, so cleanup code runs."""
    raise KeyboardInterrupt


def banner(api_url: str, db_url: str, secret: str) -> str:
    """What ``run`` prints once the API listens: URLs, keys and a curl to try."""
    from customer_management.local import keys

    service = keys.service_role_key(secret)
    return "\n".join(
        [
            "Customer management API is running. Ctrl-C stops it.",
            "",
            f"         API URL: {api_url}",
            f"          DB URL: {db_url}",
            f"      JWT secret: {secret}",
            f"        anon key: {keys.anon_key(secret)}",
            f"service_role key: {service}",
            "",
            "Chatbot lookup (the seeded returning customer):",
            f"  curl -sS {api_url}/functions/v1/customer-management \\",
            f'    -H "Authorization: Bearer {service}" \\',
            '    -H "Content-Type: application/json" \\',
            f"    -d '{CHATBOT_LOOKUP}'",
            "",
            "A signed-in web user: customer-management token --email you@example.com --confirmed",
            f"Support console: {api_url}/console (sign in with the token of "
            "customer-management token --support --email agent@example.com)",
            "",
        ]
    )


def cmd_run(args: argparse.Namespace) -> int:
    """Database + migrations + seed + proxy; stop what was started on exit."""
    from customer_management.cli.db import local_server
    from customer_management.local import keys, migrations
    from customer_management.local.server import LocalDbError, url_for

    signal.signal(signal.SIGTERM, _interrupt)
    server = local_server(args.data_dir, args.db_port)
    try:
        started = server.start()
    except LocalDbError as exc:
        print(exc, file=sys.stderr)
        return 1
    print(
        ("started" if started else "reusing the running")
        + f" PostgreSQL (data dir {server.state_dir})",
        file=sys.stderr,
    )
    try:
        db_url: str = server.url
        migrations.bring_up_to_date(
            db_url, server.state_dir, lambda line: print(line, file=sys.stderr)
        )
        port = server.running_port() or server.port
        secret = keys.jwt_secret_from_env()
        return _serve_db(url_for(port, user="authenticator"), args.host, args.port, secret, db_url)
    except KeyboardInterrupt:
        return 130
    finally:
        if started:
            server.stop()
            print("stopped PostgreSQL", file=sys.stderr)


def _serve_db(proxy_db_url: str, host: str, port: int, secret: str, shown_db_url: str) -> int:
    """Serve the proxy on ``proxy_db_url`` in the foreground; print the banner when ready."""
    from customer_management.proxy import Settings, create_app
    from customer_management.proxy.server import configure_logging, serve

    configure_logging()
    api_url = f"http://{host}:{port}"
    app = create_app(Settings(db_url=proxy_db_url, jwt_secret=secret))
    try:
        ok = serve(
            app,
            host,
            port,
            on_ready=lambda: print(banner(api_url, shown_db_url, secret), flush=True),
        )
    except KeyboardInterrupt:
        return 0
    return 0 if ok else 1


def cmd_serve(args: argparse.Namespace) -> int:
    """The proxy alone: database mode, or forward mode with ``--forward``."""
    from customer_management.local.server import url_for
    from customer_management.proxy import Settings, create_app
    from customer_management.proxy.server import configure_logging, serve

    env = {k: v for k, v in os.environ.items() if k != "CUSTOMER_MANAGEMENT_UPSTREAM_URL"}
    if args.forward:
        url = args.upstream_url or os.environ.get("SUPABASE_URL")
        key = (
            args.upstream_key
            or os.environ.get("SUPABASE_ANON_KEY")
            or os.environ.get("SUPABASE_KEY")
        )
        if not url or not key:
            print(
                "--forward needs SUPABASE_URL and SUPABASE_ANON_KEY (or the flags)", file=sys.stderr
            )
            return 2
        env.update(CUSTOMER_MANAGEMENT_UPSTREAM_URL=url, CUSTOMER_MANAGEMENT_UPSTREAM_KEY=key)
    else:
        env["CUSTOMER_MANAGEMENT_DB_URL"] = (
            args.db_url
            or os.environ.get("CUSTOMER_MANAGEMENT_DB_URL")
            or os.environ.get("DATABASE_URL")
            or url_for(user="authenticator")
        )
    try:
        settings = Settings.from_env(env)
    except ValueError as exc:
        print(f"cannot serve: {exc}", file=sys.stderr)
        return 2
    signal.signal(signal.SIGTERM, _interrupt)
    configure_logging()
    app = create_app(settings)
    print(f"serving on http://{args.host}:{args.port}", file=sys.stderr)
    try:
        ok = serve(app, args.host, args.port)
    except KeyboardInterrupt:
        return 0
    return 0 if ok else 1
