"""Typed exceptions for failed calls, carrying PostgREST's ``code``, ``message``, ``details``
and ``hint`` plus the HTTP status.

For the kit's own errors ``message`` is a stable code (``invalid_phone``, ``rate_limited``,
...), ``details`` says what was wrong and ``hint`` what to do; ``code`` is the SQLSTATE
(``P0001``, ``42501``, ``PT429``) or a ``PGRSTxxx`` code of the HTTP layer. The class is
picked from the HTTP status, which follows the table in ``customer_management.statuses``
(shared with the proxy).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from customer_management import statuses

if TYPE_CHECKING:
    from customer_management.client.models import ConflictResult

DEFAULT_RETRY_AFTER = 60  # the kit counts calls in one-minute windows


class CustomerManagementError(Exception):
    """A call failed; ``message`` is the kit's stable code for the kit's own errors."""

    def __init__(
        self,
        code: str | None,
        message: str,
        details: str | None = None,
        hint: str | None = None,
        status: int | None = None,
    ) -> None:
        """Keep the PostgREST fields and the HTTP status."""
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details
        self.hint = hint
        self.status = status

    def __str__(self) -> str:
        """``message: details (hint)`` - readable in a log without the request data."""
        text = self.message
        if self.details:
            text += f": {self.details}"
        if self.hint:
            text += f" ({self.hint})"
        return text

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(code={self.code!r}, message={self.message!r}, "
            f"status={self.status!r})"
        )


class InvalidInput(CustomerManagementError):
    """400: the request was rejected (``invalid_phone``, ``missing_identifier``, ...)."""


class Forbidden(CustomerManagementError):
    """403: the caller may not do this (``forbidden``); also the base of ``NotAuthenticated``."""


class NotAuthenticated(Forbidden):
    """401: no valid credentials (anon key only, expired or invalid token, ...)."""


class SecondProofRequired(Forbidden):
    """403 ``second_proof_required``: the chatbot's line is on an account that holds it less
    than verified. Nothing was read or written; prove the account's email (or another phone)
    with a code, or send ``without_second_proof=True``."""


class NotFound(CustomerManagementError):
    """404: the RPC does not exist (PostgREST's ``PGRST202``) or the URL is wrong."""


class Conflict(CustomerManagementError):
    """409: several accounts match (``resolve(..., raise_on_conflict=True)``) or a unique
    violation; ``result`` holds the typed conflict answer when there is one."""

    def __init__(self, *args: Any, result: ConflictResult | None = None, **kwargs: Any) -> None:
        """As the base class, plus the conflict answer."""
        super().__init__(*args, **kwargs)
        self.result = result


class PayloadTooLarge(CustomerManagementError):
    """413: the request body is over 16 KB."""


class RateLimited(CustomerManagementError):
    """429: too many calls; ``retry_after`` is the number of seconds to wait."""

    def __init__(self, *args: Any, retry_after: int = DEFAULT_RETRY_AFTER, **kwargs: Any) -> None:
        """As the base class, plus the wait in seconds."""
        super().__init__(*args, **kwargs)
        self.retry_after = retry_after


class ServiceUnavailable(CustomerManagementError):
    """503/504: a transient failure (``try_again``, database unreachable); retry."""


_BY_STATUS: dict[int, type[CustomerManagementError]] = {
    400: InvalidInput,
    401: NotAuthenticated,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    413: PayloadTooLarge,
    429: RateLimited,
    503: ServiceUnavailable,
    504: ServiceUnavailable,
}


def error_from_fields(
    code: str | None,
    message: str | None,
    details: Any = None,
    hint: Any = None,
    role: str = "anon",
    status: int | None = None,
) -> CustomerManagementError:
    """The typed exception for a PostgREST error body received by a caller acting as ``role``."""
    message = message or ""
    details_text = None if details is None else str(details)
    hint_text = None if hint is None else str(hint)
    if status is None:
        status = statuses.status_for_code(code, role, message)
    if message == "not_authenticated":
        cls: type[CustomerManagementError] = NotAuthenticated
    elif message == "second_proof_required":
        cls = SecondProofRequired
    else:
        cls = _BY_STATUS.get(status, CustomerManagementError)
    if cls is RateLimited:
        seconds = statuses.retry_after_seconds(hint_text) or DEFAULT_RETRY_AFTER
        return RateLimited(code, message, details_text, hint_text, status, retry_after=seconds)
    return cls(code, message, details_text, hint_text, status)
