"""The ``customer-management`` command: a thin argparse shell over per-concern registrars.

Each subcommand group lives in its own module exposing ``register(subparsers)``; this file
only lists them. A registrar module that is not installed (an optional part of the kit) is
skipped, so one missing piece never breaks the other commands.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Sequence

# Modules that add subcommands, in help order. Each defines register(subparsers) and sets
# ``func`` (argparse.Namespace -> int) on its parsers.
REGISTRARS: tuple[str, ...] = (
    "customer_management.cli_db",  # db start | stop | status
    "customer_management.cli_migrate",  # migrate
    "customer_management.cli_demo",  # demo
    "customer_management.cli_proxy",  # run | serve | token (the local API proxy)
)

Handler = Callable[[argparse.Namespace], int]


def build_parser() -> argparse.ArgumentParser:
    """Build the parser from every registrar that can be imported."""
    parser = argparse.ArgumentParser(
        prog="customer-management",
        description="One customer account per person across chatbot and web app (Supabase).",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    subparsers.required = True
    for module_name in REGISTRARS:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name == module_name:
                continue  # optional part not present
            raise
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` and run the chosen subcommand; return its exit status."""
    args = build_parser().parse_args(argv)
    handler: Handler = args.func
    return handler(args)


if __name__ == "__main__":
    sys.exit(main())
