"""Generate the JSON types of the contract for Python and TypeScript from its JSON Schema.

``python -m tools.contract_codegen`` writes
``python_client/customer_management/client/contract_types.py`` (TypedDicts) and
``supabase/functions/_shared/contract.ts`` (interfaces); ``--check`` exits 1 when either is
out of date (``make test`` runs it). The schema is the only place the shapes are written by
hand.

Handles the subset the contract uses: objects with properties and required keys, strings
(with enum or const), numbers, booleans, null, arrays, ``$ref`` to ``$defs``, ``oneOf`` and
type lists.
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


def _ref_name(ref: str) -> str:
    """``#/$defs/Customer`` -> ``Customer``."""
    return ref.rsplit("/", 1)[-1]


def py_type(node: dict[str, Any]) -> str:
    """The Python annotation for a schema node."""
    if "$ref" in node:
        return f'"{_ref_name(node["$ref"])}"'
    if "oneOf" in node:
        return "Union[" + ", ".join(py_type(n) for n in node["oneOf"]) + "]"
    if "const" in node:
        return f"Literal[{node['const']!r}]"
    if "enum" in node:
        return "Literal[" + ", ".join(repr(v) for v in node["enum"]) + "]"
    types = node.get("type", [])
    types = [types] if isinstance(types, str) else list(types)
    parts = []
    for kind in types:
        if kind == "string":
            parts.append("str")
        elif kind in ("number", "integer"):
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
        return _ref_name(node["$ref"])
    if "oneOf" in node:
        return " | ".join(ts_type(n) for n in node["oneOf"])
    if "const" in node:
        return _ts_literal(node["const"])
    if "enum" in node:
        return " | ".join(_ts_literal(v) for v in node["enum"])
    types = node.get("type", [])
    types = [types] if isinstance(types, str) else list(types)
    parts = []
    for kind in types:
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
            parts.append("Record<string, unknown>")
    return " | ".join(parts) or "unknown"


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
        if node.get("type") == "object":
            required = set(node.get("required", []))
            lines.append(f'{name} = TypedDict(\n    "{name}",\n    {{')
            for key, prop in node.get("properties", {}).items():
                annotation = py_type(prop)
                if key not in required:
                    annotation = f"NotRequired[{annotation}]"
                lines.append(f'        "{key}": {annotation},')
            total = ""
            if node.get("additionalProperties", False) is not False:
                total = ""
            lines.append(f"    }},{total}\n)")
            if doc:
                lines.append(f'"""{doc}"""')
        else:
            lines.append(f"{name} = {py_type(node)}")
            if doc:
                lines.append(f'"""{doc}"""')
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def typescript_source() -> str:
    """contract.ts."""
    lines = [TS_HEADER]
    for name, node in contract.schema()["$defs"].items():
        doc = node.get("description")
        if doc:
            lines.append(f"/** {doc} */")
        if node.get("type") == "object":
            required = set(node.get("required", []))
            lines.append(f"export interface {name} {{")
            for key, prop in node.get("properties", {}).items():
                optional = "" if key in required else "?"
                if prop.get("description"):
                    lines.append(f"  /** {prop['description']} */")
                lines.append(f"  {key}{optional}: {ts_type(prop)};")
            if node.get("additionalProperties", False) is not False:
                lines.append("  [key: string]: unknown;")
            lines.append("}")
        else:
            lines.append(f"export type {name} = {ts_type(node)};")
        lines.append("")
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
