"""What the model hears: the kit's answers cut down to the caller's own account.

No id of any account, contact data masked, a conflict only as the kit's conflict message (the
service role's conflict answer names the other accounts: none of that is passed on), and
orders without their ids.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from customer_management.client import ConflictResult, Resolution
from customer_management.contract import mask_email, mask_phone

ORDER_FIELDS = ("items", "total", "currency", "status", "deliveryDate", "createdAt")


def customer_answer(resolution: Resolution, order_count: int) -> dict[str, Any]:
    """The caller's account: name, masked contact data, allergies, channels, order count,
    the kit's summary sentence, and which identifiers still need a code."""
    customer = resolution.customer
    answer: dict[str, Any] = {
        "status": "created" if customer.is_new_account else "found",
        "customer": {
            "name": customer.name,
            "phone": mask_phone(customer.phone),
            "email": mask_email(customer.email),
            "allergies": list(customer.allergies),
            "isNewAccount": customer.is_new_account,
            "accountSources": list(customer.account_sources),
        },
        "orderCount": order_count,
        "summary": resolution.summary,
    }
    if resolution.verification_required:
        answer["verificationRequired"] = sorted({v.type for v in resolution.verification_required})
    notices = [
        {"code": n.code, "message": n.message}
        for n in resolution.notices
        if n.code != "accounts_merged"
    ]
    if notices:
        answer["notices"] = notices
    return answer


def conflict_answer(conflict: ConflictResult) -> dict[str, Any]:
    """Several accounts matched: the kit's conflict message and what the assistant can do."""
    return {
        "status": "conflict",
        "message": conflict.message,
        "next": "Nothing was changed. request_account_help passes this to customer support.",
    }


def orders_answer(page: Mapping[str, Any]) -> dict[str, Any]:
    """A page of ``customer_orders`` without order ids."""
    return {
        "orders": [
            {key: order.get(key) for key in ORDER_FIELDS} for order in page.get("orders") or []
        ],
        "page": page.get("page"),
        "hasMore": bool(page.get("hasMore")),
        "orderCount": page.get("orderCount"),
    }


def escalation_answer(result: Mapping[str, Any]) -> dict[str, Any]:
    """The conflict's new status after ``resolve_conflict(..., 'escalate')``."""
    conflict = result.get("conflict") or {}
    return {
        "status": conflict.get("status"),
        "message": "Customer support has the case and will contact the caller.",
    }
