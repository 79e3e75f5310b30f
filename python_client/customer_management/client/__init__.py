"""The thin Python client: ``Client``, its typed answers and its typed exceptions."""

from __future__ import annotations

from customer_management.client.core import Client, resolve_body
from customer_management.client.exceptions import (
    Conflict,
    CustomerManagementError,
    Forbidden,
    InvalidInput,
    NotAuthenticated,
    NotFound,
    PayloadTooLarge,
    RateLimited,
    SecondProofRequired,
    ServiceUnavailable,
    error_from_fields,
)
from customer_management.client.models import (
    ConflictAccount,
    ConflictResult,
    Customer,
    Notice,
    Order,
    Resolution,
    VerificationCode,
    VerificationRequest,
    parse_result,
)

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
    "error_from_fields",
    "parse_result",
    "resolve_body",
]
