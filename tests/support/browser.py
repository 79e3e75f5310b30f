"""Helpers for the support console's browser tests: where Debian's ``chromium`` is, how it
is started, recording what the page sends, screenshots and keyboard walks.

The ``browser`` fixture itself is in ``browser_fixtures`` (a pytest plugin). Screenshots go
to ``.local/screenshots/`` (``make console-screenshots`` copies them to ``docs/console/``).
"""

from __future__ import annotations

import contextlib
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / ".local" / "screenshots"
CHROMIUM_ENV = "CUSTOMER_MANAGEMENT_CHROMIUM"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    # Without it Chromium keeps reaching for Google's services on a closed network.
    "--disable-background-networking",
]
INSTALL_LINE = "sudo apt-get update && sudo apt-get install -y chromium  (or: make browser-deps)"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}


def chromium_path() -> str | None:
    """Debian's Chromium (``$CUSTOMER_MANAGEMENT_CHROMIUM`` overrides), or None."""
    configured = os.environ.get(CHROMIUM_ENV)
    if configured:
        return configured if os.access(configured, os.X_OK) else None
    for candidate in ("/usr/bin/chromium", shutil.which("chromium") or ""):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return None


@dataclass
class Traffic:
    """What the page sent to the API: each RPC's name, headers and JSON body, and each
    response's status."""

    calls: list[dict[str, Any]] = field(default_factory=list)
    statuses: list[tuple[str, int]] = field(default_factory=list)
    bodies_seen: list[str] = field(default_factory=list)

    def functions(self) -> list[str]:
        return [call["function"] for call in self.calls]

    def args_of(self, function: str) -> list[dict[str, Any]]:
        return [call["args"] for call in self.calls if call["function"] == function]


def record_traffic(page: Any) -> Traffic:
    """Record every request the page makes to ``/rest/v1/rpc/`` and every response text."""
    traffic = Traffic()

    def on_request(request: Any) -> None:
        if "/rest/v1/rpc/" not in request.url:
            return
        traffic.calls.append(
            {
                "function": request.url.split("/rest/v1/rpc/", 1)[1].split("?", 1)[0],
                "headers": dict(request.headers),
                "args": request.post_data_json or {},
            }
        )

    def on_response(response: Any) -> None:
        if "/rest/v1/rpc/" in response.url:
            name = response.url.split("/rest/v1/rpc/", 1)[1].split("?", 1)[0]
            traffic.statuses.append((name, response.status))
        with contextlib.suppress(Exception):  # a redirect or an aborted response has no body
            traffic.bodies_seen.append(response.text())

    page.on("request", on_request)
    page.on("response", on_response)
    return traffic


def screenshot(page: Any, name: str) -> Path:
    """Save a full-page screenshot as ``.local/screenshots/<name>.png``."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


WIDER_THAN_WINDOW = """
() => [...document.querySelectorAll("body *")]
    .filter((el) => el.getBoundingClientRect().right > window.innerWidth + 1)
    .filter((el) => !el.closest(".table-wrap"))
    .map((el) => el.tagName.toLowerCase() + (el.className ? "." + el.className : ""))
"""


def sideways_overflow(page: Any) -> list[str]:
    """Elements sticking out of the window (tables scroll inside their own box, so they
    are not counted); empty when the page does not scroll sideways."""
    if page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1"):
        return []
    return list(page.evaluate(WIDER_THAN_WINDOW)) or ["(the page is wider than the window)"]


def tab_to(page: Any, selector: str, limit: int = 60) -> None:
    """Press Tab until the element matching ``selector`` has the focus (keyboard only)."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate(
            "s => document.activeElement !== null && document.activeElement.matches(s)",
            selector,
        ):
            return
    raise AssertionError(f"{selector} is not reachable with Tab")
