"""Reading a legacy CSV file as numbered rows, one at a time (memory stays flat).

The first row names the columns; the kit's columns are picked from it by name (case and
surrounding spaces ignored; other columns are ignored), so an export with extra columns or
another column order loads as it is. Each row comes out with the line it starts on. A row
whose shape is wrong (another number of fields than the header, a NUL character) comes out
as a ``RowProblem`` and the file goes on; a file that cannot be read at all (not UTF-8,
an unterminated quote, no key column) raises ``CsvFileError`` and nothing is loaded.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, cast

CUSTOMER_COLUMNS = (
    "legacy_id",
    "first_name",
    "last_name",
    "phone",
    "email",
    "allergies",
    "created_at",
)
ORDER_COLUMNS = (
    "legacy_customer_id",
    "total",
    "currency",
    "status",
    "delivery_date",
    "created_at",
    "items",
)
# Large enough for any real field (an order's items as JSON), small enough to stop a
# runaway quote from swallowing the file.
FIELD_SIZE_LIMIT = 16 * 1024 * 1024


class CsvFileError(Exception):
    """The file cannot be read as a whole; nothing of it may be loaded."""


@dataclass(frozen=True)
class Row:
    """One data row: the line it starts on and the kit's columns (None when empty)."""

    line: int
    values: tuple[str | None, ...]


@dataclass(frozen=True)
class RowProblem:
    """A row whose shape is wrong: it is rejected, the file goes on."""

    line: int
    key: str | None
    code: str
    detail: str


class _CountingReader(io.RawIOBase):
    """A binary file that counts the bytes read from it (for the progress bar)."""

    def __init__(self, raw: BinaryIO) -> None:
        self._raw = raw
        self.count = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        read = cast(io.BufferedIOBase, self._raw).readinto(buffer)
        self.count += read or 0
        return read or 0


class CsvFile:
    """A legacy CSV file read row by row; ``bytes_read`` tells how far it got. ``mapping``
    names, for a kit column, the file's column that holds it (``{"last_name": "surname"}``)."""

    def __init__(
        self, path: Path, columns: Sequence[str], mapping: Mapping[str, str] | None = None
    ) -> None:
        self.path = path
        self.columns = tuple(columns)
        self.mapping = {k: v.strip().lower() for k, v in (mapping or {}).items()}
        self.size = path.stat().st_size
        self._counter: _CountingReader | None = None
        self.ignored_columns: tuple[str, ...] = ()

    @property
    def bytes_read(self) -> int:
        """Bytes read from disk so far (read ahead by a buffer)."""
        return self._counter.count if self._counter else 0

    def rows(self) -> Iterator[Row | RowProblem]:
        """Each data row, or the problem with it, in file order."""
        csv.field_size_limit(FIELD_SIZE_LIMIT)
        with self.path.open("rb") as raw:
            self._counter = _CountingReader(raw)
            text = io.TextIOWrapper(
                io.BufferedReader(self._counter), encoding="utf-8-sig", newline=""
            )
            reader = csv.reader(text, strict=True)
            try:
                yield from self._read(reader)
            except UnicodeDecodeError as exc:
                raise CsvFileError(
                    f"{self.path}: not UTF-8 near line {reader.line_num + 1} ({exc.reason}); "
                    "nothing was imported"
                ) from exc
            except csv.Error as exc:
                raise CsvFileError(
                    f"{self.path}: line {reader.line_num}: {exc}; nothing was imported"
                ) from exc

    def _read(self, reader: Any) -> Iterator[Row | RowProblem]:
        """The rows after the header, mapped to the kit's columns."""
        header = next(reader, None)
        if header is None:
            raise CsvFileError(f"{self.path}: the file is empty; nothing was imported")
        names = [name.strip().lower() for name in header]
        missing = [source for source in self.mapping.values() if source not in names]
        if missing:
            raise CsvFileError(
                f"{self.path}: --map names {', '.join(missing)}, which the header does not have "
                f"(it has: {', '.join(names)}); nothing was imported"
            )
        # A mapped column is read under the kit's name; a column of the kit's name that a
        # mapping replaces is ignored.
        renamed = {source: kit for kit, source in self.mapping.items()}
        names = [
            renamed.get(name, name if name not in self.mapping else f"{name} (replaced)")
            for name in names
        ]
        key = self.columns[0]
        if key not in names:
            raise CsvFileError(
                f"{self.path}: the header has no {key} column (it has: {', '.join(names)}); "
                "nothing was imported"
            )
        positions = [names.index(c) if c in names else None for c in self.columns]
        originals = [name.strip().lower() for name in header]
        self.ignored_columns = tuple(
            o for o, n in zip(originals, names, strict=True) if n not in self.columns
        )
        key_position = names.index(key)
        line = reader.line_num + 1
        for fields in reader:
            start, line = line, reader.line_num + 1
            if not fields:
                continue
            if len(fields) != len(names):
                yield RowProblem(
                    start,
                    _clean_key(fields[key_position]) if key_position < len(fields) else None,
                    "malformed_row",
                    f"The row has {len(fields)} fields; the header has {len(names)}.",
                )
                continue
            if any("\x00" in field for field in fields):
                yield RowProblem(
                    start,
                    _clean_key(fields[key_position].replace("\x00", "")),
                    "nul_character",
                    "The row contains a NUL character.",
                )
                continue
            values = tuple(
                (fields[p] if fields[p] != "" else None) if p is not None else None
                for p in positions
            )
            yield Row(start, (_clean_key(values[0]), *values[1:]))


def _clean_key(value: str | None) -> str | None:
    """A legacy id as the import compares it: surrounding spaces dropped, empty is none."""
    if value is None:
        return None
    stripped = value.strip(" \t")
    return stripped or None
