"""Chatbot tools: the kit for LLM agents, over MCP or as function-calling definitions.

``ChatSession`` runs the tools of one conversation on the thin client; ``definitions``
describes them as JSON Schema (``openai_tools``, ``anthropic_tools``); ``server`` serves
them over MCP (needs the ``mcp`` extra). The caller's identity is fixed when a session
opens, never taken from the model.
"""

from __future__ import annotations

from customer_management.mcp.definitions import TOOLS, anthropic_tools, openai_tools
from customer_management.mcp.delivery import CommandDelivery, DeliveryFailed, UrlDelivery
from customer_management.mcp.errors import ToolFailure
from customer_management.mcp.identity import IdentityError, SessionIdentity
from customer_management.mcp.session import ChatSession, KitConnection

__all__ = [
    "TOOLS",
    "ChatSession",
    "CommandDelivery",
    "DeliveryFailed",
    "IdentityError",
    "KitConnection",
    "SessionIdentity",
    "ToolFailure",
    "UrlDelivery",
    "anthropic_tools",
    "openai_tools",
]
