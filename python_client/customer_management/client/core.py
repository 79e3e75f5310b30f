"""``Client``: the kit's calls on top of supabase-py, with typed answers and errors.

It is a thin layer: every call is ``supabase.rpc(name, params).execute()`` on a regular
supabase-py client, so it works unchanged against hosted Supabase and against the kit's
proxy. The underlying client stays reachable as ``Client.supabase``.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
from collections.abc import Mapping, Sequence
from typing import Any

from postgrest import APIError
from supabase import Client as SupabaseClient
from supabase import ClientOptions, create_client

from customer_management.client.exceptions import Conflict, error_from_fields
from customer_management.client.models import (
    ConflictResult,
    Resolution,
    VerificationCode,
    parse_result,
)

RPC_NAME = "customer_management"
# Names the end user a backend acts for, so vouched identifiers spend that user's
# allowance (and codes count per requester); PostgREST hands it to the database.
REQUESTER_HEADER = "X-Customer-Requester"
KEY_ENV_VARS = ("SUPABASE_KEY", "SUPABASE_SERVICE_ROLE_KEY", "SUPABASE_ANON_KEY")
ACCESS_TOKEN_ENV = "CUSTOMER_MANAGEMENT_ACCESS_TOKEN"


def resolve_body(
    *,
    source: str,
    phone: str | None = None,
    email: str | None = None,
    first_name: str | None = None,
    last_name: str | None = None,
    auth_user_id: str | None = None,
    merge_if_found: bool = False,
    allergies: Sequence[str] | None = None,
    verification: Mapping[str, str] | None = None,
    without_second_proof: bool = False,
) -> dict[str, Any]:
    """The contract's camelCase request body; absent (None) fields are left out."""
    body: dict[str, Any] = {
        "verification": None if verification is None else dict(verification),
        "phone": phone,
        "email": email,
        "firstName": first_name,
        "lastName": last_name,
        "source": source,
        "authUserId": None if auth_user_id is None else str(auth_user_id),
        "allergies": None if allergies is None else list(allergies),
    }
    if merge_if_found:
        body["mergeIfFound"] = True
    if without_second_proof:
        body["withoutSecondProof"] = True
    return {key: value for key, value in body.items() if value is not None}


def _role_of(token: str) -> str:
    """The role claim of a key or access token, read without verification: it only picks
    401 or 403 for an error that came without an HTTP status. Unreadable: ``anon``."""
    parts = token.split(".")
    if len(parts) != 3:
        return "anon"
    try:
        payload = base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4))
        claims = json.loads(payload)
    except (binascii.Error, ValueError):
        return "anon"
    role = claims.get("role") if isinstance(claims, dict) else None
    return role if isinstance(role, str) and role else "anon"


class Client:
    """The customer management kit for one project and one caller.

    ``key`` is the project API key: the service-role key for a chatbot or backend, the anon
    key for a web app, which then also passes the signed-in user's ``access_token``. A
    backend with the service-role key names the user it acts for as ``requester`` (its
    session or user id, here for every call or per call), sent as the
    ``X-Customer-Requester`` header: what it vouches for then spends that requester's
    rate limit, never the owner's of the phone or email.
    """

    def __init__(
        self,
        url: str,
        key: str,
        access_token: str | None = None,
        options: ClientOptions | None = None,
        requester: str | None = None,
    ) -> None:
        """Create the supabase-py client; the access token, if any, becomes the bearer."""
        self.requester = requester
        if access_token:
            headers = dict(options.headers) if options else {}
            headers["Authorization"] = f"Bearer {access_token}"
            options = (
                options.replace(headers=headers)
                if options is not None
                else ClientOptions(headers=headers)
            )
        self.supabase: SupabaseClient = create_client(url, key, options)
        self.role = _role_of(access_token or key)

    @classmethod
    def from_env(
        cls, access_token: str | None = None, environ: Mapping[str, str] | None = None
    ) -> Client:
        """Build from ``SUPABASE_URL`` and the first of ``SUPABASE_KEY``,
        ``SUPABASE_SERVICE_ROLE_KEY``, ``SUPABASE_ANON_KEY``; the access token defaults to
        ``CUSTOMER_MANAGEMENT_ACCESS_TOKEN``."""
        env = os.environ if environ is None else environ
        url = env.get("SUPABASE_URL")
        key = next((env[name] for name in KEY_ENV_VARS if env.get(name)), None)
        if not url or not key:
            raise RuntimeError(
                "set SUPABASE_URL and SUPABASE_KEY (or SUPABASE_SERVICE_ROLE_KEY / "
                "SUPABASE_ANON_KEY); `make run` prints local values"
            )
        return cls(url, key, access_token or env.get(ACCESS_TOKEN_ENV) or None)

    def rpc(
        self, name: str, params: Mapping[str, Any] | None = None, requester: str | None = None
    ) -> Any:
        """Call any RPC of the kit; return its JSON or raise a ``CustomerManagementError``.
        ``requester`` (default: the client's) is sent as ``X-Customer-Requester``."""
        request = self.supabase.rpc(name, dict(params or {}))
        requester = requester or self.requester
        if requester:
            request.request.headers[REQUESTER_HEADER] = requester
        try:
            response = request.execute()
        except APIError as exc:
            raise error_from_fields(
                exc.code, exc.message, exc.details, exc.hint, role=self.role
            ) from None
        return response.data

    def resolve(
        self,
        *,
        source: str,
        phone: str | None = None,
        email: str | None = None,
        first_name: str | None = None,
        last_name: str | None = None,
        auth_user_id: str | None = None,
        merge_if_found: bool = False,
        allergies: Sequence[str] | None = None,
        verification: Mapping[str, str] | None = None,
        without_second_proof: bool = False,
        raise_on_conflict: bool = False,
        requester: str | None = None,
    ) -> Resolution | ConflictResult:
        """Find, create, update or merge the customer (``POST rpc/customer_management``).

        Returns a ``Resolution``, or a ``ConflictResult`` when several accounts match
        (raised as ``Conflict`` instead with ``raise_on_conflict=True``). Failures raise
        ``InvalidInput``, ``NotAuthenticated``, ``Forbidden``, ``RateLimited``, ...

        ``verification`` is ``{"id": ..., "code": ...}`` (``VerificationCode.with_code``): a
        code the customer read back, proving the request's email or phone. ``requester``
        names the user a backend acts for (see the class).

        On the chatbot channel a line whose account holds it less than verified raises
        ``SecondProofRequired``: prove the account's email with a code, or call again with
        ``without_second_proof=True`` to serve the caller on an account of their own.
        """
        body = resolve_body(
            source=source,
            phone=phone,
            email=email,
            first_name=first_name,
            last_name=last_name,
            auth_user_id=auth_user_id,
            merge_if_found=merge_if_found,
            allergies=allergies,
            verification=verification,
            without_second_proof=without_second_proof,
        )
        result = parse_result(self.rpc(RPC_NAME, body, requester))
        if raise_on_conflict and isinstance(result, ConflictResult):
            raise Conflict(None, result.error, result.message, None, 409, result=result)
        return result

    def request_verification(
        self,
        identifier_type: str,
        identifier_value: str,
        *,
        requester_line: str | None = None,
        requester_user_id: str | None = None,
        requester_session: str | None = None,
    ) -> VerificationCode:
        """A six-digit code for a phone or email (service role only), to deliver to the
        customer out of band; ``InvalidInput`` for a malformed value, ``RateLimited`` when
        the requester or the identifier was sent too many codes this hour, or the
        identifier received too many wrong codes today.

        Name who asks: ``requester_line`` (the line a chatbot caller calls from),
        ``requester_user_id`` (the signed-in user a backend acts for) or
        ``requester_session`` (any other session; default: the client's ``requester``).
        Each requester gets a few codes an hour, and the owner's own channel (her account's
        line, the login that confirmed the address) is counted apart from strangers, who
        then cannot spend her codes.
        """
        params: dict[str, Any] = {
            "identifier_type": identifier_type,
            "identifier_value": identifier_value,
            "requester_line": requester_line,
            "requester_user_id": requester_user_id,
            "requester_session": requester_session,
        }
        data = self.rpc("request_verification", {k: v for k, v in params.items() if v is not None})
        return VerificationCode.from_json(data)

    # The account lifecycle (docs/lifecycle.md). Answers are the RPCs' JSON documents.

    def resolve_conflict(
        self,
        conflict_id: str,
        action: str,
        *,
        survivor_id: str | None = None,
        reason: str | None = None,
    ) -> dict[str, Any]:
        """``merge`` (into ``survivor_id`` if given), ``keep_separate`` or ``escalate`` a
        conflict: ``{"conflict": {...}, "mergeIds": [...]}``, plus the survivor in the
        ``resolve`` shape after a merge. ``Conflict`` (409) for ``conflict_closed`` or
        ``merge_blocked``, ``Forbidden`` for a conflict an end user did not raise."""
        params: dict[str, Any] = {"conflict_id": conflict_id, "action": action}
        if survivor_id is not None:
            params["survivor_id"] = survivor_id
        if reason is not None:
            params["reason"] = reason
        return dict(self.rpc("resolve_conflict", params))

    def undo_merge(
        self, merge_id: int, *, cascade: bool = False, reason: str | None = None
    ) -> dict[str, Any]:
        """Undo a merge exactly (service role, support): ``{"undoneMergeIds", "accounts"}``.
        ``Conflict`` (409) names later merges built on it unless ``cascade``."""
        params: dict[str, Any] = {"merge_id": merge_id, "cascade": cascade}
        if reason is not None:
            params["reason"] = reason
        return dict(self.rpc("undo_merge", params))

    def export_customer_data(self, customer_id: str | None = None) -> dict[str, Any]:
        """Everything kept about a customer (an end user: their own, leave the id out)."""
        params = {} if customer_id is None else {"customer_id": customer_id}
        return dict(self.rpc("export_customer_data", params))

    def erase_customer(
        self, customer_id: str | None = None, *, reason: str | None = None
    ) -> dict[str, Any]:
        """Erase a person (an end user: themself, leave the id out); orders stay unlinked."""
        params: dict[str, Any] = {}
        if customer_id is not None:
            params["customer_id"] = customer_id
        if reason is not None:
            params["reason"] = reason
        return dict(self.rpc("erase_customer", params))

    def current_customer_id(self, customer_id: str) -> str | None:
        """The account an id now stands for (its survivor after merges), or None."""
        result = self.rpc("current_customer_id", {"customer_id": customer_id})
        return None if result is None else str(result)
