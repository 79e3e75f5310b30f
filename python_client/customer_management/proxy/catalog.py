"""Which functions ``/rest/v1/rpc/<name>`` may call, and the SQL that calls them.

Like PostgREST's schema cache, the exposed functions are read from ``pg_catalog``: the
functions of the exposed schema (``public``) that no extension owns, with their parameters'
names, types and defaults. A POST body is matched to a function the way PostgREST matches
it: a function with a single unnamed ``json`` or ``jsonb`` parameter receives the whole
body; otherwise the body's keys must name parameters (every parameter without a default
present, no unknown key). Unlike PostgREST, each value must then have the JSON type the
OpenAPI document gives its parameter (``json_type``): PostgreSQL would turn ``"10"`` into
the integer 10 and ``5551234567`` into the text ``'5551234567'``, so a body the document
calls invalid would be served. Values reach SQL through ``json_to_record`` and names through
``psycopg.sql.Identifier``, so nothing from the request is ever spliced into SQL text.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from psycopg import sql

from customer_management.proxy import errors

_FUNCTIONS_QUERY = """
select p.oid::bigint, p.proname::text,
       coalesce(p.proargnames, '{{}}')::text[],
       coalesce(p.proargmodes::text[], '{{}}'),
       array(select pg_catalog.format_type(t, null) from unnest(p.proargtypes) as t),
       p.pronargdefaults::int,
       pg_catalog.format_type(p.prorettype, null),
       p.proretset,
       pg_catalog.obj_description(p.oid, 'pg_proc'),
       pg_catalog.pg_get_expr(p.proargdefaults, 0)
from pg_catalog.pg_proc as p
join pg_catalog.pg_namespace as n on n.oid = p.pronamespace
where n.nspname = %s
  and p.prokind = 'f'
  and p.prorettype not in ('pg_catalog.trigger'::regtype, 'pg_catalog.event_trigger'::regtype)
  and not exists (
      select 1 from pg_catalog.pg_depend as d
      where d.classid = 'pg_catalog.pg_proc'::regclass and d.objid = p.oid and d.deptype = 'e'
  ){extra}
order by p.proname, p.oid
"""
CATALOG_QUERY = _FUNCTIONS_QUERY.format(extra="")
# What the OpenAPI document lists: run as the caller's role, only what it may execute
# (PostgREST's default openapi-mode, follow-privileges).
OPENAPI_QUERY = _FUNCTIONS_QUERY.format(
    extra="""
  and pg_catalog.has_schema_privilege(n.oid, 'USAGE')
  and pg_catalog.has_function_privilege(p.oid, 'EXECUTE')"""
)
JSON_TYPES = frozenset({"json", "jsonb"})
INPUT_MODES = frozenset({"i", "b", "v"})
# PostgREST's toSwaggerType: the JSON type of a SQL type (anything else is a string).
_JSON_TYPE_OF = {
    "character varying": "string",
    "character": "string",
    "text": "string",
    "boolean": "boolean",
    "smallint": "integer",
    "integer": "integer",
    "bigint": "integer",
    "numeric": "number",
    "real": "number",
    "double precision": "number",
}
# The range PostgreSQL accepts for each integer type (beyond it: 22003).
INTEGER_RANGES = {
    "smallint": (-(2**15), 2**15 - 1),
    "integer": (-(2**31), 2**31 - 1),
    "bigint": (-(2**63), 2**63 - 1),
}
UNKNOWN_DEFAULT = object()
"""The default of a parameter whose default expression is not a plain literal."""


def json_type(sql_type: str) -> str | None:
    """The JSON type a value of ``sql_type`` has in a body (None: any JSON, for json/jsonb)."""
    if sql_type in JSON_TYPES:
        return None
    if sql_type.endswith("[]"):
        return "array"
    return _JSON_TYPE_OF.get(sql_type, "string")


def _has_json_type(value: object, kind: str) -> bool:
    """Whether a parsed JSON ``value`` is of JSON type ``kind``."""
    if kind == "string":
        return isinstance(value, str)
    if kind == "boolean":
        return isinstance(value, bool)
    if kind == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    return isinstance(value, list)


def _split_top_level(text: str) -> list[str]:
    """``pg_get_expr`` of ``proargdefaults`` split at the commas between expressions."""
    parts: list[str] = []
    depth, quoted, start = 0, False, 0
    for index, char in enumerate(text):
        if char == "'":
            quoted = not quoted
        elif not quoted and char in "([":
            depth += 1
        elif not quoted and char in ")]":
            depth -= 1
        elif not quoted and depth == 0 and char == ",":
            parts.append(text[start:index].strip())
            start = index + 1
    parts.append(text[start:].strip())
    return parts


def literal_default(expression: str) -> Any:
    """The JSON value of a default expression that is a plain literal (``10``, ``'open'::text``,
    ``NULL::uuid``, ``false``, ``'{}'::jsonb``); ``UNKNOWN_DEFAULT`` for anything else."""
    if expression.startswith("'"):
        body, _, cast = expression[1:].rpartition("'")
        text = body.replace("''", "'")
        sql_type = cast.removeprefix("::")
        if cast and not cast.startswith("::"):
            return UNKNOWN_DEFAULT
        if sql_type in JSON_TYPES:
            return json.loads(text)
        return literal_default(text) if sql_type in INTEGER_RANGES else text
    bare = expression.split("::", 1)[0].strip()
    if bare.upper() == "NULL":
        return None
    if bare in ("true", "false"):
        return bare == "true"
    if bare.lstrip("-").isdigit():
        return int(bare)
    return UNKNOWN_DEFAULT


@dataclass(frozen=True)
class Parameter:
    """One input parameter: name ('' when unnamed), SQL type, whether it has a default and
    the default's value when it is a plain literal (else ``UNKNOWN_DEFAULT``)."""

    name: str
    type: str
    has_default: bool
    default: Any = field(default=UNKNOWN_DEFAULT, compare=False)


@dataclass(frozen=True)
class Function:
    """An exposed function and how to call it."""

    schema: str
    name: str
    parameters: tuple[Parameter, ...]
    return_type: str
    returns_set: bool
    description: str | None = None

    @property
    def takes_whole_body(self) -> bool:
        """True for ``f(json)`` / ``f(jsonb)``: the body is the single argument."""
        return (
            len(self.parameters) == 1
            and self.parameters[0].name == ""
            and self.parameters[0].type in JSON_TYPES
        )

    def accepts_keys(self, keys: set[str]) -> bool:
        """True when the body keys name parameters and cover every required one."""
        names = {p.name for p in self.parameters}
        if "" in names:
            return False
        required = {p.name for p in self.parameters if not p.has_default}
        return required <= keys <= names

    def argument_error(self, body: object) -> str | None:
        """Why a value of ``body`` has not the JSON type its parameter's type maps to (null
        is any parameter's value: the function decides); None when every value has."""
        if self.takes_whole_body or not isinstance(body, dict):
            return None
        by_name = {p.name: p for p in self.parameters}
        for key in sorted(body):
            value = body[key]
            parameter = by_name.get(key)
            kind = json_type(parameter.type) if parameter is not None else None
            if value is None or kind is None or _has_json_type(value, kind):
                continue
            assert parameter is not None
            return f"{key} must be a JSON {kind} ({parameter.type}), not {_json_kind(value)}."
        return None


def _json_kind(value: object) -> str:
    """The JSON type of a parsed value, as the error message names it."""
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return "an array" if isinstance(value, list) else "an object"


def parse_row(schema: str, row: Sequence[Any]) -> Function:
    """Build a ``Function`` from one ``CATALOG_QUERY`` row."""
    name = str(row[1])
    names = [str(n) for n in row[2] or []]
    types = [str(t) for t in row[4]]
    modes = [str(m) for m in row[3] or []] or ["i"] * len(types)
    n_defaults = int(row[5])
    input_names = [
        names[i] if i < len(names) else "" for i, m in enumerate(modes) if m in INPUT_MODES
    ]
    input_names += [""] * (len(types) - len(input_names))
    first_default = len(types) - n_defaults
    expressions = _split_top_level(str(row[9])) if len(row) > 9 and row[9] else []
    defaults = [literal_default(e) for e in expressions]
    if len(defaults) != n_defaults:
        defaults = [UNKNOWN_DEFAULT] * n_defaults
    parameters = tuple(
        Parameter(
            input_names[i],
            types[i],
            i >= first_default,
            defaults[i - first_default] if i >= first_default else UNKNOWN_DEFAULT,
        )
        for i in range(len(types))
    )
    description = str(row[8]) if len(row) > 8 and row[8] is not None else None
    return Function(schema, name, parameters, str(row[6]), bool(row[7]), description)


class Catalog:
    """The exposed functions by name (a snapshot; ``replace`` swaps in a fresh one)."""

    def __init__(self, functions: list[Function] | None = None) -> None:
        """Index ``functions`` by name (overloads share a name)."""
        self._by_name: dict[str, list[Function]] = {}
        self.replace(functions or [])

    def replace(self, functions: list[Function]) -> None:
        """Swap in a freshly read list of functions."""
        by_name: dict[str, list[Function]] = {}
        for function in functions:
            by_name.setdefault(function.name, []).append(function)
        self._by_name = by_name

    def names(self) -> list[str]:
        """The exposed function names."""
        return sorted(self._by_name)

    def match(self, name: str, body: object) -> Function | None:
        """The function a POST body calls; None when none matches.

        Raises ``ApiError`` PGRST203 when several overloads match equally.
        """
        candidates = self._by_name.get(name, [])
        keys = set(body) if isinstance(body, dict) else None
        named = [f for f in candidates if keys is not None and f.accepts_keys(keys)]
        whole = [f for f in candidates if f.takes_whole_body]
        chosen = named or whole
        if len(chosen) > 1:
            raise errors.ambiguous_function(name)
        return chosen[0] if chosen else None

    def not_found(self, name: str, body: object) -> errors.ApiError:
        """PostgREST's PGRST202 for ``name`` called with ``body``."""
        keys = sorted(body) if isinstance(body, dict) else []
        close = difflib.get_close_matches(name, self.names(), n=1, cutoff=0.75)
        suggestion = close[0] if close and close[0] != name else None
        return errors.function_not_found(name, keys, suggestion)


def call_statement(function: Function, body: object) -> sql.Composed:
    """The ``select`` calling ``function``: its JSON as text, then the ``response.status``
    and ``response.headers`` the function may have set (PostgREST's way for a function to
    choose its HTTP status while its transaction commits). ``%s`` is the body.

    The body text is the only parameter. ``json``/``jsonb`` results come back unchanged
    (byte for byte what PostgREST sends), other scalars through ``to_json``, set-returning
    functions as one JSON array, ``void`` as null. The call sits in a subquery that is not
    flattened (``offset 0``), so it has run when the settings are read.
    """
    return sql.SQL(
        "select _call._result, pg_catalog.current_setting('response.status', true), "
        "pg_catalog.current_setting('response.headers', true) from ({} offset 0) as _call"
    ).format(_result_statement(function, body))


def _result_statement(function: Function, body: object) -> sql.Composed:
    """The ``select`` whose one column ``_result`` is the function's answer as JSON text."""
    target = sql.Identifier(function.schema, function.name)
    if function.takes_whole_body:
        call = sql.SQL("{}(%s::{})").format(target, sql.SQL(function.parameters[0].type))
        source: sql.Composable = sql.SQL("")
    else:
        keys = sorted(body) if isinstance(body, dict) else []
        by_name = {p.name: p for p in function.parameters}
        call = sql.SQL("{}({})").format(
            target,
            sql.SQL(", ").join(
                sql.SQL("{} => _args.{}").format(sql.Identifier(k), sql.Identifier(k)) for k in keys
            ),
        )
        if keys:
            columns = sql.SQL(", ").join(
                sql.SQL("{} {}").format(sql.Identifier(k), sql.SQL(by_name[k].type)) for k in keys
            )
            source = sql.SQL(" from json_to_record(%s::json) as _args({})").format(columns)
        else:
            source = sql.SQL(" from (select %s::json) as _args")
    if function.returns_set:
        lateral = sql.SQL(" from ") if function.takes_whole_body else sql.SQL(", lateral ")
        return sql.SQL(
            "select coalesce(json_agg(_row), '[]')::text as _result{}{}{} as _row"
        ).format(source, lateral, call)
    if function.return_type == "void":
        return sql.SQL("select null::text as _result from (select {}{}) as _void").format(
            call, source
        )
    if function.return_type in JSON_TYPES:
        return sql.SQL("select ({})::text as _result{}").format(call, source)
    return sql.SQL("select to_json({})::text as _result{}").format(call, source)
