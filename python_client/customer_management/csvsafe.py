"""CSV files safe to open in a spreadsheet: every CSV the kit writes goes through here.

A cell that starts with ``=``, ``+``, ``-`` or ``@`` (or a tab or carriage return, or
spaces before one of them) is a formula to Excel, LibreOffice and Google Sheets: a legacy
id ``=HYPERLINK("https://evil.example", "click")`` or a name stored as ``@SUM(A1)`` would
run when a support agent or an analyst opens the file. As OWASP recommends, such a cell
is written with a single quote in front (the spreadsheet shows the text, the quote hidden)
and every cell is quoted, so a comma or a quote inside cannot start another cell. Reading
a cell back, a leading ``'`` before one of those characters is that prefix.

Standard library only: the import (``batch``) and the report (``analytics``) both use it.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable
from typing import Any, TextIO

# What makes a spreadsheet read a cell as a formula (OWASP's list), with the full-width
# forms some spreadsheets fold to them.
FORMULA_STARTS = frozenset("=+-@\t\r\n\uff1d\uff0b\uff0d\uff20")
PREFIX = "'"


def spreadsheet_safe(value: Any) -> str:
    """``value`` as cell text that no spreadsheet evaluates: None is empty, lists and
    objects are JSON, and text starting like a formula gets a single quote in front."""
    if value is None:
        return ""
    text = json.dumps(value, ensure_ascii=False) if isinstance(value, list | dict) else str(value)
    first = text.lstrip(" ")[:1]
    return PREFIX + text if first and first in FORMULA_STARTS else text


class SafeCsvWriter:
    """``csv.writer`` with every cell quoted and passed through ``spreadsheet_safe``."""

    def __init__(self, out: TextIO) -> None:
        """Write to ``out`` (opened with ``newline=""``)."""
        self._writer = csv.writer(out, quoting=csv.QUOTE_ALL)

    def writerow(self, row: Iterable[Any]) -> None:
        """One row."""
        self._writer.writerow([spreadsheet_safe(cell) for cell in row])

    def writerows(self, rows: Iterable[Iterable[Any]]) -> None:
        """Several rows."""
        for row in rows:
            self.writerow(row)
