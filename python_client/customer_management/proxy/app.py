"""Assemble the ASGI application: backend, authenticator, routes and middleware."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware

from customer_management.proxy.auth import Authenticator
from customer_management.proxy.backend import Backend
from customer_management.proxy.console import console_routes
from customer_management.proxy.middleware import AccessLogMiddleware, cors_options
from customer_management.proxy.routes import Context, build_routes, http_exception_response
from customer_management.proxy.settings import Settings


def make_backend(settings: Settings) -> Backend:
    """The database backend, or the forwarding one when an upstream is configured."""
    if settings.forwarding:
        from customer_management.proxy.forward import SupabaseBackend

        return SupabaseBackend(settings)
    from customer_management.proxy.db import PostgresBackend

    return PostgresBackend(settings)


def create_app(settings: Settings, backend: Backend | None = None) -> Starlette:
    """The proxy as an ASGI app; the backend opens and closes with the app's lifespan.

    Serve it with any ASGI server, e.g. ``uvicorn.run(create_app(Settings(db_url=...)))``.
    """
    backend = backend or make_backend(settings)
    context = Context(settings, Authenticator(settings), backend)

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        await backend.start()
        try:
            yield
        finally:
            await backend.stop()

    return Starlette(
        routes=[*console_routes(settings), *build_routes(context)],
        lifespan=lifespan,
        exception_handlers={HTTPException: http_exception_response},
        middleware=[
            Middleware(AccessLogMiddleware),
            Middleware(CORSMiddleware, **cors_options(settings.cors_allow_headers)),
        ],
    )
