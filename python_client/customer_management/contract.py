"""The public contract, written once: ``supabase/functions/_shared/contract.schema.json``.

That JSON Schema describes the ``customer_management`` request and its three answers. The
Python client's JSON types (``client/contract_types.py``) and the Edge Function's
(``_shared/contract.ts``) are generated from it (``python -m
tools.contract_codegen``), the tests check the RPC's real answers
against it, and later documents (an OpenAPI description, tool definitions for LLM agents)
are built from it. Standard library only: the thin client may import it.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

SCHEMA_PATH = ("bundled", "supabase", "functions", "_shared", "contract.schema.json")


@cache
def schema() -> dict[str, Any]:
    """The whole JSON Schema document (parsed once)."""
    node = resources.files("customer_management")
    for part in SCHEMA_PATH:
        node = node / part
    document: dict[str, Any] = json.loads(node.read_text(encoding="utf-8"))
    return document


def definition(name: str) -> dict[str, Any]:
    """One of the schema's ``$defs`` (``Request``, ``Success``, ``Conflict``, ``Error``...)."""
    found: dict[str, Any] = schema()["$defs"][name]
    return found


def kit_error_codes() -> list[str]:
    """The stable codes the kit's own errors carry in ``message``."""
    return list(definition("KitErrorCode")["enum"])


def conflict_error() -> str:
    """The ``error`` value that marks the conflict shape (``"Account conflict"``)."""
    return str(definition("Conflict")["properties"]["error"]["const"])
