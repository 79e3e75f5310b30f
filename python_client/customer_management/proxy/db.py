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
never carries one caller's identity into the next request. The statements are pipelined
(one network round trip per request) and never prepared, so nothing depends on the server
connection between transactions: the URL may be a pooler's in transaction mode.

Starved or cut off, it answers like PostgREST and never hangs:

* **pool exhausted** (every connection busy for ``pool_timeout_seconds``): 504 ``PGRST003``;
* **database unreachable** (the latest connection attempt failed): 503 ``PGRST000`` at
  once, without waiting for the pool; a probe reconnects in the background (0.2 s, doubling
  to 2 s) and, once it succeeds, the pool drops the connections the outage broke and grows
  again: the proxy serves again by itself;
* **connection lost mid-request** (server restarted or killed): 503 ``PGRST001``, or the
  server's own SQLSTATE (``57P01`` when it shuts down: 503); the broken connection is
  discarded, never reused;
* **slow statement**: the server cancels it at ``statement_timeout`` (``57014``, which
  PostgREST answers with 500); should the server not answer at all, the request gives up
  ``CLIENT_GRACE_SECONDS`` later (503 ``PGRST001``) and the connection is closed.

Every connection goes back to the pool (or is closed) whatever happens, so the pool never
holds more than ``pool_max_size`` connections and none leaks.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg.conninfo import conninfo_to_dict
from psycopg_pool import AsyncConnectionPool, PoolClosed, PoolTimeout

from customer_management.proxy import catalog, errors, openapi
from customer_management.proxy.auth import Caller
from customer_management.proxy.backend import Health, RpcCall, RpcResult
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
APPLICATION_NAME = "customer-management-proxy"
CLIENT_GRACE_SECONDS = 2.0  # past statement_timeout, the server is not answering at all
PROBE_FIRST_DELAY = 0.2
PROBE_MAX_DELAY = 2.0
# SQLSTATEs after which the other pooled connections are suspect too (the server is going
# down or was restarted): admin/crash shutdown, cannot connect now, connection exceptions.
SERVER_GONE_STATES = frozenset({"57P01", "57P02", "57P03"})

LOGGER = logging.getLogger("customer_management.proxy")

AnyConnection = psycopg.AsyncConnection[Any]


@dataclass
class DatabaseReachability:
    """Whether the latest attempt to connect (the pool's or the probe's) succeeded."""

    down: bool = False
    detail: str | None = None
    since: float = field(default_factory=time.monotonic)

    def connected(self) -> None:
        """A connection was just made: the database is reachable."""
        if self.down:
            LOGGER.warning("database reachable again")
            self.since = time.monotonic()
        self.down = False
        self.detail = None

    def failed(self, exc: BaseException) -> None:
        """A connection attempt just failed: the database is unreachable."""
        if not self.down:
            LOGGER.warning("database unreachable: %s", _first_line(exc))
            self.since = time.monotonic()
        self.down = True
        self.detail = _first_line(exc)


def _first_line(exc: BaseException) -> str:
    """The first line of an error (libpq's messages run over several)."""
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


def tracked_connection_class(reachability: DatabaseReachability) -> type[AnyConnection]:
    """A connection class that records each connection attempt's outcome."""

    class TrackedConnection(psycopg.AsyncConnection[Any]):
        @classmethod
        async def connect(cls, conninfo: str = "", **kwargs: Any) -> TrackedConnection:
            try:
                connection = await super().connect(conninfo, **kwargs)
            except psycopg.Error as exc:
                reachability.failed(exc)
                raise
            reachability.connected()
            return connection

    return TrackedConnection


class PostgresBackend:
    """Runs RPCs on a pooled connection, in a transaction carrying the caller's role."""

    def __init__(self, settings: Settings) -> None:
        """Create (not yet open) the pool for ``settings.db_url``."""
        assert settings.db_url is not None
        self._settings = settings
        self._reachability = DatabaseReachability()
        # Statements are sent unprepared (psycopg would prepare one after five runs): behind
        # a pooler in transaction mode, as Supabase's on port 6543, the next transaction may
        # run on a server connection that never saw it. PostgREST does the same there
        # (db-prepared-statements = false).
        self._connect_kwargs: dict[str, Any] = {
            "autocommit": True,
            "application_name": APPLICATION_NAME,
            "prepare_threshold": None,
        }
        if "connect_timeout" not in conninfo_to_dict(settings.db_url):
            self._connect_kwargs["connect_timeout"] = settings.connect_timeout_seconds
        self._pool: AsyncConnectionPool[AnyConnection] = AsyncConnectionPool(
            settings.db_url,
            connection_class=tracked_connection_class(self._reachability),
            min_size=settings.pool_min_size,
            max_size=settings.pool_max_size,
            timeout=settings.pool_timeout_seconds,
            reconnect_timeout=settings.pool_reconnect_timeout_seconds,
            kwargs=self._connect_kwargs,
            open=False,
            name=APPLICATION_NAME,
        )
        self._probe: asyncio.Task[None] | None = None
        self._catalog = catalog.Catalog()
        self._catalog_loaded_at: float | None = None
        self._catalog_lock = asyncio.Lock()

    async def start(self) -> None:
        """Open the pool (connections are made in the background)."""
        await self._pool.open()

    async def stop(self) -> None:
        """Stop probing; close the pool and its connections."""
        if self._probe is not None:
            self._probe.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._probe
        await self._pool.close()

    def pool_stats(self) -> dict[str, int]:
        """The pool's size, idle connections and waiting requests (for ``/health``)."""
        stats = self._pool.get_stats()
        return {
            "size": stats.get("pool_size", 0),
            "available": stats.get("pool_available", 0),
            "max": self._settings.pool_max_size,
            "waiting": stats.get("requests_waiting", 0),
        }

    async def ready(self) -> bool:
        """True when ``select 1`` succeeds on a pooled connection."""
        return (await self.health()).ok

    async def health(self) -> Health:
        """Run ``select 1`` on a pooled connection within ``health_timeout_seconds``; say
        why not otherwise (database unreachable, pool exhausted)."""
        timeout = min(self._settings.health_timeout_seconds, self._settings.pool_timeout_seconds)
        try:
            async with asyncio.timeout(timeout + CLIENT_GRACE_SECONDS):
                conn = await self._getconn(timeout)
                try:
                    await conn.execute("select 1")
                except psycopg.Error as exc:
                    raise self._database_error(exc, conn, "anon") from None
                finally:
                    await self._putconn(conn)
        except errors.ApiError as error:
            return Health(False, error.code, error.message, self._health_details(error))
        except TimeoutError:
            silent = errors.client_error("The database did not answer in time.")
            return Health(False, silent.code, silent.message, self._health_details(silent))
        return Health(True, pool=self.pool_stats())

    def _health_details(self, error: errors.ApiError) -> dict[str, Any]:
        """Pool numbers, and the connection error when the database is unreachable."""
        details: dict[str, Any] = {"pool": self.pool_stats()}
        if self._reachability.down:
            details["database"] = self._reachability.detail
        elif error.details:
            details["database"] = error.details
        return details

    async def call(self, call: RpcCall) -> RpcResult:
        """Match the function, then run it in one transaction as the caller."""
        function = await self._function(call.function, call.body)
        problem = function.argument_error(call.body)
        if problem is not None:
            raise errors.invalid_argument(function.name, problem)
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
        conn = await self._getconn(self._settings.pool_timeout_seconds)
        try:
            async with asyncio.timeout(self._call_deadline()):
                # Pipelined: BEGIN, the context, the call and COMMIT in one round trip.
                async with conn.transaction():
                    await conn.execute(CONTEXT_SQL, context)
                    cursor = await conn.execute(statement, (call.body_text,))
                    row = await cursor.fetchone()
        except psycopg.Error as exc:
            raise self._database_error(exc, conn, caller.role) from None
        except TimeoutError:
            await self._discard(conn)
            raise errors.client_error(
                f"The database did not answer within {self._call_deadline():g} s."
            ) from None
        finally:
            await self._putconn(conn)
        status, headers = _chosen_status(row)
        if function.return_type == "void":
            return RpcResult(None, status, headers)
        text = row[0] if row else None
        return RpcResult(text if text is not None else "null", status, headers)

    def _call_deadline(self) -> float:
        """How long a request may wait for the database: the statement timeout (the server
        cancels the statement then) plus a grace period for a server that answers nothing."""
        return self._settings.statement_timeout_ms / 1000 + CLIENT_GRACE_SECONDS

    async def _getconn(self, timeout: float) -> AnyConnection:
        """A pooled connection, or the error PostgREST answers: 503 ``PGRST000`` at once when
        the database is unreachable and no connection is idle, 504 ``PGRST003`` when every
        connection stayed busy for ``timeout``."""
        if self._reachability.down:
            self._start_probe()
            if self._pool.get_stats().get("pool_available", 0) == 0:
                raise errors.connection_error(self._reachability.detail)
        try:
            return await self._pool.getconn(timeout)
        except PoolTimeout:
            if self._reachability.down:
                raise errors.connection_error(self._reachability.detail) from None
            raise errors.pool_timeout() from None
        except PoolClosed:
            raise errors.connection_error("The proxy is shutting down.") from None

    async def _putconn(self, conn: AnyConnection) -> None:
        """Give the connection back; the pool discards it if it is broken (never reused)."""
        try:
            await self._pool.putconn(conn)
        except Exception:  # a closed pool: close the connection ourselves
            LOGGER.exception("could not return a connection to the pool")
            await conn.close()

    @staticmethod
    async def _discard(conn: AnyConnection) -> None:
        """Close a connection in an unknown state; the pool then replaces it."""
        try:
            await conn.close()
        except Exception:
            LOGGER.exception("could not close a connection")

    def _database_error(
        self, exc: psycopg.Error, conn: AnyConnection, role: str
    ) -> errors.ApiError:
        """PostgREST's answer to a failed statement. A lost connection (no SQLSTATE, or the
        server going down) makes every pooled connection suspect: probe and clean up."""
        sqlstate = exc.sqlstate
        lost = (
            conn.broken
            or conn.closed
            or (isinstance(exc, psycopg.OperationalError) and not sqlstate)
        )
        if lost or (
            sqlstate is not None and (sqlstate in SERVER_GONE_STATES or sqlstate[:2] == "08")
        ):
            self._start_probe()
        if lost and not sqlstate:
            return errors.client_error(_first_line(exc))
        if not sqlstate:
            LOGGER.error("database error without SQLSTATE: %s", _first_line(exc))
            return errors.internal_error()
        return errors.from_database(exc, role)

    def _start_probe(self) -> None:
        """Probe the database in the background (one probe at a time)."""
        if self._probe is None or self._probe.done():
            self._probe = asyncio.get_running_loop().create_task(self._probe_until_reachable())

    async def _probe_until_reachable(self) -> None:
        """Connect directly until it works (0.2 s, doubling to 2 s, between tries); then let
        the pool drop the connections the outage broke and grow back."""
        delay = PROBE_FIRST_DELAY
        while True:
            try:
                conn = await psycopg.AsyncConnection.connect(
                    self._settings.db_url or "", **self._connect_kwargs
                )
            except psycopg.Error as exc:
                self._reachability.failed(exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, PROBE_MAX_DELAY)
                continue
            await conn.close()
            self._reachability.connected()
            with contextlib.suppress(PoolClosed):
                await self._pool.check()
            return

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

    async def has_function(self, name: str) -> bool:
        """Whether schema public exposes a function ``name`` (reload the catalog once on a
        miss, as a call would)."""
        if self._catalog_loaded_at is None or (
            name not in self._catalog.names() and self._may_reload()
        ):
            await self._reload_catalog()
        return name in self._catalog.names()

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
            rows = await self._fetch_all(catalog.CATALOG_QUERY, (schema,))
            self._catalog.replace([catalog.parse_row(schema, row) for row in rows])
            self._catalog_loaded_at = time.monotonic()

    async def _fetch_all(
        self, query: str, params: tuple[Any, ...], role: str | None = None
    ) -> list[tuple[Any, ...]]:
        """Run one read-only query (as ``role`` when given) on a pooled connection."""
        conn = await self._getconn(self._settings.pool_timeout_seconds)
        try:
            async with asyncio.timeout(self._call_deadline()), conn.transaction():
                if role is not None:
                    await conn.execute(
                        "select set_config('role', %s, true), "
                        "set_config('statement_timeout', %s, true)",
                        (role, str(self._settings.statement_timeout_ms)),
                    )
                cursor = await conn.execute(query, params)
                return await cursor.fetchall()
        except psycopg.Error as exc:
            raise self._database_error(exc, conn, role or "anon") from None
        except TimeoutError:
            await self._discard(conn)
            raise errors.client_error("The database did not answer in time.") from None
        finally:
            await self._putconn(conn)

    async def openapi_functions(self, role: str) -> list[catalog.Function]:
        """The exposed functions ``role`` may execute, read from pg_catalog as that role
        (PostgREST's OpenAPI follows the caller's privileges the same way)."""
        schema = self._settings.exposed_schema
        rows = await self._fetch_all(catalog.OPENAPI_QUERY, (schema,), role)
        return [catalog.parse_row(schema, row) for row in rows]

    async def openapi(self, caller: Caller, server: openapi.Server) -> bytes:
        """The OpenAPI document of the functions the caller's role may execute."""
        functions = await self.openapi_functions(caller.role)
        return openapi.encode(openapi.document(functions, server, caller.role))


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
