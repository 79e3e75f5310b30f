"""A customer table with typos, and the truth about who is who: possible duplicates' bench.

People get a first and last name drawn with their real frequencies (Faker's US lists: 703
first names, 1,000 surnames, Smith the most common), an email made of their names the ways
people make them (``john.smith``, ``jsmith84``, ``smith.john``, ...; unique, as mailboxes
are) at a common provider, and a US phone number. 15% gave no email, 20% no phone (never
both). 30% of the people appear two to four times. The first record is as the person gave
it; each further one is copied from it with, independently:

- the first and last names swapped (10%), the surname missing (8%), one letter of a name
  dropped or doubled (6%);
- the email kept (30%), missing (35%) or with one character dropped, doubled or moved
  (35%, a third each; moved is the swap of two neighbours or a character carried two places
  on);
- the phone kept (35%), missing (35%) or one digit off (30%).

So some duplicates share an email or a phone exactly (the exact plan finds those), and the
others share only a typo, a near phone or a name. Different people share names as they do in
life, and their emails often differ by a character or two (``john.smith12`` and
``john.smith21``). Everything is deterministic in the seed (and Faker's lists).
"""

from __future__ import annotations

import csv
import random
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import accumulate
from pathlib import Path

HEADER = ("legacy_id", "first_name", "last_name", "phone", "email")
DUPLICATED = 0.30
EXTRA_RECORDS = ((1, 0.70), (2, 0.20), (3, 0.10))
DOMAINS = (
    ("gmail.com", 40),
    ("yahoo.com", 18),
    ("hotmail.com", 12),
    ("outlook.com", 10),
    ("icloud.com", 8),
    ("aol.com", 5),
    ("comcast.net", 4),
    ("msn.com", 3),
)
AREA_CODES = tuple(
    str(code)
    for code in (
        201, 202, 203, 205, 206, 207, 208, 209, 210, 212, 213, 214, 215, 216, 217, 218, 219,
        224, 225, 228, 229, 231, 234, 239, 240, 248, 251, 252, 253, 254, 256, 260, 262, 267,
        269, 270, 276, 281, 301, 302, 303, 304, 305, 307, 308, 309, 310, 312, 313, 314, 315,
        316, 317, 318, 319, 320, 321, 323, 325, 330, 331, 334, 336, 337, 339, 347, 351, 352,
        360, 361, 385, 386, 401, 402, 404, 405, 406, 407, 408, 409, 410, 412, 413, 414, 415,
    )
)  # fmt: skip


@dataclass(frozen=True)
class Record:
    """One row of the table: whose it is, and what it says."""

    legacy_id: str
    person: int
    first_name: str
    last_name: str
    phone: str
    email: str

    def row(self) -> tuple[str, ...]:
        """The CSV row."""
        return (self.legacy_id, self.first_name, self.last_name, self.phone, self.email)


class _Names:
    """Faker's US first names and surnames with their frequencies, for weighted draws."""

    def __init__(self) -> None:
        from faker.providers.person.en_US import Provider

        first = {**Provider.first_names_female, **Provider.first_names_male}
        self.first = tuple(first)
        self.first_cum = tuple(accumulate(first.values()))
        self.last = tuple(Provider.last_names)
        self.last_cum = tuple(accumulate(Provider.last_names.values()))

    def draw(self, rng: random.Random) -> tuple[str, str]:
        """A first name and a surname, each as often as in life."""
        first = rng.choices(self.first, cum_weights=self.first_cum)[0]
        last = rng.choices(self.last, cum_weights=self.last_cum)[0]
        return first, last


def _local_part(first: str, last: str, rng: random.Random) -> str:
    """An address's local part made of the names, one of the common patterns."""
    f, s = first.lower(), last.lower().replace("'", "").replace(" ", "")
    number = str(rng.randrange(1, 100)) if rng.random() < 0.6 else ""
    pattern = rng.randrange(7)
    if pattern == 0:
        return f"{f}.{s}{number}"
    if pattern == 1:
        return f"{f}{s}{number}"
    if pattern == 2:
        return f"{f[0]}{s}{number}"
    if pattern == 3:
        return f"{f}{s[0]}{number}"
    if pattern == 4:
        return f"{s}.{f}{number}"
    if pattern == 5:
        return f"{f}_{s}{number}"
    return f"{f}{number or rng.randrange(100, 1000)}"


def _domain(rng: random.Random) -> str:
    names = [d for d, _ in DOMAINS]
    return rng.choices(names, weights=[w for _, w in DOMAINS])[0]


def _drop(text: str, rng: random.Random) -> str:
    i = rng.randrange(len(text))
    return text[:i] + text[i + 1 :]


def _double(text: str, rng: random.Random) -> str:
    i = rng.randrange(len(text))
    return text[: i + 1] + text[i] + text[i + 1 :]


def _move(text: str, rng: random.Random) -> str:
    """Two neighbours swapped, or one character carried two places on."""
    if len(text) < 3:
        return text[::-1]
    i = rng.randrange(len(text) - 2)
    if rng.random() < 0.5:
        return text[:i] + text[i + 1] + text[i] + text[i + 2 :]
    return text[:i] + text[i + 1 : i + 3] + text[i] + text[i + 3 :]


def email_typo(address: str, rng: random.Random) -> str:
    """One character of the local part dropped, doubled or moved."""
    local, _, domain = address.partition("@")
    kind = rng.randrange(3)
    changed = (_drop, _double, _move)[kind](local, rng) if len(local) > 2 else local + local[-1]
    return f"{changed or local}@{domain}"


def phone_typo(phone: str, rng: random.Random) -> str:
    """One digit of the subscriber number (the last seven) changed."""
    i = rng.randrange(len(phone) - 7, len(phone))
    digit = rng.choice([d for d in "0123456789" if d != phone[i]])
    return phone[:i] + digit + phone[i + 1 :]


def name_typo(name: str, rng: random.Random) -> str:
    """One letter dropped or doubled."""
    if len(name) < 4:
        return name
    return _drop(name, rng) if rng.random() < 0.5 else _double(name, rng)


class Generator:
    """The table of ``people`` people for one seed."""

    def __init__(self, people: int, seed: int = 1) -> None:
        self.people = people
        self.seed = seed
        self._names = _Names()

    def records(self) -> Iterator[Record]:
        """Every record, people in order, each person's records together."""
        rng = random.Random(self.seed)
        emails: set[str] = set()
        phones: set[str] = set()
        for n in range(self.people):
            first, last = self._names.draw(rng)
            email = ""
            if rng.random() < 0.85:
                local, domain = _local_part(first, last, rng), _domain(rng)
                email = f"{local}@{domain}"
                while email in emails:
                    email = f"{local}{rng.randrange(10, 10000)}@{domain}"
                emails.add(email)
            phone = ""
            if not email or rng.random() < 0.80:
                phone = self._phone(rng, phones)
            yield Record(f"T{n}-0", n, first, last, phone, email)
            if rng.random() >= DUPLICATED:
                continue
            extra = rng.choices([k for k, _ in EXTRA_RECORDS], [w for _, w in EXTRA_RECORDS])[0]
            for k in range(1, extra + 1):
                yield self._copy(n, k, first, last, phone, email, rng)

    @staticmethod
    def _phone(rng: random.Random, taken: set[str]) -> str:
        while True:
            number = (
                f"+1{rng.choice(AREA_CODES)}{rng.randrange(200, 1000)}{rng.randrange(10000):04d}"
            )
            if number not in taken:
                taken.add(number)
                return number

    @staticmethod
    def _copy(
        n: int, k: int, first: str, last: str, phone: str, email: str, rng: random.Random
    ) -> Record:
        if rng.random() < 0.06:
            if rng.random() < 0.5:
                first = name_typo(first, rng)
            else:
                last = name_typo(last, rng)
        if rng.random() < 0.10:
            first, last = last, first
        if rng.random() < 0.08:
            last = ""
        kept_phone, kept_email = phone, email
        if email:
            roll = rng.random()
            if roll < 0.35:
                email = ""
            elif roll < 0.70:
                email = email_typo(email, rng)
        if phone:
            roll = rng.random()
            if roll < 0.35:
                phone = ""
            elif roll < 0.65:
                phone = phone_typo(phone, rng)
        if not phone and not email and rng.random() < 0.85:
            # A shop's record nearly always has a way to reach the customer.
            phone, email = kept_phone, kept_email
        return Record(f"T{n}-{k}", n, first, last, phone, email)


def write_csv(path: Path, people: int, seed: int = 1) -> dict[str, int]:
    """The table as a CSV file; returns the record count and the true duplicate pairs."""
    sizes: dict[int, int] = {}
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(HEADER)
        for record in Generator(people, seed).records():
            writer.writerow(record.row())
            sizes[record.person] = sizes.get(record.person, 0) + 1
    return {
        "records": sum(sizes.values()),
        "true_pairs": sum(k * (k - 1) // 2 for k in sizes.values()),
    }


def person_of(legacy_id: str) -> int:
    """The person a legacy id belongs to (the truth)."""
    return int(legacy_id[1:].split("-")[0])
