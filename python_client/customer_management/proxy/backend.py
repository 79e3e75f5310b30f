"""What the routes need from whatever executes a call: the database or an upstream project.

Routes authenticate, parse and map statuses; a ``Backend`` only runs one RPC for one caller
and returns the function's JSON text or raises ``ApiError``. ``db.PostgresBackend`` and
``forward.SupabaseBackend`` implement it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from customer_management.proxy.auth import Caller
from customer_management.proxy.openapi import Server


@dataclass(frozen=True)
class RpcCall:
    """One RPC to run: function name, body (raw text and parsed) and the verified caller."""

    function: str
    body_text: str = field(repr=False)
    body: Any = field(repr=False)
    caller: Caller
    method: str = "POST"
    path: str = ""
    headers: Mapping[str, str] = field(default_factory=dict, repr=False)


@dataclass(frozen=True)
class RpcResult:
    """The function's result as JSON text (None for a ``void`` function: HTTP 204), and the
    HTTP status and headers the function chose with ``response.status`` /
    ``response.headers``, if it did."""

    text: str | None
    status: int | None = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Health:
    """What ``/health`` reports: whether a trivial call works now, and if not PostgREST's
    code for why (``PGRST000`` unreachable, ``PGRST001`` connection broken, ``PGRST003`` pool
    exhausted), with details such as the pool's numbers."""

    ok: bool
    code: str | None = None
    message: str | None = None
    details: dict[str, Any] = field(default_factory=dict)
    pool: dict[str, int] | None = None


class Backend(Protocol):
    """Executes RPCs; opened and closed with the application."""

    async def start(self) -> None:
        """Open pools or HTTP clients."""

    async def stop(self) -> None:
        """Close them."""

    async def health(self) -> Health:
        """Whether a trivial call succeeds now (the ``/health`` check), and why not."""

    async def call(self, call: RpcCall) -> RpcResult:
        """Run ``call`` or raise ``errors.ApiError``."""

    async def has_function(self, name: str) -> bool:
        """Whether ``/rpc/<name>`` names an exposed function (``OPTIONS`` answers 404 if not)."""

    async def openapi(self, caller: Caller, server: Server) -> bytes:
        """The OpenAPI document of what ``caller`` may call (``GET /rest/v1/``)."""
