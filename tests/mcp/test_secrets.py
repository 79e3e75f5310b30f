"""The service-role key, verification codes and phone lines stay inside the server.

A whole conversation (a code sent, a wrong one, the right one, orders, an error) with the
server logging at debug level: its stderr holds neither the key nor a code nor the line
in full, and no answer does. ``tools`` prints definitions without any of them.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import TextIO

import pytest

from support.chatbot import Outbox, chat_over_stdio
from support.proxy import ANON_KEY, SERVICE_KEY, Proxy

pytest_plugins = ["support.proxy_fixtures", "support.chatbot_fixtures"]
pytestmark = pytest.mark.anyio

LINE = "+15557750001"


async def test_a_debug_log_holds_no_key_no_code_and_no_line(
    proxy: Proxy, outbox: Outbox, errlog: TextIO
) -> None:
    """Every tool called, at --log-level DEBUG; stderr and answers checked for secrets."""
    async with chat_over_stdio(
        proxy.url,
        "--line",
        LINE,
        "--deliver-command",
        outbox.command,
        "--log-level",
        "DEBUG",
        errlog=errlog,
        env={**outbox.env, "SUPABASE_ANON_KEY": ANON_KEY},
    ) as chat:
        await chat.ok("identify_caller", {"first_name": "Sam", "email": "sam@example.com"})
        await chat.ok("verify_my_email", {"email": "sam@example.com"})
        code = outbox.last_code()
        wrong = f"{(int(code) + 7) % 1000000:06d}"
        await chat.error("confirm_code", {"code": wrong})
        await chat.call("confirm_code", {"code": code})
        await chat.ok("list_my_orders")
        await chat.ok("update_my_details", {"allergies": ["nuts"]})
        await chat.error("request_account_help", {"reason": "my accounts"})
        await chat.error("identify_caller", {"customer_id": "x"})
    log = Path(errlog.name).read_text()
    said = chat.said()
    assert "tool confirm_code" in log  # the log is there, and says what happened
    for secret in (SERVICE_KEY, ANON_KEY, code, wrong, LINE, "sam@example.com"):
        assert secret not in log, secret
    for secret in (SERVICE_KEY, ANON_KEY, code, wrong, LINE):
        assert secret not in said, secret


def test_tools_prints_no_secret(tmp_path: Path) -> None:
    """The definitions are the same whatever the environment holds."""
    outputs = [
        subprocess.run(
            [sys.executable, "-m", "customer_management", "tools", "--format", fmt],
            env={"PATH": "/usr/bin:/bin", "SUPABASE_SERVICE_ROLE_KEY": SERVICE_KEY},
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        ).stdout
        for fmt in ("openai", "anthropic")
    ]
    for output in outputs:
        assert SERVICE_KEY not in output
        assert "identify_caller" in output
