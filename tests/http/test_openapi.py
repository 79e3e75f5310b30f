"""``GET /rest/v1/``: the OpenAPI document, PostgREST's way (Swagger 2.0, the functions of
schema public the caller's role may execute, read from the catalog at each request), stating
the contract: each RPC's arguments, its answer, its errors and the key it needs."""

from __future__ import annotations

from typing import Any

import httpx
import psycopg
import schemathesis

from support.proxy import ANON_KEY, SERVICE_KEY, Proxy, make_user

pytest_plugins = ["support.proxy_fixtures"]


def document(proxy: Proxy, apikey: str = SERVICE_KEY, token: str | None = None) -> httpx.Response:
    headers = {"apikey": apikey}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return proxy.http.get(proxy.url + "/rest/v1/", headers=headers)


def args_schema(doc: dict[str, Any], name: str) -> dict[str, Any]:
    """The body schema of ``POST /rpc/<name>``."""
    (parameter,) = doc["paths"][f"/rpc/{name}"]["post"]["parameters"]
    assert parameter["in"] == "body" and parameter["name"] == "args"
    # An empty body is {}: the body is required when {} lacks a required argument.
    assert parameter["required"] is bool(parameter["schema"].get("required"))
    schema: dict[str, Any] = parameter["schema"]
    return schema


def executable(conn: psycopg.Connection[Any], role: str) -> set[str]:
    """The functions of schema public ``role`` may execute (extension functions aside)."""
    rows = conn.execute(
        "select distinct p.proname::text from pg_proc p join pg_namespace n "
        "on n.oid = p.pronamespace where n.nspname = 'public' and p.prokind = 'f' "
        "and has_function_privilege(%s, p.oid, 'EXECUTE') and not exists (select 1 from "
        "pg_depend d where d.classid = 'pg_proc'::regclass and d.objid = p.oid "
        "and d.deptype = 'e')",
        (role,),
    ).fetchall()
    return {row[0] for row in rows}


def test_service_role_document(proxy: Proxy, conn: psycopg.Connection[Any]) -> None:
    """Swagger 2.0 as ``application/openapi+json``; one POST per executable function."""
    response = document(proxy)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/openapi+json")
    doc = response.json()
    assert doc["swagger"] == "2.0"
    assert doc["basePath"] == "/rest/v1"
    assert doc["host"] == proxy.url.removeprefix("http://")
    rpcs = {path.removeprefix("/rpc/") for path in doc["paths"] if path.startswith("/rpc/")}
    assert rpcs == executable(conn, "service_role")
    assert {"customer_management", "request_verification"} <= rpcs
    assert all(set(item) == {"post"} for path, item in doc["paths"].items() if path != "/")

    whole = args_schema(doc, "customer_management")
    assert whole["required"] == ["source"]
    assert whole["properties"]["source"]["enum"] == ["chatbot", "webapp"]
    assert whole["properties"]["email"] == {
        "description": whole["properties"]["email"]["description"],
        "maxLength": 254,
        "x-nullable": True,
        "type": "string",
    }
    named = args_schema(doc, "request_verification")
    assert named["properties"]["identifier_type"]["enum"] == ["email", "phone"]
    assert named["properties"]["identifier_value"]["type"] == "string"
    assert {"requester_line", "requester_user_id", "requester_session"} <= set(named["properties"])
    assert named["required"] == ["identifier_type", "identifier_value"]
    assert named["additionalProperties"] is False
    operation = doc["paths"]["/rpc/customer_management"]["post"]
    assert operation["summary"].startswith("Find, create, update or merge the customer")
    assert {"200", "400", "401", "403", "413", "429", "503", "504"} <= set(operation["responses"])
    assert operation["responses"]["200"]["schema"] == {"$ref": "#/definitions/ResolutionResponse"}
    assert operation["responses"]["429"]["headers"]["Retry-After"]["type"] == "integer"
    assert "second_proof_required (PT403)" in operation["responses"]["403"]["description"]
    answer = doc["definitions"]["ResolutionResponse"]
    assert set(answer["properties"]) >= {"customer", "conflicts", "conflictId", "summary"}
    assert doc["definitions"]["ErrorBody"]["required"] == ["code", "message", "details", "hint"]
    # Every operation says which key it needs, and answers errors in PostgREST's body.
    for item in doc["paths"].values():
        for op in item.values():
            assert op["security"] == [{"apikey": [], "bearer": []}, {"apikey": []}]
            for status, response in op["responses"].items():
                if status >= "400":
                    assert response["schema"] == {"$ref": "#/definitions/ErrorBody"}
    assert set(doc["securityDefinitions"]) == {"apikey", "bearer"}
    # A valid Swagger 2.0 document: schemathesis validates it and finds every operation.
    schema = schemathesis.openapi.from_dict(doc)
    schema.validate()
    assert len(list(schema.get_all_operations())) == len(doc["paths"])


def test_arguments_as_the_functions_take_them(proxy: Proxy, conn: psycopg.Connection[Any]) -> None:
    """Bounds and defaults of the catalog and the contract; per role, what must be sent."""
    doc = document(proxy).json()
    orders = args_schema(doc, "customer_orders")
    assert orders["properties"]["page_size"] == {
        "format": "integer",
        "type": "integer",
        "minimum": 1,
        "maximum": 100,
        "default": 10,
        "description": "Orders per page.",
    }
    assert orders["properties"]["page"]["maximum"] == 100000
    assert orders["properties"]["customer_id"]["format"] == "uuid"
    assert orders["properties"]["customer_id"]["x-nullable"] is True
    # The service role must name the customer; an end user may leave the id out.
    assert orders["required"] == ["customer_id"]
    user = make_user(conn, email="orders@example.org")
    own = args_schema(document(proxy, ANON_KEY, user.token).json(), "customer_orders")
    assert "required" not in own
    queue = args_schema(doc, "support_conflict_queue")
    assert queue["properties"]["page_size"]["maximum"] == 200
    assert queue["properties"]["status"]["default"] == "open"
    assert queue["properties"]["status"]["allOf"] == [{"$ref": "#/definitions/ConflictStatus"}]
    assert "required" not in queue
    (body,) = doc["paths"]["/rpc/support_conflict_queue"]["post"]["parameters"]
    assert body["required"] is False  # an empty body is {}: the defaults
    find = args_schema(doc, "support_find_customers")
    assert find["minProperties"] == 1
    assert "Send a phone, an email or both" in find["description"]
    merge = args_schema(doc, "undo_merge")
    assert merge["properties"]["merge_id"]["minimum"] == 1
    assert merge["properties"]["merge_id"]["maximum"] == 2**63 - 1


def test_follows_the_callers_privileges(proxy: Proxy, conn: psycopg.Connection[Any]) -> None:
    """anon sees what anon may execute (none of the kit's RPCs); a signed-in user what
    ``authenticated`` may."""
    anon = document(proxy, ANON_KEY).json()
    assert {p for p in anon["paths"] if p != "/"} == {
        f"/rpc/{name}" for name in executable(conn, "anon")
    }
    assert "/rpc/customer_management" not in anon["paths"]
    user = make_user(conn, email="openapi@example.org")
    signed_in = document(proxy, ANON_KEY, user.token).json()
    assert {p.removeprefix("/rpc/") for p in signed_in["paths"] if p != "/"} == executable(
        conn, "authenticated"
    )
    assert "/rpc/customer_management" in signed_in["paths"]


def test_a_function_added_later_appears_without_a_restart(
    proxy: Proxy, conn: psycopg.Connection[Any]
) -> None:
    """A migration's new, granted function is in the next document; revoked, it is gone."""
    assert "/rpc/fuzz_later" not in document(proxy).json()["paths"]
    conn.execute(
        "create function public.fuzz_later(amount integer, tags text[], note text default 'x',"
        " payload jsonb default '{}') returns text language sql as $$ select note $$"
    )
    conn.execute("comment on function public.fuzz_later is 'Added later.\nSecond line.'")
    # Supabase grants new functions in public to the API roles by default (the shim too).
    conn.execute("revoke all on function public.fuzz_later from public, anon, authenticated")
    conn.execute("grant execute on function public.fuzz_later to service_role")
    doc = document(proxy).json()
    schema = args_schema(doc, "fuzz_later")
    assert schema["properties"] == {
        "amount": {
            "type": "integer",
            "format": "integer",
            "minimum": -(2**31),
            "maximum": 2**31 - 1,
        },
        "tags": {"type": "array", "format": "text[]", "items": {"type": "string"}},
        "note": {"type": "string", "format": "text", "default": "x"},
        "payload": {"format": "jsonb", "default": {}},
    }
    assert schema["required"] == ["amount", "tags"]
    assert schema["additionalProperties"] is False
    operation = doc["paths"]["/rpc/fuzz_later"]["post"]
    assert operation["summary"] == "Added later."
    assert operation["description"] == "Second line."
    assert "/rpc/fuzz_later" not in document(proxy, ANON_KEY).json()["paths"]
    conn.execute("revoke execute on function public.fuzz_later from service_role")
    assert "/rpc/fuzz_later" not in document(proxy).json()["paths"]


def test_needs_an_api_key_and_get(proxy: Proxy) -> None:
    """Like the RPCs: no apikey is 401 PGRST302; POST is 405 PGRST117; no trailing slash
    works."""
    missing = proxy.http.get(proxy.url + "/rest/v1/")
    assert missing.status_code == 401 and missing.json()["code"] == "PGRST302"
    wrong = proxy.http.post(proxy.url + "/rest/v1/", headers={"apikey": SERVICE_KEY})
    assert wrong.status_code == 405 and wrong.headers["allow"] == "OPTIONS,GET,HEAD"
    assert wrong.json()["code"] == "PGRST117"
    bare = proxy.http.get(proxy.url + "/rest/v1", headers={"apikey": SERVICE_KEY})
    assert bare.status_code == 200 and bare.json()["swagger"] == "2.0"
    other = proxy.http.get(
        proxy.url + "/rest/v1/", headers={"apikey": SERVICE_KEY, "Accept-Profile": "private"}
    )
    assert other.status_code == 406 and other.json()["code"] == "PGRST106"


def test_forward_mode_passes_the_upstream_document_on(forward_proxy: Proxy, proxy: Proxy) -> None:
    """Forwarding, the document is the upstream's, fetched with the caller's token."""
    assert document(forward_proxy).json() == document(proxy).json() | {
        "host": document(forward_proxy).json()["host"]
    }
