"""Reading a request body safely: the size limit and the JSON check, before any SQL.

The limit is enforced twice: on ``Content-Length`` (rejected without reading) and on the
bytes actually received (a chunked or lying client is cut off at the limit), so the proxy
never buffers more than ``limit`` bytes per request.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request

from customer_management.proxy import errors


@dataclass(frozen=True)
class JsonBody:
    """The body as received (UTF-8 text, ``{}`` when empty) and parsed."""

    text: str
    value: Any


def check_declared_length(request: Request, limit: int) -> None:
    """Reject a declared ``Content-Length`` over ``limit`` (413) or not a number (400)."""
    declared = request.headers.get("content-length")
    if declared is None:
        return
    try:
        length = int(declared)
    except ValueError:
        raise errors.ApiError(400, "PGRST102", "Invalid Content-Length header") from None
    if length > limit:
        raise errors.payload_too_large(limit)


async def read_limited(request: Request, limit: int) -> bytes:
    """Read at most ``limit`` bytes of body; 413 as soon as more arrive."""
    check_declared_length(request, limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise errors.payload_too_large(limit)
        chunks.append(chunk)
    return b"".join(chunks)


# A \uD800-\uDFFF escape: only valid as half of a surrogate pair.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


def _has_lone_surrogate(value: Any) -> bool:
    """True when a parsed string (key or value) holds an unpaired surrogate: Python's parser
    accepts ``"\ud800"``, PostgreSQL's refuses it (22P02), and it is not Unicode text."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def _reject_constant(name: str) -> Any:
    """NaN and Infinity are not JSON (Python's parser would accept them)."""
    raise ValueError(f"{name} is not valid JSON")


def parse_json(raw: bytes) -> JsonBody:
    """Decode and validate the body; an empty body is ``{}`` (PostgREST's RPC rule)."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise errors.invalid_json() from None
    if text.startswith("\ufeff"):
        text = text[1:]
    if not text.strip():
        return JsonBody("{}", {})
    try:
        value = json.loads(text, parse_constant=_reject_constant)
    except (ValueError, RecursionError):
        raise errors.invalid_json() from None
    if _SURROGATE_ESCAPE.search(text) and _has_lone_surrogate(value):
        raise errors.invalid_json()
    return JsonBody(text, value)


async def read_json(request: Request, limit: int) -> JsonBody:
    """The request body, size-checked and parsed."""
    return parse_json(await read_limited(request, limit))
