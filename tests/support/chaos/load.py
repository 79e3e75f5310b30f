"""The concurrent mixed load: worker threads, each on its own connection, sending the
kit's requests as PostgREST would (service role, one transaction each) and journaling
every one: creates on both channels, lookups, updates, mergeIfFound merges, conflicts and
their resolution, undos (some cascading), erasures and orders.

What a worker learns from committed answers (phones, emails, accounts, merge and conflict
ids) goes into shared pools the other workers draw from, so requests meet each other's
accounts. A worker stops at the first request the server did not live to answer.
"""

from __future__ import annotations

import itertools
import json
import random
import threading
from collections.abc import Callable
from typing import Any

import psycopg

from customer_management.local.rpc_session import (
    acting_as,
    call_customer_management,
    call_rpc,
)
from support.chaos.journal import IN_DOUBT, Journal, Kind, Request

Conn = psycopg.Connection[Any]
WEIGHTS: dict[Kind, int] = {
    Kind.CREATE: 22,
    Kind.LOOKUP: 18,
    Kind.UPDATE: 8,
    Kind.MERGE: 10,
    Kind.CONFLICT: 7,
    Kind.RESOLVE: 7,
    Kind.UNDO: 7,
    Kind.ERASE: 3,
    Kind.ORDER: 8,
}
RESOLUTIONS = ("merge", "merge", "keep_separate", "escalate")


class Names:
    """Phones and emails no request of the run has used yet (thread-safe)."""

    def __init__(self) -> None:
        self._next = itertools.count(1)
        self._lock = threading.Lock()

    def number(self) -> int:
        """A number never handed out before."""
        with self._lock:
            return next(self._next)

    def phone(self) -> str:
        """A fresh US number (E.164)."""
        return f"+1555{2_000_000 + self.number():07d}"

    def email(self) -> str:
        """A fresh email address."""
        return f"c{self.number()}@chaos-mail.com"


class Pools:
    """What committed answers taught the clients, shared by the workers (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values: dict[str, list[Any]] = {
            "phones": [],
            "emails": [],
            "accounts": [],
            "merges": [],
            "conflicts": [],
        }

    def add(self, pool: str, *values: Any) -> None:
        """Remember values for later requests."""
        with self._lock:
            self._values[pool].extend(values)

    def pick(self, pool: str, rng: random.Random, take: bool = False) -> Any:
        """A random value of a pool (removed with ``take``), or None when it is empty."""
        with self._lock:
            values = self._values[pool]
            if not values:
                return None
            index = rng.randrange(len(values))
            return values.pop(index) if take else values[index]

    def snapshot(self) -> dict[str, list[Any]]:
        """A copy of every pool."""
        with self._lock:
            return {name: list(values) for name, values in self._values.items()}


def merge_ids_of(answer: dict[str, Any]) -> list[int]:
    """The merge ids in a customer_management answer's notices."""
    return [int(i) for n in answer.get("notices", []) for i in n.get("mergeIds", [])]


def summary_of(answer: dict[str, Any]) -> dict[str, Any]:
    """What verification needs from a customer_management answer."""
    if answer.get("error") == "Account conflict":
        return {"conflictId": str(answer["conflictId"])}
    if answer.get("message") == "second_proof_required":
        # A line on an account that holds it less than verified (an imported number, say):
        # nothing was read or written.
        return {"secondProof": True}
    return {
        "customerId": str(answer["customer"]["id"]),
        "isNew": bool(answer["customer"]["isNewAccount"]),
        "mergeIds": merge_ids_of(answer),
    }


class Worker(threading.Thread):
    """One client: sends random requests until told to stop or the server is gone."""

    def __init__(
        self,
        number: int,
        url: str,
        journal: Journal,
        pools: Pools,
        names: Names,
        stop: threading.Event,
        seed: int,
        cycle: int,
    ) -> None:
        super().__init__(name=f"chaos-worker-{number}", daemon=True)
        self.number = number
        self.url = url
        self.journal = journal
        self.pools = pools
        self.names = names
        self.stop = stop
        self.rng = random.Random(seed)
        self.cycle = cycle
        self.sent = 0
        self.crash: BaseException | None = None
        self._sequence = itertools.count(1)
        self._senders: dict[Kind, Callable[[Conn], Request | None]] = {
            Kind.CREATE: self.create,
            Kind.LOOKUP: self.lookup,
            Kind.UPDATE: self.update,
            Kind.MERGE: self.merge,
            Kind.CONFLICT: self.conflict,
            Kind.RESOLVE: self.resolve,
            Kind.UNDO: self.undo,
            Kind.ERASE: self.erase,
            Kind.ORDER: self.order,
        }

    def run(self) -> None:
        """Connect once, then send until stopped or until a request is in doubt."""
        try:
            with psycopg.connect(self.url, autocommit=True, connect_timeout=5) as conn:
                kinds, weights = list(WEIGHTS), list(WEIGHTS.values())
                while not self.stop.is_set():
                    kind = self.rng.choices(kinds, weights)[0]
                    request = self._senders[kind](conn)
                    if request is not None:
                        self.sent += 1
                        if request.outcome == IN_DOUBT:
                            return
        except psycopg.OperationalError:
            return  # the connection could not be made or closed after the kill
        except BaseException as error:  # a defect of the load itself: the test reports it
            self.crash = error

    def tag(self) -> str:
        """A text no other request carries (reasons name their request by it)."""
        return f"chaos:{self.cycle}:{self.number}:{next(self._sequence)}"

    def _send(self, request: Request, call: Callable[[], dict[str, Any]]) -> Request:
        """Send, then journal the answer or the error."""
        try:
            request.finish(call())
        except psycopg.Error as error:
            request.fail(error)
        return request

    def _customer_management(
        self, conn: Conn, kind: Kind, tag: str, body: dict[str, Any]
    ) -> Request:
        request = self.journal.open(kind, self.number, tag, body=body)
        self._send(request, lambda: summary_of(call_customer_management(conn, body)))
        if request.outcome == "ok":
            if "customerId" in request.result:
                self.pools.add("accounts", request.result["customerId"])
            if request.result.get("mergeIds"):
                self.pools.add("merges", *request.result["mergeIds"])
            if "conflictId" in request.result:
                self.pools.add("conflicts", request.result["conflictId"])
        return request

    def create(self, conn: Conn) -> Request:
        """A new customer: the chatbot with a fresh phone, or the web app with an email."""
        if self.rng.random() < 0.5:
            phone = self.names.phone()
            body = {"phone": phone, "firstName": "Ann", "source": "chatbot"}
            request = self._customer_management(conn, Kind.CREATE, phone, body)
            if request.outcome == "ok":
                self.pools.add("phones", phone)
        else:
            email = self.names.email()
            body = {"email": email, "lastName": "Berg", "source": "webapp"}
            request = self._customer_management(conn, Kind.CREATE, email, body)
            if request.outcome == "ok":
                self.pools.add("emails", email)
        return request

    def lookup(self, conn: Conn) -> Request | None:
        """A returning caller on the chatbot."""
        phone = self.pools.pick("phones", self.rng)
        if phone is None:
            return None
        body = {"phone": phone, "source": "chatbot"}
        return self._customer_management(conn, Kind.LOOKUP, self.tag(), body)

    def update(self, conn: Conn) -> Request | None:
        """A web customer adds their name."""
        email = self.pools.pick("emails", self.rng)
        if email is None:
            return None
        body = {"email": email, "firstName": "Eva", "lastName": "Lind", "source": "webapp"}
        return self._customer_management(conn, Kind.UPDATE, self.tag(), body)

    def _pair(self) -> tuple[str, str] | None:
        phone = self.pools.pick("phones", self.rng)
        email = self.pools.pick("emails", self.rng)
        return None if phone is None or email is None else (phone, email)

    def merge(self, conn: Conn) -> Request | None:
        """A trusted backend asks to merge the accounts of a phone and an email."""
        pair = self._pair()
        if pair is None:
            return None
        body = {"phone": pair[0], "email": pair[1], "source": "webapp", "mergeIfFound": True}
        return self._customer_management(conn, Kind.MERGE, self.tag(), body)

    def conflict(self, conn: Conn) -> Request | None:
        """The same without mergeIfFound: a conflict when they are two accounts."""
        pair = self._pair()
        if pair is None:
            return None
        body = {"phone": pair[0], "email": pair[1], "source": "webapp"}
        return self._customer_management(conn, Kind.CONFLICT, self.tag(), body)

    def resolve(self, conn: Conn) -> Request | None:
        """Support resolves a conflict: merge, keep separate or escalate."""
        conflict_id = self.pools.pick("conflicts", self.rng, take=True)
        if conflict_id is None:
            return None
        tag = self.tag()
        args = {"conflict_id": conflict_id, "action": self.rng.choice(RESOLUTIONS), "reason": tag}
        request = self.journal.open(Kind.RESOLVE, self.number, tag, **args)

        def call() -> dict[str, Any]:
            answer = call_rpc(conn, "resolve_conflict", args)
            return {"mergeIds": [int(i) for i in answer.get("mergeIds") or []]}

        self._send(request, call)
        if request.outcome == "ok" and request.result["mergeIds"]:
            self.pools.add("merges", *request.result["mergeIds"])
        return request

    def undo(self, conn: Conn) -> Request | None:
        """Support undoes a merge the clients saw, or any merge of the log (the batch
        dedupe's too), sometimes with cascade."""
        merge_id = self.pools.pick("merges", self.rng)
        if merge_id is None or self.rng.random() < 0.4:
            row = conn.execute(
                "select id from customer_management.merge_log order by random() limit 1"
            ).fetchone()
            merge_id = None if row is None else int(row[0])
        if merge_id is None:
            return None
        tag = self.tag()
        args = {"merge_id": merge_id, "cascade": self.rng.random() < 0.5, "reason": tag}
        request = self.journal.open(Kind.UNDO, self.number, tag, **args)

        def call() -> dict[str, Any]:
            answer = call_rpc(conn, "undo_merge", args)
            return {"undoneMergeIds": [int(i) for i in answer["undoneMergeIds"]]}

        return self._send(request, call)

    def erase(self, conn: Conn) -> Request | None:
        """A person asks to be erased."""
        customer_id = self.pools.pick("accounts", self.rng, take=True)
        if customer_id is None:
            return None
        tag = self.tag()
        args = {"customer_id": customer_id, "reason": tag}
        request = self.journal.open(Kind.ERASE, self.number, tag, **args)

        def call() -> dict[str, Any]:
            answer = call_rpc(conn, "erase_customer", args)
            return {"customerIds": [str(i) for i in answer["customerIds"]]}

        return self._send(request, call)

    def order(self, conn: Conn) -> Request | None:
        """The shop's backend records an order for an account id it holds."""
        customer_id = self.pools.pick("accounts", self.rng)
        if customer_id is None:
            return None
        request = self.journal.open(Kind.ORDER, self.number, self.tag(), customer_id=customer_id)

        def call() -> dict[str, Any]:
            with acting_as(conn, "service_role") as acting:
                row = acting.execute(
                    "insert into public.orders (customer_id, items, total) "
                    "values (%s, %s::jsonb, 25) returning id::text",
                    (customer_id, json.dumps([{"sku": "berry-box", "qty": 1}])),
                ).fetchone()
            assert row is not None
            return {"orderId": str(row[0])}

        return self._send(request, call)
