"""The delivery hooks: a command gets the code in its environment, a URL as a JSON POST.

Both really run: the command as a subprocess, the URL against a small HTTP server on
127.0.0.1. A hook that fails raises ``DeliveryFailed`` with a message that holds no code.
"""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest

from customer_management.mcp import CommandDelivery, DeliveryFailed, UrlDelivery

CODE = "246810"
RECORD = """\
import json, os, sys
with open(sys.argv[1], "w") as out:
    json.dump({"argv": sys.argv, "env": dict(os.environ)}, out)
sys.exit(int(sys.argv[2]))
"""


def command(tmp_path: Path, exit_status: int = 0) -> tuple[CommandDelivery, Path]:
    """A command that records its argv and environment, then exits."""
    script = tmp_path / "record.py"
    script.write_text(RECORD)
    record = tmp_path / "record.json"
    environ = {
        "PATH": "/usr/bin:/bin",
        "SUPABASE_SERVICE_ROLE_KEY": "service-key",
        "SUPABASE_JWT_SECRET": "jwt-secret",
        "CUSTOMER_MANAGEMENT_DELIVER_TOKEN": "deliver-token",
        "SMTP_HOST": "mail.example.com",
    }
    argv = [sys.executable, str(script), str(record), str(exit_status)]
    return CommandDelivery(argv, environ=environ), record


def test_a_command_gets_the_code_in_its_environment_and_no_key(tmp_path: Path) -> None:
    """Code, address, channel, expiry in the environment; the server's secrets withheld;
    the operator's own settings (SMTP_HOST) passed on; nothing in argv."""
    delivery, record = command(tmp_path)
    delivery.deliver("email", "ann@example.com", CODE, "2026-12-01T10:00:00+00:00")
    seen = json.loads(record.read_text())
    env = seen["env"]
    assert env["CUSTOMER_MANAGEMENT_CODE"] == CODE
    assert env["CUSTOMER_MANAGEMENT_TO"] == "ann@example.com"
    assert env["CUSTOMER_MANAGEMENT_CHANNEL"] == "email"
    assert env["CUSTOMER_MANAGEMENT_EXPIRES_AT"] == "2026-12-01T10:00:00+00:00"
    assert env["SMTP_HOST"] == "mail.example.com"
    for secret in (
        "SUPABASE_SERVICE_ROLE_KEY",
        "SUPABASE_JWT_SECRET",
        "CUSTOMER_MANAGEMENT_DELIVER_TOKEN",
    ):
        assert secret not in env
    assert CODE not in " ".join(seen["argv"])


def test_a_failing_command_is_a_failed_delivery(tmp_path: Path) -> None:
    """Non-zero exit, a missing program, a timeout: DeliveryFailed, no code in the message."""
    failing, _ = command(tmp_path, exit_status=1)
    with pytest.raises(DeliveryFailed, match="exited with 1") as exited:
        failing.deliver("email", "ann@example.com", CODE, "later")
    missing = CommandDelivery([str(tmp_path / "no-such-program")])
    with pytest.raises(DeliveryFailed) as not_run:
        missing.deliver("email", "ann@example.com", CODE, "later")
    slow = CommandDelivery([sys.executable, "-c", "import time; time.sleep(30)"], timeout=0.5)
    with pytest.raises(DeliveryFailed, match="TimeoutExpired") as timed_out:
        slow.deliver("email", "ann@example.com", CODE, "later")
    for raised in (exited, not_run, timed_out):
        assert CODE not in str(raised.value)


class _Inbox(BaseHTTPRequestHandler):
    """Records each POST; answers with the status the test set."""

    received: ClassVar[list[dict[str, Any]]] = []
    status: ClassVar[int] = 202

    def do_POST(self) -> None:
        length = int(self.headers["Content-Length"])
        _Inbox.received.append(
            {
                "body": json.loads(self.rfile.read(length)),
                "authorization": self.headers.get("Authorization"),
                "content_type": self.headers.get("Content-Type"),
            }
        )
        self.send_response(_Inbox.status)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""


@pytest.fixture
def inbox() -> Iterator[str]:
    """An HTTP server on 127.0.0.1 recording POSTs; yields its URL."""
    _Inbox.received = []
    _Inbox.status = 202
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Inbox)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/send-code"
    finally:
        server.shutdown()
        server.server_close()


def test_a_url_gets_the_code_as_json_with_the_bearer(inbox: str) -> None:
    """One POST: channel, to, code, expiresAt; the configured bearer token."""
    UrlDelivery(inbox, token="hook-token").deliver("email", "ann@example.com", CODE, "soon")
    assert _Inbox.received == [
        {
            "body": {
                "channel": "email",
                "to": "ann@example.com",
                "code": CODE,
                "expiresAt": "soon",
            },
            "authorization": "Bearer hook-token",
            "content_type": "application/json",
        }
    ]


def test_a_url_that_refuses_is_a_failed_delivery(inbox: str) -> None:
    """A 500 answer, an unreachable URL, a file: URL."""
    _Inbox.status = 500
    with pytest.raises(DeliveryFailed, match="answered 500"):
        UrlDelivery(inbox).deliver("email", "ann@example.com", CODE, "soon")
    with pytest.raises(DeliveryFailed, match="not reached"):
        UrlDelivery("http://127.0.0.1:1/").deliver("email", "ann@example.com", CODE, "soon")
    with pytest.raises(ValueError, match="http"):
        UrlDelivery("file:///etc/passwd")
