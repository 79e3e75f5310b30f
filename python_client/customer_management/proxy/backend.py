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


class Backend(Protocol):
    """Executes RPCs; opened and closed with the application."""

    async def start(self) -> None:
        """Open pools or HTTP clients."""

    async def stop(self) -> None:
        """Close them."""

    async def ready(self) -> bool:
        """True when a trivial call succeeds (the ``/health`` check)."""

    async def call(self, call: RpcCall) -> RpcResult:
        """Run ``call`` or raise ``errors.ApiError``."""
