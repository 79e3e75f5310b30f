"""Forward mode: the same routes, executed by a real Supabase project through supabase-py.

Each call becomes ``rpc(name, body)`` on supabase-py's PostgREST client (``postgrest``, the
package behind ``supabase.Client.rpc``) for the upstream ``<url>/rest/v1``, sent with the
configured project key as ``apikey`` and the caller's own token as ``Authorization``: the
upstream checks the token again and runs the function as the caller. A single httpx client
is shared by all requests; the per-request PostgREST client is only a thin wrapper.

supabase-py raises ``APIError`` with the PostgREST fields but not the HTTP status, so a
response hook records the upstream status (and ``Retry-After``) in a context variable that
belongs to the request's task.
"""

from __future__ import annotations

import contextvars
import json
from typing import Any

import httpx
from postgrest import APIError, AsyncPostgrestClient

from customer_management.proxy import errors
from customer_management.proxy.auth import Caller
from customer_management.proxy.backend import Health, RpcCall, RpcResult
from customer_management.proxy.openapi import Server
from customer_management.proxy.settings import Settings

_last_response: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar(
    "customer_management_upstream_response", default=None
)


async def _record_response(response: httpx.Response) -> None:
    """httpx response hook: remember status and Retry-After for the running request."""
    holder = _last_response.get()
    if holder is not None:
        holder["status"] = response.status_code
        holder["retry_after"] = response.headers.get("retry-after")


class SupabaseBackend:
    """Runs RPCs on an upstream Supabase project (or another instance of this proxy)."""

    def __init__(self, settings: Settings) -> None:
        """Prepare the shared HTTP client for ``settings.upstream_url``."""
        assert settings.upstream_url is not None and settings.upstream_key is not None
        self._rest_url = settings.upstream_url.rstrip("/") + "/rest/v1"
        self._key = settings.upstream_key
        self._http = httpx.AsyncClient(
            timeout=settings.upstream_timeout_seconds,
            event_hooks={"response": [_record_response]},
            follow_redirects=False,
        )

    async def start(self) -> None:
        """Nothing to open: httpx connects on first use."""

    async def stop(self) -> None:
        """Close the shared HTTP client."""
        await self._http.aclose()

    async def health(self) -> Health:
        """Healthy when the upstream REST endpoint answers at all (below 500)."""
        try:
            response = await self._http.get(self._rest_url + "/", headers={"apikey": self._key})
        except httpx.HTTPError as exc:
            error = errors.connection_error(f"upstream unreachable: {type(exc).__name__}")
            return Health(False, error.code, error.message, {"upstream": error.details})
        if response.status_code >= 500:
            return Health(
                False,
                "PGRST000",
                "Upstream error.",
                {"upstream": f"HTTP {response.status_code}"},
            )
        return Health(True)

    async def openapi(self, caller: Caller, server: Server) -> bytes:
        """The upstream's own OpenAPI document, fetched with the caller's token."""
        try:
            response = await self._http.get(
                self._rest_url + "/",
                headers={"apikey": self._key, "Authorization": f"Bearer {caller.token}"},
            )
        except httpx.HTTPError:
            raise errors.connection_error() from None
        if response.status_code >= 400:
            try:
                body = response.json()
            except ValueError:
                body = {}
            raise errors.from_fields(
                body.get("code"),
                body.get("message"),
                body.get("details"),
                body.get("hint"),
                "anon",
                response.status_code,
            )
        return response.content

    async def has_function(self, name: str) -> bool:
        """Ask the upstream: ``OPTIONS /rpc/<name>`` is 200 for a function, 404 otherwise."""
        try:
            response = await self._http.request(
                "OPTIONS", f"{self._rest_url}/rpc/{name}", headers={"apikey": self._key}
            )
        except httpx.HTTPError:
            raise errors.connection_error() from None
        return response.status_code < 400

    def _client(self, token: str) -> AsyncPostgrestClient:
        """supabase-py's PostgREST client acting as the caller."""
        headers = {"apikey": self._key, "Authorization": f"Bearer {token}"}
        return AsyncPostgrestClient(self._rest_url, headers=headers, http_client=self._http)

    async def call(self, call: RpcCall) -> RpcResult:
        """Forward the call; map upstream errors to the same ``ApiError`` a local call gives."""
        holder: dict[str, Any] = {}
        reset = _last_response.set(holder)
        try:
            client = self._client(call.caller.token)
            # The parsed body goes out as JSON again (supabase-py serialises ``params``).
            response = await client.rpc(call.function, call.body).execute()
        except APIError as exc:
            raise self._error(exc, holder, call.caller.role) from None
        except httpx.HTTPError:
            raise errors.connection_error() from None
        finally:
            _last_response.reset(reset)
        if holder.get("status") == 204:
            return RpcResult(None)
        return RpcResult(json.dumps(response.data, ensure_ascii=False))

    @staticmethod
    def _error(exc: APIError, holder: dict[str, Any], role: str) -> errors.ApiError:
        """The upstream error with the upstream status (derived from the code if unknown)."""
        status = holder.get("status")
        error = errors.from_fields(
            exc.code, exc.message, exc.details, exc.hint, role, status if status else None
        )
        if holder.get("retry_after"):
            error.headers["retry-after"] = str(holder["retry_after"])
        return error
