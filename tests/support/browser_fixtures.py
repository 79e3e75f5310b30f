"""The ``browser`` fixture: headless Chromium (Debian's ``chromium``) driven by Playwright
through ``executable_path``; Playwright's own browser downloads are never used. Without the
browser, or without Playwright, the tests skip and say how to install it.

Load with ``pytest_plugins = ["support.browser_fixtures"]`` in a test module.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from support.browser import CHROMIUM_ARGS, INSTALL_LINE, chromium_path


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One headless Chromium per test module; skipped (with the install line) without it."""
    executable = chromium_path()
    if executable is None:
        pytest.skip(f"chromium is not installed: {INSTALL_LINE}")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("playwright is not installed: .venv/bin/pip install -e '.[all,dev]'")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()
