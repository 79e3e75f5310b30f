"""The OpenAPI document states what the functions enforce, and every exposed function is in it.

``contract.schema.json`` says what each RPC's arguments accept; the served document is built
from it and the catalog. These tests hold the schema to the functions:

* every function the kit exposes in schema public has an ``x-rpcs`` entry whose request
  names exactly its parameters, requires exactly those without a default, and gives each
  the JSON type its SQL type has (an RPC another change adds fails here until described);
* every constraint the served document states for an argument is probed through the
  proxy, as the service role, on a seeded database: a value just outside it (the wrong JSON
  type, null where null is not accepted, past a bound, off an enumeration or a format, a
  required argument left out, an unknown one added) is refused with a 4xx the operation
  lists (a kit code among its errors), and a value just inside it (each bound, each enum
  value) passes validation (whatever else the function then answers, it is no 400); the
  200 answers validate against the RPC's response schema.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import jsonschema
import psycopg
import pytest

from customer_management import contract
from customer_management.proxy import Settings
from customer_management.proxy.catalog import json_type
from support.contract_world import ContractWorld, build_contract_world, valid_bodies
from support.helpers import cloned_database
from support.proxy import SERVICE_KEY, Proxy, as_authenticator, serving

pytest_plugins = ["support.proxy_fixtures"]

HEADERS = {"apikey": SERVICE_KEY, "Authorization": f"Bearer {SERVICE_KEY}"}
Path = tuple[str, ...]
# A value of each JSON type, to send where the document names another one. Strings look like
# the numbers and booleans they replace: PostgreSQL would cast them.
WRONG_TYPES: dict[str, list[Any]] = {
    "string": [7, True, [], {}],
    "integer": ["7", 1.5, True, [], {}],
    "number": ["7", True, [], {}],
    "boolean": ["true", 1, [], {}],
    "array": ["x", 7, {}],
    "object": ["x", 7, []],
}


def long_phone(length: int) -> str:
    """The returning customer's phone, spelled with dashes to ``length`` characters."""
    return "+1" + "-" * (length - 12) + "5557100001"


def long_email(length: int) -> str:
    """A well-formed email address of ``length`` characters."""
    local, rest = "a" * 64, length - 65 - 4
    labels = []
    while rest > 0:
        size = min(63, rest)
        labels.append("b" * size)
        rest -= size + 1
    return f"{local}@{'.'.join(labels)}.com"


# A valid value of a given length, where a run of letters is not one.
AT_LENGTH = {
    ("customer_management", ("phone",)): long_phone,
    ("customer_management", ("email",)): long_email,
}


# An enumeration value that needs another argument to match it.
COMPANIONS: dict[tuple[str, Path, Any], dict[str, Any]] = {
    ("request_verification", ("identifier_type",), "phone"): {"identifier_value": "+15557100099"},
}


@dataclass
class Probe:
    """One request: where it changes the valid body, how, and what must come back."""

    rpc: str
    path: Path
    what: str
    body: dict[str, Any]
    refused: bool

    def __str__(self) -> str:
        return f"{self.rpc} {'.'.join(self.path) or '(body)'}: {self.what}"


@dataclass
class Document:
    """The served document and what the tests look up in it."""

    raw: dict[str, Any]
    definitions: dict[str, Any] = field(init=False)

    def __post_init__(self) -> None:
        self.definitions = self.raw["definitions"]

    def operation(self, rpc: str) -> dict[str, Any]:
        operation: dict[str, Any] = self.raw["paths"][f"/rpc/{rpc}"]["post"]
        return operation

    def body(self, rpc: str) -> dict[str, Any]:
        schema: dict[str, Any] = self.operation(rpc)["parameters"][0]["schema"]
        return schema

    def resolve(self, node: dict[str, Any]) -> dict[str, Any]:
        """A node, its ``$ref`` or its single ``allOf`` reference followed."""
        if "$ref" in node:
            return self.resolve(self.definitions[node["$ref"].rsplit("/", 1)[-1]])
        if "allOf" in node and len(node["allOf"]) == 1 and "properties" not in node:
            own = {key: value for key, value in node.items() if key != "allOf"}
            return {**self.resolve(node["allOf"][0]), **own}
        return node


def set_at(body: dict[str, Any], path: Path, value: Any) -> dict[str, Any]:
    """A copy of ``body`` with ``value`` at ``path`` (``("allergies", "[]")`` is an item)."""
    changed = copy.deepcopy(body)
    target: Any = changed
    for key in path[:-1]:
        target = target.setdefault(key, {}) if key != "[]" else target
    last = path[-1]
    if last == "[]":
        changed[path[0]] = [value]
    else:
        target[last] = value
    return changed


def without(body: dict[str, Any], path: Path) -> dict[str, Any]:
    """A copy of ``body`` without the key at ``path``."""
    changed = copy.deepcopy(body)
    target: Any = changed
    for key in path[:-1]:
        target = target[key]
    target.pop(path[-1], None)
    return changed


def _length_value(rpc: str, path: Path, length: int) -> str:
    maker = AT_LENGTH.get((rpc, path))
    return maker(length) if maker else "J" * length


def value_probes(
    doc: Document, rpc: str, path: Path, node: dict[str, Any], base: dict[str, Any]
) -> Iterator[Probe]:
    """Probes of one value's constraints, just outside and just inside each."""
    schema = doc.resolve(node)
    kinds = schema.get("type")
    kinds = [kinds] if isinstance(kinds, str) else list(kinds or [])

    def outside(what: str, value: Any) -> Probe:
        return Probe(rpc, path, what, set_at(base, path, value), refused=True)

    def inside(what: str, value: Any) -> Probe:
        return Probe(rpc, path, what, set_at(base, path, value), refused=False)

    for kind in kinds:
        for value in WRONG_TYPES[kind]:
            if not any(_matches(value, k) for k in kinds):
                article = "an" if kind[0] in "aeiou" else "a"
                yield outside(f"{json.dumps(value)} instead of {article} {kind}", value)
    if kinds and not schema.get("x-nullable"):
        yield outside("null", None)
    if "enum" in schema:
        yield outside("off the enumeration", "not-" + str(schema["enum"][0]))
        for value in schema["enum"]:
            probe = inside(f"enum value {value}", value)
            probe.body.update(COMPANIONS.get((rpc, path, value), {}))
            yield probe
    if "minimum" in schema:
        yield outside("below the minimum", schema["minimum"] - 1)
        yield inside("the minimum", schema["minimum"])
    if "maximum" in schema:
        yield outside("above the maximum", schema["maximum"] + 1)
        yield inside("the maximum", schema["maximum"])
    if "maxLength" in schema:
        size = schema["maxLength"]
        yield outside(f"{size + 1} characters", _length_value(rpc, path, size + 1))
        yield inside(f"{size} characters", _length_value(rpc, path, size))
    if schema.get("minLength", 0) > 0:
        yield outside("shorter than minLength", "J" * (schema["minLength"] - 1))
    if schema.get("format") == "uuid" or "pattern" in schema:
        yield outside("off the format", "not-a-uuid")
    if "maxItems" in schema:
        items = [f"item {n}" for n in range(schema["maxItems"] + 1)]
        yield outside(f"{len(items)} items", items)
        yield inside(f"{len(items) - 1} items", items[:-1])
    if schema.get("items"):
        yield from value_probes(doc, rpc, (*path[:1], "[]"), schema["items"], base)
    if "properties" in schema and path:
        nested = schema["properties"]
        example = {key: _example(doc.resolve(prop)) for key, prop in nested.items()}
        inner_base = set_at(base, path, example)
        yield from object_probes(doc, rpc, path, schema, inner_base)


def _matches(value: Any, kind: str) -> bool:
    """Whether ``value`` is of JSON type ``kind``."""
    checks = {
        "string": isinstance(value, str),
        "integer": isinstance(value, int) and not isinstance(value, bool),
        "number": isinstance(value, int | float) and not isinstance(value, bool),
        "boolean": isinstance(value, bool),
        "array": isinstance(value, list),
        "object": isinstance(value, dict),
    }
    return checks[kind]


def _example(schema: dict[str, Any]) -> Any:
    """A value of a nested object's property that satisfies its constraints."""
    if schema.get("format") == "uuid":
        return "00000000-0000-4000-8000-000000000009"
    if "pattern" in schema:
        return "123456"
    return "x"


def object_probes(
    doc: Document, rpc: str, path: Path, schema: dict[str, Any], base: dict[str, Any]
) -> Iterator[Probe]:
    """Probes of an object's keys (required ones left out, an unknown one added) and of
    each property's value."""
    for key in schema.get("required", []):
        body = without(base, (*path, key))
        yield Probe(rpc, (*path, key), "left out", body, refused=True)
    if schema.get("additionalProperties") is False:
        yield Probe(rpc, path, "an unknown key", set_at(base, (*path, "unknown"), 1), True)
    if schema.get("minProperties", 0) > 0 and not path:
        yield Probe(rpc, path, "no key at all", {}, refused=True)
    for key, prop in schema.get("properties", {}).items():
        yield from value_probes(doc, rpc, (*path, key), prop, base)


@dataclass
class World:
    """The proxy on a seeded database, its document as the service role sees it."""

    proxy: Proxy
    ids: ContractWorld
    doc: Document

    def post(self, rpc: str, body: dict[str, Any]) -> httpx.Response:
        return self.proxy.http.post(
            f"{self.proxy.url}/rest/v1/rpc/{rpc}", json=body, headers=HEADERS
        )


@pytest.fixture(scope="module")
def world(server_url: str, template_db: str) -> Iterator[World]:
    with (
        cloned_database(server_url, template_db, "contract") as url,
        psycopg.connect(url, autocommit=True) as conn,
    ):
        ids = build_contract_world(conn)
        with serving(Settings(db_url=as_authenticator(url), pool_max_size=2)) as proxy:
            raw = proxy.http.get(proxy.url + "/rest/v1/", headers=HEADERS).json()
            yield World(proxy, ids, Document(raw))


def probes_of(world: World, rpc: str) -> list[Probe]:
    base = valid_bodies(world.ids)[rpc]
    body = world.doc.body(rpc)
    return list(object_probes(world.doc, rpc, (), world.doc.resolve(body), base))


def response_validator(rpc: str) -> jsonschema.protocols.Validator:
    """The contract's answer of ``rpc``, with formats checked."""
    entry = contract.rpc(rpc)
    assert entry is not None
    document = {**contract.schema(), **entry["response"]}
    cls = jsonschema.validators.validator_for(document)
    return cls(document, format_checker=cls.FORMAT_CHECKER)


def problems(world: World, rpc: str, probes: list[Probe]) -> list[str]:
    """What the probes found: refusals that were not, acceptances that were not."""
    operation = world.doc.operation(rpc)
    entry = contract.rpc(rpc)
    assert entry is not None
    listed = set(entry["errors"])
    answer = response_validator(rpc)
    found = []
    for probe in probes:
        response = world.post(rpc, probe.body)
        status, text = response.status_code, response.text[:300]
        body = response.json()
        if str(status) not in operation["responses"]:
            found.append(f"{probe}: undocumented status {status} {text}")
        elif status >= 400 and isinstance(body, dict):
            message = body.get("message")
            if message in contract.kit_errors() and message not in listed:
                found.append(f"{probe}: {message} is not among the RPC's errors")
        if status == 200:
            errors = [e.message for e in answer.iter_errors(body)]
            if errors:
                found.append(f"{probe}: the answer breaks the contract: {errors[:3]}")
        if probe.refused and not 400 <= status < 500:
            found.append(f"{probe}: accepted ({status} {text})")
        if not probe.refused and status == 400:
            found.append(f"{probe}: refused ({text})")
    return found


RPCS = sorted(contract.rpcs())


@pytest.mark.parametrize("rpc", RPCS)
def test_every_stated_constraint_is_enforced(world: World, rpc: str) -> None:
    probes = probes_of(world, rpc)
    assert sum(p.refused for p in probes) >= 2, [str(p) for p in probes]
    assert problems(world, rpc, probes) == []


def test_every_exposed_function_is_described(conn: psycopg.Connection[Any]) -> None:
    """The kit's functions in schema public are exactly those of ``x-rpcs``, and each
    request matches the function's parameters: names, required ones, JSON types."""
    rows = conn.execute(
        "select p.proname::text, "
        "coalesce(array(select unnest(p.proargnames)), '{}'), "
        "array(select format_type(t, null) from unnest(p.proargtypes) as t), "
        "p.pronargdefaults::int "
        "from pg_proc as p join pg_namespace as n on n.oid = p.pronamespace "
        "where n.nspname = 'public' and p.prokind = 'f' "
        "and has_function_privilege('service_role', p.oid, 'EXECUTE') "
        "and not exists (select 1 from pg_depend as d where d.classid = 'pg_proc'::regclass "
        "and d.objid = p.oid and d.deptype = 'e') order by 1"
    ).fetchall()
    assert sorted(name for name, *_ in rows) == RPCS
    for name, arg_names, types, n_defaults in rows:
        request = contract.resolve(contract.rpcs()[name]["request"])
        if not arg_names:  # the whole body: a single unnamed jsonb parameter
            assert types == ["jsonb"], name
            continue
        properties = request["properties"]
        assert list(properties) == list(arg_names), name
        assert request.get("required", []) == list(arg_names[: len(types) - n_defaults]), name
        assert request.get("additionalProperties") is False, name
        for arg, sql_type in zip(arg_names, types, strict=True):
            prop = contract.resolve(properties[arg])
            kinds = prop.get("type")
            kinds = {kinds} if isinstance(kinds, str) else set(kinds or []) - {"null"}
            assert kinds == {json_type(sql_type)}, (name, arg, sql_type, kinds)
        for role, required in contract.rpcs()[name].get("requiredFor", {}).items():
            assert set(required) <= set(arg_names), (name, role)


def test_every_error_of_an_rpc_is_a_kit_code() -> None:
    """``errors`` of each RPC name codes of KitErrorCode, each with its SQLSTATE."""
    codes = contract.kit_errors()
    for name, entry in contract.rpcs().items():
        assert set(entry["errors"]) <= set(codes), name
    assert all(state in ("P0001", "42501") or state.startswith("PT") for state in codes.values())
