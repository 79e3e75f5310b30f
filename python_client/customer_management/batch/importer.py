"""Importing legacy customers (and their orders) into the kit, in one transaction.

The rows are staged first: a CSV file is streamed with COPY into the kit's staging table
(``customer_management.import_customer_rows``), a legacy table in the same database is
copied there by ``stage_customers_from_table``. Then ``import_staged_customers`` and
``import_staged_orders`` take them into the kit's tables chunk by chunk (validated by the
RPC's own rules, identifiers normalised by its functions), the rejected rows are written to
the rejects file, and the transaction commits. If anything fails on the way, nothing of the
file is in the database; a rerun of the same file adds nothing twice (legacy ids are kept).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

from customer_management.batch.csvfiles import (
    CUSTOMER_COLUMNS,
    ORDER_COLUMNS,
    CsvFile,
    RowProblem,
)
from customer_management.batch.progress import Progress
from customer_management.csvsafe import SafeCsvWriter

Conn = psycopg.Connection[Any]
DEFAULT_CHUNK_LINES = 5000
REJECT_HEADER = ("file", "line", "legacy_id", "column", "code", "detail", "row")
# Other names a table's columns may have for the kit's (as the staging functions read them).
TABLE_ALIASES = {"legacy_id": "id", "legacy_customer_id": "customer_id"}


@dataclass(frozen=True)
class Source:
    """Where rows come from: a CSV file or a table in the same database; ``columns`` names,
    for a kit column, the source's column that holds it (``{"last_name": "surname"}``)."""

    path: Path | None = None
    table: str | None = None
    columns: dict[str, str] = field(default_factory=dict)

    @property
    def name(self) -> str:
        """How the rejects file names this source."""
        return str(self.path) if self.path is not None else str(self.table)


@dataclass
class ImportSummary:
    """What an import did; ``as_json`` is the ``--json`` output."""

    customers: dict[str, int] = field(default_factory=dict)
    orders: dict[str, int] = field(default_factory=dict)
    rejects_file: Path | None = None
    ignored_columns: dict[str, list[str]] = field(default_factory=dict)
    seconds: float = 0.0

    def as_json(self) -> dict[str, Any]:
        """The summary as the command prints it with ``--json``."""
        return {
            "customers": self.customers,
            "orders": self.orders,
            "rejected": self.customers.get("rejected", 0) + self.orders.get("rejected", 0),
            "rejectsFile": str(self.rejects_file) if self.rejects_file else None,
            "ignoredColumns": self.ignored_columns,
            "seconds": round(self.seconds, 3),
        }


def run_import(
    url: str,
    customers: Source,
    orders: Source | None,
    rejects_path: Path,
    progress: Progress,
    chunk_lines: int = DEFAULT_CHUNK_LINES,
    verified: tuple[str, ...] = (),
) -> ImportSummary:
    """Stage, import and commit; write the rejects file. ``verified`` names the identifier
    types the old system proved (``phone``, ``email``): they count as verified. Raises
    ``CsvFileError`` or ``psycopg.Error`` when the import fails as a whole (then nothing
    was imported)."""
    started = time.monotonic()
    summary = ImportSummary()
    with psycopg.connect(url, prepare_threshold=None) as conn, conn.transaction():
        load_id = _one(conn, "select customer_management.begin_import()")
        assert isinstance(load_id, uuid.UUID)
        customer_lines = _stage(
            conn, load_id, customers, "customers", CUSTOMER_COLUMNS, progress, summary
        )
        order_lines = (
            _stage(conn, load_id, orders, "orders", ORDER_COLUMNS, progress, summary)
            if orders is not None
            else 0
        )
        # Rows without created_at follow the file's order (the oldest first).
        conn.execute("select customer_management.date_undated_import_rows(%s)", (load_id,))
        summary.customers = _import_chunks(
            conn,
            "import_staged_customers",
            load_id,
            customer_lines,
            chunk_lines,
            progress,
            "importing customers",
            (list(verified),),
            "note_imported_customers",
        )
        if orders is not None:
            summary.orders = _import_chunks(
                conn,
                "import_staged_orders",
                load_id,
                order_lines,
                chunk_lines,
                progress,
                "importing orders",
            )
        rejected = summary.customers.get("rejected", 0) + summary.orders.get("rejected", 0)
        noted = summary.customers.get("valuesDropped", 0) + summary.customers.get("unreachable", 0)
        if rejected or noted:
            _write_rejects(conn, load_id, customers, orders, rejects_path)
            summary.rejects_file = rejects_path
        conn.execute("select customer_management.finish_import(%s)", (load_id,))
    summary.seconds = time.monotonic() - started
    return summary


def _one(conn: Conn, query: str | sql.Composed, params: tuple[Any, ...] = ()) -> Any:
    """The single value a query returns."""
    row = conn.execute(query, params).fetchone()
    assert row is not None
    return row[0]


def _stage(
    conn: Conn,
    load_id: uuid.UUID,
    source: Source,
    kind: str,
    columns: tuple[str, ...],
    progress: Progress,
    summary: ImportSummary,
) -> int:
    """Put a source's rows into the staging table; return the last line number."""
    function = f"stage_{kind}_from_table"
    if source.table is not None:
        ignored = _table_ignored_columns(conn, source, columns)
        with progress.step(f"staging {kind} from {source.table}", None):
            last = _one(
                conn,
                f"select customer_management.{function}(%s, %s::regclass, %s)",
                (load_id, source.table, Jsonb(source.columns)),
            )
        if ignored:
            summary.ignored_columns[kind] = ignored
        return int(last)
    assert source.path is not None
    file = CsvFile(source.path, columns, source.columns)
    table = sql.Identifier("customer_management", f"import_{kind[:-1]}_rows")
    copy = sql.SQL(
        "copy {} (load_id, line, {}, outcome, reject_column, reject_code, reject_detail) from stdin"
    ).format(table, sql.SQL(", ").join(sql.Identifier(c) for c in columns))
    last_line = 0
    with progress.step(f"reading {source.path.name}", file.size) as bar:
        reported = 0
        with conn.cursor().copy(copy) as writer:
            for row in file.rows():
                if isinstance(row, RowProblem):
                    empty = (None,) * (len(columns) - 1)
                    record = (row.key, *empty, "rejected", "row", row.code, row.detail)
                    writer.write_row((load_id, row.line, *record))
                else:
                    writer.write_row((load_id, row.line, *row.values, None, None, None, None))
                last_line = row.line
                if file.bytes_read - reported >= 1 << 20:
                    bar.advance(file.bytes_read - reported)
                    reported = file.bytes_read
        bar.advance(file.size - reported)
    if file.ignored_columns:
        summary.ignored_columns[kind] = list(file.ignored_columns)
    return last_line


def _table_ignored_columns(conn: Conn, source: Source, columns: tuple[str, ...]) -> list[str]:
    """The columns of a source table the import does not read (as the CSV path lists them)."""
    assert source.table is not None
    rows = conn.execute(
        "select a.attname from pg_catalog.pg_attribute as a "
        "where a.attrelid = %s::regclass and a.attnum > 0 and not a.attisdropped "
        "order by a.attnum",
        (source.table,),
    ).fetchall()
    read = set(columns) | set(source.columns.values())
    read |= {alias for kit, alias in TABLE_ALIASES.items() if kit in columns}
    return [name for (name,) in rows if name not in read]


def _import_chunks(
    conn: Conn,
    function: str,
    load_id: uuid.UUID,
    last_line: int,
    chunk_lines: int,
    progress: Progress,
    description: str,
    extra: tuple[Any, ...] = (),
    after: str | None = None,
) -> dict[str, int]:
    """Call an import function over consecutive line ranges (with ``extra`` arguments
    after the range), then ``after`` on the same range; add up what they return."""
    totals: dict[str, int] = {}
    query = sql.SQL("select customer_management.{}({})").format(
        sql.Identifier(function), sql.SQL(", ").join([sql.Placeholder()] * (3 + len(extra)))
    )
    with progress.step(description, last_line) as bar:
        for first in range(1, last_line + 1, chunk_lines):
            last = min(first + chunk_lines - 1, last_line)
            counts = _one(conn, query, (load_id, first, last, *extra))
            if after is not None:
                counts = counts | _one(
                    conn,
                    sql.SQL("select customer_management.{}(%s, %s, %s)").format(
                        sql.Identifier(after)
                    ),
                    (load_id, first, last),
                )
            for key, value in counts.items():
                totals[key] = totals.get(key, 0) + int(value)
            bar.advance(last - first + 1)
    return totals


# Rejected rows, and imported rows that lost a malformed value or came in unreachable
# (the last column says which), in line order.
REJECTS_QUERY = """
select %(file)s, x.line, x.legacy_id, x.reject_column, x.reject_code, x.reject_detail, x.row
from (
    select s.line, s.legacy_id, s.reject_column, s.reject_code, s.reject_detail,
        'rejected' as row
    from customer_management.import_customer_rows as s
    where s.load_id = %(load)s and s.outcome = 'rejected'
    union all
    select n.line, n.legacy_id, n.column_name, n.code, n.detail, 'imported'
    from customer_management.import_row_notes as n
    where n.load_id = %(load)s
) as x
order by x.line, x.row desc
"""
ORDER_REJECTS_QUERY = """
select %(file)s, o.line, o.legacy_customer_id, o.reject_column, o.reject_code,
    o.reject_detail, 'rejected'
from customer_management.import_order_rows as o
where o.load_id = %(load)s and o.outcome = 'rejected'
order by o.line
"""


def _write_rejects(
    conn: Conn, load_id: uuid.UUID, customers: Source, orders: Source | None, path: Path
) -> None:
    """Every rejected row, and every imported row that lost a value or came in unreachable
    (file, line, legacy id, column, code, detail, rejected or imported), streamed from the
    staging tables into a CSV file whose cells no spreadsheet runs as formulas (a legacy id
    or value is written as it came, quoted, with a ``'`` before a leading ``=``, ``+``,
    ``-``, ``@``, tab or carriage return)."""
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = SafeCsvWriter(out)
        writer.writerow(REJECT_HEADER)
        _copy_rows(conn, REJECTS_QUERY, {"file": customers.name, "load": load_id}, writer)
        if orders is not None:
            _copy_rows(conn, ORDER_REJECTS_QUERY, {"file": orders.name, "load": load_id}, writer)


def _copy_rows(conn: Conn, query: str, params: dict[str, Any], writer: SafeCsvWriter) -> None:
    """Write a query's rows through a server-side cursor (memory stays flat)."""
    with conn.cursor(name=f"rejects_{uuid.uuid4().hex[:8]}") as cursor:
        cursor.itersize = 5000
        cursor.execute(query, params)
        rows: Iterable[tuple[Any, ...]] = cursor
        for row in rows:
            writer.writerow(row)
