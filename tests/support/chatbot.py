"""Support for the chatbot-tool tests: ``customer-management mcp`` under the ``mcp`` client.

``chat_over_stdio`` launches the real command as a subprocess (as an agent framework
does), pointed at a running proxy with the service-role key in its environment, and
yields a ``Chat`` whose ``ok`` / ``error`` call a tool and return its JSON answer. The
server's stderr goes to a file the test can read. ``http_server`` runs the command with
streamable HTTP on a free port; ``chat_over_http`` connects to it, and ``raw_tool_call``
speaks the same JSON-RPC with plain httpx (one request after another, no client library),
so an attack can send a thousand of them quickly. ``Outbox`` is the
delivery hook of the tests: a command that appends each code it is given to a JSON-lines
file.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import httpx
import httpx2
from mcp import ClientSession, StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client

from customer_management.local.server import free_port
from support.proxy import SERVICE_KEY

SERVER_COMMAND = [sys.executable, "-m", "customer_management", "mcp"]

OUTBOX_SCRIPT = """\
import json, os, sys
with open(os.environ["TEST_OUTBOX"], "a") as outbox:
    outbox.write(json.dumps({
        "argv": sys.argv,
        "channel": os.environ["CUSTOMER_MANAGEMENT_CHANNEL"],
        "to": os.environ["CUSTOMER_MANAGEMENT_TO"],
        "code": os.environ["CUSTOMER_MANAGEMENT_CODE"],
        "expiresAt": os.environ["CUSTOMER_MANAGEMENT_EXPIRES_AT"],
        "keys": [k for k in ("SUPABASE_SERVICE_ROLE_KEY", "SUPABASE_KEY") if k in os.environ],
    }) + "\\n")
"""


@dataclass
class Outbox:
    """A delivery command writing to ``path``; ``messages`` reads what it sent."""

    directory: Path
    path: Path = field(init=False)
    script: Path = field(init=False)

    def __post_init__(self) -> None:
        self.path = self.directory / "outbox.jsonl"
        self.script = self.directory / "deliver.py"
        self.script.write_text(OUTBOX_SCRIPT)

    @property
    def command(self) -> str:
        """The ``--deliver-command`` value."""
        return f"{sys.executable} {self.script}"

    @property
    def env(self) -> dict[str, str]:
        """What the server's environment needs for the command to find the file."""
        return {"TEST_OUTBOX": str(self.path)}

    def messages(self) -> list[dict[str, Any]]:
        """Every code sent so far."""
        if not self.path.exists():
            return []
        return [json.loads(line) for line in self.path.read_text().splitlines()]

    def last_code(self) -> str:
        """The code of the last message."""
        return str(self.messages()[-1]["code"])


@dataclass
class Chat:
    """An MCP client session with the server; every answer is kept in ``transcript``."""

    session: ClientSession
    transcript: list[tuple[str, dict[str, Any], bool, dict[str, Any]]] = field(default_factory=list)

    async def call(
        self, name: str, arguments: dict[str, Any] | None = None
    ) -> tuple[bool, dict[str, Any]]:
        """Call a tool; whether it failed, and its JSON answer (text and structured agree)."""
        result = await self.session.call_tool(name, arguments or {})
        (content,) = result.content
        assert content.type == "text"
        payload: dict[str, Any] = json.loads(content.text)
        assert result.structured_content == payload
        self.transcript.append((name, arguments or {}, bool(result.is_error), payload))
        return bool(result.is_error), payload

    async def ok(self, name: str, arguments: dict[str, Any] | None = None) -> dict[str, Any]:
        """Call a tool that must succeed."""
        failed, payload = await self.call(name, arguments)
        assert not failed, payload
        return payload

    async def error(self, name: str, arguments: dict[str, Any] | None = None) -> dict[str, Any]:
        """Call a tool that must fail with a tool error; its ``{"error", "message"}``."""
        failed, payload = await self.call(name, arguments)
        assert failed, payload
        assert set(payload) <= {"error", "message", "retryAfter"}
        return payload

    def said(self) -> str:
        """Every answer of the session as one text (to look for what must not be there)."""
        return json.dumps([answer for *_, answer in self.transcript])


def server_env(proxy_url: str, **extra: str) -> dict[str, str]:
    """The environment the chatbot platform gives the server."""
    return {"SUPABASE_URL": proxy_url, "SUPABASE_SERVICE_ROLE_KEY": SERVICE_KEY, **extra}


@asynccontextmanager
async def chat_over_stdio(
    proxy_url: str, *args: str, errlog: TextIO, env: dict[str, str] | None = None
) -> AsyncIterator[Chat]:
    """``customer-management mcp ARGS`` as a subprocess, connected and initialised."""
    params = StdioServerParameters(
        command=SERVER_COMMAND[0],
        args=[*SERVER_COMMAND[1:], *args],
        env=server_env(proxy_url, **(env or {})),
    )
    async with (
        stdio_client(params, errlog=errlog) as (read, write),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        yield Chat(session)


@contextmanager
def http_server(proxy_url: str, *args: str, env: dict[str, str] | None = None) -> Iterator[str]:
    """``customer-management mcp --transport http`` on a free port; yields its MCP URL and
    stops it afterwards (SIGTERM, as a process manager does)."""
    port = free_port()
    process = subprocess.Popen(
        [*SERVER_COMMAND, "--transport", "http", "--port", str(port), *args],
        env={
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            **server_env(proxy_url, **(env or {})),
        },
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise RuntimeError(
                    f"the MCP server exited: {process.stderr.read() if process.stderr else ''}"
                )
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    break
            if time.monotonic() > deadline:
                raise TimeoutError("the MCP server did not listen within 60 s")
            time.sleep(0.1)
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stderr is not None:
            process.stderr.close()


@asynccontextmanager
async def chat_over_http(url: str, headers: dict[str, str] | None = None) -> AsyncIterator[Chat]:
    """An MCP client session over streamable HTTP, sending ``headers`` with each request."""
    async with (
        httpx2.AsyncClient(headers=headers or {}, timeout=60) as http,
        streamable_http_client(url, http_client=http) as (read, write),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        yield Chat(session)


MCP_ACCEPT = {"accept": "application/json, text/event-stream", "content-type": "application/json"}


def _rpc_answer(response: httpx.Response) -> dict[str, Any] | None:
    """The JSON-RPC message of an MCP answer, sent as JSON or as one server-sent event."""
    if "text/event-stream" in response.headers.get("content-type", ""):
        for line in response.text.splitlines():
            if line.startswith("data:"):
                message: dict[str, Any] = json.loads(line[5:])
                if "result" in message or "error" in message:
                    return message
        return None
    return response.json() if response.content else None


async def raw_tool_call(
    http: httpx.AsyncClient,
    url: str,
    headers: dict[str, str],
    name: str,
    arguments: dict[str, Any] | None = None,
) -> tuple[int, dict[str, Any] | None]:
    """initialize, initialized, tools/call ``name`` as plain HTTP with ``headers``: the
    first refused status and its JSON body, or 200 and the tool's JSON answer (a tool
    error's ``{"error", "message"}`` included)."""
    base = {**MCP_ACCEPT, **headers}
    hello = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {
            "protocolVersion": "2025-06-18",
            "capabilities": {},
            "clientInfo": {"name": "attack", "version": "1"},
        },
    }
    response = await http.post(url, json=hello, headers=base)
    if response.status_code != 200:
        return response.status_code, response.json() if response.content else None
    session = response.headers.get("mcp-session-id")
    if session:
        base["mcp-session-id"] = session
    base["mcp-protocol-version"] = "2025-06-18"
    await http.post(
        url, json={"jsonrpc": "2.0", "method": "notifications/initialized"}, headers=base
    )
    call = {
        "jsonrpc": "2.0",
        "id": 2,
        "method": "tools/call",
        "params": {"name": name, "arguments": arguments or {}},
    }
    response = await http.post(url, json=call, headers=base)
    if response.status_code != 200:
        return response.status_code, response.json() if response.content else None
    message = _rpc_answer(response) or {}
    content = (message.get("result") or {}).get("content") or [{}]
    return 200, json.loads(content[0].get("text") or "null")
