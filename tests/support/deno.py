"""The Deno that ``make setup`` installs into ``.local/deno`` (``$DENO`` overrides), and
its module cache, for the tests that run TypeScript."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DENO_HOME = REPO / ".local" / "deno"
FUNCTION_DIR = REPO / "supabase" / "functions" / "customer-management"


def deno_binary() -> Path:
    """The Deno binary; fail loudly if absent."""
    configured = os.environ.get("DENO")
    path = Path(configured) if configured else DENO_HOME / "node_modules" / ".bin" / "deno"
    if not path.exists():
        pytest.fail(
            f"Deno is not installed ({path} is missing): run `make setup`, which installs it "
            "from npm into .local/deno and caches the Edge Function's dependencies.",
            pytrace=False,
        )
    return path


def deno_cache_env() -> dict[str, str]:
    """The environment with the repository's Deno cache and no colours or update checks."""
    env = dict(os.environ)
    env.setdefault("DENO_DIR", str(DENO_HOME / "cache"))
    env.update({"NO_COLOR": "1", "DENO_NO_UPDATE_CHECK": "1"})
    return env
