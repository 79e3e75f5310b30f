"""The public contract, written once: ``supabase/functions/_shared/contract.schema.json``.

That JSON Schema describes the request and the answer of every RPC the kit exposes (which
definitions belong to which RPC is its ``x-rpcs`` table) and the stable codes of its errors,
each with its SQLSTATE (``x-sqlstate``). The Python client's JSON types
(``client/contract_types.py``) and the TypeScript types (``_shared/contract.ts``) are
generated from it (``python -m tools.contract_codegen``), the local API's OpenAPI document
is built from it and the functions' catalog, the MCP tool definitions read it, and the tests
check the RPCs' real answers against it. It also holds the one rule for masking contact data
(``x-masks``), which the database's ``mask_phone`` and ``mask_email`` apply as written, and
the form of a normalised phone (E.164). Standard library only: the thin client may import it.
"""

from __future__ import annotations

import json
import re
from functools import cache
from importlib import resources
from typing import Any

SCHEMA_PATH = ("bundled", "supabase", "functions", "_shared", "contract.schema.json")
DEFS_PREFIX = "#/$defs/"


@cache
def schema() -> dict[str, Any]:
    """The whole JSON Schema document (parsed once)."""
    node = resources.files("customer_management")
    for part in SCHEMA_PATH:
        node = node / part
    document: dict[str, Any] = json.loads(node.read_text(encoding="utf-8"))
    return document


def definition(name: str) -> dict[str, Any]:
    """One of the schema's ``$defs`` (``ResolutionRequest``, ``Success``, ``OrdersPage``...)."""
    found: dict[str, Any] = schema()["$defs"][name]
    return found


def ref_name(ref: str) -> str:
    """``#/$defs/Customer`` -> ``Customer``."""
    if not ref.startswith(DEFS_PREFIX):
        raise ValueError(f"not a reference to a definition of the contract: {ref}")
    return ref.removeprefix(DEFS_PREFIX)


def resolve(node: dict[str, Any]) -> dict[str, Any]:
    """``node`` itself, or the definition it references with ``$ref``."""
    return definition(ref_name(node["$ref"])) if "$ref" in node else node


def rpcs() -> dict[str, dict[str, Any]]:
    """Each RPC's entry of ``x-rpcs``: ``request`` and ``response`` (references to
    definitions), ``errors`` (kit codes) and ``requiredFor`` (role: arguments that role
    must send although the function has a default for them)."""
    table: dict[str, dict[str, Any]] = schema()["x-rpcs"]
    return table


def rpc(name: str) -> dict[str, Any] | None:
    """The ``x-rpcs`` entry of ``name``; None for a function the contract does not describe."""
    return rpcs().get(name)


def kit_errors() -> dict[str, str]:
    """Each stable code of the kit's own errors and its SQLSTATE."""
    return {branch["const"]: branch["x-sqlstate"] for branch in definition("KitErrorCode")["oneOf"]}


def kit_error_codes() -> list[str]:
    """The stable codes the kit's own errors carry in ``message``."""
    return list(kit_errors())


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
