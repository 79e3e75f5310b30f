"""The HTTP routes: ``/rest/v1/rpc/{function}``, ``/functions/v1/{name}``, the OpenAPI
document at ``/rest/v1/`` and ``/health``.

Every handler follows the same order: method check, declared size, authentication, body
(size-limited, JSON-checked), then one backend call. Any ``ApiError`` on the way becomes
PostgREST's error body; anything unexpected is logged and answered with a bare 500.

Methods as PostgREST answers them, and ``Allow`` always the methods that work: a plain
``OPTIONS`` (not a CORS preflight, which the CORS middleware answers) is 200 with an empty
body and ``Allow``; any other method a route does not serve is 405 in PostgREST's body
(``PGRST101`` on an RPC, ``PGRST117`` elsewhere) with the same ``Allow``. The proxy serves
only ``POST`` on an RPC (PostgREST also runs stable functions on ``GET``), so an RPC allows
``OPTIONS,POST``; the document at ``/rest/v1/`` and ``/health`` allow ``OPTIONS,GET,HEAD``.
The Edge Function route answers ``OPTIONS`` as the Deno function does (``200 ok``).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from customer_management import statuses
from customer_management.proxy import bodies, errors, openapi
from customer_management.proxy.auth import Authenticator, Caller
from customer_management.proxy.backend import Backend, RpcCall, RpcResult
from customer_management.proxy.settings import Settings

LOGGER = logging.getLogger("customer_management.proxy")
RPC_ALLOW = "OPTIONS,POST"
READ_ALLOW = "OPTIONS,GET,HEAD"
FUNCTION_ALLOW = "POST, OPTIONS"  # the Edge Function's own spelling (_shared/errors.ts)
FUNCTION_NAME = "customer-management"
FUNCTION_RPC = "customer_management"

Handler = Callable[[Request], Awaitable[Response]]


@dataclass(frozen=True)
class Context:
    """What handlers share: settings, the authenticator and the backend."""

    settings: Settings
    authenticator: Authenticator
    backend: Backend


def json_response(text: str, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """A JSON response from already-serialised text (sent unchanged)."""
    return Response(
        text.encode("utf-8"),
        status_code=status,
        headers=headers,
        media_type=errors.JSON_CONTENT_TYPE,
    )


def error_response(request: Request, error: errors.ApiError) -> Response:
    """PostgREST's error body; the code is noted for the access log."""
    request.state.error_code = error.code
    return Response(error.body_bytes(), status_code=error.status, headers=error.response_headers())


def options_response(allow: str) -> Response:
    """PostgREST's answer to a plain ``OPTIONS``: 200, no body, ``Allow`` (and any origin)."""
    return Response(status_code=200, headers={"allow": allow, "access-control-allow-origin": "*"})


class AnyMethod:
    """A route endpoint that receives every method (a plain function endpoint gets only
    ``GET`` and ``HEAD`` unless methods are listed, and no list holds them all)."""

    def __init__(self, handler: Handler) -> None:
        """Serve ``handler``."""
        self.handler = handler

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Run the handler and send its response."""
        response = await self.handler(Request(scope, receive))
        await response(scope, receive, send)


def guarded(handler: Handler) -> Handler:
    """Turn ``ApiError`` into its response and anything else into a logged, bare 500."""

    async def run(request: Request) -> Response:
        try:
            return await handler(request)
        except errors.ApiError as error:
            return error_response(request, error)
        except Exception:
            LOGGER.exception("unhandled error on %s %s", request.method, request.url.path)
            return error_response(request, errors.internal_error())

    return run


def build_routes(context: Context) -> list[Route]:
    """The routes, bound to ``context``."""
    settings = context.settings

    async def authenticate(request: Request, require_api_key: bool) -> Caller:
        caller = await context.authenticator.authenticate(
            request.headers, request.query_params, require_api_key=require_api_key
        )
        request.state.role = caller.role
        return caller

    async def run_rpc(request: Request, function: str, caller: Caller) -> RpcResult:
        body = await bodies.read_json(request, settings.max_body_bytes)
        call = RpcCall(
            function=function,
            body_text=body.text,
            body=body.value,
            caller=caller,
            method=request.method,
            path=request.url.path,
            headers=dict(request.headers),
        )
        return await context.backend.call(call)

    def note_returned_error(request: Request, result: RpcResult) -> None:
        """An error body the function returned with its own status goes to the access log."""
        if result.status is not None and result.status >= 400 and result.text:
            try:
                body = json.loads(result.text)
            except ValueError:
                return
            if isinstance(body, dict) and isinstance(body.get("code"), str):
                request.state.error_code = body["code"]

    def check_profile(request: Request) -> None:
        """``Content-Profile`` / ``Accept-Profile`` may only name the exposed schema."""
        for header in ("content-profile", "accept-profile"):
            schema = request.headers.get(header)
            if schema is not None and schema != settings.exposed_schema:
                raise errors.schema_not_exposed(schema)

    async def rpc(request: Request) -> Response:
        """PostgREST's ``POST /rpc/<function>`` for the functions of schema public."""
        function = request.path_params["function"]
        if request.method == "OPTIONS":
            await authenticate(request, require_api_key=True)
            if not await context.backend.has_function(function):
                raise errors.function_not_found(function, [], None)
            return options_response(RPC_ALLOW)
        if request.method != "POST":
            raise errors.invalid_rpc_method(request.method, RPC_ALLOW)
        check_profile(request)
        bodies.check_declared_length(request, settings.max_body_bytes)
        caller = await authenticate(request, require_api_key=True)
        result = await run_rpc(request, function, caller)
        note_returned_error(request, result)
        if result.text is None:
            return Response(status_code=result.status or 204, headers=result.headers)
        return json_response(result.text, result.status or 200, result.headers)

    async def edge_function(request: Request) -> Response:
        """The Edge Function contract: the RPC's JSON; 409 for the conflict shape."""
        if request.path_params["name"] != FUNCTION_NAME:
            raise errors.not_found("NOT_FOUND", "Requested function was not found")
        if request.method == "OPTIONS":
            return PlainTextResponse("ok")
        if request.method != "POST":
            raise errors.unsupported_method(request.method, FUNCTION_ALLOW)
        bodies.check_declared_length(request, settings.max_body_bytes)
        caller = await authenticate(request, require_api_key=False)
        result = await run_rpc(request, FUNCTION_RPC, caller)
        note_returned_error(request, result)
        text = result.text if result.text is not None else "null"
        status = result.status or statuses.function_status(json.loads(text))
        return json_response(text, status, result.headers)

    async def health(request: Request) -> Response:
        """200 ``{"status": "ok"}`` when a pooled connection answers ``select 1`` now; else
        503 with PostgREST's code for why (``PGRST000`` database unreachable, ``PGRST001``
        connection broken, ``PGRST003`` pool exhausted) and the pool's numbers. Never waits
        longer than ``health_timeout_seconds`` for a connection; no credentials needed."""
        if request.method == "OPTIONS":
            return options_response(READ_ALLOW)
        if request.method not in ("GET", "HEAD"):
            raise errors.unsupported_method(request.method, READ_ALLOW)
        report = await context.backend.health()
        if report.ok:
            return json_response(json.dumps({"status": "ok"}), 200)
        body = {
            "status": "unavailable",
            "code": report.code,
            "message": report.message,
            **report.details,
        }
        request.state.error_code = report.code
        return json_response(json.dumps(body), 503)

    async def openapi_document(request: Request) -> Response:
        """PostgREST's ``GET /``: the OpenAPI document of what the caller's role may call."""
        if request.method == "OPTIONS":
            await authenticate(request, require_api_key=True)
            return options_response(READ_ALLOW)
        if request.method not in ("GET", "HEAD"):
            raise errors.unsupported_method(request.method, READ_ALLOW)
        check_profile(request)
        caller = await authenticate(request, require_api_key=True)
        server = openapi.Server(
            request.headers.get("host") or f"{request.url.hostname}:{request.url.port}",
            request.url.scheme,
        )
        content = await context.backend.openapi(caller, server)
        return Response(content, status_code=200, media_type=openapi.MEDIA_TYPE)

    async def not_found(request: Request) -> Response:
        """JSON 404 for any other path."""
        raise errors.not_found("PGRST125", "Invalid path specified in request URL")

    # Every method reaches the handler, which answers it as PostgREST does.
    return [
        Route("/health", AnyMethod(guarded(health))),
        Route("/rest/v1/", AnyMethod(guarded(openapi_document))),
        Route("/rest/v1", AnyMethod(guarded(openapi_document))),
        Route("/rest/v1/rpc/{function}", AnyMethod(guarded(rpc))),
        Route("/functions/v1/{name}", AnyMethod(guarded(edge_function))),
        Route("/{path:path}", AnyMethod(guarded(not_found))),
    ]


async def http_exception_response(request: Request, exc: Exception) -> Response:
    """Starlette's own 404 and 405 (the console's static files, a route's methods) in
    PostgREST's body, with the ``Allow`` Starlette gives."""
    assert isinstance(exc, HTTPException)
    headers = dict(exc.headers or {})
    allow = next((v for k, v in headers.items() if k.lower() == "allow"), None)
    if exc.status_code == 405:
        error = errors.unsupported_method(request.method, allow or "GET, HEAD")
    elif exc.status_code == 404:
        error = errors.not_found("PGRST125", "Invalid path specified in request URL")
    else:
        error = errors.ApiError(exc.status_code, str(exc.status_code), str(exc.detail))
    return error_response(request, error)
