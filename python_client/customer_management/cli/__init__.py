"""The ``customer-management`` command: a thin argparse shell over per-concern registrars.

Each subcommand group lives in its own module exposing ``register(subparsers)``; this file
only lists them. Registrars import nothing beyond the standard library: a command's handler
imports what it needs when it runs, so a client-only install still lists every command and
explains which extra a missing one needs.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Sequence

from customer_management import __version__

# Modules that add subcommands, in help order. Each defines register(subparsers) and sets
# ``func`` (argparse.Namespace -> int) on its parsers.
REGISTRARS: tuple[str, ...] = (
    "customer_management.cli.db",  # db start | stop | status
    "customer_management.cli.migrate",  # migrate | uninstall
    "customer_management.cli.serve",  # run | serve (the local API)
    "customer_management.cli.token",  # token (a local signed-in user)
    "customer_management.cli.demo",  # demo
    "customer_management.cli.chatbot",  # mcp | tools (the chatbot tools for LLM agents)
    "customer_management.cli.importer",  # import (legacy customers and orders)
    "customer_management.cli.dedupe",  # dedupe (plan, --apply, --suggest)
    "customer_management.cli.undo",  # undo MERGE_ID [--cascade]
    "customer_management.cli.report",  # report (the analytics views)
)

# Which extra brings a third-party module a command needs.
EXTRA_FOR_MODULE: dict[str, str] = {
    "psycopg": "local",
    "jwt": "local",
    "psycopg_pool": "proxy",
    "starlette": "proxy",
    "uvicorn": "proxy",
    "httpx": "proxy",
    "mcp": "mcp",
    "rich": "local",
    "matplotlib": "bench",
}

Handler = Callable[[argparse.Namespace], int]


def build_parser() -> argparse.ArgumentParser:
    """Build the parser from every registrar."""
    parser = argparse.ArgumentParser(
        prog="customer-management",
        description="One customer account per person across chatbot and web app (Supabase).",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    subparsers.required = True
    for module_name in REGISTRARS:
        importlib.import_module(module_name).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` and run the chosen subcommand; return its exit status."""
    args = build_parser().parse_args(argv)
    handler: Handler = args.func
    try:
        return handler(args)
    except ModuleNotFoundError as exc:
        top = (exc.name or "").split(".")[0]
        extra = EXTRA_FOR_MODULE.get(top)
        if extra is None:
            raise
        print(
            f"`customer-management {args.command}` needs the {extra!r} extra: "
            f"pip install 'customer-management[{extra}]'",
            file=sys.stderr,
        )
        return 2


if __name__ == "__main__":
    sys.exit(main())
