"""One customer account per person across chatbot and web app, on Supabase (SQL-first).

``from customer_management import Client`` gives the thin supabase-py client and its typed
answers and exceptions. They are loaded on first use, so commands that do not need
supabase-py (``db start``, ``migrate``) start quickly.
"""

from __future__ import annotations

from importlib import metadata
from typing import TYPE_CHECKING, Any

try:
    # One source: the version in pyproject.toml, as the installed package's metadata.
    __version__ = metadata.version("customer-management")
except metadata.PackageNotFoundError:  # imported from a source tree that was never installed
    __version__ = "0+unknown"

__all__ = [
    "Client",
    "Conflict",
    "ConflictAccount",
    "ConflictResult",
    "Customer",
    "CustomerManagementError",
    "Forbidden",
    "InvalidInput",
    "NotAuthenticated",
    "NotFound",
    "Notice",
    "Order",
    "PayloadTooLarge",
    "RateLimited",
    "Resolution",
    "SecondProofRequired",
    "ServiceUnavailable",
    "VerificationCode",
    "VerificationRequest",
    "__version__",
]
# Names re-exported from customer_management.client (imported lazily by __getattr__).
_CLIENT_EXPORTS = frozenset(__all__) - {"__version__"}

if TYPE_CHECKING:
    from customer_management.client import (
        Client,
        Conflict,
        ConflictAccount,
        ConflictResult,
        Customer,
        CustomerManagementError,
        Forbidden,
        InvalidInput,
        NotAuthenticated,
        NotFound,
        Notice,
        Order,
        PayloadTooLarge,
        RateLimited,
        Resolution,
        SecondProofRequired,
        ServiceUnavailable,
        VerificationCode,
        VerificationRequest,
    )


def __getattr__(name: str) -> Any:
    """Load the client's names on first access."""
    if name in _CLIENT_EXPORTS:
        from customer_management import client

        return getattr(client, name)
    raise AttributeError(f"module 'customer_management' has no attribute {name!r}")
