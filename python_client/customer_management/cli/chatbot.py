"""``customer-management mcp | tools``: the chatbot tools for LLM agents.

``mcp`` serves them over MCP (stdio by default, or streamable HTTP) for one caller, whose
identity the telephony or chat layer gives when it starts the server: ``--line`` (or
``CUSTOMER_MANAGEMENT_CALLER_LINE``) for a phone call, ``CUSTOMER_MANAGEMENT_ACCESS_TOKEN``
for a signed-in user. Over HTTP without one, each session names its caller in headers.
The kit is reached at ``--url`` (default ``SUPABASE_URL``) with
``SUPABASE_SERVICE_ROLE_KEY``, read from the environment only: argv is visible to every
user of the machine. Users' tokens are verified with ``SUPABASE_JWT_SECRET`` or the JWKS in
``SUPABASE_JWKS_URL`` / ``SUPABASE_JWKS`` (the Supabase CLI's local secret only for a kit
on this machine), as the kit's proxy verifies them. ``tools`` prints the same tools as
OpenAI or Anthropic function definitions.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shlex
import sys
from typing import Any

LINE_ENV = "CUSTOMER_MANAGEMENT_CALLER_LINE"
TOKEN_ENV = "CUSTOMER_MANAGEMENT_ACCESS_TOKEN"
TELEPHONY_KEY_ENV = "CUSTOMER_MANAGEMENT_TELEPHONY_KEY"
DELIVER_TOKEN_ENV = "CUSTOMER_MANAGEMENT_DELIVER_TOKEN"
SERVICE_KEY_ENVS = ("SUPABASE_SERVICE_ROLE_KEY", "SUPABASE_KEY")
DEFAULT_HTTP_PORT = 54330
# Supabase Auth's access tokens carry this audience.
USER_TOKEN_AUDIENCE = "authenticated"


def register(subparsers: Any) -> None:
    """Add ``mcp`` and ``tools``."""
    mcp = subparsers.add_parser(
        "mcp", help="serve the chatbot tools over MCP for one caller (stdio or streamable HTTP)"
    )
    mcp.add_argument("--transport", choices=("stdio", "http"), default="stdio")
    mcp.add_argument("--host", default="127.0.0.1", help="HTTP only (default 127.0.0.1)")
    mcp.add_argument("--port", type=int, default=DEFAULT_HTTP_PORT, help="HTTP only")
    mcp.add_argument("--path", default="/mcp", help="HTTP only (default /mcp)")
    mcp.add_argument("--url", default=None, help="the Supabase URL (default $SUPABASE_URL)")
    mcp.add_argument(
        "--line", default=None, help=f"the caller's line in E.164 (default ${LINE_ENV})"
    )
    hook = mcp.add_mutually_exclusive_group()
    hook.add_argument(
        "--deliver-command",
        default=None,
        help="command that emails a code: it gets CUSTOMER_MANAGEMENT_CODE, "
        "CUSTOMER_MANAGEMENT_TO, CUSTOMER_MANAGEMENT_CHANNEL and "
        "CUSTOMER_MANAGEMENT_EXPIRES_AT in its environment",
    )
    hook.add_argument(
        "--deliver-url",
        default=None,
        help=f"URL that gets each code as a JSON POST (bearer: ${DELIVER_TOKEN_ENV})",
    )
    mcp.add_argument("--log-level", default="INFO", choices=("DEBUG", "INFO", "WARNING", "ERROR"))
    mcp.set_defaults(func=cmd_mcp)

    tools = subparsers.add_parser(
        "tools", help="print the chatbot tools as function-calling definitions (JSON)"
    )
    tools.add_argument("--format", choices=("openai", "anthropic"), default="openai")
    tools.set_defaults(func=cmd_tools)


def cmd_tools(args: argparse.Namespace) -> int:
    """Print the definitions."""
    from customer_management.mcp.definitions import FORMATS

    print(json.dumps(FORMATS[args.format](), indent=2, ensure_ascii=False))
    return 0


def _fail(message: str) -> int:
    print(f"customer-management mcp: {message}", file=sys.stderr)
    return 2


def cmd_mcp(args: argparse.Namespace) -> int:
    """Check the configuration, then serve until the client disconnects or Ctrl-C."""
    import anyio

    from customer_management.mcp.delivery import CommandDelivery, Delivery, UrlDelivery
    from customer_management.mcp.identity import IdentityError, SessionIdentity
    from customer_management.mcp.server import ServerConfig, serve_http, serve_stdio
    from customer_management.mcp.session import KitConnection
    from customer_management.tokens import TokenKeys, TokenVerifier

    url = args.url or os.environ.get("SUPABASE_URL")
    key = next((os.environ[name] for name in SERVICE_KEY_ENVS if os.environ.get(name)), None)
    if not url or not key:
        return _fail("set SUPABASE_URL (or --url) and SUPABASE_SERVICE_ROLE_KEY")
    line = args.line or os.environ.get(LINE_ENV) or None
    token = os.environ.get(TOKEN_ENV) or None
    try:
        identity = SessionIdentity(line=line, access_token=token) if line or token else None
    except IdentityError as exc:
        return _fail(str(exc))
    telephony_key = os.environ.get(TELEPHONY_KEY_ENV) or None
    if identity is None and args.transport == "stdio":
        return _fail(f"give the caller: --line (or ${LINE_ENV}) or ${TOKEN_ENV}")

    delivery: Delivery | None = None
    try:
        if args.deliver_command:
            argv = shlex.split(args.deliver_command)
            if not argv:
                return _fail("--deliver-command is empty")
            delivery = CommandDelivery(argv)
        elif args.deliver_url:
            delivery = UrlDelivery(args.deliver_url, os.environ.get(DELIVER_TOKEN_ENV) or None)
    except ValueError as exc:
        return _fail(str(exc))

    # The chosen level is for the kit's own log only: at debug level the mcp and HTTP
    # libraries log whole messages, and a tool's arguments can hold a verification code.
    logging.basicConfig(
        level=logging.WARNING, stream=sys.stderr, format="customer-management mcp: %(message)s"
    )
    logging.getLogger("customer_management").setLevel(args.log_level)
    keys = TokenKeys.from_env(os.environ, url, audience=USER_TOKEN_AUDIENCE)
    verifier = TokenVerifier(keys) if keys.configured else None
    if verifier is None and identity is None:
        logging.getLogger("customer_management.mcp").warning(
            "no SUPABASE_JWT_SECRET or JWKS: access tokens are refused, only lines are served"
        )
    config = ServerConfig(
        KitConnection(url, key, os.environ.get("SUPABASE_ANON_KEY") or None),
        delivery,
        identity,
        telephony_key,
        verifier,
    )
    caller = identity.describe() if identity else "callers named per session"
    hook_text = "no code delivery" if delivery is None else f"codes by {type(delivery).__name__}"
    try:
        if args.transport == "stdio":
            logging.getLogger("customer_management.mcp").info(
                "stdio for %s, kit at %s, %s", caller, url, hook_text
            )
            anyio.run(serve_stdio, config)
        else:
            endpoint = f"http://{args.host}:{args.port}{args.path}"
            logging.getLogger("customer_management.mcp").info(
                "streamable HTTP on %s for %s, kit at %s, %s", endpoint, caller, url, hook_text
            )
            anyio.run(serve_http, config, args.host, args.port, args.path)
    except KeyboardInterrupt:
        pass
    return 0
