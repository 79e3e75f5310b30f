"""``ToolFailure``: a tool call that failed, as the model hears it.

``code`` is the kit's stable error code (``rate_limited``, ``invalid_email``, ...) or one
of the tools' own (``invalid_arguments``, ``no_code_sent``, ...); ``message`` says what to
do. Neither ever holds a verification code, a key or another account's data: messages are
written here or taken from the kit's ``details``, which name no values.
"""

from __future__ import annotations

from typing import Any

from customer_management.client import CustomerManagementError, NotAuthenticated, RateLimited

# The kit's messages for these codes are for developers; the model hears these instead.
_KIT_MESSAGES = {
    "rate_limited": "Too many requests for this caller; try again later.",
    "not_authenticated": "The session's sign-in is no longer valid; the user must sign in again.",
    "forbidden": "This session may not do that.",
    "try_again": "The account was busy; try again.",
    "second_proof_required": "This phone line is on an account that needs one more proof "
    "before it is opened. Ask the caller for the email address on their account, then use "
    "verify_my_email and confirm_code. If the caller has no account with us (or will not "
    "prove one), call identify_caller again with without_second_proof set to true.",
}


class ToolFailure(Exception):
    """A tool call that failed: the code, a sentence for the model, seconds to wait."""

    def __init__(self, code: str, message: str, retry_after: int | None = None) -> None:
        """Keep the code, the message and, for ``rate_limited``, the wait."""
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.retry_after = retry_after

    def as_json(self) -> dict[str, Any]:
        """``{"error": code, "message": ..., "retryAfter": seconds}`` for the tool result."""
        body: dict[str, Any] = {"error": self.code, "message": self.message}
        if self.retry_after is not None:
            body["retryAfter"] = self.retry_after
        return body

    @classmethod
    def from_kit(cls, error: CustomerManagementError) -> ToolFailure:
        """The failure for an error of the kit (its stable code, its safe details)."""
        code = error.message
        if isinstance(error, NotAuthenticated):
            # The kit's not_authenticated, or the HTTP layer refusing an expired token.
            code = "not_authenticated"
        if not code or not code.replace("_", "").isalpha() or not code.islower():
            # An HTTP-layer error (PGRSTxxx) or a transport failure: nothing to act on.
            return cls("unavailable", "The customer service is unavailable; try again later.")
        retry = error.retry_after if isinstance(error, RateLimited) else None
        return cls(code, _KIT_MESSAGES.get(code) or error.details or code, retry)
