"""Database mode: a psycopg async pool and one transaction per request, as PostgREST runs it.

Each call checks out a pooled connection (ideally logged in as ``authenticator``, which can
only become the API roles), opens a transaction, sets the caller's context *local to that
transaction* and calls the function::

    set_config('role', <jwt role>, true)              -- PostgREST: SET LOCAL ROLE
    set_config('request.jwt.claims', <claims>, true)  -- read by auth.uid(), auth.jwt()
    set_config('request.method' | 'request.path' | 'request.headers', ..., true)
    set_config('search_path', 'public, extensions', true)
    set_config('statement_timeout', '8000', true)

Commit or rollback ends the transaction and with it every setting, so a pooled connection
never carries one caller's identity into the next request. The statements are pipelined:
one network round trip per request.
"""

from __future__ import annotations

import asyncio
import json
import time

import psycopg
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from customer_management.proxy import catalog, errors
from customer_management.proxy.backend import RpcCall, RpcResult
from customer_management.proxy.settings import Settings

CONTEXT_SQL = """
select set_config('search_path', %s, true),
       set_config('role', %s, true),
       set_config('request.jwt.claims', %s, true),
       set_config('request.method', %s, true),
       set_config('request.path', %s, true),
       set_config('request.headers', %s, true),
       set_config('statement_timeout', %s, true)
"""
CATALOG_RELOAD_INTERVAL = 1.0  # seconds between reloads triggered by unknown names


class PostgresBackend:
    """Runs RPCs on a pooled connection, in a transaction carrying the caller's role."""

    def __init__(self, settings: Settings) -> None:
        """Create (not yet open) the pool for ``settings.db_url``."""
        assert settings.db_url is not None
        self._settings = settings
        self._pool = AsyncConnectionPool(
            settings.db_url,
            min_size=settings.pool_min_size,
            max_size=settings.pool_max_size,
            timeout=settings.pool_timeout_seconds,
            kwargs={"autocommit": True, "application_name": "customer-management-proxy"},
            open=False,
            name="customer-management-proxy",
        )
        self._catalog = catalog.Catalog()
        self._catalog_loaded_at: float | None = None
        self._catalog_lock = asyncio.Lock()

    async def start(self) -> None:
        """Open the pool (connections are made in the background)."""
        await self._pool.open()

    async def stop(self) -> None:
        """Close the pool and its connections."""
        await self._pool.close()

    async def ready(self) -> bool:
        """Run ``select 1`` on a pooled connection."""
        try:
            timeout = min(2.0, self._settings.pool_timeout_seconds)
            async with self._pool.connection(timeout=timeout) as conn:
                await conn.execute("select 1")
        except (psycopg.Error, PoolTimeout):
            return False
        return True

    async def call(self, call: RpcCall) -> RpcResult:
        """Match the function, then run it in one transaction as the caller."""
        function = await self._function(call.function, call.body)
        statement = catalog.call_statement(function, call.body)
        caller = call.caller
        context = (
            ", ".join(self._settings.extra_search_path),
            caller.role,
            caller.claims_json(),
            call.method,
            call.path,
            json.dumps(dict(call.headers), separators=(",", ":")),
            str(self._settings.statement_timeout_ms),
        )
        try:
            # Pipelined: BEGIN, the context, the call and COMMIT travel in one round trip.
            async with self._pool.connection() as conn, conn.transaction():
                await conn.execute(CONTEXT_SQL, context)
                cursor = await conn.execute(statement, (call.body_text,))
                row = await cursor.fetchone()
        except PoolTimeout:
            raise errors.pool_timeout() from None
        except psycopg.Error as exc:
            raise errors.from_database(exc, caller.role) from None
        status, headers = _chosen_status(row)
        if function.return_type == "void":
            return RpcResult(None, status, headers)
        text = row[0] if row else None
        return RpcResult(text if text is not None else "null", status, headers)

    async def _function(self, name: str, body: object) -> catalog.Function:
        """The exposed function the body calls; reload the catalog once on a miss."""
        if self._catalog_loaded_at is None:
            await self._reload_catalog()
        function = self._catalog.match(name, body)
        if function is None and self._may_reload():
            await self._reload_catalog()
            function = self._catalog.match(name, body)
        if function is None:
            raise self._catalog.not_found(name, body)
        return function

    def _may_reload(self) -> bool:
        """Throttle reloads, so requests for unknown names cannot hammer pg_catalog."""
        loaded = self._catalog_loaded_at
        return loaded is None or time.monotonic() - loaded >= CATALOG_RELOAD_INTERVAL

    async def _reload_catalog(self) -> None:
        """Read the exposed functions from pg_catalog (one reader at a time)."""
        async with self._catalog_lock:
            if self._catalog_loaded_at is not None and not self._may_reload():
                return
            schema = self._settings.exposed_schema
            try:
                async with self._pool.connection() as conn:
                    cursor = await conn.execute(catalog.CATALOG_QUERY, (schema,))
                    rows = await cursor.fetchall()
            except PoolTimeout:
                raise errors.pool_timeout() from None
            except psycopg.Error as exc:
                raise errors.from_database(exc, "anon") from None
            self._catalog.replace([catalog.parse_row(schema, row) for row in rows])
            self._catalog_loaded_at = time.monotonic()


def _chosen_status(row: tuple[object, ...] | None) -> tuple[int | None, dict[str, str]]:
    """``response.status`` and ``response.headers`` as the function left them (PostgREST's
    format: a status code, and a JSON array of one-header objects)."""
    if row is None:
        return None, {}
    raw_status, raw_headers = row[1], row[2]
    status = int(raw_status) if isinstance(raw_status, str) and raw_status.isdigit() else None
    if status is not None and not 100 <= status <= 599:
        status = None
    headers: dict[str, str] = {}
    if isinstance(raw_headers, str) and raw_headers:
        try:
            entries = json.loads(raw_headers)
        except ValueError:
            entries = []
        for entry in entries if isinstance(entries, list) else []:
            if isinstance(entry, dict):
                headers.update({str(k).lower(): str(v) for k, v in entry.items()})
    return status, headers
