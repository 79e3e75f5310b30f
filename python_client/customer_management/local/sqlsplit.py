"""Split a SQL script into statements, the way the Supabase CLI records migrations.

``supabase_migrations.schema_migrations.statements`` holds each migration's statements.
We execute a file as one script, but record its statements like the CLI so a project
migrated by the kit looks the same to ``supabase migration list`` / ``db push``.
The splitter understands quotes, quoted identifiers, comments and dollar quoting, which is
all PL/pgSQL bodies need.
"""

from __future__ import annotations

import re

_DOLLAR_TAG = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)?\$")


def _skip_quoted(sql: str, i: int, quote: str, backslash: bool) -> int:
    """Return the index after the closing ``quote`` of a literal starting at ``i``."""
    j = i + 1
    while j < len(sql):
        ch = sql[j]
        if backslash and ch == "\\":
            j += 2
            continue
        if ch == quote:
            if j + 1 < len(sql) and sql[j + 1] == quote:
                j += 2
                continue
            return j + 1
        j += 1
    return j


def _skip_block_comment(sql: str, i: int) -> int:
    """Return the index after a (possibly nested) ``/* */`` comment starting at ``i``."""
    depth = 0
    j = i
    while j < len(sql):
        if sql.startswith("/*", j):
            depth += 1
            j += 2
        elif sql.startswith("*/", j):
            depth -= 1
            j += 2
            if depth == 0:
                return j
        else:
            j += 1
    return j


def _skip_token(sql: str, i: int) -> int:
    """Return the index after the quoted/commented token at ``i``, or ``i`` if none."""
    ch = sql[i]
    if ch == "'":
        backslash = i > 0 and sql[i - 1] in "eE" and (i < 2 or not sql[i - 2].isalnum())
        return _skip_quoted(sql, i, "'", backslash)
    if ch == '"':
        return _skip_quoted(sql, i, '"', False)
    if sql.startswith("--", i):
        end = sql.find("\n", i)
        return len(sql) if end < 0 else end + 1
    if sql.startswith("/*", i):
        return _skip_block_comment(sql, i)
    if ch == "$" and (i == 0 or not (sql[i - 1].isalnum() or sql[i - 1] == "_")):
        match = _DOLLAR_TAG.match(sql, i)
        if match:
            end = sql.find(match.group(0), match.end())
            return len(sql) if end < 0 else end + len(match.group(0))
    return i


def split_statements(sql: str) -> list[str]:
    """Split ``sql`` on top-level semicolons; return trimmed, non-empty statements."""
    statements: list[str] = []
    start = 0
    i = 0
    while i < len(sql):
        nxt = _skip_token(sql, i)
        if nxt != i:
            i = nxt
            continue
        if sql[i] == ";":
            statements.append(sql[start:i])
            start = i + 1
        i += 1
    statements.append(sql[start:])
    return [s.strip() for s in statements if _has_code(s)]


def _has_code(statement: str) -> bool:
    """Tell whether a chunk holds more than whitespace and comments."""
    i = 0
    while i < len(statement):
        if statement[i].isspace():
            i += 1
        elif statement.startswith("--", i) or statement.startswith("/*", i):
            i = _skip_token(statement, i)
        else:
            return True
    return False
