"""The public contract, written once: ``supabase/functions/_shared/contract.schema.json``.

That JSON Schema describes the request and the answer of every RPC the kit exposes (which
definitions belong to which RPC is its ``x-rpcs`` table) and the stable codes of its errors,
each with its SQLSTATE (``x-sqlstate``). The Python client's JSON types
(``client/contract_types.py``) and the TypeScript types (``_shared/contract.ts``) are
generated from it (``python -m customer_management.dev.contract_codegen``), the local API's
OpenAPI document is built from it and the functions' catalog, the MCP tool definitions read
it, and the tests check the RPCs' real answers against it. Standard library only: the thin
client may import it.
"""

from __future__ import annotations

import json
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
