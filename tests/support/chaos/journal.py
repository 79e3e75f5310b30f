"""What the clients saw: every request, and how it ended.

A request ends in one of three ways. ``ok``: the server answered and the transaction
committed. ``error``: the server raised an error inside the transaction, so it rolled back
and changed nothing. ``in_doubt``: the connection broke (the server was killed) before
the answer arrived; the transaction may or may not have committed, and the checks after
the restart only demand that it did all of its work or none.
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import psycopg

OK = "ok"
ERROR = "error"
IN_DOUBT = "in_doubt"


class Kind(StrEnum):
    """The request kinds of the mixed load."""

    CREATE = "create"
    LOOKUP = "lookup"
    UPDATE = "update"
    MERGE = "merge"
    CONFLICT = "conflict"
    RESOLVE = "resolve"
    UNDO = "undo"
    ERASE = "erase"
    ORDER = "order"


def is_connection_loss(error: psycopg.Error) -> bool:
    """True for errors that say the server went away rather than refused the request:
    no SQLSTATE (the socket broke), class 08 (connection exception) and 57P (the server
    shut down or crashed while the request ran)."""
    state = error.sqlstate
    return state is None or state.startswith("08") or state.startswith("57P")


@dataclass
class Request:
    """One request of the load: what was asked, and what came back."""

    kind: Kind
    worker: int
    tag: str  # unique per request: its reason text, or the new identifier it brings
    args: dict[str, Any] = field(default_factory=dict)
    outcome: str | None = None
    sqlstate: str | None = None
    message: str | None = None
    result: dict[str, Any] = field(default_factory=dict)

    def finish(self, result: dict[str, Any]) -> None:
        """The transaction committed and answered ``result``."""
        self.outcome, self.result = OK, result

    def fail(self, error: psycopg.Error) -> None:
        """The request ended with ``error``: a refusal, or the server going away."""
        self.outcome = IN_DOUBT if is_connection_loss(error) else ERROR
        self.sqlstate = error.sqlstate
        self.message = error.diag.message_primary or str(error).strip()[:200]


class Journal:
    """Every request of every worker, in the order they were sent (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests: list[Request] = []

    def open(self, kind: Kind, worker: int, tag: str, **args: Any) -> Request:
        """Record a request about to be sent."""
        request = Request(kind, worker, tag, dict(args))
        with self._lock:
            self._requests.append(request)
        return request

    @property
    def requests(self) -> list[Request]:
        """A copy of everything recorded so far."""
        with self._lock:
            return list(self._requests)

    def of(self, kind: Kind, outcome: str) -> list[Request]:
        """The requests of one kind that ended one way."""
        return [r for r in self.requests if r.kind == kind and r.outcome == outcome]

    def counts(self) -> dict[str, Any]:
        """Totals by outcome, by kind, and the refusals by kind and message."""
        requests = self.requests
        return {
            "requests": len(requests),
            "outcomes": dict(Counter(str(r.outcome) for r in requests)),
            "kinds": dict(Counter(str(r.kind) for r in requests)),
            "errors": dict(
                Counter(
                    f"{r.kind}: {r.sqlstate} {r.message}" for r in requests if r.outcome == ERROR
                )
            ),
        }
