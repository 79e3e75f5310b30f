"""``ChatSession``: one conversation's tools on top of the thin client.

The session is opened with the caller's identity (``SessionIdentity``) and keeps what the
conversation learned: the caller's account id, the last conflict the kit answered with,
and the verification a code was sent for (its id and address, never the code). With a
phone line it calls the kit as the service role, ``source: "chatbot"``, the line as
``phone``; with a user's token it calls as that user, ``source: "webapp"``. The model's
arguments only ever add what the caller said (names, allergies, an email, a code).

A code is requested with the service role, naming the caller as its requester (the line,
or the signed-in user), and only once the kit has accepted the user's token in this
conversation: a forged token gets nothing sent.

``call(name, arguments)`` runs one tool and returns its JSON answer or raises
``ToolFailure``: the MCP server and any other agent framework call it the same way.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from customer_management.client import (
    Client,
    ConflictResult,
    CustomerManagementError,
    Resolution,
)
from customer_management.contract import mask_email
from customer_management.mcp import answers
from customer_management.mcp.definitions import validate_arguments
from customer_management.mcp.delivery import Delivery, DeliveryFailed
from customer_management.mcp.errors import ToolFailure
from customer_management.mcp.identity import SessionIdentity

# A code per verify_my_email; a conversation needs one or two.
MAX_CODES_PER_SESSION = 3
# Orders the kit's answer lists at most (orderHistory): past that, ask for the count.
ORDER_HISTORY_LIMIT = 10
# A name with a digit or an @ is a phone, an address or an id, not a name.
NOT_A_NAME = re.compile(r"[0-9@]")


@dataclass(frozen=True)
class KitConnection:
    """Where the kit is and the keys the server holds (never shown to the model)."""

    url: str
    service_role_key: str
    anon_key: str | None = None

    def __repr__(self) -> str:
        """The URL only."""
        return f"KitConnection(url={self.url!r})"


@dataclass(frozen=True)
class _SentCode:
    """A verification sent in this conversation: its id and the address, not the code."""

    verification_id: str
    email: str


class ChatSession:
    """The tools of one conversation."""

    def __init__(
        self,
        kit: KitConnection,
        identity: SessionIdentity,
        delivery: Delivery | None = None,
    ) -> None:
        """Clients for the identity: the service role, and the user's own for a token."""
        self.identity = identity
        self._connection = kit
        self._service = Client(kit.url, kit.service_role_key)
        self._kit = self._client_for(identity)
        # Whether the kit accepted the current token in this conversation: service-role
        # work (a code) is done only for a caller the kit has verified.
        self._token_accepted = identity.access_token is None
        self._delivery = delivery
        self._lock = threading.Lock()
        self._customer_id: str | None = None
        self._conflict_id: str | None = None
        self._sent: _SentCode | None = None
        self._codes_sent = 0
        self._tools: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
            "identify_caller": self._identify_caller,
            "update_my_details": self._update_my_details,
            "list_my_orders": self._list_my_orders,
            "request_account_help": self._request_account_help,
            "verify_my_email": self._verify_my_email,
            "confirm_code": self._confirm_code,
        }

    def _client_for(self, identity: SessionIdentity) -> Client:
        """The client the caller's own requests go through."""
        if identity.access_token is None:
            return self._service
        kit = self._connection
        return Client(kit.url, kit.anon_key or kit.service_role_key, identity.access_token)

    def renew(self, identity: SessionIdentity) -> None:
        """The same caller with a new token (a refreshed sign-in): later calls use it."""
        if identity.key != self.identity.key:
            raise ValueError("a session continues only with its own caller")
        with self._lock:
            if identity.access_token != self.identity.access_token:
                self.identity = identity
                self._kit = self._client_for(identity)
                self._token_accepted = identity.access_token is None

    def call(self, name: str, arguments: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Run tool ``name``; its answer, or ``ToolFailure`` with a stable code."""
        checked = validate_arguments(name, arguments)
        with self._lock:
            try:
                return self._tools[name](checked)
            except CustomerManagementError as exc:
                raise ToolFailure.from_kit(exc) from None
            except httpx.TransportError:
                raise ToolFailure(
                    "unavailable", "The customer service is unavailable; try again later."
                ) from None

    # The kit, for this identity.

    def _resolve(
        self, verification: Mapping[str, str] | None = None, **said: Any
    ) -> Resolution | ConflictResult:
        """``customer_management`` for the session's caller plus what the caller said."""
        if self.identity.line is not None:
            return self._kit.resolve(
                source="chatbot", phone=self.identity.line, verification=verification, **said
            )
        token_email, token_phone = self.identity.user_contacts
        if said.get("email") is None:
            said["email"] = token_email
        result = self._kit.resolve(
            source="webapp",
            auth_user_id=self.identity.user_id,
            phone=token_phone,
            verification=verification,
            **said,
        )
        self._token_accepted = True
        return result

    def _orders_page(self, page: int, page_size: int) -> dict[str, Any]:
        """``customer_orders`` for the session's caller."""
        params: dict[str, Any] = {"page": page, "page_size": page_size}
        if self.identity.line is not None:
            params["customer_id"] = self._own_customer_id()
        result: dict[str, Any] = self._kit.rpc("customer_orders", params)
        return result

    def _own_customer_id(self) -> str:
        """The line's account (looked up once; created on a first call, as the kit does)."""
        if self._customer_id is None:
            self._answer(self._resolve())
        if self._customer_id is None:
            raise ToolFailure(
                "account_conflict",
                "Several accounts match this caller; request_account_help passes it to support.",
            )
        return self._customer_id

    def _answer(self, result: Resolution | ConflictResult) -> dict[str, Any]:
        """Remember the account or the conflict; the answer the model hears."""
        if isinstance(result, ConflictResult):
            self._conflict_id = result.conflict_id
            self._customer_id = None
            return answers.conflict_answer(result)
        self._customer_id = result.customer.id
        count = len(result.order_history)
        if count >= ORDER_HISTORY_LIMIT:
            count = int(self._orders_page(1, 1).get("orderCount") or count)
        return answers.customer_answer(result, count)

    @staticmethod
    def _names(args: Mapping[str, Any]) -> dict[str, Any]:
        """first_name and last_name as said, refused when they hold digits or an @."""
        names = {key: args[key] for key in ("first_name", "last_name") if key in args}
        for key, value in names.items():
            if NOT_A_NAME.search(value):
                raise ToolFailure(
                    "invalid_name", f"{key} looks like a number or an address, not a name."
                )
        return names

    # The tools.

    def _identify_caller(self, args: dict[str, Any]) -> dict[str, Any]:
        declined = bool(args.get("without_second_proof")) and self.identity.line is not None
        return self._answer(
            self._resolve(
                email=args.get("email"), without_second_proof=declined, **self._names(args)
            )
        )

    def _update_my_details(self, args: dict[str, Any]) -> dict[str, Any]:
        if not args:
            raise ToolFailure("invalid_arguments", "Give a first name, a last name or allergies.")
        return self._answer(self._resolve(allergies=args.get("allergies"), **self._names(args)))

    def _list_my_orders(self, args: dict[str, Any]) -> dict[str, Any]:
        return answers.orders_answer(self._orders_page(args["page"], args["page_size"]))

    def _request_account_help(self, args: dict[str, Any]) -> dict[str, Any]:
        if self._conflict_id is None:
            raise ToolFailure(
                "no_conflict",
                "No account conflict came up in this conversation: there is nothing to pass on.",
            )
        result = self._kit.rpc(
            "resolve_conflict",
            {"conflict_id": self._conflict_id, "action": "escalate", "reason": args["reason"]},
        )
        return answers.escalation_answer(result)

    def _verify_my_email(self, args: dict[str, Any]) -> dict[str, Any]:
        if self._delivery is None:
            raise ToolFailure(
                "delivery_not_configured", "This assistant cannot send codes by email."
            )
        if self._codes_sent >= MAX_CODES_PER_SESSION:
            raise ToolFailure("rate_limited", "Enough codes were sent in this conversation.")
        if not self._token_accepted:
            # The kit checks the user's token (and that the user exists) before the
            # service role sends anything on their behalf.
            self._answer(self._resolve())
        email: str = args["email"]
        issued = self._service.request_verification(
            "email",
            email,
            requester_line=self.identity.line,
            requester_user_id=self.identity.user_id,
        )
        self._codes_sent += 1
        try:
            self._delivery.deliver("email", email, issued.code, issued.expires_at.isoformat())
        except DeliveryFailed:
            raise ToolFailure(
                "delivery_failed", "The code could not be sent; try again later."
            ) from None
        self._sent = _SentCode(issued.verification_id, email)
        return {"status": "sent", "to": mask_email(email)}

    def _confirm_code(self, args: dict[str, Any]) -> dict[str, Any]:
        sent = self._sent
        if sent is None:
            raise ToolFailure(
                "no_code_sent", "No code was sent in this conversation; use verify_my_email."
            )
        try:
            result = self._resolve(
                email=sent.email, verification={"id": sent.verification_id, "code": args["code"]}
            )
        except CustomerManagementError as exc:
            if exc.message != "invalid_verification":
                raise
            if (exc.hint or "").startswith("Ask the customer to read the code again"):
                raise ToolFailure(
                    "invalid_verification", "Wrong code: ask the caller to read it again."
                ) from None
            self._sent = None
            raise ToolFailure(
                "invalid_verification",
                "The code is no longer valid: send a new one with verify_my_email.",
            ) from None
        self._sent = None
        answer = self._answer(result)
        if answer["status"] == "conflict":
            return answer
        return {**answer, "status": "confirmed"}
