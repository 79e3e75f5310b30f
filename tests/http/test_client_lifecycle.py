"""The account lifecycle through the real supabase-py client and the proxy: conflict,
merge, undo, export, erasure and ids that outlive a merge, with their typed errors.
"""

from __future__ import annotations

import uuid
from typing import Any

import psycopg
import pytest

from customer_management import Client, Conflict, ConflictResult, Forbidden, NotFound, Resolution
from support.proxy import ANON_KEY, SERVICE_KEY, Proxy, make_user

pytest_plugins = ["support.proxy_fixtures"]
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:supabase")

Conn = psycopg.Connection[Any]
PHONE = "+15556070001"
EMAIL = "lou@mail.com"


def test_conflict_merge_undo_export_erase(proxy: Proxy) -> None:
    backend = Client(proxy.url, SERVICE_KEY)
    by_phone = backend.resolve(phone=PHONE, source="chatbot")
    by_email = backend.resolve(email=EMAIL, first_name="Lou", source="webapp")
    assert isinstance(by_phone, Resolution) and isinstance(by_email, Resolution)
    conflict = backend.resolve(phone=PHONE, email=EMAIL, source="webapp")
    assert isinstance(conflict, ConflictResult)
    conflict_id = conflict.conflict_id
    assert conflict_id

    merged = backend.resolve_conflict(conflict_id, "merge", reason="same person")
    assert merged["conflict"]["status"] == "merged"
    assert merged["customer"]["id"] == by_phone.customer.id
    with pytest.raises(Conflict) as closed:
        backend.resolve_conflict(conflict_id, "merge")
    assert closed.value.message == "conflict_closed" and closed.value.status == 409

    assert backend.current_customer_id(by_email.customer.id) == by_phone.customer.id
    undone = backend.undo_merge(merged["mergeIds"][0], reason="wrong")
    assert undone["undoneMergeIds"] == merged["mergeIds"]
    assert backend.current_customer_id(by_email.customer.id) == by_email.customer.id

    document = backend.export_customer_data(by_email.customer.id)
    assert document["profile"]["firstName"] == "Lou"
    erased = backend.erase_customer(by_email.customer.id, reason="asked")
    assert erased["customerIds"] == [by_email.customer.id]
    assert backend.current_customer_id(by_email.customer.id) is None
    with pytest.raises(NotFound):
        backend.export_customer_data(by_email.customer.id)


def test_end_user_reaches_only_their_own(proxy: Proxy, conn: Conn) -> None:
    user = make_user(conn, email=EMAIL)
    client = Client(proxy.url, ANON_KEY, access_token=user.token)
    own = client.resolve(email=EMAIL, source="webapp")
    assert isinstance(own, Resolution)
    assert client.export_customer_data()["customerId"] == own.customer.id
    other = Client(proxy.url, SERVICE_KEY).resolve(phone=PHONE, source="chatbot")
    assert isinstance(other, Resolution)
    for call in (
        lambda: client.export_customer_data(other.customer.id),
        lambda: client.erase_customer(other.customer.id),
        lambda: client.undo_merge(1),
        lambda: client.resolve_conflict(str(uuid.uuid4()), "merge"),
    ):
        with pytest.raises(Forbidden) as caught:
            call()
        assert caught.value.status == 403
    assert client.current_customer_id(other.customer.id) is None
    assert client.erase_customer()["customerIds"] == [own.customer.id]
