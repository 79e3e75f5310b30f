"""The contract's JSON Schema (draft 2020-12) as Swagger 2.0 schema objects.

The OpenAPI document PostgREST serves, and so the proxy's, is Swagger 2.0, whose schema
objects are a subset of JSON Schema draft 4. ``convert`` rewrites a node of
``contract.schema.json`` into that subset, keeping every constraint a validator can check:

* ``$ref: #/$defs/X`` becomes ``#/definitions/X`` (the document carries the definitions
  ``references`` names);
* a ``type`` list with ``null`` becomes the other type and ``x-nullable: true`` (Swagger
  2.0's spelling, which schemathesis and most generators read);
* ``const`` becomes a one-value ``enum``, and a ``oneOf`` of constants an ``enum``;
* a ``oneOf`` of object shapes (Swagger 2.0 has no ``oneOf``) becomes one object with every
  branch's properties, requiring only what every branch requires; its description names
  the branches;
* the first of ``examples`` becomes ``example``;
* keywords Swagger 2.0 does not know (``$schema``, ``x-sqlstate``...) are left out.
"""

from __future__ import annotations

from typing import Any

from customer_management import contract

DEFINITIONS = "#/definitions/"
# Schema object keywords Swagger 2.0 takes over from JSON Schema unchanged.
KEPT = (
    "title",
    "description",
    "format",
    "default",
    "enum",
    "multipleOf",
    "maximum",
    "minimum",
    "maxLength",
    "minLength",
    "pattern",
    "maxItems",
    "minItems",
    "uniqueItems",
    "maxProperties",
    "minProperties",
    "required",
)

Schema = dict[str, Any]


def ref(name: str) -> Schema:
    """A reference to the document's definition ``name``."""
    return {"$ref": DEFINITIONS + name}


def convert(node: Schema) -> Schema:
    """``node`` as a Swagger 2.0 schema object."""
    if "$ref" in node:
        return ref(contract.ref_name(node["$ref"]))
    out: Schema = {key: node[key] for key in KEPT if key in node}
    if node.get("examples"):
        out["example"] = node["examples"][0]
    if not out.get("required", True):
        del out["required"]  # Swagger 2.0: a required list is never empty
    kinds = node.get("type")
    kinds = [kinds] if isinstance(kinds, str) else list(kinds or [])
    if "null" in kinds:
        out["x-nullable"] = True
        kinds.remove("null")
    if kinds:
        out["type"] = kinds[0] if len(kinds) == 1 else kinds
    if "const" in node:
        out["enum"] = [node["const"]]
    branches = node.get("oneOf", [])
    if branches and all("const" in branch for branch in branches):
        out["enum"] = [branch["const"] for branch in branches]
    elif branches:
        out.update(_merged_shapes(branches, out.get("description")))
    if "allOf" in node:
        out["allOf"] = [convert(member) for member in node["allOf"]]
    if "properties" in node:
        out["properties"] = {k: convert(v) for k, v in node["properties"].items()}
    if "items" in node:
        out["items"] = convert(node["items"])
    extra = node.get("additionalProperties")
    if isinstance(extra, bool):
        out["additionalProperties"] = extra
    elif isinstance(extra, dict):
        out["additionalProperties"] = convert(extra)
    return out


def _merged_shapes(branches: list[Schema], description: str | None) -> Schema:
    """One object schema accepting each of ``branches`` (object shapes)."""
    names = [contract.ref_name(b["$ref"]) if "$ref" in b else "an object" for b in branches]
    shapes = [contract.resolve(b) for b in branches]
    properties: Schema = {}
    for shape in shapes:
        for key, prop in shape.get("properties", {}).items():
            properties.setdefault(key, convert(prop))
    required = set.intersection(*(set(shape.get("required", [])) for shape in shapes))
    lead = f"{description} " if description else ""
    merged: Schema = {
        "type": "object",
        "description": f"{lead}One of: {', '.join(names)}.",
        "properties": properties,
    }
    if required:
        merged["required"] = sorted(required)
    if all(shape.get("additionalProperties") is False for shape in shapes):
        merged["additionalProperties"] = False
    return merged


def references(node: Any) -> set[str]:
    """The names of the contract's definitions ``node`` (a contract node or a converted one)
    refers to, directly or through other definitions (and the branches of a ``oneOf``)."""
    found: set[str] = set()
    pending = [node]
    while pending:
        item = pending.pop()
        if isinstance(item, dict):
            if "$ref" in item:
                name = str(item["$ref"]).rsplit("/", 1)[-1]
                if name not in found:
                    found.add(name)
                    pending.append(contract.definition(name))
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
    return found
