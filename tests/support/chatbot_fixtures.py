"""Fixtures for the chatbot-tool tests; load with ``pytest_plugins``.

``anyio_backend`` runs the async tests on asyncio; ``outbox`` is the test delivery hook;
``errlog`` is the file the server's stderr goes to.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

import pytest

from support.chatbot import Outbox


@pytest.fixture
def anyio_backend() -> str:
    """The MCP client runs on asyncio."""
    return "asyncio"


@pytest.fixture
def outbox(tmp_path: Path) -> Outbox:
    """A delivery command that writes each code to a file in the test's directory."""
    return Outbox(tmp_path)


@pytest.fixture
def errlog(tmp_path: Path) -> Iterator[TextIO]:
    """The server's stderr, as a file (read it with ``Path(errlog.name).read_text()``)."""
    with (tmp_path / "server-stderr.log").open("w+") as log:
        yield log
