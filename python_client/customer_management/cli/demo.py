"""``customer-management demo``: three scenarios replayed on a throwaway database."""

from __future__ import annotations

import argparse
import importlib
from typing import Any


def register(subparsers: Any) -> None:
    """Add the ``demo`` command; its own options are parsed by ``demo.main``."""
    parser = subparsers.add_parser(
        "demo",
        help="replay three scenarios (chatbot then web, web then chatbot, a conflict) "
        "on a throwaway local database",
    )
    parser.add_argument("--compact", action="store_true", help="one line per JSON document")
    parser.set_defaults(func=cmd_demo)


def cmd_demo(args: argparse.Namespace) -> int:
    """Hand over to ``customer_management.local.demo.main`` (imported only when used)."""
    demo = importlib.import_module("customer_management.local.demo")
    status: int | None = demo.main(["--compact"] if args.compact else [])
    return status or 0
