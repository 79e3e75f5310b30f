"""Typed views of the ``customer_management`` answers (the contract's response formats).

Each dataclass reads one shape of the contract: its ``from_json`` takes the TypedDict that
``contract_types`` generates from ``contract.schema.json``, so a key the contract does not
have is a type error. Each keeps the JSON it came from in ``raw``; the typed attributes are
snake_case versions of the contract's camelCase keys.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, cast

from customer_management.client import contract_types as shapes


def _str(value: Any) -> str | None:
    """A JSON string or null as ``str | None``."""
    return None if value is None else str(value)


def _strings(value: Any) -> list[str]:
    """A JSON array of strings (null -> empty list)."""
    return [str(item) for item in value] if isinstance(value, list) else []


@dataclass(frozen=True)
class Notice:
    """Something the caller should know that is not an error (``placeholder_ignored``, ...)."""

    code: str
    message: str
    field: str | None = None
    raw: Mapping[str, Any] = dataclasses.field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_json(cls, data: shapes.Notice) -> Notice:
        """Parse one entry of ``notices``."""
        return cls(
            str(data.get("code", "")),
            str(data.get("message", "")),
            _str(data.get("field")),
            dict(data),
        )


@dataclass(frozen=True)
class VerificationRequest:
    """An identifier stored as pending until the user proves it (``verificationRequired``)."""

    type: str
    value: str

    @classmethod
    def from_json(cls, data: shapes.VerificationRequest) -> VerificationRequest:
        """Parse one entry of ``verificationRequired``."""
        return cls(str(data.get("type", "")), str(data.get("value", "")))


@dataclass(frozen=True)
class VerificationCode:
    """A code issued by ``request_verification``: deliver ``code`` to the customer (email,
    SMS) and send ``as_request()`` back as the ``verification`` of the next resolution."""

    verification_id: str
    code: str = dataclasses.field(repr=False)
    expires_at: datetime

    @classmethod
    def from_json(cls, data: shapes.VerificationCode) -> VerificationCode:
        """Parse the answer of ``request_verification``."""
        return cls(
            verification_id=str(data["verificationId"]),
            code=str(data["code"]),
            expires_at=datetime.fromisoformat(str(data["expiresAt"])),
        )

    def with_code(self, code: str) -> dict[str, str]:
        """The ``verification`` field for the code the customer read back."""
        return {"id": self.verification_id, "code": code}


@dataclass(frozen=True)
class Customer:
    """The ``customer`` object of a success answer."""

    id: str
    name: str | None
    phone: str | None
    email: str | None
    allergies: list[str]
    is_new_account: bool
    account_sources: list[str]
    internal_id: str
    raw: Mapping[str, Any] = dataclasses.field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_json(cls, data: shapes.Customer) -> Customer:
        """Parse ``customer``."""
        return cls(
            id=str(data["id"]),
            name=_str(data.get("name")),
            phone=_str(data.get("phone")),
            email=_str(data.get("email")),
            allergies=_strings(data.get("allergies")),
            is_new_account=bool(data.get("isNewAccount")),
            account_sources=_strings(data.get("accountSources")),
            internal_id=str(data.get("_internalId", data["id"])),
            raw=dict(data),
        )


@dataclass(frozen=True)
class Order:
    """One entry of ``orderHistory`` (newest first)."""

    id: str
    items: list[Any]
    total: Decimal | None
    currency: str | None
    status: str | None
    delivery_date: date | None
    created_at: datetime | None
    raw: Mapping[str, Any] = dataclasses.field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_json(cls, data: shapes.Order) -> Order:
        """Parse one order; money as ``Decimal``, dates as ``date``/``datetime``."""
        total = data.get("total")
        delivery = data.get("deliveryDate")
        created = data.get("createdAt")
        items = data.get("items")
        return cls(
            id=str(data.get("id", "")),
            items=list(items) if isinstance(items, list) else [],
            total=None if total is None else Decimal(str(total)),
            currency=_str(data.get("currency")),
            status=_str(data.get("status")),
            delivery_date=date.fromisoformat(delivery) if delivery else None,
            created_at=datetime.fromisoformat(created) if created else None,
            raw=dict(data),
        )


@dataclass(frozen=True)
class Resolution:
    """A success answer: the account found, updated, merged or created."""

    customer: Customer
    order_history: list[Order]
    summary: str
    verification_required: list[VerificationRequest]
    notices: list[Notice]
    raw: Mapping[str, Any] = dataclasses.field(default_factory=dict, repr=False, compare=False)

    @property
    def is_new_account(self) -> bool:
        """True when this call created the account."""
        return self.customer.is_new_account

    @classmethod
    def from_json(cls, data: shapes.Success) -> Resolution:
        """Parse the success shape."""
        return cls(
            customer=Customer.from_json(data["customer"]),
            order_history=[Order.from_json(o) for o in data.get("orderHistory") or []],
            summary=str(data.get("summary", "")),
            verification_required=[
                VerificationRequest.from_json(v) for v in data.get("verificationRequired") or []
            ],
            notices=[Notice.from_json(n) for n in data.get("notices") or []],
            raw=dict(data),
        )


@dataclass(frozen=True)
class ConflictAccount:
    """One account of a conflict; an end user sees masked contact data and no id."""

    id: str | None
    email: str | None
    phone: str | None
    source: str | None

    @classmethod
    def from_json(cls, data: shapes.ConflictAccount) -> ConflictAccount:
        """Parse one entry of ``conflicts.accounts``."""
        return cls(
            _str(data.get("id")),
            _str(data.get("email")),
            _str(data.get("phone")),
            _str(data.get("source")),
        )


@dataclass(frozen=True)
class ConflictResult:
    """The conflict answer: several accounts matched; nothing was merged."""

    error: str
    message: str
    conflict_id: str | None
    accounts: list[ConflictAccount]
    suggested_actions: list[str]
    notices: list[Notice]
    raw: Mapping[str, Any] = dataclasses.field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_json(cls, data: shapes.Conflict) -> ConflictResult:
        """Parse the conflict shape."""
        conflicts = data.get("conflicts") or {}
        return cls(
            error=str(data.get("error", "")),
            message=str(data.get("message", "")),
            conflict_id=_str(data.get("conflictId")),
            accounts=[ConflictAccount.from_json(a) for a in conflicts.get("accounts") or []],
            suggested_actions=_strings(conflicts.get("suggestedActions")),
            notices=[Notice.from_json(n) for n in data.get("notices") or []],
            raw=dict(data),
        )


def parse_result(data: Any) -> Resolution | ConflictResult:
    """Parse a ``customer_management`` answer into its typed shape."""
    if not isinstance(data, Mapping):
        raise ValueError(f"unexpected customer_management answer: {type(data).__name__}")
    if "customer" in data:
        return Resolution.from_json(cast(shapes.Success, data))
    if "conflicts" in data:
        return ConflictResult.from_json(cast(shapes.Conflict, data))
    raise ValueError("unexpected customer_management answer: no customer and no conflicts")
