"""JSON shapes of the contract, generated from contract.schema.json: do not edit.

Regenerate with ``python -m tools.contract_codegen``.
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
        "withoutSecondProof": NotRequired[bool | None],
    },
)
"""What a chatbot or web app sends. source and at least one usable phone, email or authUserId are required (placeholders do not count). Unknown fields are ignored and reported in notices."""

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
        "code": Literal['placeholder_ignored', 'unknown_fields_ignored', 'identifier_limit_reached', 'accounts_merged', 'merge_blocked', 'merge_requires_service_role', 'kept_separate', 'conflict_outdated'],
        "message": str,
        "field": NotRequired[str],
        "fields": NotRequired[list[str]],
        "mergeIds": NotRequired[list[int]],
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

KitErrorCode = Literal['invalid_request', 'missing_identifier', 'invalid_source', 'invalid_phone', 'invalid_email', 'invalid_auth_user_id', 'unknown_auth_user', 'name_too_long', 'invalid_name', 'invalid_allergies', 'payload_too_large', 'not_authenticated', 'forbidden', 'second_proof_required', 'contact_follows_identifiers', 'rate_limited', 'try_again', 'verification_required', 'invalid_verification', 'invalid_preferences', 'not_found', 'invalid_action', 'invalid_survivor', 'invalid_reason', 'conflict_closed', 'merge_blocked', 'merge_already_undone', 'undo_blocked_by_later_merges', 'undo_blocked', 'customer_erased', 'invalid_page', 'invalid_requester', 'invalid_accounts', 'not_possible_duplicates']
"""The message of every error the kit answers itself, with its SQLSTATE (x-sqlstate): P0001 is HTTP 400, 42501 is 401 for anon and 403 otherwise, PTxyz is xyz."""

ConflictStatus = Literal['open', 'escalated', 'merged', 'kept_separate', 'outdated']
"""Where a conflict stands: open (nobody decided yet), escalated (handed to support), merged, kept_separate (different people), outdated (its accounts changed since it was recorded)."""

ConflictState = TypedDict(
    "ConflictState",
    {
        "id": str,
        "status": "ConflictStatus",
        "accounts": list["ConflictAccount"],
        "identifierTypes": list[str],
        "occurrences": int,
        "createdAt": str,
        "lastSeenAt": str,
        "resolvedAt": NotRequired[str],
        "resolvedBy": NotRequired[dict[str, Any]],
        "reason": NotRequired[str],
    },
)
"""A conflict as the lifecycle and support RPCs show it. accounts are masked (no ids, partial contact data) for an end user; reason and resolvedBy.userId are given to trusted callers only."""

AccountCard = TypedDict(
    "AccountCard",
    {
        "id": str,
        "firstName": str | None,
        "lastName": str | None,
        "phone": str | None,
        "email": str | None,
        "authUserId": str | None,
        "source": NotRequired[str | None],
        "accountSources": list[str],
        "orderCount": int,
        "createdAt": str,
        "mergedInto": str | None,
        "mergedAt": str | None,
    },
)
"""An account as support's answers show it: enough to recognise it, nothing of its history."""

CustomerDocument = TypedDict(
    "CustomerDocument",
    {
        "customerId": str,
        "profile": dict[str, Any],
        "mergedAccounts": list[dict[str, Any]],
        "identifiers": list[dict[str, Any]],
        "claimsOnOtherAccounts": list[dict[str, Any]],
        "orders": list[dict[str, Any]],
        "merges": list[dict[str, Any]],
        "conflicts": list[dict[str, Any]],
        "verifications": list[dict[str, Any]],
        "rateLimitCounters": list[dict[str, Any]],
        "auditEntries": list[dict[str, Any]],
        "events": list[dict[str, Any]],
    },
)
"""Everything the kit keeps about a person (a live account and every account merged into it), as docs/lifecycle.md describes each field. Nothing about anyone else."""

RequestVerificationArgs = TypedDict(
    "RequestVerificationArgs",
    {
        "identifier_type": Literal['email', 'phone'],
        "identifier_value": str,
        "requester_line": NotRequired[str | None],
        "requester_user_id": NotRequired[str | None],
        "requester_session": NotRequired[str | None],
    },
)
"""request_verification: a one-time code for an email or phone the caller said (service role only). Name the requester (the caller's line, the signed-in user, or a session): codes are limited per requester as well as per identifier, and the owner's own channel is counted apart from strangers."""

ResolveConflictArgs = TypedDict(
    "ResolveConflictArgs",
    {
        "conflict_id": str,
        "action": Literal['merge', 'keep_separate', 'escalate'],
        "survivor_id": NotRequired[str | None],
        "reason": NotRequired[str | None],
    },
)
"""resolve_conflict: merge a conflict's accounts, keep them separate, or escalate it."""

UndoMergeArgs = TypedDict(
    "UndoMergeArgs",
    {
        "merge_id": int,
        "cascade": NotRequired[bool | None],
        "reason": NotRequired[str | None],
    },
)
"""undo_merge: undo one merge exactly (service role and support agents)."""

ExportCustomerDataArgs = TypedDict(
    "ExportCustomerDataArgs",
    {
        "customer_id": NotRequired[str | None],
    },
)
"""export_customer_data: everything kept about a person (GDPR access and portability)."""

EraseCustomerArgs = TypedDict(
    "EraseCustomerArgs",
    {
        "customer_id": NotRequired[str | None],
        "reason": NotRequired[str | None],
    },
)
"""erase_customer: erase a person (GDPR erasure); orders stay without a customer."""

CurrentCustomerIdArgs = TypedDict(
    "CurrentCustomerIdArgs",
    {
        "customer_id": str | None,
    },
)
"""current_customer_id: the account a customer id stands for now."""

CustomerOrdersArgs = TypedDict(
    "CustomerOrdersArgs",
    {
        "customer_id": NotRequired[str | None],
        "page_size": NotRequired[int],
        "page": NotRequired[int],
    },
)
"""customer_orders: one page of a customer's orders, newest first."""

SupportConflictQueueArgs = TypedDict(
    "SupportConflictQueueArgs",
    {
        "status": NotRequired["ConflictStatus"],
        "page_size": NotRequired[int],
        "after_conflict_id": NotRequired[str | None],
    },
)
"""support_conflict_queue: one page of the conflicts of a status, oldest first (service role and support agents)."""

SupportFindCustomersArgs = TypedDict(
    "SupportFindCustomersArgs",
    {
        "phone": NotRequired[str | None],
        "email": NotRequired[str | None],
    },
)
"""support_find_customers: the live accounts holding exactly this phone or email (service role and support agents). Send a phone, an email or both: a body naming neither is invalid_request."""

SupportCustomerViewArgs = TypedDict(
    "SupportCustomerViewArgs",
    {
        "customer_id": str,
    },
)
"""support_customer_view: one account's profile, identifiers, orders, conflicts and merges with what undoing each would restore (service role and support agents)."""

SupportMergePreviewArgs = TypedDict(
    "SupportMergePreviewArgs",
    {
        "conflict_id": str,
        "survivor_id": NotRequired[str | None],
    },
)
"""support_merge_preview: what merging a conflict's accounts would do, changing nothing (service role and support agents)."""

ConflictResolution = TypedDict(
    "ConflictResolution",
    {
        "conflict": "ConflictState",
        "mergeIds": list[int],
        "customer": NotRequired["Customer"],
        "orderHistory": NotRequired[list["Order"]],
        "summary": NotRequired[str],
        "notices": NotRequired[list["Notice"]],
    },
)
"""What resolve_conflict returns: the conflict's new state and the merges made; after a merge also the survivor in customer_management's shape."""

MergeUndo = TypedDict(
    "MergeUndo",
    {
        "undoneMergeIds": list[int],
        "accounts": list["Customer"],
    },
)
"""What undo_merge returns: the merges undone (newest first with cascade) and the accounts as they are again."""

CustomerExport = TypedDict(
    "CustomerExport",
    {
        "customerId": str,
        "profile": dict[str, Any],
        "mergedAccounts": list[dict[str, Any]],
        "identifiers": list[dict[str, Any]],
        "claimsOnOtherAccounts": list[dict[str, Any]],
        "orders": list[dict[str, Any]],
        "merges": list[dict[str, Any]],
        "conflicts": list[dict[str, Any]],
        "verifications": list[dict[str, Any]],
        "rateLimitCounters": list[dict[str, Any]],
        "auditEntries": list[dict[str, Any]],
        "events": list[dict[str, Any]],
        "exportedAt": str,
    },
)
"""What export_customer_data returns."""

Erasure = TypedDict(
    "Erasure",
    {
        "erased": Literal[True],
        "customerIds": list[str],
        "identifiersErased": int,
        "ordersKept": int,
    },
)
"""What erase_customer returns."""

CurrentCustomerId = str | None
"""What current_customer_id returns: the live account's id, or null when the id is unknown or erased (and, for an end user, when it is not theirs)."""

OrdersPage = TypedDict(
    "OrdersPage",
    {
        "orders": list["Order"],
        "page": int,
        "hasMore": bool,
        "orderCount": int,
    },
)
"""What customer_orders returns."""

ConflictQueue = TypedDict(
    "ConflictQueue",
    {
        "status": "ConflictStatus",
        "total": int,
        "conflicts": list[dict[str, Any]],
        "nextAfter": str | None,
    },
)
"""What support_conflict_queue returns: one page, oldest first, accounts unmasked, and where the next page starts (null on the last)."""

CustomerSearch = TypedDict(
    "CustomerSearch",
    {
        "phone": str | None,
        "email": str | None,
        "customers": list[dict[str, Any]],
    },
)
"""What support_find_customers returns: the normalised phone and email searched for (null when not given or a placeholder) and the live accounts found, each with how it matched."""

SupportCustomerView = TypedDict(
    "SupportCustomerView",
    {
        "customerId": str,
        "profile": dict[str, Any],
        "mergedAccounts": list[dict[str, Any]],
        "identifiers": list[dict[str, Any]],
        "claimsOnOtherAccounts": list[dict[str, Any]],
        "orders": list[dict[str, Any]],
        "merges": list[dict[str, Any]],
        "conflicts": list[dict[str, Any]],
        "verifications": list[dict[str, Any]],
        "rateLimitCounters": list[dict[str, Any]],
        "auditEntries": list[dict[str, Any]],
        "events": list[dict[str, Any]],
        "requestedId": str,
        "account": "AccountCard",
    },
)
"""What support_customer_view returns: the export of the person behind the id, the account as support's cards show it, and each merge with what undoing it would restore."""

MergePreview = TypedDict(
    "MergePreview",
    {
        "conflict": "ConflictState",
        "accounts": list[dict[str, Any]],
        "survivorId": str,
        "ruleSurvivorId": str,
        "survivorChosen": bool,
        "moves": list[dict[str, Any]],
        "result": dict[str, Any],
        "canMerge": bool,
        "blockedBecause": str | None,
    },
)
"""What support_merge_preview returns: the conflict, its accounts, which would survive, what would move, the merged result, and whether the merge may happen (blockedBecause says why not)."""

SupportPossibleDuplicatesArgs = TypedDict(
    "SupportPossibleDuplicatesArgs",
    {
        "page_size": NotRequired[int],
        "after_group": NotRequired[int | None],
    },
)
"""support_possible_duplicates: one page of possible-duplicate groups, strongest first (service role and support agents)."""

SupportDuplicateMergePreviewArgs = TypedDict(
    "SupportDuplicateMergePreviewArgs",
    {
        "account_ids": list[str],
        "survivor_id": NotRequired[str | None],
    },
)
"""support_duplicate_merge_preview: what merging some accounts of one possible-duplicate group would do, changing nothing (service role and support agents)."""

SupportMergeDuplicatesArgs = TypedDict(
    "SupportMergeDuplicatesArgs",
    {
        "account_ids": list[str],
        "survivor_id": NotRequired[str | None],
        "reason": NotRequired[str | None],
    },
)
"""support_merge_duplicates: merge accounts of one possible-duplicate group (each merge undoable with undo_merge; service role and support agents)."""

SupportKeepDuplicatesApartArgs = TypedDict(
    "SupportKeepDuplicatesApartArgs",
    {
        "account_ids": list[str],
        "reason": NotRequired[str | None],
    },
)
"""support_keep_duplicates_apart: these accounts are different people; the pairs among them are not proposed again (service role and support agents)."""

PossibleDuplicatePage = dict[str, Any]
"""A page of possible-duplicate groups: each group's accounts and its pairs with score and reasons, and nextAfter."""

DuplicateMergePreview = dict[str, Any]
"""What a merge of these accounts would do: the survivor, what moves, whether it can merge."""

DuplicateMergeResult = dict[str, Any]
"""The survivor in the customer_management shape, the merge ids (undo_merge takes them) and the group's remaining pairs."""

DuplicateDecision = dict[str, Any]
"""The pairs kept apart and the groups left."""
