"""The MCP server: the chatbot tools over stdio or streamable HTTP (the ``mcp`` package).

The caller's identity is fixed when the server starts (``--line`` or an access token: one
conversation per process, as a telephony layer that starts a server per call uses it), or,
over HTTP without one, read from each request: ``Authorization: Bearer <user access
token>``, or ``X-Caller-Line`` together with ``X-Telephony-Key`` matching the key the server
was given (anyone can send a header; only the telephony layer knows the key).

A bearer token is verified before a conversation exists, by the verifier the kit's proxy
uses (``customer_management.tokens``: the project's JWT secret or JWKS; ``alg: none``, a
wrong signature, an expired token, another audience than ``authenticated`` or another role
than ``authenticated`` are refused with the tool error ``not_authenticated``). Over HTTP the
server runs stateless: no MCP protocol session outlives its request, so unverified requests
leave nothing behind. Each verified caller (a line, a user: not a token, so a refreshed
token keeps the conversation) has one ``ChatSession``, which keeps what the conversation
learned. At most ``Sessions.MAX_OPEN`` callers are remembered; a new caller replaces only
one idle for ``Sessions.IDLE_SECONDS``, and is refused (``busy``) while every conversation is
active, so new identities never push a live conversation out.

Tool failures are MCP tool errors (``isError``) whose text is
``{"error": code, "message": ...}``; successes carry the same JSON as text and as
structured content. The log names the tool and the outcome, never arguments or answers.
"""

from __future__ import annotations

import hmac
import json
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import anyio.to_thread
import mcp.types as types
from mcp.server.lowlevel import Server
from mcp.server.stdio import stdio_server

from customer_management.mcp.definitions import TOOLS
from customer_management.mcp.delivery import Delivery
from customer_management.mcp.errors import ToolFailure
from customer_management.mcp.identity import IdentityError, SessionIdentity
from customer_management.mcp.session import ChatSession, KitConnection
from customer_management.tokens import TokenRejected, TokenVerifier

SERVER_NAME = "customer-management"
LINE_HEADER = "x-caller-line"
TELEPHONY_KEY_HEADER = "x-telephony-key"

INSTRUCTIONS = (
    "Tools for the customer on this conversation only: their line (or sign-in) is fixed "
    "by the system and no tool takes a phone number or an account id. Start with "
    "identify_caller and greet with its summary. Never read out a code: ask the caller to "
    "read the code they received and pass it to confirm_code. If several accounts match, "
    "say the message you were given and offer request_account_help."
)

log = logging.getLogger("customer_management.mcp")


@dataclass(frozen=True)
class ServerConfig:
    """What every session of this server shares."""

    kit: KitConnection
    delivery: Delivery | None = None
    identity: SessionIdentity | None = None
    telephony_key: str | None = None
    # Verifies user tokens (the project's JWT secret or JWKS). Without it a bearer token
    # is refused over HTTP; a token fixed at start is then left to the kit to verify.
    verifier: TokenVerifier | None = None

    def __repr__(self) -> str:
        """No keys, no token."""
        return f"ServerConfig(kit={self.kit!r}, identity={self.identity!r})"


def _text_result(payload: Mapping[str, Any], is_error: bool) -> types.CallToolResult:
    text = json.dumps(payload, ensure_ascii=False)
    return types.CallToolResult(
        content=[types.TextContent(type="text", text=text)],
        structured_content=dict(payload),
        is_error=is_error,
    )


@dataclass
class _Open:
    """A remembered conversation and when its caller last used it (monotonic seconds)."""

    session: ChatSession
    last_used: float


class Sessions:
    """One ``ChatSession`` per verified caller, opened on the caller's first tool call.

    The state of a conversation (the account, the last conflict, a code sent) belongs to
    the caller: requests naming the same line or the same user share it, whatever MCP
    session, HTTP request or token carries them. At most ``MAX_OPEN`` callers are kept; a
    new one takes the place of the least recently used only when that one has been idle
    for ``IDLE_SECONDS``, else it is refused with ``busy``.
    """

    MAX_OPEN = 1_000
    IDLE_SECONDS = 30 * 60

    def __init__(self, config: ServerConfig, clock: Callable[[], float] = time.monotonic) -> None:
        """Nothing is opened before the first tool call."""
        self._config = config
        self._clock = clock
        self._open: OrderedDict[tuple[str, str], _Open] = OrderedDict()
        self._lock = threading.Lock()

    def identity_from_headers(self, headers: Mapping[str, str] | None) -> SessionIdentity:
        """The verified identity an HTTP request names (when the server has no fixed
        identity); raises ``ToolFailure`` (``not_authenticated``) for anything else."""
        headers = headers or {}
        authorization = headers.get("authorization", "")
        line = headers.get(LINE_HEADER)
        try:
            if line is not None:
                key = self._config.telephony_key
                given = headers.get(TELEPHONY_KEY_HEADER, "")
                if not key or not hmac.compare_digest(key.encode(), given.encode()):
                    raise ToolFailure(
                        "not_authenticated", "Only the telephony layer may name a caller's line."
                    )
                return SessionIdentity.phone_line(line)
            if authorization.lower().startswith("bearer "):
                if self._config.verifier is None:
                    raise ToolFailure(
                        "not_authenticated",
                        "This server cannot verify access tokens (no JWT secret or JWKS).",
                    )
                return self.verified(SessionIdentity.signed_in(authorization[7:]))
        except IdentityError as exc:
            raise ToolFailure(
                "not_authenticated", f"The session's identity is unusable: {exc}."
            ) from None
        raise ToolFailure(
            "not_authenticated",
            "The session names no caller: open it with the user's access token or the line.",
        )

    def verified(self, identity: SessionIdentity) -> SessionIdentity:
        """``identity`` once its token (if any) passed the verifier: signature, expiry,
        audience, and the role of a signed-in user. A line is the telephony layer's word."""
        verifier = self._config.verifier
        if identity.access_token is None or verifier is None:
            return identity
        try:
            claims = verifier.verify(identity.access_token)
        except TokenRejected as rejected:
            raise ToolFailure(
                "not_authenticated", f"The access token was refused: {rejected.message}."
            ) from None
        if claims.get("role") != "authenticated":
            raise ToolFailure("not_authenticated", "The access token is not a signed-in user's.")
        return identity

    def identity_for(self, headers: Mapping[str, str] | None) -> SessionIdentity:
        """The verified caller of a request: the server's fixed identity, or the request's."""
        if self._config.identity is not None:
            return self.verified(self._config.identity)
        return self.identity_from_headers(headers)

    def for_request(self, headers: Mapping[str, str] | None) -> ChatSession:
        """The conversation of the caller a request is for."""
        identity = self.identity_for(headers)
        key = identity.key
        now = self._clock()
        with self._lock:
            held = self._open.get(key)
            if held is None:
                self._make_room(now)
                held = _Open(ChatSession(self._config.kit, identity, self._config.delivery), now)
                self._open[key] = held
                log.info("session opened for %s", identity.describe())
            held.last_used = now
            self._open.move_to_end(key)
        # Outside the table's lock: it waits only for this caller's own running call.
        held.session.renew(identity)
        return held.session

    def _make_room(self, now: float) -> None:
        """Forget idle callers until one more fits; ``busy`` when every one is active."""
        while len(self._open) >= self.MAX_OPEN:
            oldest_key, oldest = next(iter(self._open.items()))
            if now - oldest.last_used < self.IDLE_SECONDS:
                raise ToolFailure(
                    "busy", "Too many conversations are open; try again in a few minutes."
                )
            del self._open[oldest_key]

    def __len__(self) -> int:
        """How many callers are remembered."""
        with self._lock:
            return len(self._open)


def build_server(config: ServerConfig) -> Server[Any]:
    """The low-level MCP server with the six tools."""
    sessions = Sessions(config)

    async def list_tools(
        ctx: Any, params: types.PaginatedRequestParams | None
    ) -> types.ListToolsResult:
        return types.ListToolsResult(
            tools=[
                types.Tool(name=t.name, description=t.description, input_schema=t.input_schema)
                for t in TOOLS
            ]
        )

    async def call_tool(ctx: Any, params: types.CallToolRequestParams) -> types.CallToolResult:
        headers = getattr(getattr(ctx, "request", None), "headers", None)
        try:
            session = sessions.for_request(headers)
            answer = await anyio.to_thread.run_sync(session.call, params.name, params.arguments)
        except ToolFailure as failure:
            log.info("tool %s: %s", params.name, failure.code)
            return _text_result(failure.as_json(), is_error=True)
        except Exception as exc:
            log.error("tool %s failed: %s", params.name, type(exc).__name__)
            unexpected = ToolFailure("unavailable", "Something went wrong; try again later.")
            return _text_result(unexpected.as_json(), is_error=True)
        log.info("tool %s: ok", params.name)
        return _text_result(answer, is_error=False)

    return Server(
        SERVER_NAME,
        version="1",
        instructions=INSTRUCTIONS,
        on_list_tools=list_tools,
        on_call_tool=call_tool,
    )


async def serve_stdio(config: ServerConfig) -> None:
    """Serve one client over stdin and stdout until it disconnects."""
    server = build_server(config)
    async with stdio_server() as (read_stream, write_stream):
        await server.run(read_stream, write_stream, server.create_initialization_options())


async def serve_http(config: ServerConfig, host: str, port: int, path: str) -> None:
    """Serve streamable HTTP on ``host:port`` at ``path`` until stopped."""
    import uvicorn

    app = build_server(config).streamable_http_app(
        streamable_http_path=path, host=host, stateless_http=True
    )
    server = uvicorn.Server(
        uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False)
    )
    await server.serve()
