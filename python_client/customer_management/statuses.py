"""Which HTTP status an answer gets: the kit's one SQLSTATE -> HTTP table.

The proxy answers with it and the thin client reads statuses with it, so it lives in one
dependency-free module both import. (The Deno Edge Function has no copy: it passes on
the status PostgREST, or this proxy, gave.) It follows PostgREST's own table
(https://docs.postgrest.org/en/stable/references/errors.html and ``mapSQLtoHTTP`` in
PostgREST's ``Error.hs``) for database errors, and PostgREST's ``PGRSTxxx`` codes for errors
raised before SQL runs.

Rules, in the order they apply:

* A normal return is 200 on ``/rest/v1/rpc/<fn>`` (PostgREST answers 200 for any value).
  ``/functions/v1/customer-management`` answers 200 too, except the *conflict shape*
  (``{"error": "Account conflict", "conflicts": {...}}``): that is **409** with the same body.
* ``PTxyz`` (the kit's ``PT413``, ``PT429``, ``PT503``) is HTTP ``xyz``. ``PT429`` also gets
  ``Retry-After: N`` taken from the hint ``"Retry after N seconds."``.
* ``42501`` (``not_authenticated``, ``forbidden``, plain permission denied) is 401 when the
  caller's role is ``anon`` and 403 otherwise.
* ``P0001`` (every validation code: ``invalid_request``, ``missing_identifier``,
  ``invalid_source``, ``invalid_phone``, ``invalid_email``, ``invalid_auth_user_id``,
  ``unknown_auth_user``, ``name_too_long``, ``invalid_name``, ``invalid_allergies``) is 400,
  and so is any SQLSTATE the table does not name (``22P05`` for a ``\\u0000`` in the body).
* Errors from the HTTP layer itself carry a ``PGRST`` code with the status listed in
  ``PGRST_STATUS`` (``PGRST301``/``PGRST303`` bad JWT 401, ``PGRST202`` unknown function 404).

The error body is always PostgREST's ``{"code", "details", "hint", "message"}``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from customer_management import contract

CONFLICT_STATUS = 409
"""Status of the conflict shape on ``/functions/v1/customer-management``."""

ANON_ROLE = "anon"

# Exact SQLSTATEs first, then two-character classes (PostgREST's mapSQLtoHTTP).
SQLSTATE_STATUS: Mapping[str, int] = {
    "23503": 409,  # foreign_key_violation
    "23505": 409,  # unique_violation
    "25006": 405,  # read_only_sql_transaction
    "53400": 500,  # configuration_limit_exceeded
    "57P01": 503,  # admin_shutdown
    "P0001": 400,  # raise_exception: the kit's validation errors
    "42883": 404,  # undefined_function
    "42P01": 404,  # undefined_table
    "42P17": 500,  # infinite recursion (policies)
}
SQLSTATE_CLASS_STATUS: Mapping[str, int] = {
    "08": 503,  # connection exception
    "09": 500,  # triggered action exception
    "0L": 403,  # invalid grantor
    "0P": 403,  # invalid role specification
    "25": 500,  # invalid transaction state
    "28": 403,  # invalid authorization specification
    "2D": 500,  # invalid transaction termination
    "38": 500,  # external routine exception
    "39": 500,  # external routine invocation exception
    "3B": 500,  # savepoint exception
    "40": 500,  # transaction rollback
    "53": 503,  # insufficient resources
    "54": 500,  # program limit exceeded
    "55": 500,  # object not in prerequisite state
    "57": 500,  # operator intervention
    "58": 500,  # system error
    "F0": 500,  # configuration file error
    "HV": 500,  # foreign data wrapper error
    "P0": 500,  # other PL/pgSQL errors
    "XX": 500,  # internal error
}

PGRST_STATUS: Mapping[str, int] = {
    "PGRST000": 503,  # database connection error
    "PGRST001": 503,  # database client error
    "PGRST002": 503,  # schema cache could not be loaded
    "PGRST003": 504,  # timed out waiting for a pool connection
    "PGRST100": 400,
    "PGRST101": 405,  # method not allowed on RPC
    "PGRST102": 400,  # empty or invalid JSON body
    "PGRST106": 406,  # schema not exposed (Accept-Profile / Content-Profile)
    "PGRST107": 415,
    "PGRST117": 405,  # unsupported HTTP method
    "PGRST125": 404,  # invalid path
    "PGRST202": 404,  # function not found
    "PGRST203": 300,  # ambiguous overloaded function
    "PGRST300": 500,  # server lacks a JWT secret
    "PGRST301": 401,  # JWT could not be decoded / verified, or bad API key
    "PGRST302": 401,  # no credentials at all (no apikey)
    "PGRST303": 401,  # JWT claims invalid: expired, not yet valid, role not allowed
    "PGRSTX00": 500,  # internal error
}

_RETRY_AFTER = re.compile(r"(\d+)\s*second", re.IGNORECASE)


def status_for_sqlstate(sqlstate: str, role: str, message: str = "") -> int:
    """Return PostgREST's HTTP status for a database error raised while ``role`` acted."""
    if sqlstate == "42501":
        return 401 if role == ANON_ROLE else 403
    if sqlstate.startswith("PT"):
        digits = sqlstate[2:]
        return int(digits) if digits.isdigit() and 100 <= int(digits) <= 599 else 500
    if sqlstate == "21000":  # cardinality_violation; pg-safeupdate's is a client error
        return 400 if message.endswith("requires a WHERE clause") else 500
    if sqlstate == "22023" and message.startswith("role") and message.endswith("does not exist"):
        return 401  # a JWT naming a role the database does not have
    if sqlstate in SQLSTATE_STATUS:
        return SQLSTATE_STATUS[sqlstate]
    return SQLSTATE_CLASS_STATUS.get(sqlstate[:2], 400)


def status_for_code(code: str | None, role: str, message: str = "") -> int:
    """Return the HTTP status for any error ``code`` in a PostgREST body.

    ``code`` is a SQLSTATE, a ``PGRST`` code, or (for a gateway error without a body) the
    status itself as digits. Unknown or missing codes are 500.
    """
    if not code:
        return 500
    if code in PGRST_STATUS:
        return PGRST_STATUS[code]
    if code.startswith("PGRST"):
        return 500
    if code.isdigit() and len(code) == 3:
        return int(code)
    return status_for_sqlstate(code, role, message)


def is_conflict(result: Any) -> bool:
    """Tell whether a ``customer_management`` result is the conflict shape (HTTP 409)."""
    return (
        isinstance(result, dict)
        and result.get("error") == contract.conflict_error()
        and isinstance(result.get("conflicts"), dict)
    )


def function_status(result: Any) -> int:
    """Status of a normal return on ``/functions/v1/customer-management``: 409 or 200."""
    return CONFLICT_STATUS if is_conflict(result) else 200


def retry_after_seconds(hint: str | None) -> int | None:
    """Seconds to wait from a ``rate_limited`` hint such as ``"Retry after 42 seconds."``."""
    if not hint:
        return None
    match = _RETRY_AFTER.search(hint)
    return int(match.group(1)) if match else None
