"""The chatbot tools as JSON Schema: one definition for MCP, OpenAI and Anthropic.

Each tool's arguments are the thin client's keyword arguments (``first_name``,
``last_name``, ``email``, ``allergies``: those of ``Client.resolve``), with the limits and
descriptions of the contract (``contract.schema.json``), so the tools accept what the kit
accepts. No tool has an argument for a phone, a customer id or an auth user id: the
session's identity is fixed when it opens. Every schema forbids other properties, so a
model that adds one is refused before anything is called.

``validate_arguments`` checks a call against its schema with messages that name fields
and never repeat a value (a verification code must not come back in an error).
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from customer_management import contract
from customer_management.mcp.errors import ToolFailure

Schema = dict[str, Any]


def _request_property(name: str) -> Schema:
    """A property of the contract's request, without ``null`` (tools leave it out instead)."""
    prop: Schema = copy.deepcopy(contract.definition("ResolutionRequest")["properties"][name])
    kinds = prop.get("type")
    if isinstance(kinds, list):
        kept = [kind for kind in kinds if kind != "null"]
        prop["type"] = kept[0] if len(kept) == 1 else kept
    return prop


def _code_property() -> Schema:
    """The code the caller reads back, as the contract's ``verification.code``."""
    verification = contract.definition("ResolutionRequest")["properties"]["verification"]
    prop: Schema = copy.deepcopy(verification["properties"]["code"])
    prop["description"] = "The six digits the caller read back from the email."
    return prop


def _described(prop: Schema, description: str) -> Schema:
    """``prop`` with the tool's description in front of the contract's."""
    contract_text = prop.get("description")
    prop["description"] = f"{description} {contract_text}" if contract_text else description
    return prop


def _object(properties: Mapping[str, Schema], required: tuple[str, ...] = ()) -> Schema:
    """An object schema that allows only ``properties``."""
    schema: Schema = {
        "type": "object",
        "properties": dict(properties),
        "additionalProperties": False,
    }
    if required:
        schema["required"] = list(required)
    return schema


@dataclass(frozen=True)
class ToolSpec:
    """One tool: its name, what the model is told about it, its arguments."""

    name: str
    description: str
    input_schema: Schema


def _name_properties() -> dict[str, Schema]:
    return {
        "first_name": _described(
            _request_property("firstName"), "The caller's first name, as they said it."
        ),
        "last_name": _described(
            _request_property("lastName"), "The caller's last name, as they said it."
        ),
    }


TOOLS: tuple[ToolSpec, ...] = (
    ToolSpec(
        "identify_caller",
        "Find the caller's account from the line they are calling from (or the signed-in "
        "user), creating one on their first call. Call it at the start of the conversation. "
        "Returns the customer (contact data masked), their order count and a summary "
        "sentence you may say as it is. An email the caller says is only noted until "
        "verify_my_email and confirm_code prove it; if the caller gives an email before "
        "anything else, verify it first: the code then links this line to their existing "
        "account. If several accounts match, the answer says so: offer request_account_help. "
        "If the answer is second_proof_required, the line is on an account that needs one more "
        "proof: verify the email on that account (verify_my_email, confirm_code), or, when the "
        "caller has no account with us, call again with without_second_proof.",
        _object(
            {
                **_name_properties(),
                "email": _described(
                    _request_property("email"), "An email address the caller said."
                ),
                "without_second_proof": _described(
                    _request_property("withoutSecondProof"),
                    "True when the caller says they have no account with us (or will not "
                    "prove the email on it): they are served on an account of their own.",
                ),
            }
        ),
    ),
    ToolSpec(
        "update_my_details",
        "Add the caller's first or last name where their account has none, and add "
        "allergies. Only the caller's own account; a name already on it is never "
        "overwritten (support changes names).",
        _object(
            {
                **_name_properties(),
                "allergies": _described(
                    _request_property("allergies"), "Allergies the caller mentioned."
                ),
            }
        ),
    ),
    ToolSpec(
        "list_my_orders",
        "The caller's orders, newest first, a page at a time.",
        _object(
            {
                "page": {
                    "description": "Which page, from 1.",
                    "type": "integer",
                    "minimum": 1,
                    "maximum": 1000,
                    "default": 1,
                },
                "page_size": {
                    "description": "Orders per page.",
                    "type": "integer",
                    "minimum": 1,
                    "maximum": 20,
                    "default": 5,
                },
            }
        ),
    ),
    ToolSpec(
        "request_account_help",
        "Pass the account conflict found in this conversation to customer support, with "
        "the caller's own words about it. Use it after identify_caller or confirm_code "
        "answered that several accounts match.",
        _object(
            {
                "reason": {
                    "description": "What the caller said about their accounts, in their words.",
                    "type": "string",
                    "minLength": 1,
                    "maxLength": 1000,
                }
            },
            ("reason",),
        ),
    ),
    ToolSpec(
        "verify_my_email",
        "Send a six-digit code to an email address the caller says is theirs. The answer "
        "says only whether it was sent; ask the caller to read the code back, then call "
        "confirm_code.",
        _object(
            {"email": _described(_request_property("email"), "The caller's email address.")},
            ("email",),
        ),
    ),
    ToolSpec(
        "confirm_code",
        "Check the code the caller read back. Confirmed: the email is proven and linked to "
        "the caller's account, and the answer is the account as identify_caller gives it. "
        "Otherwise the answer says the code was wrong or is no longer valid.",
        _object({"code": _code_property()}, ("code",)),
    ),
)

BY_NAME: dict[str, ToolSpec] = {tool.name: tool for tool in TOOLS}


def openai_tools() -> list[dict[str, Any]]:
    """The tools as OpenAI function definitions (Chat Completions ``tools``)."""
    return [
        {
            "type": "function",
            "function": {
                "name": tool.name,
                "description": tool.description,
                "parameters": copy.deepcopy(tool.input_schema),
                "strict": False,
            },
        }
        for tool in TOOLS
    ]


def anthropic_tools() -> list[dict[str, Any]]:
    """The tools as Anthropic Messages API tool definitions."""
    return [
        {
            "name": tool.name,
            "description": tool.description,
            "input_schema": copy.deepcopy(tool.input_schema),
        }
        for tool in TOOLS
    ]


FORMATS = {"openai": openai_tools, "anthropic": anthropic_tools}


def _invalid(message: str) -> ToolFailure:
    return ToolFailure("invalid_arguments", message)


def _check_value(field: str, schema: Schema, value: Any) -> None:
    """Check one argument; messages name the field, never the value."""
    kind = schema.get("type")
    if kind == "string":
        if not isinstance(value, str):
            raise _invalid(f"{field} must be a string.")
        if len(value) < schema.get("minLength", 0):
            raise _invalid(f"{field} must not be empty.")
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            raise _invalid(f"{field} is longer than {schema['maxLength']} characters.")
        if "pattern" in schema and not re.search(schema["pattern"], value):
            raise _invalid(f"{field} is not in the expected form.")
    elif kind == "integer":
        if isinstance(value, bool) or not isinstance(value, int):
            raise _invalid(f"{field} must be a whole number.")
        if value < schema.get("minimum", value) or value > schema.get("maximum", value):
            raise _invalid(
                f"{field} must be between {schema.get('minimum')} and {schema.get('maximum')}."
            )
    elif kind == "array":
        if not isinstance(value, list):
            raise _invalid(f"{field} must be a list.")
        if "maxItems" in schema and len(value) > schema["maxItems"]:
            raise _invalid(f"{field} has more than {schema['maxItems']} entries.")
        for item in value:
            _check_value(f"each of {field}", schema.get("items", {}), item)


def validate_arguments(name: str, arguments: Any) -> dict[str, Any]:
    """The arguments of a call to ``name``, checked against its schema (defaults filled);
    raises ``ToolFailure`` (``unknown_tool``, ``invalid_arguments``)."""
    tool = BY_NAME.get(name)
    if tool is None:
        raise ToolFailure("unknown_tool", f"There is no tool {name!r}.")
    if arguments is None:
        arguments = {}
    if not isinstance(arguments, Mapping):
        raise _invalid("The arguments must be an object.")
    properties: dict[str, Schema] = tool.input_schema["properties"]
    unknown = sorted(str(key) for key in arguments if key not in properties)
    if unknown:
        raise _invalid(
            f"{name} takes no argument {', '.join(unknown)}: the caller's line and account "
            "are fixed for this conversation."
        )
    missing = [key for key in tool.input_schema.get("required", ()) if key not in arguments]
    if missing:
        raise _invalid(f"{name} needs {', '.join(missing)}.")
    checked: dict[str, Any] = {}
    for key, schema in properties.items():
        if key in arguments and arguments[key] is not None:
            _check_value(key, schema, arguments[key])
            checked[key] = arguments[key]
        elif "default" in schema:
            checked[key] = schema["default"]
    return checked
