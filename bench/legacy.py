"""A legacy customer export with duplicates, and the truth about who is who.

Built on the benchmark's people (``data.person``): about 30% of them appear in the old
system two to four times, each record holding one phone and one email, chained so that
consecutive records share one identifier and the first and last share none (record 1 has
phone A; record 2 phone A and email X; record 3 email X and phone B; record 4 phone B and
email Y). Only transitive grouping finds such a person whole. Phones are written the ways
people type them, emails with stray capitals and spaces; some records carry placeholders
(``unknown``, ``000-000-0000``, ``chatbot_temp@temp.local``) shared by many people, which
must tie nobody together. Everything is deterministic in ``n``.

``truth`` gives, for every legacy id, the person it belongs to: the groups deduplication
must find are exactly the people with more than one record.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from bench.data import DOMAINS, _local, email, mix, person, phone
from customer_management.batch.csvfiles import CUSTOMER_COLUMNS

DUPLICATED_PERCENT = 30
PLACEHOLDER_PHONES = ("000-000-0000", "unknown", "555-555-5555")
PLACEHOLDER_EMAILS = ("unknown", "chatbot_temp@temp.local", "n/a", "none")


@dataclass(frozen=True)
class Record:
    """One row of the legacy export."""

    legacy_id: str
    person: int
    first_name: str
    last_name: str
    phone: str
    email: str | None
    allergies: str
    created_at: str

    def row(self) -> tuple[str, ...]:
        """The CSV row."""
        return (
            self.legacy_id,
            self.first_name,
            self.last_name,
            self.phone,
            self.email or "",
            self.allergies,
            self.created_at,
        )


def record_count(n: int) -> int:
    """How many legacy records person ``n`` has (1 for most, 2 to 4 for some)."""
    if mix(n, 11) % 100 >= DUPLICATED_PERCENT:
        return 1
    return 2 + mix(n, 12) % 3


def typed_phone(value: str, n: int, k: int) -> str:
    """An E.164 NANP number as someone typed it."""
    national = value[2:]
    area, exchange, line = national[:3], national[3:6], national[6:]
    styles = (
        value,
        f"({area}) {exchange}-{line}",
        f"{area}.{exchange}.{line}",
        f"+1 {area} {exchange} {line}",
        f"1-{area}-{exchange}-{line}",
        national,
    )
    return styles[mix(n, 20 + k) % len(styles)]


def typed_email(value: str, n: int, k: int) -> str:
    """An address as someone typed it: sometimes capitalised, sometimes with spaces."""
    style = mix(n, 30 + k) % 4
    if style == 1:
        local, domain = value.split("@")
        return f"{local.capitalize()}@{domain.upper()}"
    if style == 2:
        return f" {value} "
    return value


def work_email(n: int) -> str:
    """Person ``n``'s second address (unique to them)."""
    first = _local(person(n).first_name)
    return f"{first[0]}.{n}@work-{DOMAINS[n % len(DOMAINS)]}"


def records(n: int) -> list[Record]:
    """Person ``n``'s legacy records, in a chain of shared identifiers."""
    who = person(n)
    count = record_count(n)
    allergies = ";".join(who.allergies)
    if count == 1:
        phones = [who.phones[0]]
        emails: list[str | None] = [who.emails[0] if who.emails else None]
    else:
        # The chain: phone A, (A, X), (B, X), (B, Y).
        phones = [phone(n), phone(n), phone(n, 1), phone(n, 1)][:count]
        emails = [None, email(n), email(n), work_email(n)][:count]
    out: list[Record] = []
    for k in range(count):
        typed_p = typed_phone(phones[k], n, k)
        given = emails[k]
        typed_e = typed_email(given, n, k) if given else None
        # Placeholders where old systems have them: a phone nobody gave (on a record
        # that still has an email), an email nobody gave.
        if count == 1 and typed_e is not None and mix(n, 40) % 20 == 0:
            typed_p = PLACEHOLDER_PHONES[mix(n, 41) % len(PLACEHOLDER_PHONES)]
        if typed_e is None and mix(n, 50 + k) % 3 == 0:
            typed_e = PLACEHOLDER_EMAILS[mix(n, 51 + k) % len(PLACEHOLDER_EMAILS)]
        created = who.created_at.replace(microsecond=0).isoformat()
        out.append(
            Record(
                legacy_id=f"L{n}-{k}",
                person=n,
                first_name=who.first_name,
                last_name=who.last_name,
                phone=typed_p,
                email=typed_e,
                allergies=allergies,
                created_at=created,
            )
        )
    return out


def all_records(people: int) -> Iterator[Record]:
    """Every legacy record of people ``0 .. people - 1``."""
    for n in range(people):
        yield from records(n)


def write_csv(path: Path, people: int) -> int:
    """The legacy export of ``people`` people as a CSV file; returns the record count."""
    count = 0
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(CUSTOMER_COLUMNS)
        for record in all_records(people):
            writer.writerow(record.row())
            count += 1
    return count


def person_of(legacy_id: str) -> int:
    """The person a legacy id belongs to (the truth)."""
    return int(legacy_id[1:].split("-")[0])


def true_groups(people: int) -> set[frozenset[str]]:
    """The groups deduplication must find: each person's legacy ids, when more than one."""
    return {
        frozenset(f"L{n}-{k}" for k in range(record_count(n)))
        for n in range(people)
        if record_count(n) > 1
    }
