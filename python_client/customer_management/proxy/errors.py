"""Errors the proxy answers with, always in PostgREST's body ``{code, details, hint, message}``.

``ApiError`` is raised anywhere in the request path and turned into a response in one place
(``routes``). Only the four fields and a few headers ever leave the process: database errors
contribute their SQLSTATE, primary message, detail and hint (what PostgREST forwards); other
exceptions become a generic 500 and are logged, never echoed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import psycopg

from customer_management import statuses

JSON_CONTENT_TYPE = "application/json; charset=utf-8"
MAX_BODY_DETAIL = "The request body is larger than 16 KB."


@dataclass(eq=False)
class ApiError(Exception):
    """An error answer: HTTP status, PostgREST body fields and extra response headers."""

    status: int
    code: str
    message: str
    details: str | None = None
    hint: str | None = None
    headers: dict[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        """Status, code and message (for logs and tracebacks; no request data)."""
        return f"{self.status} {self.code}: {self.message}"

    def body(self) -> dict[str, Any]:
        """The JSON body, keys in PostgREST's (alphabetical) order."""
        return {
            "code": self.code,
            "details": self.details,
            "hint": self.hint,
            "message": self.message,
        }

    def body_bytes(self) -> bytes:
        """The body as compact UTF-8 JSON."""
        return json.dumps(self.body(), ensure_ascii=False, separators=(",", ":")).encode()

    def response_headers(self) -> dict[str, str]:
        """Content type, PostgREST's ``Proxy-Status`` and the error's own headers."""
        return {
            "content-type": JSON_CONTENT_TYPE,
            "proxy-status": f"PostgREST; error={self.code}",
            **self.headers,
        }


def from_fields(
    code: str | None, message: str | None, details: Any, hint: Any, role: str, status: int | None
) -> ApiError:
    """Build an error from PostgREST body fields (``status`` derived when unknown)."""
    code = code or "PGRSTX00"
    message = message or ""
    if status is None:
        status = statuses.status_for_code(code, role, message)
    error = ApiError(status, code, message, _text(details), _text(hint))
    _add_status_headers(error)
    return error


def from_database(exc: psycopg.Error, role: str) -> ApiError:
    """Map a database error raised for ``role`` the way PostgREST does."""
    diag = exc.diag
    sqlstate = diag.sqlstate
    if not sqlstate:
        return client_error()
    message = diag.message_primary or ""
    error = ApiError(
        statuses.status_for_sqlstate(sqlstate, role, message),
        sqlstate,
        message,
        diag.message_detail,
        diag.message_hint,
    )
    _add_status_headers(error)
    return error


def _add_status_headers(error: ApiError) -> None:
    """``Retry-After`` on 429, ``WWW-Authenticate`` on 401 (as PostgREST sends it)."""
    if error.status == 429:
        seconds = statuses.retry_after_seconds(error.hint)
        if seconds is not None:
            error.headers["retry-after"] = str(seconds)
    elif error.status == 401 and "www-authenticate" not in error.headers:
        error.headers["www-authenticate"] = "Bearer"


def _text(value: Any) -> str | None:
    """Details and hint are strings or null in PostgREST bodies."""
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


def jwt_error(code: str, message: str, details: str | None = None) -> ApiError:
    """A 401 for a token that failed verification; the token itself is never echoed."""
    description = message.replace("\\", "\\\\").replace('"', '\\"')
    return ApiError(
        401,
        code,
        message,
        details,
        None,
        {"www-authenticate": f'Bearer error="invalid_token", error_description="{description}"'},
    )


def missing_api_key() -> ApiError:
    """401 when neither an ``apikey`` header nor query parameter was sent (Supabase's gateway)."""
    return ApiError(
        401,
        "PGRST302",
        "No API key found in request",
        None,
        "No `apikey` request header or url param was found.",
        {"www-authenticate": "Bearer"},
    )


def invalid_api_key(details: str) -> ApiError:
    """401 when the ``apikey`` is not a key of this project."""
    return ApiError(
        401,
        "PGRST301",
        "Invalid API key",
        details,
        "Double check your Supabase `anon` or `service_role` API key.",
        {"www-authenticate": "Bearer"},
    )


def payload_too_large(limit: int) -> ApiError:
    """413 for a body over the limit; same code and text as the SQL check raises."""
    detail = (
        MAX_BODY_DETAIL if limit == 16384 else f"The request body is larger than {limit} bytes."
    )
    return ApiError(413, "PT413", "payload_too_large", detail, "Send only the documented fields.")


def invalid_json() -> ApiError:
    """400 for a body that is not UTF-8 JSON (PostgREST's PGRST102)."""
    return ApiError(400, "PGRST102", "Empty or invalid json")


def function_not_found(function: str, keys: list[str], suggestion: str | None) -> ApiError:
    """404 PGRST202 worded like PostgREST for a POST with a JSON body."""
    name = f"public.{function}"
    if keys:
        listed = ", ".join(keys)
        message = f"Could not find the function {name}({listed}) in the schema cache"
        label = "parameters" if len(keys) > 1 else "parameter"
        searched = f" with {label} {listed}"
    else:
        message = f"Could not find the function {name} without parameters in the schema cache"
        searched = " without parameters"
    details = (
        f"Searched for the function {name}{searched} or with a single unnamed json/jsonb "
        "parameter, but no matches were found in the schema cache."
    )
    hint = f"Perhaps you meant to call the function public.{suggestion}" if suggestion else None
    return ApiError(404, "PGRST202", message, details, hint)


def ambiguous_function(function: str) -> ApiError:
    """300 PGRST203 when several overloads match the body."""
    return ApiError(
        300,
        "PGRST203",
        f"Could not choose the best candidate function for public.{function}",
        None,
        "Try renaming the parameters or the function itself in the database so function "
        "overloading can be resolved",
    )


def schema_not_exposed(schema: str) -> ApiError:
    """406 PGRST106 for an ``Accept-Profile``/``Content-Profile`` other than ``public``."""
    return ApiError(
        406,
        "PGRST106",
        f"Invalid schema: {schema}",
        None,
        "Only the following schemas are exposed: public",
    )


def invalid_rpc_method(method: str, allow: str) -> ApiError:
    """405 PGRST101 for a method other than POST or OPTIONS on ``/rpc/<function>``
    (PostgREST's message; ``Allow`` lists what the route serves, as RFC 9110 asks)."""
    return ApiError(
        405, "PGRST101", f"Cannot use the {method} method on RPC", headers={"allow": allow}
    )


def unsupported_method(method: str, allow: str) -> ApiError:
    """405 PGRST117 for a method the route does not serve, with ``Allow``."""
    return ApiError(405, "PGRST117", f"Unsupported HTTP method: {method}", headers={"allow": allow})


def invalid_argument(function: str, problem: str) -> ApiError:
    """400 PGRST102 for a named argument whose JSON type is not its parameter's."""
    return ApiError(
        400,
        "PGRST102",
        "Invalid argument type",
        f"public.{function}: {problem}",
        "Send each argument with the JSON type the API's OpenAPI document gives it.",
    )


def not_found(code: str, message: str) -> ApiError:
    """404 for an unknown path or Edge Function name."""
    return ApiError(404, code, message)


def connection_error(details: str | None = None) -> ApiError:
    """503 PGRST000 when the database cannot be reached (``details``: libpq's reason)."""
    return ApiError(503, "PGRST000", "Database connection error. Retrying the connection.", details)


def client_error(details: str | None = None) -> ApiError:
    """503 PGRST001 when the connection broke during the request (PostgREST's client
    error: the server closed it, restarted, or stopped answering)."""
    return ApiError(503, "PGRST001", "Database client error. Retrying the connection.", details)


def pool_timeout() -> ApiError:
    """504 PGRST003 when no pooled connection became free in time."""
    return ApiError(504, "PGRST003", "Timed out acquiring connection from connection pool.")


def internal_error() -> ApiError:
    """500 for anything unexpected; the cause is logged, not sent."""
    return ApiError(500, "PGRSTX00", "Internal server error")
