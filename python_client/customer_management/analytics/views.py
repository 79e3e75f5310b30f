"""Reading the analytics views: each one as column names and rows of plain values."""

from __future__ import annotations

import datetime as dt
import decimal
import json
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from customer_management.csvsafe import SafeCsvWriter

# In report order, with what each shows.
VIEWS: dict[str, str] = {
    "customer_journey": "Customers by account sources",
    "daily_merge_rate": "Accounts seen on several channels, per day (last 30 days)",
    "account_completeness": "Account completeness",
    "open_conflicts": "Open conflicts, oldest first",
    "merge_activity": "Merges and undos per day",
    "resolution_quality": "Resolution quality",
}


@dataclass(frozen=True)
class ViewTable:
    """One view's rows."""

    name: str
    title: str
    columns: tuple[str, ...]
    rows: tuple[tuple[Any, ...], ...]

    def as_json(self) -> list[dict[str, Any]]:
        """The rows as JSON objects."""
        return [dict(zip(self.columns, map(plain, row), strict=True)) for row in self.rows]


def plain(value: Any) -> Any:
    """A value as JSON can hold it (numbers stay numbers, times become ISO text)."""
    if isinstance(value, decimal.Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dt.timedelta):
        return round(value.total_seconds())
    if isinstance(value, dt.date | dt.datetime | uuid.UUID):
        return value.isoformat() if not isinstance(value, uuid.UUID) else str(value)
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


def read_views(url: str, role: str | None = None) -> list[ViewTable]:
    """Every analytics view, in report order; as ``role`` (e.g. analyst) when given."""
    tables: list[ViewTable] = []
    with psycopg.connect(url, autocommit=True, prepare_threshold=None) as conn, conn.transaction():
        if role:
            conn.execute(sql.SQL("set local role {}").format(sql.Identifier(role)))
        for name, title in VIEWS.items():
            cursor = conn.execute(
                sql.SQL("select * from {}").format(sql.Identifier("analytics", name))
            )
            columns = tuple(c.name for c in cursor.description or ())
            rows = tuple(tuple(row) for row in cursor.fetchall())
            tables.append(ViewTable(name, title, columns, rows))
    return tables


def as_text(value: Any) -> str:
    """A value as a table cell."""
    value = plain(value)
    if value is None:
        return ""
    if isinstance(value, list | dict):
        return json.dumps(value)
    return str(value)


def write_csv(tables: list[ViewTable], directory: Path) -> list[Path]:
    """Each view as ``<view>.csv`` in ``directory`` (created if missing): a header row,
    then the rows as plain values; cells a spreadsheet would run as formulas are written
    as text (``customer_management.csvsafe``). The files written, in report order."""
    directory.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for view in tables:
        path = directory / f"{view.name}.csv"
        with path.open("w", newline="", encoding="utf-8") as out:
            writer = SafeCsvWriter(out)
            writer.writerow(view.columns)
            writer.writerows([plain(value) for value in row] for row in view.rows)
        written.append(path)
    return written
