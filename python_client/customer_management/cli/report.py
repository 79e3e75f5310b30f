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
        help="print the analytics views (account sources, merge rate, completeness, ...)",
    )
    parser.add_argument(
        "--png",
        type=Path,
        metavar="DIR",
        help="also write charts (account sources, merge rate, completeness) into DIR "
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


def cmd_report(args: argparse.Namespace) -> int:
    """Read every view; print tables (or JSON); draw charts when asked."""
    import psycopg

    from customer_management.analytics.views import as_text, read_views

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
        from rich.table import Table

        console = Console()
        for view in tables:
            table = Table(title=f"{view.title} (analytics.{view.name})", title_justify="left")
            for column in view.columns:
                table.add_column(column.replace("_", " "))
            for row in view.rows:
                table.add_row(*(as_text(v) for v in row))
            if not view.rows:
                table.caption = "no rows"
            console.print(table)
    if args.csv is not None:
        from customer_management.analytics.views import write_csv

        for path in write_csv(tables, args.csv):
            print(f"wrote {path}", file=sys.stderr if args.json else sys.stdout)
    if args.png is not None:
        from customer_management.analytics.charts import write_charts

        for path in write_charts(tables, args.png):
            print(f"wrote {path}", file=sys.stderr if args.json else sys.stdout)
    return 0
