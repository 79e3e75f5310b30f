"""``customer-management token``: a signed-in web user on the local database.

Creates (or reuses) a Supabase Auth user in the local database and prints only its access
token on stdout, for trying the web flow with curl or supabase-js. ``--support`` makes the
user a support agent (``app_metadata.role = support``), whose token the support console takes.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any


def register(subparsers: Any) -> None:
    """Add ``token``."""
    token = subparsers.add_parser(
        "token", help="create (or reuse) a local auth user and print an access token for it"
    )
    token.add_argument("--email", default=None)
    token.add_argument("--phone", default=None, help="E.164, e.g. +15551234567")
    token.add_argument("--confirmed", action="store_true", help="mark email and phone as verified")
    token.add_argument(
        "--support",
        action="store_true",
        help="make the user a support agent (app_metadata.role = support); needs --email",
    )
    token.add_argument("--db-url", default=None, help="default: the local database")
    token.add_argument("--expires-in", type=int, default=3600, help="seconds (default 3600)")
    token.set_defaults(func=cmd_token)


def cmd_token(args: argparse.Namespace) -> int:
    """Create or reuse a local auth user; print only the token on stdout."""
    import psycopg

    from customer_management.local import auth_users, keys
    from customer_management.local.server import url_for

    if not args.email and not args.phone:
        print("give --email and/or --phone", file=sys.stderr)
        return 2
    if args.support and not args.email:
        print("--support needs --email (the agent's sign-in)", file=sys.stderr)
        return 2
    db_url = args.db_url or os.environ.get("CUSTOMER_MANAGEMENT_DB_URL") or url_for()
    try:
        with psycopg.connect(db_url, autocommit=True) as conn:
            user = auth_users.ensure_user(conn, args.email, args.phone, args.confirmed)
            if args.support:
                user = auth_users.make_support_agent(conn, user)
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
    role = " as a support agent" if args.support else ""
    print(f"{verb} auth user {user.id} ({user.email or user.phone}){role}", file=sys.stderr)
    print(user.token(keys.jwt_secret_from_env(), args.expires_in))
    return 0
