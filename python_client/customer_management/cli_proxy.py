"""``customer-management run | serve | token``: the local API, like ``supabase start``.

``run`` starts the embedded database (data kept in ``.local/db``), brings its schema up to
date, loads the seed once, and serves the proxy on 127.0.0.1:54321 until Ctrl-C or SIGTERM,
then stops the database it started. ``serve`` is the proxy alone, for a database that is
already running (or, with ``--forward``, for a hosted project). ``token`` makes a local
Supabase Auth user and prints its access token for trying the web flow.
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
    """Add ``run``, ``serve`` and ``token``."""
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

    token = subparsers.add_parser(
        "token", help="create (or reuse) a local auth user and print an access token for it"
    )
    token.add_argument("--email", default=None)
    token.add_argument("--phone", default=None, help="E.164, e.g. +15551234567")
    token.add_argument("--confirmed", action="store_true", help="mark email and phone as verified")
    token.add_argument("--db-url", default=None, help="default: the local database")
    token.add_argument("--expires-in", type=int, default=3600, help="seconds (default 3600)")
    token.set_defaults(func=cmd_token)


def _add_listen(parser: argparse.ArgumentParser) -> None:
    """``--host`` and ``--port`` of the API."""
    parser.add_argument("--host", default=DEFAULT_HOST)
    parser.add_argument("--port", type=int, default=DEFAULT_API_PORT)


def _interrupt(signum: int, frame: FrameType | None) -> None:
    """SIGTERM behaves like Ctrl-C, so cleanup code runs."""
    raise KeyboardInterrupt


def _local_db_url(user: str, port: int | None = None) -> str:
    """URL of the local database as ``user`` (``authenticator`` for the API)."""
    from customer_management.localdb import DEFAULT_PORT

    return f"postgresql://{user}@127.0.0.1:{port or DEFAULT_PORT}/postgres"


def banner(api_url: str, db_url: str, secret: str) -> str:
    """What ``run`` prints once the API listens: URLs, keys and a curl to try."""
    from customer_management import keys

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
            "Chatbot lookup (the brief's example):",
            f"  curl -sS {api_url}/functions/v1/customer-management \\",
            f'    -H "Authorization: Bearer {service}" \\',
            '    -H "Content-Type: application/json" \\',
            f"    -d '{CHATBOT_LOOKUP}'",
            "",
            "A signed-in web user: customer-management token --email you@example.com --confirmed",
            "",
        ]
    )


def cmd_run(args: argparse.Namespace) -> int:
    """Database + migrations + seed + proxy; stop what was started on exit."""
    from customer_management import keys, migrations, paths
    from customer_management.cli_db import SEEDED_MARKER
    from customer_management.localdb import DEFAULT_PORT, LocalDbError, LocalPostgres

    signal.signal(signal.SIGTERM, _interrupt)
    server = LocalPostgres(
        args.data_dir or paths.default_data_dir(), port=args.db_port or DEFAULT_PORT
    )
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
        migrations.apply_shim(db_url)
        for name in migrations.apply_migrations(db_url):
            print(f"applied migration {name}", file=sys.stderr)
        marker = server.state_dir / SEEDED_MARKER
        if not marker.exists() and migrations.apply_seed(db_url):
            print("loaded supabase/seed.sql", file=sys.stderr)
            marker.touch()
        port = server.running_port() or server.port
        secret = keys.jwt_secret_from_env()
        return _serve_db(_local_db_url("authenticator", port), args.host, args.port, secret, db_url)
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
            or _local_db_url("authenticator")
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


def cmd_token(args: argparse.Namespace) -> int:
    """Create or reuse a local auth user; print only the token on stdout."""
    import psycopg

    from customer_management import keys, localauth

    if not args.email and not args.phone:
        print("give --email and/or --phone", file=sys.stderr)
        return 2
    db_url = (
        args.db_url or os.environ.get("CUSTOMER_MANAGEMENT_DB_URL") or _local_db_url("postgres")
    )
    try:
        with psycopg.connect(db_url, autocommit=True) as conn:
            user = localauth.ensure_user(conn, args.email, args.phone, args.confirmed)
    except psycopg.OperationalError as exc:
        print(f"cannot reach the database ({exc}); start it with `make run`", file=sys.stderr)
        return 1
    except psycopg.errors.UniqueViolation:
        print("another auth user already has that phone or email", file=sys.stderr)
        return 1
    except (psycopg.Error, ValueError) as exc:
        message = getattr(getattr(exc, "diag", None), "message_primary", None) or str(exc)
        print(f"cannot create the user: {message}", file=sys.stderr)
        return 1
    verb = "created" if user.created else "reusing"
    print(f"{verb} auth user {user.id} ({user.email or user.phone})", file=sys.stderr)
    print(localauth.token_for(user, keys.jwt_secret_from_env(), args.expires_in))
    return 0
