"""The request forms CleverTap's Node library sends that the docs do not show (clevertap-api.md §16)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

import httpx2
import pytest

from clevertap_mcp.sandbox.clevertap import CleverTapWorld
from clevertap_mcp.sandbox.clevertap.model import Account

pytestmark = pytest.mark.anyio

CHARGED = {"event_name": "Charged", "from": 20251206, "to": 20260105}


async def walk_get_form(client: httpx2.AsyncClient, path: str, query: dict[str, Any], batch_size: int) -> list[Any]:
    """What clevertap-node's `_fetch` does: GET with batch_size and query, then `cursor || next_cursor` verbatim."""
    body = (await client.get(f"{path}?{urlencode({'batch_size': batch_size, 'query': json.dumps(query)})}")).json()
    records: list[Any] = []
    cursor = body.get("cursor") or body.get("next_cursor")
    while cursor:
        body = (await client.get(f"{path}?cursor={cursor}")).json()
        assert body["status"] == "success", body
        records.extend(body.get("records", []))
        cursor = body.get("cursor") or body.get("next_cursor")
    return records


async def walk_post_form(client: httpx2.AsyncClient, path: str, query: dict[str, Any], batch_size: int) -> list[Any]:
    cursor = (await client.post(f"{path}?batch_size={batch_size}", json=query)).json()["cursor"]
    records: list[Any] = []
    while cursor:
        body = (await client.get(f"{path}?cursor={cursor}")).json()
        records.extend(body.get("records", []))
        cursor = body.get("next_cursor")
    return records


@pytest.mark.parametrize("path", ["/1/events.json", "/1/profiles.json"])
async def test_an_export_opened_by_get_with_a_query_parameter_returns_what_the_post_form_returns(
    client: httpx2.AsyncClient, path: str
) -> None:
    by_get = await walk_get_form(client, path, CHARGED, batch_size=9)
    by_post = await walk_post_form(client, path, CHARGED, batch_size=9)
    assert by_get
    assert by_get == by_post


@pytest.mark.parametrize(
    ("query", "wanted"),
    [("[1, 2]", "must be a JSON object, not an array"), ('{"event_name": ', "Malformed JSON")],
    ids=["not-an-object", "not-json"],
)
async def test_a_get_export_whose_query_is_not_a_json_object_is_refused_with_the_reason(
    client: httpx2.AsyncClient, query: str, wanted: str
) -> None:
    response = await client.get("/1/events.json", params={"batch_size": "10", "query": query})
    assert response.json()["status"] == "fail"
    assert wanted in response.json()["error"]


async def test_a_get_export_with_a_bad_batch_size_is_refused_like_the_post_form(client: httpx2.AsyncClient) -> None:
    response = await client.get("/1/events.json", params={"batch_size": "0", "query": json.dumps(CHARGED)})
    assert response.json()["status"] == "fail"
    assert "batch_size" in response.json()["error"]


async def test_demerge_takes_one_identity_as_a_string(client: httpx2.AsyncClient, account: Account) -> None:
    answer = (await client.post("/1/demerge/profiles.json", json={"identities": "u-1001"})).json()
    assert answer == {"status": "success"}
    assert account.find(identity="u-1001") is None


async def test_subscribe_puts_a_number_on_the_do_not_disturb_list_and_resubscribe_takes_it_off(
    client: httpx2.AsyncClient, account: Account
) -> None:
    off = {"d": [{"type": "phone", "value": "+447700900123", "status": "Unsubscribe"}]}
    mail = {"d": [{"type": "email", "value": "Ana@Example.com", "status": "Unsubscribe"}]}
    first = (await client.post("/1/subscribe", json=off)).json()
    await client.post("/1/subscribe", json=mail)
    after_unsubscribe = set(account.unsubscribed)
    on = {"d": [{"type": "phone", "value": "+447700900123", "status": "Resubscribe"}]}
    await client.post("/1/subscribe", json=on)
    assert first == {"status": "success", "processed": 1, "unprocessed": []}
    assert after_unsubscribe == {("phone", "+447700900123"), ("email", "ana@example.com")}
    assert account.unsubscribed == {("email", "ana@example.com")}


async def test_subscribe_reports_each_bad_record_by_number_and_applies_the_good_ones(
    client: httpx2.AsyncClient, account: Account
) -> None:
    records = [
        {"type": "phone", "value": "+447700900124", "status": "Unsubscribe"},
        {"type": "fax", "value": "+447700900125", "status": "Unsubscribe"},
        {"type": "phone", "value": "+447700900126", "status": "Maybe"},
    ]
    answer = (await client.post("/1/subscribe", json={"d": records})).json()
    assert answer["status"] == "partial"
    assert answer["processed"] == 1
    assert [(entry["code"], entry["error"]) for entry in answer["unprocessed"]] == [
        (524, "type must be 'phone' or 'email'. Skipped record number : 2"),
        (524, "status must be Unsubscribe or Resubscribe. Skipped record number : 3"),
    ]
    assert account.unsubscribed == {("phone", "+447700900124")}


async def test_disassociate_detaches_a_phone_identity_so_lookups_by_it_find_no_one(
    client: httpx2.AsyncClient, account: Account
) -> None:
    upload = {"d": [{"type": "profile", "identity": "+447700900200", "profileData": {"Name": "Old Owner"}}]}
    await client.post("/1/upload", json=upload)
    owner = account.find(identity="+447700900200")
    answer = (await client.post("/1/disassociate", json={"d": [{"type": "phone", "value": "+447700900200"}]})).json()
    lookup = (await client.get("/1/profile.json", params={"identity": "+447700900200"})).json()
    assert owner is not None
    assert answer == {"status": "success", "processed": 1, "unprocessed": []}
    assert lookup["status"] == "fail"
    assert account.profiles[owner.object_id].data["Name"] == "Old Owner"


ENVELOPES: list[dict[str, Any]] = [{}, {"d": []}, {"d": [{}] * 1001}]


@pytest.mark.parametrize("path", ["/1/subscribe", "/1/disassociate"])
@pytest.mark.parametrize("body", ENVELOPES, ids=["no-d", "empty", "over-1000"])
async def test_subscribe_and_disassociate_refuse_an_envelope_without_1_to_1000_records(
    client: httpx2.AsyncClient, path: str, body: dict[str, Any]
) -> None:
    response = await client.post(path, json=body)
    assert response.status_code == 400
    assert response.json()["error"] == "d must be a list of 1 to 1000 records"


OLD_PUSH_PAYLOAD = {
    "name": "Old style",
    "segment": "all",
    "content": {"title": "Hi", "body": "There"},
    "devices": ["android"],
    "when": "now",
    "estimate_only": True,
}


@pytest.mark.parametrize(("default_target_mode", "status"), [(None, "fail"), ("push", "success")])
async def test_an_estimate_without_target_mode_is_a_push_only_when_the_sandbox_says_so(
    make_world: Callable[..., CleverTapWorld],
    make_client: Callable[..., httpx2.AsyncClient],
    default_target_mode: str | None,
    status: str,
) -> None:
    world = make_world(default_target_mode=default_target_mode)
    async with make_client(world) as http:
        answer = (await http.post("/1/targets/create.json", json=OLD_PUSH_PAYLOAD)).json()
    assert answer["status"] == status
    if status == "fail":
        assert answer["error"] == "Missing mandatory field(s): target_mode"
    else:
        assert set(answer["estimates"]) == {"android"}
