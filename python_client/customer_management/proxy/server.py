"""Running the proxy with uvicorn: in the foreground (the CLI) or in a background thread.

uvicorn's own access log is switched off (it would log query strings, which may carry an
``apikey``); ``AccessLogMiddleware`` writes the structured line instead. In the foreground
uvicorn handles Ctrl-C and SIGTERM: it stops accepting, finishes open requests, then runs
the lifespan shutdown that closes the connection pool.
"""

from __future__ import annotations

import logging
import socket
import sys
import threading
import time
from collections.abc import Callable
from types import TracebackType

import uvicorn
from starlette.types import ASGIApp

LOG_FORMAT = "%(message)s"


class _StderrHandler(logging.Handler):
    """Writes each record to the *current* ``sys.stderr`` (it may be replaced after setup)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            sys.stderr.write(self.format(record) + "\n")
            sys.stderr.flush()
        except Exception:
            self.handleError(record)


def configure_logging(level: int = logging.INFO) -> None:
    """Send the proxy's loggers to stderr: access lines are already JSON, one per line."""
    handler = _StderrHandler()
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    for name in ("customer_management.proxy", "uvicorn.error"):
        logger = logging.getLogger(name)
        logger.handlers[:] = [handler]
        logger.setLevel(level)
        logger.propagate = False


def uvicorn_config(app: ASGIApp, host: str, port: int) -> uvicorn.Config:
    """uvicorn settings shared by both ways of running: no access log, lifespan required."""
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        access_log=False,
        log_config=None,
        lifespan="on",
        server_header=False,
    )


class _ReadyServer(uvicorn.Server):
    """A uvicorn server that calls ``on_ready`` once it listens (to print the banner)."""

    def __init__(self, config: uvicorn.Config, on_ready: Callable[[], None] | None) -> None:
        super().__init__(config)
        self._on_ready = on_ready

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        if self.started and self._on_ready is not None:
            self._on_ready()


def serve(app: ASGIApp, host: str, port: int, on_ready: Callable[[], None] | None = None) -> bool:
    """Serve in the foreground until Ctrl-C / SIGTERM; return False if startup failed."""
    server = _ReadyServer(uvicorn_config(app, host, port), on_ready)
    server.run()
    return server.started


class BackgroundServer:
    """The proxy on a free port in a daemon thread (tests, notebooks, embedding).

    Use as a context manager; ``url`` is ``http://127.0.0.1:<port>``.
    """

    def __init__(self, app: ASGIApp, host: str = "127.0.0.1", port: int = 0) -> None:
        """Prepare; nothing listens until ``start``."""
        self._server = uvicorn.Server(uvicorn_config(app, host, port))
        self._thread = threading.Thread(target=self._server.run, name="proxy", daemon=True)
        self.host = host
        self.port = port

    @property
    def url(self) -> str:
        """Base URL of the running server."""
        return f"http://{self.host}:{self.port}"

    def start(self, timeout: float = 15.0) -> str:
        """Start and wait until it accepts connections; return its URL."""
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive():
                raise RuntimeError("the proxy failed to start (see the log)")
            if time.monotonic() > deadline:
                raise TimeoutError("the proxy did not start in time")
            time.sleep(0.01)
        sockets = self._server.servers[0].sockets
        self.port = int(sockets[0].getsockname()[1])
        return self.url

    def stop(self, timeout: float = 15.0) -> None:
        """Ask uvicorn to exit (lifespan shutdown closes the pool) and wait for it."""
        self._server.should_exit = True
        self._thread.join(timeout)

    def __enter__(self) -> BackgroundServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
