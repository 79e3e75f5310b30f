"""Who the conversation is with, fixed when the session opens.

Either the phone line the call came from (given by the telephony layer: caller ID is what
the chatbot proves) or a signed-in user's Supabase Auth access token (a web chat). The
model never supplies either.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass, field
from typing import Any

from customer_management import contract

UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


class IdentityError(ValueError):
    """The identity given for a session is unusable (not E.164, not a user token)."""


def token_claims(token: str) -> dict[str, Any]:
    """The claims of an access token, read without verification (the MCP server verifies
    it with the project's keys before a session exists, and the kit at every call); raises
    ``IdentityError`` when it is no user's token."""
    parts = token.split(".")
    if len(parts) != 3:
        raise IdentityError("the access token is not a JWT")
    try:
        claims = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except (binascii.Error, ValueError):
        raise IdentityError("the access token is not a JWT") from None
    if not isinstance(claims, dict):
        raise IdentityError("the access token is not a JWT")
    subject = claims.get("sub")
    if not isinstance(subject, str) or not UUID.match(subject):
        raise IdentityError("the access token names no user (sub claim)")
    return claims


@dataclass(frozen=True)
class SessionIdentity:
    """The caller of one conversation: a phone ``line`` or a user's ``access_token``."""

    line: str | None = None
    access_token: str | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        """Exactly one of the two; the line in E.164, the token a user's."""
        if (self.line is None) == (self.access_token is None):
            raise IdentityError("give the caller's line or a user's access token, not both")
        if self.line is not None and not contract.e164().match(self.line):
            raise IdentityError("the caller's line must be in E.164 form, e.g. +15551234567")
        if self.access_token is not None:
            token_claims(self.access_token)

    @classmethod
    def phone_line(cls, line: str) -> SessionIdentity:
        """A call from ``line`` (E.164, as the telephony layer reports caller ID)."""
        return cls(line=line.strip())

    @classmethod
    def signed_in(cls, access_token: str) -> SessionIdentity:
        """A signed-in user, by their Supabase Auth access token."""
        return cls(access_token=access_token.strip())

    @property
    def user_id(self) -> str | None:
        """The signed-in user's id (``sub``), or None for a phone line."""
        return None if self.access_token is None else str(token_claims(self.access_token)["sub"])

    @property
    def user_contacts(self) -> tuple[str | None, str | None]:
        """The email and phone (E.164) the user's token carries; the kit decides whether
        Supabase Auth confirmed them."""
        if self.access_token is None:
            return None, None
        claims = token_claims(self.access_token)
        email = claims.get("email")
        digits = re.sub(r"[^0-9]", "", str(claims.get("phone") or ""))
        return (email if isinstance(email, str) and email else None), (
            f"+{digits}" if digits else None
        )

    @property
    def key(self) -> tuple[str, str]:
        """Who the conversation is with, whatever token they hold now: ``("line", line)``
        or ``("user", user id)``. A user who refreshes their token keeps their session."""
        if self.line is not None:
            return ("line", self.line)
        return ("user", str(self.user_id))

    @property
    def source(self) -> str:
        """The channel the kit is told: ``chatbot`` for a line, ``webapp`` for a user."""
        return "chatbot" if self.line is not None else "webapp"

    def describe(self) -> str:
        """For a log line: the masked line, or the user id."""
        return f"line {contract.mask_phone(self.line)}" if self.line else f"user {self.user_id}"
