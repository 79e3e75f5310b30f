"""The public contract, written once: ``supabase/functions/_shared/contract.schema.json``.

That JSON Schema describes the ``customer_management`` request and its three answers. The
Python client's JSON types (``client/contract_types.py``) and the Edge Function's
(``_shared/contract.ts``) are generated from it (``python -m
tools.contract_codegen``), the tests check the RPC's real answers
against it, and later documents (an OpenAPI description, tool definitions for LLM agents)
are built from it. It also holds the one rule for masking contact data (``x-masks``), which
the database's ``mask_phone`` and ``mask_email`` apply as written, and the form of a
normalised phone (E.164). Standard library only: the thin client may import it.
"""

from __future__ import annotations

import json
import re
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


def e164() -> re.Pattern[str]:
    """The form of a phone as the kit stores and answers it (E.164: ``+15551234567``)."""
    return re.compile(str(definition("Customer")["properties"]["phone"]["pattern"]))


def mask_phone(phone: str | None) -> str | None:
    """``+1******4567``: the contract's masking rule for phones."""
    return _mask("phone", phone)


def mask_email(email: str | None) -> str | None:
    """``j***@example.com``: the contract's masking rule for emails."""
    return _mask("email", email)


def _mask(kind: str, value: str | None) -> str | None:
    """Apply ``x-masks[kind]`` the way PostgreSQL's ``regexp_replace`` does: the first
    match replaced; a value the pattern does not match hidden whole."""
    if value is None:
        return None
    rule: dict[str, str] = schema()["x-masks"][kind]
    pattern = re.compile(rule["pattern"], re.DOTALL)
    if pattern.search(value) is None:
        return rule["otherwise"]
    return pattern.sub(rule["replacement"], value, count=1)
