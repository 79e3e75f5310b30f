"""``customer-management report``: the analytics views as tables, CSV files with --csv
(safe to open in a spreadsheet), and charts with --png."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from customer_management.cli.target import add_db_url, database_url, describe_failure


def register(subparsers: Any) -> None:
    """Add ``report``."""
    parser = subparsers.add_parser(
        "report",
        help="print the analytics views (account sources, accounts seen on several channels, "
        "completeness, ...)",
    )
    parser.add_argument(
        "--png",
        type=Path,
        metavar="DIR",
        help="also write charts (account sources, accounts on several channels, completeness) "
        "into DIR "
        "(needs matplotlib: pip install 'customer-management[bench]')",
    )
    parser.add_argument(
        "--csv",
        type=Path,
        metavar="DIR",
        help="also write each view as DIR/<view>.csv (cells a spreadsheet would run as "
        "formulas are written as text)",
    )
    parser.add_argument(
        "--as-role",
        default=None,
        metavar="ROLE",
        help="read the views as this role (e.g. analyst), as a BI tool would",
    )
    parser.add_argument("--json", action="store_true", help="print the views as JSON")
    add_db_url(parser)
    parser.set_defaults(func=cmd_report)


# Columns whose view names (the analytics contract) say less than they count.
HEADERS = {
    ("daily_merge_rate", "merged_accounts"): "seen on several channels",
    ("daily_merge_rate", "merge_percentage"): "% seen on several channels",
}


def header(view: str, column: str) -> str:
    """A column's header in the printed report."""
    return HEADERS.get((view, column), column.replace("_", " "))


def cmd_report(args: argparse.Namespace) -> int:
    """Read every view; print tables (or JSON); draw charts when asked."""
    import psycopg

    from customer_management.analytics.views import read_views

    if args.png is not None:
        try:
            import matplotlib  # noqa: F401
        except ModuleNotFoundError:
            print(
                "`customer-management report --png` needs matplotlib: "
                "pip install 'customer-management[bench]'",
                file=sys.stderr,
            )
            return 2
    try:
        tables = read_views(database_url(args), args.as_role)
    except psycopg.Error as exc:
        print(f"report failed: {describe_failure(exc)}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps({t.name: t.as_json() for t in tables}, indent=2))
    else:
        from rich.console import Console

        console = Console()
        for view in tables:
            print_view(console, view)
    if args.csv is not None:
        from customer_management.analytics.views import write_csv

        for path in write_csv(tables, args.csv):
            print(f"wrote {path}", file=sys.stderr if args.json else sys.stdout)
    if args.png is not None:
        from customer_management.analytics.charts import write_charts

        for path in write_charts(tables, args.png):
            print(f"wrote {path}", file=sys.stderr if args.json else sys.stdout)
    return 0


def print_view(console: Any, view: Any) -> None:
    """One view as a table; one that would not fit the terminal's width (headers cut to
    "con…") is printed a record at a time instead, a line per column, as psql's \\x does."""
    from rich.table import Table

    from customer_management.analytics.views import as_text

    headers = [header(view.name, c) for c in view.columns]
    rows = [[as_text(v) for v in row] for row in view.rows]
    natural = sum(max([len(h), *(len(r[i]) for r in rows)]) + 3 for i, h in enumerate(headers))
    title = f"{view.title} (analytics.{view.name})"
    if natural + 1 > console.width:
        console.print(title, style="italic")
        if not rows:
            console.print(f"no rows (columns: {', '.join(headers)})", markup=False)
        width = max(len(h) for h in headers)
        for number, row in enumerate(rows, 1):
            console.print(f"-[ record {number} ]-", markup=False)
            for name, cell in zip(headers, row, strict=True):
                console.print(f"{name.ljust(width)} | {cell}", markup=False)
        return
    table = Table(title=title, title_justify="left")
    for name in headers:
        table.add_column(name, overflow="fold")
    for row in rows:
        table.add_row(*row)
    if not rows:
        table.caption = "no rows"
    console.print(table)
