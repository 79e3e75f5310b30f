"""Realistic customers for the benchmarks, generated deterministically and loaded with COPY.

Customer ``n`` always gets the same name, phone, email, allergies and orders, so a pgbench
script can compute any customer's phone from ``n`` alone (``phone_sql``) and runs repeat
exactly. Phones are NANP numbers in real area codes; emails are ``first.last.n@domain``.
60% of people also gave an email, 15% a second phone and about 5% a second email (the share
with several identifiers); orders per person run from 0 to 20, most people having a few.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import uuid
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any

import psycopg

# Real, busy North American area codes: customers' phones are spread over them.
AREA_CODES = (
    "201", "202", "203", "205", "206", "207", "208", "209", "210", "212",
    "213", "214", "215", "216", "217", "218", "219", "224", "225", "228",
    "229", "231", "234", "239", "240", "248", "251", "252", "253", "254",
    "256", "260", "262", "267", "269", "270", "276", "281", "301", "302",
    "303", "304", "305", "307", "308", "309", "310", "312", "313", "314",
    "315", "316", "317", "318", "319", "320", "321", "323", "325", "330",
    "331", "334", "336", "337", "339", "347", "351", "352", "360", "361",
    "385", "386", "401", "402", "404", "405", "406", "407", "408", "409",
    "410", "412", "413", "414", "415", "417", "419", "423", "424", "425",
    "430", "432", "434", "435", "440", "442", "443", "469", "470", "475",
)  # fmt: skip
# Area codes no generated customer has: new callers' lines come from these.
NEW_CALLER_AREA_CODES = ("917", "929", "978")
FIRST_NAMES = (
    "James", "Mary", "Robert", "Patricia", "John", "Jennifer", "Michael", "Linda", "David",
    "Elizabeth", "William", "Barbara", "Richard", "Susan", "Joseph", "Jessica", "Thomas",
    "Sarah", "Carlos", "Karen", "Wei", "Nancy", "Ahmed", "Lisa", "Daniel", "Betty", "Matthew",
    "Sandra", "Anthony", "Ashley", "Mark", "Kimberly", "Priya", "Emily", "Steven", "Donna",
    "Andrew", "Michelle", "José", "Carol", "Joshua", "Amanda", "Kenji", "Melissa", "Kevin",
    "Deborah", "Brian", "Stephanie", "Zoë", "Rebecca",
)  # fmt: skip
LAST_NAMES = (
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis",
    "Rodriguez", "Martinez", "Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson", "Thomas",
    "Taylor", "Moore", "Jackson", "Martin", "Lee", "Perez", "Thompson", "White", "Harris",
    "Sanchez", "Clark", "Ramirez", "Lewis", "Robinson", "Walker", "Young", "Allen", "King",
    "Wright", "Scott", "Torres", "Nguyen", "Hill", "Flores", "Green", "Adams", "Nelson",
    "Baker", "Hall", "Rivera", "Campbell", "Mitchell", "Carter", "O'Neil",
)  # fmt: skip
DOMAINS = ("gmail.com", "yahoo.com", "outlook.com", "icloud.com", "hotmail.com", "aol.com")
ALLERGIES = ("nuts", "dairy", "gluten", "shellfish", "soy", "eggs", "sesame", "kiwi")
PRODUCTS = (
    ("Chocolate Dipped Strawberries", 54.99),
    ("Birthday Fruit Bouquet", 79.99),
    ("Fresh Fruit Arrangement", 64.99),
    ("Dipped Pineapple Daisies", 49.99),
    ("Celebration Cake", 39.99),
)
STATUSES = ("delivered", "delivered", "delivered", "confirmed", "cancelled", "pending")
EPOCH = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
SPAN_SECONDS = 2 * 365 * 24 * 3600
LAST_ORDER = dt.datetime(2026, 11, 30, tzinfo=dt.UTC)


def mix(n: int, salt: int) -> int:
    """A well-spread non-negative 32-bit integer from ``n`` (deterministic)."""
    value = (n * 0x9E3779B1 + salt * 0x85EBCA77) & 0xFFFFFFFF
    value ^= value >> 15
    value = (value * 0x2C1B3C6D) & 0xFFFFFFFF
    value ^= value >> 12
    return value


def phone(n: int, salt: int = 0) -> str:
    """Customer ``n``'s phone (``salt`` 1 for a second phone): unique for n < 8e8."""
    k = n // len(AREA_CODES) + salt * 4_000_000
    area = AREA_CODES[n % len(AREA_CODES)]
    exchange = 200 + (k // 10000) % 800
    return f"+1{area}{exchange:03d}{k % 10000:04d}"


def phone_sql(n: str) -> str:
    """The SQL expression of ``phone(n)`` for a pgbench variable such as ``:n``."""
    areas = "array[" + ",".join(f"'{a}'" for a in AREA_CODES) + "]"
    count = len(AREA_CODES)
    return (
        f"'+1' || ({areas})[1 + {n} % {count}] "
        f"|| lpad((200 + ({n} / {count} / 10000) % 800)::text, 3, '0') "
        f"|| lpad((({n} / {count}) % 10000)::text, 4, '0')"
    )


def new_caller_phone_sql(n: str) -> str:
    """A line no generated customer has, for ``n`` below 2.4e7."""
    areas = "array[" + ",".join(f"'{a}'" for a in NEW_CALLER_AREA_CODES) + "]"
    return (
        f"'+1' || ({areas})[1 + {n} % 3] "
        f"|| lpad((200 + ({n} / 3 / 10000) % 800)::text, 3, '0') "
        f"|| lpad((({n} / 3) % 10000)::text, 4, '0')"
    )


def customer_id(n: int) -> uuid.UUID:
    """Customer ``n``'s id."""
    return uuid.UUID(f"00000000-0000-4000-8000-{n:012x}")


@dataclass(frozen=True)
class Person:
    """One generated customer and what they gave."""

    n: int
    first_name: str
    last_name: str
    phones: tuple[str, ...]
    emails: tuple[str, ...]
    allergies: tuple[str, ...]
    orders: int
    created_at: dt.datetime
    sources: tuple[str, ...]


def _local(name: str) -> str:
    """A name as the local part of an address: lower case, ASCII letters only."""
    plain = name.lower().replace("é", "e").replace("ë", "e")
    return "".join(c for c in plain if "a" <= c <= "z")


def has_email(n: int) -> bool:
    """Whether customer ``n`` gave an email (60% did; ``email_sql`` agrees)."""
    return n % 10 < 6


def email(n: int) -> str:
    """Customer ``n``'s email (meaningful when ``has_email(n)``)."""
    first = _local(FIRST_NAMES[n % len(FIRST_NAMES)])
    last = _local(LAST_NAMES[(n // len(FIRST_NAMES)) % len(LAST_NAMES)])
    return f"{first}.{last}{n}@{DOMAINS[n % len(DOMAINS)]}"


def email_sql(n: str) -> str:
    """The SQL expression of ``email(n)`` for a pgbench variable such as ``:n``."""
    firsts = "array[" + ",".join(f"'{_local(f)}'" for f in FIRST_NAMES) + "]"
    lasts = "array[" + ",".join(f"'{_local(last)}'" for last in LAST_NAMES) + "]"
    domains = "array[" + ",".join(f"'{d}'" for d in DOMAINS) + "]"
    return (
        f"({firsts})[1 + {n} % {len(FIRST_NAMES)}] || '.' "
        f"|| ({lasts})[1 + ({n} / {len(FIRST_NAMES)}) % {len(LAST_NAMES)}] "
        f"|| ({n})::text || '@' || ({domains})[1 + {n} % {len(DOMAINS)}]"
    )


def person(n: int) -> Person:
    """Customer ``n``."""
    first = FIRST_NAMES[n % len(FIRST_NAMES)]
    last = LAST_NAMES[(n // len(FIRST_NAMES)) % len(LAST_NAMES)]
    roll = mix(n, 3) % 100
    phones = (phone(n), phone(n, 1)) if roll < 15 else (phone(n),)
    emails: tuple[str, ...] = (email(n),) if has_email(n) else ()
    if has_email(n) and mix(n, 5) % 100 < 8:
        emails += (f"{_local(first)[0]}{n}@work-{DOMAINS[n % len(DOMAINS)]}",)
    allergy_roll = mix(n, 6)
    allergies = tuple(a for i, a in enumerate(ALLERGIES) if (allergy_roll >> (3 * i)) & 7 == 0)
    # Mostly a few orders, some regulars, never more than 20 (a geometric tail).
    orders, draw = 0, mix(n, 7)
    while orders < 20 and draw % 100 < 78:
        orders += 1
        draw = mix(draw, orders)
    created_at = EPOCH + dt.timedelta(seconds=mix(n, 8) % SPAN_SECONDS)
    sources = ("chatbot", "webapp") if emails and roll % 3 == 0 else ("chatbot",)
    return Person(n, first, last, phones, emails, allergies, orders, created_at, sources)


def _array(values: tuple[str, ...]) -> str:
    """A Postgres array literal for COPY text format."""
    return "{" + ",".join('"' + v.replace('"', '\\"') + '"' for v in values) + "}"


def customer_rows(people: list[Person]) -> Iterator[tuple[Any, ...]]:
    """Rows of public.customers."""
    for p in people:
        # The chatbot was the last channel: its lookups are a returning customer's steady
        # state (a channel switch is a one-off write).
        preferences = {
            "account_sources": list(p.sources),
            "created_via": p.sources[0],
            "last_updated_via": "chatbot",
        }
        yield (
            customer_id(p.n),
            p.first_name,
            p.last_name,
            p.phones[0],
            p.emails[0] if p.emails else None,
            _array(p.allergies),
            json.dumps(preferences),
            p.created_at,
            p.created_at,
        )


def identifier_rows(people: list[Person]) -> Iterator[tuple[Any, ...]]:
    """Rows of customer_management.customer_identifiers: every phone (the customer's line,
    verified, last used earlier today, as a returning caller's line is) and every email
    (confirmed), all active."""
    today = dt.datetime.now(dt.UTC)
    for p in people:
        verified = p.created_at
        used = today - dt.timedelta(minutes=mix(p.n, 9) % 600)
        for value in p.phones:
            yield (customer_id(p.n), "phone", value, value, "active", verified, used, "chatbot")
        for value in p.emails:
            yield (customer_id(p.n), "email", value, value, "active", verified, None, "webapp")


def order_rows(people: list[Person]) -> Iterator[tuple[Any, ...]]:
    """Rows of public.orders."""
    for p in people:
        for k in range(p.orders):
            name, price = PRODUCTS[mix(p.n, 10 + k) % len(PRODUCTS)]
            quantity = 1 + mix(p.n, 40 + k) % 2
            items = json.dumps([{"name": name, "quantity": quantity, "price": price}])
            placed = min(
                p.created_at + dt.timedelta(hours=(k + 1) * (1 + mix(p.n, 70 + k) % 600)),
                LAST_ORDER - dt.timedelta(hours=k),
            )
            yield (
                uuid.UUID(f"00000000-0000-4000-9{k:03x}-{p.n:012x}"),
                customer_id(p.n),
                items,
                round(price * quantity, 2),
                STATUSES[mix(p.n, 90 + k) % len(STATUSES)],
                (placed + dt.timedelta(days=2)).date(),
                placed,
                placed,
            )


COPIES = (
    (
        "copy public.customers (id, first_name, last_name, phone, email, allergies, "
        "preferences, created_at, updated_at) from stdin",
        customer_rows,
    ),
    (
        "copy customer_management.customer_identifiers (customer_id, type, value, "
        "display_value, status, verified_at, last_used_at, source) from stdin",
        identifier_rows,
    ),
    (
        "copy public.orders (id, customer_id, items, total, status, delivery_date, "
        "created_at, updated_at) from stdin",
        order_rows,
    ),
)


def load(url: str, start: int, stop: int, batch: int = 50_000) -> dict[str, int]:
    """COPY customers ``start`` .. ``stop - 1`` with their identifiers and orders, in
    batches (memory stays flat); returns how many rows each table got."""
    counts = {"customers": 0, "identifiers": 0, "orders": 0}
    with psycopg.connect(url, autocommit=True) as conn:
        for first in range(start, stop, batch):
            people = [person(n) for n in range(first, min(first + batch, stop))]
            with conn.transaction():
                for (statement, rows), key in zip(COPIES, counts, strict=True):
                    with conn.cursor().copy(statement) as copy:
                        for row in rows(people):
                            copy.write_row(row)
                            counts[key] += 1
    return counts


def load_in_parallel(
    url: str, start: int, stop: int, workers: int | None = None, chunk: int = 100_000
) -> dict[str, int]:
    """``load`` in contiguous chunks on ``workers`` processes (one per core by default): the
    rows are generated in Python, which would otherwise keep one core busy while the server
    waits. Returns the summed counts."""
    ranges = [(first, min(first + chunk, stop)) for first in range(start, stop, chunk)]
    workers = max(1, min(workers or os.cpu_count() or 1, len(ranges)))
    if workers == 1:
        return load(url, start, stop)
    counts = {"customers": 0, "identifiers": 0, "orders": 0}
    with ProcessPoolExecutor(max_workers=workers) as pool:
        futures = [pool.submit(load, url, first, last) for first, last in ranges]
        for future in futures:
            for key, value in future.result().items():
                counts[key] += value
    return counts
