"""Generate the JSON types of the contract for Python and TypeScript from its JSON Schema.

``python -m tools.contract_codegen`` writes
``python_client/customer_management/client/contract_types.py`` (TypedDicts) and
``supabase/functions/_shared/contract.ts`` (TypeScript types: the Edge Function imports
them, and a web app passes its ``Database`` type to supabase-js' ``createClient`` so that
``supabase.rpc(...)`` checks arguments and answers); ``--check`` exits 1 when either is out
of date (``make lint`` runs it). The schema is the only place the shapes are written by hand.

Handles the subset the contract uses: objects with properties and required keys (``allOf``
adds the properties of other definitions), strings (with enum or const), numbers,
booleans, null, arrays, ``$ref`` to ``$defs``, ``oneOf`` (of shapes, or of constants) and
type lists. TypeScript gets type aliases, never interfaces: supabase-js' generics accept
only types with an implicit index signature.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from customer_management import contract

PY_HEADER = '''"""JSON shapes of the contract, generated from contract.schema.json: do not edit.

Regenerate with ``python -m tools.contract_codegen``.
"""

from __future__ import annotations

from typing import Any, Literal, NotRequired, TypedDict, Union
'''
TS_HEADER = """// deno-fmt-ignore-file
// JSON shapes of the contract, generated from contract.schema.json: do not edit.
// Regenerate with `python -m tools.contract_codegen`.
"""
TS_EMPTY = "{ [_ in never]: never }"


def _types(node: dict[str, Any]) -> list[str]:
    """The node's ``type`` as a list."""
    kinds = node.get("type", [])
    return [kinds] if isinstance(kinds, str) else list(kinds)


def _constants(node: dict[str, Any]) -> list[Any] | None:
    """The values of an ``enum``, a ``const`` or a ``oneOf`` of constants; None otherwise."""
    if "const" in node:
        return [node["const"]]
    if "enum" in node:
        return list(node["enum"])
    branches = node.get("oneOf", [])
    if branches and all("const" in branch for branch in branches):
        return [branch["const"] for branch in branches]
    return None


def _is_object(node: dict[str, Any]) -> bool:
    """An object with declared properties (directly or through ``allOf``)."""
    return "object" in _types(node) and ("properties" in node or "allOf" in node)


def object_fields(node: dict[str, Any]) -> tuple[dict[str, Any], set[str]]:
    """Properties and required keys of an object, those of its ``allOf`` members first."""
    properties: dict[str, Any] = {}
    required: set[str] = set()
    for member in node.get("allOf", []):
        inherited, needed = object_fields(contract.resolve(member))
        properties.update(inherited)
        required |= needed
    properties.update(node.get("properties", {}))
    return properties, required | set(node.get("required", []))


def py_type(node: dict[str, Any]) -> str:
    """The Python annotation for a schema node."""
    if "$ref" in node:
        return f'"{contract.ref_name(node["$ref"])}"'
    values = _constants(node)
    if values is not None:
        literal = "Literal[" + ", ".join(repr(v) for v in values) + "]"
        return f"{literal} | None" if "null" in _types(node) else literal
    if "oneOf" in node:
        return "Union[" + ", ".join(py_type(n) for n in node["oneOf"]) + "]"
    parts = []
    for kind in _types(node):
        if kind == "string":
            parts.append("str")
        elif kind == "integer":
            parts.append("int")
        elif kind == "number":
            parts.append("float")
        elif kind == "boolean":
            parts.append("bool")
        elif kind == "null":
            parts.append("None")
        elif kind == "array":
            item = py_type(node["items"]) if "items" in node else "Any"
            parts.append(f"list[{item}]")
        elif kind == "object":
            parts.append("dict[str, Any]")
    return " | ".join(parts) or "Any"


def ts_type(node: dict[str, Any]) -> str:
    """The TypeScript type for a schema node."""
    if "$ref" in node:
        return contract.ref_name(node["$ref"])
    values = _constants(node)
    if values is not None:
        union = " | ".join(_ts_literal(v) for v in values)
        return f"{union} | null" if "null" in _types(node) else union
    if "oneOf" in node:
        return " | ".join(ts_type(n) for n in node["oneOf"])
    parts = []
    for kind in _types(node):
        if kind == "string":
            parts.append("string")
        elif kind in ("number", "integer"):
            parts.append("number")
        elif kind == "boolean":
            parts.append("boolean")
        elif kind == "null":
            parts.append("null")
        elif kind == "array":
            item = ts_type(node["items"]) if "items" in node else "unknown"
            parts.append(f"{item}[]" if item.isidentifier() else f"({item})[]")
        elif kind == "object":
            parts.append(_ts_object(node) if _is_object(node) else "Record<string, unknown>")
    return " | ".join(parts) or "unknown"


def _ts_object(node: dict[str, Any], top_level: bool = False) -> str:
    """An object type: its ``allOf`` members joined with ``&`` to its own properties, one
    property a line with its description at the top level, on one line when nested."""
    members = [ts_type(member) for member in node.get("allOf", [])]
    required = set(node.get("required", []))
    own = []
    for key, prop in node.get("properties", {}).items():
        if top_level and prop.get("description"):
            own.append(f"  /** {prop['description']} */")
        optional = "" if key in required else "?"
        own.append(f"{'  ' if top_level else ''}{key}{optional}: {ts_type(prop)};")
    if node.get("additionalProperties", False) is not False:
        own.append(f"{'  ' if top_level else ''}[key: string]: unknown;")
    if top_level and own:
        members.append("{\n" + "\n".join(own) + "\n}")
    elif own:
        members.append("{ " + " ".join(own) + " }")
    elif not members:
        members.append("{}")
    return " & ".join(members)


def _ts_literal(value: Any) -> str:
    """A JSON value as a TypeScript literal type."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return repr(value)


def python_source() -> str:
    """contract_types.py."""
    lines = [PY_HEADER]
    for name, node in contract.schema()["$defs"].items():
        doc = node.get("description", "").replace('"""', "'")
        if _is_object(node):
            properties, required = object_fields(node)
            lines.append(f'{name} = TypedDict(\n    "{name}",\n    {{')
            for key, prop in properties.items():
                annotation = py_type(prop)
                if key not in required:
                    annotation = f"NotRequired[{annotation}]"
                lines.append(f'        "{key}": {annotation},')
            lines.append("    },\n)")
        else:
            lines.append(f"{name} = {py_type(node)}")
        if doc:
            lines.append(f'"""{doc}"""')
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def typescript_source() -> str:
    """contract.ts: a type per definition, then the RPCs as supabase-js sees a schema."""
    lines = [TS_HEADER]
    for name, node in contract.schema()["$defs"].items():
        doc = node.get("description")
        if doc:
            lines.append(f"/** {doc} */")
        shape = _ts_object(node, top_level=True) if _is_object(node) else ts_type(node)
        lines.append(f"export type {name} = {shape};")
        lines.append("")
    lines.append(
        "/** Every RPC of the kit: its arguments and its answer, as supabase-js' generics "
        "read them. */"
    )
    lines.append("export type CustomerManagementFunctions = {")
    for name, entry in contract.rpcs().items():
        lines.append(
            f"  {name}: {{ Args: {ts_type(entry['request'])}; "
            f"Returns: {ts_type(entry['response'])} }};"
        )
    lines.append("};")
    lines.append("")
    lines.append(
        "/** Schema public as far as the kit goes, for `createClient<Database>(url, key)`; "
        "merge `CustomerManagementFunctions` into your own generated `Database` instead if "
        "you have one. */"
    )
    lines.append("export type Database = {")
    lines.append("  public: {")
    for key in ("Tables", "Views"):
        lines.append(f"    {key}: {TS_EMPTY};")
    lines.append("    Functions: CustomerManagementFunctions;")
    for key in ("Enums", "CompositeTypes"):
        lines.append(f"    {key}: {TS_EMPTY};")
    lines.append("  };")
    lines.append("};")
    return "\n".join(lines).rstrip() + "\n"


def targets(root: Path) -> dict[Path, str]:
    """Each generated file and its content."""
    return {
        root / "python_client/customer_management/client/contract_types.py": python_source(),
        root / "supabase/functions/_shared/contract.ts": typescript_source(),
    }


def main(argv: list[str] | None = None) -> int:
    """Write the generated files (or, with ``--check``, report the stale ones)."""
    parser = argparse.ArgumentParser(prog="python -m tools.contract_codegen")
    parser.add_argument("--root", type=Path, default=Path.cwd(), help="repository root")
    parser.add_argument("--check", action="store_true", help="exit 1 if a file is stale")
    args = parser.parse_args(argv)
    stale = []
    for path, content in targets(args.root).items():
        current = path.read_text(encoding="utf-8") if path.exists() else None
        if current == content:
            continue
        stale.append(path)
        if not args.check:
            path.write_text(content, encoding="utf-8")
            print(f"wrote {path}")
    if args.check and stale:
        for path in stale:
            print(f"out of date: {path} (run python -m tools.contract_codegen)")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
