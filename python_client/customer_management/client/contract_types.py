"""JSON shapes of the contract, generated from contract.schema.json: do not edit.

Regenerate with ``python -m customer_management.dev.contract_codegen``.
"""

from __future__ import annotations

from typing import Any, Literal, NotRequired, TypedDict, Union

ResolutionRequest = TypedDict(
    "ResolutionRequest",
    {
        "phone": NotRequired[str | None],
        "email": NotRequired[str | None],
        "authUserId": NotRequired[str | None],
        "firstName": NotRequired[str | None],
        "lastName": NotRequired[str | None],
        "allergies": NotRequired[list[str] | None],
        "source": Literal['chatbot', 'webapp'],
        "mergeIfFound": NotRequired[bool | None],
        "verification": NotRequired[dict[str, Any] | None],
    },
)
"""What a chatbot or web app sends. Unknown fields are ignored and reported in notices."""

Customer = TypedDict(
    "Customer",
    {
        "id": str,
        "name": str | None,
        "phone": str | None,
        "email": str | None,
        "allergies": list[str],
        "isNewAccount": bool,
        "accountSources": list["Channel"],
        "_internalId": str,
    },
)
"""The account found, updated, merged or created."""

Channel = Literal['chatbot', 'webapp', 'import', 'support']
"""Where an account or identifier came from."""

Order = TypedDict(
    "Order",
    {
        "id": str,
        "items": list[Any],
        "total": float,
        "currency": str,
        "status": Literal['pending', 'confirmed', 'preparing', 'out_for_delivery', 'delivered', 'cancelled'],
        "deliveryDate": str | None,
        "createdAt": str,
    },
)
"""One order, newest first in orderHistory."""

Notice = TypedDict(
    "Notice",
    {
        "code": Literal['placeholder_ignored', 'unknown_fields_ignored', 'identifier_limit_reached', 'accounts_merged', 'merge_blocked', 'merge_requires_service_role', 'kept_separate'],
        "message": str,
        "field": NotRequired[str],
        "fields": NotRequired[list[str]],
        "mergeIds": NotRequired[list[float]],
    },
)
"""Something the caller should know that is not an error."""

VerificationRequest = TypedDict(
    "VerificationRequest",
    {
        "type": Literal['phone', 'email', 'auth_user'],
        "value": str,
    },
)
"""An identifier the caller sent but has not proven: stored as pending, matched by nobody. A verification code (or a confirmation in Supabase Auth) proves it."""

Success = TypedDict(
    "Success",
    {
        "customer": "Customer",
        "orderHistory": list["Order"],
        "summary": str,
        "verificationRequired": NotRequired[list["VerificationRequest"]],
        "notices": NotRequired[list["Notice"]],
    },
)
"""Found or created (HTTP 200)."""

ConflictAccount = TypedDict(
    "ConflictAccount",
    {
        "id": NotRequired[str],
        "email": NotRequired[str],
        "phone": NotRequired[str],
        "source": NotRequired["Channel"],
    },
)
"""One account of a conflict. A trusted caller sees its id and contact data; an end user sees masked contact data only."""

Conflicts = TypedDict(
    "Conflicts",
    {
        "found": Literal[True],
        "accounts": list["ConflictAccount"],
        "suggestedActions": list[str],
    },
)

Conflict = TypedDict(
    "Conflict",
    {
        "error": Literal['Account conflict'],
        "conflicts": "Conflicts",
        "message": str,
        "conflictId": str,
        "notices": NotRequired[list["Notice"]],
    },
)
"""Several accounts matched (HTTP 200 on the RPC route, 409 on the function route). Recorded, nothing merged."""

ResolutionResponse = Union["Success", "Conflict"]
"""What the RPC returns."""

VerificationCode = TypedDict(
    "VerificationCode",
    {
        "verificationId": str,
        "code": str,
        "expiresAt": str,
    },
)
"""What request_verification returns to the service role, to deliver to the customer out of band. The kit stores only a keyed hash of the code."""

ErrorBody = TypedDict(
    "ErrorBody",
    {
        "code": str,
        "message": str,
        "details": str | None,
        "hint": str | None,
    },
)
"""PostgREST's error body. For the kit's own errors, message is a stable code (see KitErrorCode) and code the SQLSTATE; errors of the HTTP layer carry a PGRSTxxx code."""

KitErrorCode = Literal['invalid_request', 'missing_identifier', 'invalid_source', 'invalid_phone', 'invalid_email', 'invalid_auth_user_id', 'unknown_auth_user', 'name_too_long', 'invalid_name', 'invalid_allergies', 'payload_too_large', 'not_authenticated', 'forbidden', 'rate_limited', 'try_again', 'verification_required', 'invalid_verification', 'invalid_preferences', 'not_found', 'invalid_action', 'invalid_survivor', 'invalid_reason', 'conflict_closed', 'merge_blocked', 'merge_already_undone', 'undo_blocked_by_later_merges', 'undo_blocked', 'customer_erased', 'invalid_page', 'invalid_accounts', 'not_possible_duplicates']
"""The message of every error the kit raises itself."""
