"""Function-calling definitions: the MCP tools as OpenAI and Anthropic JSON Schema.

``customer-management tools`` prints the tools the MCP server lists, with the same
argument schemas, built from the contract: names and emails have the request's limits,
the code the contract's pattern.
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any, TextIO

import pytest

from customer_management import contract
from customer_management.mcp import ToolFailure
from customer_management.mcp.definitions import validate_arguments
from support.chatbot import chat_over_stdio
from support.proxy import Proxy

pytest_plugins = ["support.proxy_fixtures", "support.chatbot_fixtures"]


def printed(fmt: str) -> list[dict[str, Any]]:
    """``customer-management tools --format FMT``, parsed."""
    completed = subprocess.run(
        [sys.executable, "-m", "customer_management", "tools", "--format", fmt],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    tools: list[dict[str, Any]] = json.loads(completed.stdout)
    return tools


@pytest.mark.anyio
async def test_printed_definitions_are_the_mcp_tools(proxy: Proxy, errlog: TextIO) -> None:
    """Names, descriptions and schemas of both formats equal what tools/list gives."""
    async with chat_over_stdio(proxy.url, "--line", "+15557760001", errlog=errlog) as chat:
        listed = (await chat.session.list_tools()).tools
    served = [(t.name, t.description, t.input_schema) for t in listed]
    openai = [
        (t["function"]["name"], t["function"]["description"], t["function"]["parameters"])
        for t in printed("openai")
    ]
    anthropic = [(t["name"], t["description"], t["input_schema"]) for t in printed("anthropic")]
    assert openai == served
    assert anthropic == served
    assert {t["type"] for t in printed("openai")} == {"function"}


def test_argument_limits_come_from_the_contract() -> None:
    """maxLength of names and email, allergies' limits, the code's pattern."""
    request = contract.definition("ResolutionRequest")["properties"]
    tools = {t["name"]: t["input_schema"]["properties"] for t in printed("anthropic")}
    assert tools["identify_caller"]["first_name"]["maxLength"] == request["firstName"]["maxLength"]
    assert tools["identify_caller"]["email"]["maxLength"] == request["email"]["maxLength"]
    assert tools["update_my_details"]["allergies"]["maxItems"] == request["allergies"]["maxItems"]
    assert (
        tools["confirm_code"]["code"]["pattern"]
        == request["verification"]["properties"]["code"]["pattern"]
    )


@pytest.mark.parametrize(
    ("tool", "arguments", "message"),
    [
        ("confirm_code", {"code": "98765x"}, "code is not in the expected form"),
        ("confirm_code", {"code": 987654}, "code must be a string"),
        ("identify_caller", {"email": 42}, "email must be a string"),
        ("list_my_orders", {"page": True}, "page must be a whole number"),
        ("update_my_details", {"allergies": "nuts"}, "allergies must be a list"),
        ("identify_caller", {"phone": "+15550000000"}, "takes no argument phone"),
        ("identify_caller", ["+15550000000"], "must be an object"),
    ],
)
def test_refusals_name_the_field_not_the_value(tool: str, arguments: Any, message: str) -> None:
    """The message says what is wrong without repeating what was sent."""
    with pytest.raises(ToolFailure) as refused:
        validate_arguments(tool, arguments)
    assert refused.value.code == "invalid_arguments"
    assert message in refused.value.message
    for value in ("98765x", "987654", "42", "+15550000000"):
        assert value not in refused.value.message


def test_defaults_are_filled() -> None:
    """list_my_orders without arguments: page 1 of 5."""
    assert validate_arguments("list_my_orders", None) == {"page": 1, "page_size": 5}


def test_sessions_and_definitions_need_no_mcp_package() -> None:
    """``ChatSession`` and the definitions load without the ``mcp`` package (a client-only
    install can run the tools from another framework); only the server needs it."""
    probe = (
        "import sys\n"
        "import customer_management.mcp\n"
        "import customer_management.cli.chatbot\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('mcp', 'uvicorn')))\n"
    )
    completed = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    assert completed.stdout.strip() == "[]"
