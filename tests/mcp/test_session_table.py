"""The MCP server's table of conversations: one per verified caller, bounded, and a new
caller never pushes out a conversation still in use.

``Sessions`` is driven directly with a clock the test moves, as the server drives it for
each tool call; no request reaches the kit (opening a conversation calls nothing).
"""

from __future__ import annotations

import pytest

from customer_management.local import keys
from customer_management.mcp.errors import ToolFailure
from customer_management.mcp.identity import SessionIdentity
from customer_management.mcp.server import ServerConfig, Sessions
from customer_management.mcp.session import KitConnection
from customer_management.tokens import TokenKeys, TokenVerifier
from support.proxy import SECRET, SERVICE_KEY

TELEPHONY_KEY = "telephony-key-for-the-session-table"


class Clock:
    """Monotonic seconds the test sets."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def table(clock: Clock, size: int) -> Sessions:
    config = ServerConfig(
        KitConnection("http://127.0.0.1:9", SERVICE_KEY),
        telephony_key=TELEPHONY_KEY,
        verifier=TokenVerifier(TokenKeys(SECRET, audience="authenticated")),
    )
    sessions = Sessions(config, clock)
    sessions.MAX_OPEN = size
    return sessions


def line(n: int) -> dict[str, str]:
    return {"x-caller-line": f"+1555712{n:04d}", "x-telephony-key": TELEPHONY_KEY}


def test_new_callers_are_refused_while_every_conversation_is_in_use() -> None:
    clock = Clock()
    sessions = table(clock, 3)
    first = sessions.for_request(line(1))
    for n in (2, 3):
        sessions.for_request(line(n))
    with pytest.raises(ToolFailure) as refused:
        sessions.for_request(line(4))
    assert refused.value.code == "busy"
    assert sessions.for_request(line(1)) is first
    assert len(sessions) == 3

    # Once the least recently used has been idle long enough, a new caller takes its place.
    clock.now += Sessions.IDLE_SECONDS - 1
    sessions.for_request(line(1))  # still in use
    clock.now += 2
    sessions.for_request(line(4))
    assert len(sessions) == 3
    assert sessions.for_request(line(1)) is first


def test_a_user_is_one_conversation_across_tokens() -> None:
    clock = Clock()
    sessions = table(clock, 3)
    claims = keys.user_claims("7c2b5a4e-8f5d-4b8a-9a51-0c2c1f1f0001", email="u@example.com")
    first = keys.sign(claims, SECRET)
    refreshed = keys.sign({**claims, "iat": claims["iat"] + 5, "session_id": "two"}, SECRET)
    session = sessions.for_request({"authorization": f"Bearer {first}"})
    assert sessions.for_request({"authorization": f"Bearer {refreshed}"}) is session
    assert session.identity.access_token == refreshed
    assert len(sessions) == 1
    assert SessionIdentity.signed_in(first).key == ("user", claims["sub"])


def test_a_forged_token_opens_nothing() -> None:
    sessions = table(Clock(), 3)
    claims = keys.user_claims("7c2b5a4e-8f5d-4b8a-9a51-0c2c1f1f0002", email="u@example.com")
    forged = keys.sign(claims, "not-the-projects-secret-but-long-enough-32")
    with pytest.raises(ToolFailure) as refused:
        sessions.for_request({"authorization": f"Bearer {forged}"})
    assert refused.value.code == "not_authenticated"
    assert len(sessions) == 0
