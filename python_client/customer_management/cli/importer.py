"""``customer-management import``: bring a shop's existing customers (and orders) in."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from customer_management.cli.target import add_db_url, database_url, describe_failure


def register(subparsers: Any) -> None:
    """Add ``import``."""
    parser = subparsers.add_parser(
        "import",
        help="import legacy customers (CSV file or table) and their orders, as they are",
        description="Import legacy customers and their orders in one transaction. Columns: "
        "legacy_id, first_name, last_name, phone, email, allergies (;-separated), created_at; "
        "orders: legacy_customer_id, total, currency, status, delivery_date, created_at, "
        "items (JSON). Rejected rows go to a rejects file; a rerun adds nothing twice.",
    )
    parser.add_argument("customers", nargs="?", type=Path, help="customers CSV file")
    parser.add_argument(
        "--from-table", metavar="SCHEMA.TABLE", help="read customers from a table instead"
    )
    parser.add_argument("--orders", type=Path, metavar="FILE", help="orders CSV file")
    parser.add_argument(
        "--orders-from-table", metavar="SCHEMA.TABLE", help="read orders from a table"
    )
    parser.add_argument(
        "--rejects",
        type=Path,
        default=None,
        help="where to write rejected rows (default: <customers file>.rejects.csv, or "
        "import-rejects.csv for a table)",
    )
    parser.add_argument(
        "--verified",
        action="append",
        choices=("phone", "email"),
        default=[],
        help="the old system proved these (caller ID, confirmed addresses): they count as "
        "verified and open their account for the chatbot's line or a signed-in user's "
        "confirmed email (repeatable; default: neither, they are only asserted)",
    )
    parser.add_argument(
        "--map",
        action="append",
        default=[],
        metavar="THEIRS=OURS",
        help="read the customers' column THEIRS as the kit's column OURS, e.g. "
        "--map surname=last_name (repeatable; works for a file and a table)",
    )
    parser.add_argument(
        "--orders-map",
        action="append",
        default=[],
        metavar="THEIRS=OURS",
        help="the same for the orders, e.g. --orders-map client=legacy_customer_id",
    )
    parser.add_argument(
        "--chunk-lines", type=int, default=5000, help="rows per import step (default 5000)"
    )
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    add_db_url(parser)
    parser.set_defaults(func=cmd_import, parser=parser)


def cmd_import(args: argparse.Namespace) -> int:
    """Run the import; print a summary; 1 when nothing was imported because it failed."""
    import psycopg

    from customer_management.batch.csvfiles import CUSTOMER_COLUMNS, ORDER_COLUMNS, CsvFileError
    from customer_management.batch.importer import Source, run_import
    from customer_management.batch.progress import Progress

    if (args.customers is None) == (args.from_table is None):
        args.parser.error("give a customers CSV file or --from-table, not both")
    if args.orders is not None and args.orders_from_table is not None:
        args.parser.error("give --orders or --orders-from-table, not both")
    if args.chunk_lines < 1:
        args.parser.error("--chunk-lines must be at least 1")
    for path in (args.customers, args.orders):
        if path is not None and not path.is_file():
            print(f"no such file: {path}", file=sys.stderr)
            return 1
    try:
        customer_map = parse_mapping(args.map, CUSTOMER_COLUMNS)
        order_map = parse_mapping(args.orders_map, ORDER_COLUMNS)
    except ValueError as exc:
        args.parser.error(str(exc))
    customers = Source(path=args.customers, table=args.from_table, columns=customer_map)
    orders = (
        Source(path=args.orders, table=args.orders_from_table, columns=order_map)
        if args.orders is not None or args.orders_from_table is not None
        else None
    )
    rejects = args.rejects or (
        args.customers.with_name(args.customers.name + ".rejects.csv")
        if args.customers is not None
        else Path("import-rejects.csv")
    )
    try:
        with Progress(enabled=not args.json) as progress:
            summary = run_import(
                database_url(args),
                customers,
                orders,
                rejects,
                progress,
                args.chunk_lines,
                tuple(sorted(set(args.verified))),
            )
    except CsvFileError as exc:
        print(str(exc), file=sys.stderr)
        return 1
    except psycopg.Error as exc:
        print(f"import failed, nothing was imported: {describe_failure(exc)}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(summary.as_json(), indent=2))
        return 0
    c, o = summary.customers, summary.orders
    print(
        f"customers: {c.get('imported', 0)} imported, {c.get('skipped', 0)} already imported, "
        f"{c.get('rejected', 0)} rejected (of {c.get('rows', 0)} rows)"
    )
    print(
        f"identifiers: {c.get('identifiersActive', 0)} active, {c.get('identifiersHeld', 0)} "
        f"held for deduplication (another account has them); "
        f"{c.get('placeholdersDropped', 0)} placeholders dropped"
    )
    if c.get("valuesDropped"):
        print(
            f"malformed phones or emails left out: {c['valuesDropped']} (their rows were "
            "imported without them; each is in the rejects file)"
        )
    if c.get("unreachable"):
        print(
            f"imported with neither a phone nor an email: {c['unreachable']} (no lookup finds "
            "them; listed in the rejects file; dedupe --suggest may tie them to others by name)"
        )
    if orders is not None:
        print(
            f"orders: {o.get('imported', 0)} imported, {o.get('skipped', 0)} skipped "
            f"(their customer's orders came in before), {o.get('rejected', 0)} rejected "
            f"(of {o.get('rows', 0)} rows)"
        )
    for kind, names in summary.ignored_columns.items():
        print(f"ignored {kind} columns: {', '.join(names)}")
    if summary.rejects_file is not None:
        print(f"rejected rows and left-out values (line, column, reason): {summary.rejects_file}")
    print(f"done in {summary.seconds:.1f} s; next: customer-management dedupe (a dry run)")
    return 0


def parse_mapping(pairs: list[str], columns: tuple[str, ...]) -> dict[str, str]:
    """``--map THEIRS=OURS`` options as {kit column: source column}; ValueError when one is
    malformed, names no kit column, or two map onto one."""
    mapping: dict[str, str] = {}
    for pair in pairs:
        theirs, _, ours = (part.strip() for part in pair.partition("="))
        if not theirs or not ours:
            raise ValueError(f"--map {pair!r}: write THEIRS=OURS, e.g. surname=last_name")
        ours = ours.lower()
        if ours not in columns:
            raise ValueError(
                f"--map {pair!r}: {ours} is none of the kit's columns ({', '.join(columns)})"
            )
        if ours in mapping:
            raise ValueError(f"--map: two columns are mapped onto {ours}")
        mapping[ours] = theirs
    return mapping
