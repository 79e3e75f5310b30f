"""The OpenAPI document at ``GET /rest/v1/``, built the way PostgREST builds its own.

PostgREST answers ``GET /`` with a Swagger 2.0 document (``application/openapi+json``) of
what the caller's role may use (its default ``openapi-mode``, ``follow-privileges``): here,
the functions of the exposed schema the role may execute, read from ``pg_catalog`` as that
role (``catalog.OPENAPI_QUERY``), so a function a later migration adds and grants appears
without a code change. Each is ``POST /rpc/<name>`` whose body parameter ``args`` is an
object of its named parameters (type from the SQL type as PostgREST maps it, the SQL type
as ``format``; those without a default are required). A function with a single unnamed
``json``/``jsonb`` parameter takes the body as it is: its ``args`` is any JSON object.

Unlike PostgREST it lists no tables (the proxy serves none), no ``GET`` for stable
functions and no ``Prefer`` header (the proxy serves ``POST`` only and ignores ``Prefer``),
and each operation lists the error statuses the kit documents (README, docs/contract.md).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import metadata
from typing import Any

from customer_management.proxy.catalog import Function, Parameter

MEDIA_TYPE = "application/openapi+json; charset=utf-8"
BASE_PATH = "/rest/v1"
_SWAGGER_TYPES = {
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
# Error statuses an RPC may answer (docs/contract.md): the kit's codes and PostgREST's.
ERROR_RESPONSES: dict[str, str] = {
    "300": "Several overloads match the body (PGRST203)",
    "400": "Invalid request: the kit's validation codes (P0001), invalid JSON (PGRST102)",
    "401": "Missing or invalid API key or JWT (PGRST301, PGRST302, PGRST303); anon may not",
    "403": "Forbidden for this caller (42501)",
    "404": "No such function for these parameters (PGRST202)",
    "406": "Schema not exposed (PGRST106)",
    "409": "Conflict (23505 unique or 23503 foreign-key violation)",
    "413": "Body over 16 KB (PT413)",
    "429": "Rate limited (PT429); Retry-After says when to retry",
    "503": "Database unreachable or connection lost (PGRST000, PGRST001, 57P01); try again (PT503)",
    "504": "No pooled connection became free in time (PGRST003)",
}
ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "PostgREST's error body",
    "required": ["code", "message"],
    "properties": {
        "code": {"type": "string"},
        "message": {"type": "string"},
        "details": {},
        "hint": {},
    },
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


def swagger_type(sql_type: str) -> str | None:
    """PostgREST's ``toSwaggerType``: JSON Schema type of a SQL type (None for json)."""
    if sql_type in ("json", "jsonb"):
        return None
    if sql_type.endswith("[]"):
        return "array"
    return _SWAGGER_TYPES.get(sql_type, "string")


def parameter_schema(parameter: Parameter) -> dict[str, Any]:
    """The body property for one named parameter, as PostgREST's ``makeProcProperty``."""
    schema: dict[str, Any] = {"format": parameter.type}
    kind = swagger_type(parameter.type)
    if kind is not None:
        schema["type"] = kind
    if kind == "array":
        item = swagger_type(parameter.type[:-2])
        schema["items"] = {"type": item} if item is not None else {}
    return schema


def body_schema(function: Function) -> dict[str, Any]:
    """The ``args`` body of ``POST /rpc/<name>``."""
    if function.takes_whole_body:
        return {
            "type": "object",
            "description": "The request body, passed to the function as it is "
            f"(its single unnamed {function.parameters[0].type} parameter).",
        }
    schema: dict[str, Any] = {
        "type": "object",
        "properties": {p.name: parameter_schema(p) for p in function.parameters},
    }
    required = [p.name for p in function.parameters if not p.has_default]
    if required:
        schema["required"] = required
    return schema


def _operation(function: Function) -> dict[str, Any]:
    """The ``post`` operation of one function."""
    summary, _, description = (function.description or "").partition("\n")
    responses: dict[str, Any] = {"200": {"description": "OK"}}
    if function.return_type == "void":
        responses = {"204": {"description": "No Content"}}
    responses.update(
        {
            status: {"description": text, "schema": {"$ref": "#/definitions/Error"}}
            for status, text in ERROR_RESPONSES.items()
        }
    )
    operation: dict[str, Any] = {
        "tags": [f"(rpc) {function.name}"],
        "produces": ["application/json"],
        "parameters": [
            {"in": "body", "name": "args", "required": True, "schema": body_schema(function)}
        ],
        "responses": responses,
    }
    if summary:
        operation["summary"] = summary
    if description.strip("\n"):
        operation["description"] = description.strip("\n")
    return operation


def document(functions: Sequence[Function], server: Server) -> dict[str, Any]:
    """The Swagger 2.0 document for ``functions`` (already filtered for the caller)."""
    paths: dict[str, Any] = {
        "/": {
            "get": {
                "tags": ["Introspection"],
                "summary": "OpenAPI description (this document)",
                "produces": ["application/openapi+json", "application/json"],
                "responses": {
                    "200": {"description": "OK"},
                    "401": {
                        "description": "Missing or invalid API key (PGRST301, PGRST302)",
                        "schema": {"$ref": "#/definitions/Error"},
                    },
                },
            }
        }
    }
    names = sorted({f.name for f in functions})
    for name in names:
        overloads = [f for f in functions if f.name == name]
        # Overloads share a path; like PostgREST, the last one read describes it.
        paths[f"/rpc/{name}"] = {"post": _operation(overloads[-1])}
    return {
        "swagger": "2.0",
        "info": {
            "title": "Customer management kit",
            "description": "PostgREST-compatible API of the customer management kit: its RPCs "
            "in schema public that this role may execute.",
            "version": _version(),
        },
        "host": server.host,
        "basePath": BASE_PATH,
        "schemes": [server.scheme],
        "consumes": ["application/json"],
        "produces": ["application/json"],
        "paths": paths,
        "definitions": {"Error": ERROR_SCHEMA},
        "securityDefinitions": {
            "apikey": {
                "type": "apiKey",
                "in": "header",
                "name": "apikey",
                "description": "The project's anon or service_role key",
            },
            "bearer": {
                "type": "apiKey",
                "in": "header",
                "name": "Authorization",
                "description": 'A JWT, prefixed with "Bearer "',
            },
        },
    }


def encode(value: dict[str, Any]) -> bytes:
    """The document as compact UTF-8 JSON."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()
