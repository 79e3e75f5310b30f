"""The OpenAPI document at ``GET /rest/v1/``, in the shape PostgREST serves, stating the contract.

Like PostgREST (its default ``openapi-mode``, ``follow-privileges``), the proxy answers
``GET /`` with a Swagger 2.0 document (``application/openapi+json``) of the functions of
the exposed schema the caller's role may execute, read from ``pg_catalog`` as that role at
each request (``catalog.OPENAPI_QUERY``): a function a later migration adds and grants
appears without a code change. Each is ``POST /rpc/<name>`` with a body parameter ``args``.

Two sources, each for what it knows, so nothing is maintained by hand beside them:

* the catalog: which functions exist, their parameters' names, SQL types (the JSON type as
  PostgREST maps it, the SQL type as ``format``, an integer type's range), which have a
  default (those without are required) and the default's value;
* ``contract.schema.json`` (its ``x-rpcs`` table) for the kit's own functions: what each
  argument accepts (enumerations, formats, bounds, whether null is accepted), the
  arguments a role must send although the function has a default (``requiredFor``), the
  200 answer's shape, and the error codes the function may answer with, whose SQLSTATEs
  give the statuses listed, each with PostgREST's error body (``Retry-After`` on 429,
  ``WWW-Authenticate`` on 401).

The errors of the HTTP layer (no or bad key, a body that is not JSON, over 16 KB, an
unknown argument, the database unreachable) are listed for every operation, and every
operation carries the key requirement: ``apikey``, with or without a bearer token.

Unlike PostgREST it lists no tables (the proxy serves none), no ``GET`` for stable
functions and no ``Prefer`` header (the proxy serves ``POST`` only and ignores ``Prefer``).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import metadata
from typing import Any

from customer_management import contract, statuses
from customer_management.proxy import swagger
from customer_management.proxy.catalog import (
    INTEGER_RANGES,
    UNKNOWN_DEFAULT,
    Function,
    Parameter,
    json_type,
)

MEDIA_TYPE = "application/openapi+json; charset=utf-8"
BASE_PATH = "/rest/v1"
ERROR = "ErrorBody"
# apikey alone (the key is also the token), or apikey and a user's token as the bearer.
SECURITY: list[dict[str, list[str]]] = [{"apikey": [], "bearer": []}, {"apikey": []}]
SECURITY_DEFINITIONS = {
    "apikey": {
        "type": "apiKey",
        "in": "header",
        "name": "apikey",
        "description": "The project's anon or service_role key (also accepted as the query "
        "parameter apikey).",
    },
    "bearer": {
        "type": "apiKey",
        "in": "header",
        "name": "Authorization",
        "description": 'A JWT, prefixed with "Bearer ": a signed-in user\'s access token, or '
        "the key itself (the default when the header is left out).",
    },
}
# What the HTTP layer answers for any RPC, before or around the function.
HTTP_ERRORS: dict[str, str] = {
    "400": "PGRST102: the body is not JSON, or an argument has not the JSON type given here",
    "401": "PGRST302 no apikey; PGRST301 a bad key or JWT; PGRST303 an expired JWT or a role "
    "that may not call the API; 42501 for anon",
    "406": "PGRST106: Content-Profile or Accept-Profile names a schema other than public",
    "413": "PT413 payload_too_large: the body is over 16 KB",
    "503": "PGRST000 / PGRST001: the database is unreachable or the connection broke; retry",
    "504": "PGRST003: no pooled connection became free in time; retry",
}
NAMED_ERRORS: dict[str, str] = {
    "400": "22P02, 22003, 22P05: PostgreSQL refused a value (not of the parameter's type, "
    "out of its range, a NUL character)",
    "404": "PGRST202: a key names no parameter, or a required one is missing",
}
RESPONSE_HEADERS: dict[str, dict[str, Any]] = {
    "401": {"WWW-Authenticate": {"type": "string", "description": "Bearer, and why"}},
    "429": {"Retry-After": {"type": "integer", "description": "Seconds to wait before retrying"}},
}


@dataclass(frozen=True)
class Server:
    """Where the document says the API is: ``host[:port]`` and scheme, from the request."""

    host: str
    scheme: str = "http"


def _version() -> str:
    """The kit's version (the document's ``info.version``)."""
    try:
        return metadata.version("customer-management")
    except metadata.PackageNotFoundError:
        return "0"


def parameter_schema(parameter: Parameter) -> dict[str, Any]:
    """What the catalog says of one named parameter: PostgREST's ``makeProcProperty`` (JSON
    type, SQL type as ``format``), the range of an integer type and a literal default."""
    schema: dict[str, Any] = {"format": parameter.type}
    kind = json_type(parameter.type)
    if kind is not None:
        schema["type"] = kind
    if kind == "array":
        item = json_type(parameter.type[:-2])
        schema["items"] = {"type": item} if item is not None else {}
    if parameter.type in INTEGER_RANGES:
        schema["minimum"], schema["maximum"] = INTEGER_RANGES[parameter.type]
    if parameter.default is not UNKNOWN_DEFAULT and parameter.default is not None:
        schema["default"] = parameter.default
    return schema


def _argument_schema(parameter: Parameter, declared: dict[str, Any] | None) -> dict[str, Any]:
    """The catalog's schema of a parameter, with what the contract declares on top."""
    schema = parameter_schema(parameter)
    if declared is not None:
        stated = swagger.convert(declared)
        if "$ref" in stated:  # siblings of $ref are ignored: reference it through allOf
            stated = {"allOf": [stated]}
        schema.update(stated)
    return schema


def body_schema(function: Function, entry: dict[str, Any] | None, role: str) -> dict[str, Any]:
    """The ``args`` body of ``POST /rpc/<name>`` as ``role`` must send it."""
    declared = contract.resolve(entry["request"]) if entry else {}
    extra_required = list(entry.get("requiredFor", {}).get(role, [])) if entry else []
    if function.takes_whole_body:
        if not declared:
            return {
                "type": "object",
                "description": "The request body, passed to the function as it is "
                f"(its single unnamed {function.parameters[0].type} parameter).",
            }
        schema = swagger.convert(declared)
    else:
        properties = declared.get("properties", {})
        schema = {key: declared[key] for key in ("description", "minProperties") if key in declared}
        schema["type"] = "object"
        schema["properties"] = {
            p.name: _argument_schema(p, properties.get(p.name)) for p in function.parameters
        }
        schema["required"] = [p.name for p in function.parameters if not p.has_default]
        schema["additionalProperties"] = False
        if declared.get("examples"):
            schema["example"] = declared["examples"][0]
    required = [*schema.get("required", [])]
    required += [name for name in extra_required if name not in required]
    if required:
        schema["required"] = required
    else:
        schema.pop("required", None)
    return schema


def _error_statuses(
    function: Function, entry: dict[str, Any] | None, role: str, ambiguous: bool
) -> dict[str, list[str]]:
    """Each error status the operation may answer, and what answers it."""
    found: dict[str, list[str]] = {status: [text] for status, text in HTTP_ERRORS.items()}
    if not function.takes_whole_body:
        for status, text in NAMED_ERRORS.items():
            found.setdefault(status, []).append(text)
    if ambiguous:
        found["300"] = ["PGRST203: several overloads match the body"]
    sqlstates = contract.kit_errors()
    for code in entry.get("errors", []) if entry else []:
        status = str(statuses.status_for_sqlstate(sqlstates[code], role, code))
        found.setdefault(status, []).append(f"{code} ({sqlstates[code]})")
    return dict(sorted(found.items()))


def responses(
    function: Function, entry: dict[str, Any] | None, role: str, ambiguous: bool = False
) -> dict[str, Any]:
    """The operation's responses: the answer, then every error status with its causes."""
    answered: dict[str, Any] = {"200": {"description": "OK"}}
    if entry is not None:
        answered["200"]["schema"] = swagger.convert(entry["response"])
    elif function.return_type == "void":
        answered = {"204": {"description": "No Content"}}
    for status, causes in _error_statuses(function, entry, role, ambiguous).items():
        response: dict[str, Any] = {
            "description": "; ".join(causes),
            "schema": swagger.ref(ERROR),
        }
        if status in RESPONSE_HEADERS:
            response["headers"] = RESPONSE_HEADERS[status]
        answered[status] = response
    return answered


def operation(function: Function, role: str, ambiguous: bool = False) -> dict[str, Any]:
    """The ``post`` operation of one function, as ``role`` may call it."""
    entry = contract.rpc(function.name)
    summary, _, description = (function.description or "").partition("\n")
    body = body_schema(function, entry, role)
    result: dict[str, Any] = {
        "tags": [f"(rpc) {function.name}"],
        "produces": ["application/json"],
        "parameters": [
            {
                "in": "body",
                "name": "args",
                # An empty body is {} (PostgREST's rule): needed only when {} is not enough.
                "required": function.takes_whole_body or bool(body.get("required")),
                "schema": body,
            }
        ],
        "responses": responses(function, entry, role, ambiguous),
        "security": SECURITY,
    }
    if summary:
        result["summary"] = summary
    if description.strip("\n"):
        result["description"] = description.strip("\n")
    return result


def _root_operation() -> dict[str, Any]:
    """``GET /``: this document."""
    error = swagger.ref(ERROR)
    return {
        "tags": ["Introspection"],
        "summary": "OpenAPI description (this document)",
        "produces": ["application/openapi+json", "application/json"],
        "responses": {
            "200": {"description": "OK", "schema": {"type": "object"}},
            "401": {
                "description": HTTP_ERRORS["401"],
                "schema": error,
                "headers": RESPONSE_HEADERS["401"],
            },
            "406": {"description": HTTP_ERRORS["406"], "schema": error},
            "503": {"description": HTTP_ERRORS["503"], "schema": error},
            "504": {"description": HTTP_ERRORS["504"], "schema": error},
        },
        "security": SECURITY,
    }


def document(functions: Sequence[Function], server: Server, role: str) -> dict[str, Any]:
    """The Swagger 2.0 document for ``functions`` (already filtered for ``role``)."""
    paths: dict[str, Any] = {"/": {"get": _root_operation()}}
    for name in sorted({f.name for f in functions}):
        overloads = [f for f in functions if f.name == name]
        # Overloads share a path; like PostgREST, the last one read describes it.
        paths[f"/rpc/{name}"] = {"post": operation(overloads[-1], role, len(overloads) > 1)}
    definitions = {
        name: swagger.convert(contract.definition(name))
        for name in sorted(swagger.references(paths) | {ERROR})
    }
    return {
        "swagger": "2.0",
        "info": {
            "title": "Customer management kit",
            "description": "PostgREST-compatible API of the customer management kit: its RPCs "
            "in schema public that this role may execute, with their contract "
            "(contract.schema.json). POST calls an RPC; OPTIONS answers Allow.",
            "version": _version(),
        },
        "host": server.host,
        "basePath": BASE_PATH,
        "schemes": [server.scheme],
        "consumes": ["application/json"],
        "produces": ["application/json"],
        "security": SECURITY,
        "paths": paths,
        "definitions": definitions,
        "securityDefinitions": SECURITY_DEFINITIONS,
    }


def encode(value: dict[str, Any]) -> bytes:
    """The document as compact UTF-8 JSON."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()
