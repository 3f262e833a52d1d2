"""Auth, regions, routing and body parsing of the CleverTap emulator (clevertap-api.md §1–§3, §14 #15, #18, #19)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx2
import pytest

from clevertap_mcp.sandbox.clevertap import CleverTapWorld
from clevertap_mcp.sandbox.clevertap.model import Account
from clevertap_mcp.sandbox.clevertap.routes import MAX_JSON_DEPTH
from clevertap_mcp.sandbox.settings import (
    DEMO_CLEVERTAP_ACCOUNT_ID,
    DEMO_CLEVERTAP_PASSCODE,
    DEMO_CLEVERTAP_SDK_TOKEN,
)

ClientFactory = Callable[..., httpx2.AsyncClient]
AUTH = {"X-CleverTap-Account-Id": DEMO_CLEVERTAP_ACCOUNT_ID, "X-CleverTap-Passcode": DEMO_CLEVERTAP_PASSCODE}

pytestmark = pytest.mark.anyio

INVALID_CREDENTIALS = {"status": "fail", "error": "Invalid Credentials", "code": 401}
EVENT: dict[str, Any] = {"type": "event", "identity": "u-1001", "evtName": "Product Viewed", "evtData": {}}


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"X-CleverTap-Account-Id": DEMO_CLEVERTAP_ACCOUNT_ID},
        {"X-CleverTap-Passcode": AUTH["X-CleverTap-Passcode"]},
        {**AUTH, "X-CleverTap-Passcode": "WRONG"},
        {**AUTH, "X-CleverTap-Account-Id": "TEST-000-000-0000"},
    ],
    ids=["no-headers", "no-passcode", "no-account", "wrong-passcode", "unknown-account"],
)
async def test_missing_or_wrong_credentials_get_401_with_the_documented_body(
    world: CleverTapWorld, make_client: ClientFactory, headers: dict[str, str]
) -> None:
    async with make_client(world, headers=headers) as http:
        response = await http.post("/1/now.json", json={})
    assert response.status_code == 401
    assert response.json() == INVALID_CREDENTIALS


async def test_the_accounts_sdk_token_sent_as_the_passcode_gets_401(
    world: CleverTapWorld, make_client: ClientFactory, account: Account
) -> None:
    assert account.sdk_token == DEMO_CLEVERTAP_SDK_TOKEN  # the account really has this token, so 401 is a refusal of it
    async with make_client(world, headers={**AUTH, "X-CleverTap-Passcode": DEMO_CLEVERTAP_SDK_TOKEN}) as http:
        response = await http.post("/1/now.json", json={})
    assert response.status_code == 401
    assert response.json() == INVALID_CREDENTIALS


async def test_valid_account_on_another_regional_host_gets_401(
    world: CleverTapWorld, make_client: ClientFactory
) -> None:
    async with make_client(world, region="us1") as http:
        response = await http.post("/1/now.json", json={})
    assert response.status_code == 401
    assert response.json() == INVALID_CREDENTIALS


async def test_the_plain_api_host_serves_the_europe_accounts(world: CleverTapWorld, make_client: ClientFactory) -> None:
    async with make_client(world, region="api") as http:
        response = await http.post("/1/now.json", json={})
    assert response.status_code == 200
    assert response.json()["status"] == "success"


async def test_an_unserved_region_is_404(world: CleverTapWorld, make_client: ClientFactory) -> None:
    async with make_client(world, region="sk1") as http:
        response = await http.post("/1/now.json", json={})
    assert response.status_code == 404


async def test_unknown_path_is_404_with_a_fail_body(client: httpx2.AsyncClient) -> None:
    response = await client.post("/1/nothing.json", json={})
    assert response.status_code == 404
    assert response.json() == {"status": "fail", "error": "Not Found", "code": 404}


async def test_wrong_method_is_405(client: httpx2.AsyncClient) -> None:
    response = await client.get("/1/upload")
    assert response.status_code == 405
    assert response.json()["status"] == "fail"


async def test_the_wrong_report_variants_of_third_party_specs_are_refused(client: httpx2.AsyncClient) -> None:
    by_path = await client.post("/1/targets/1457433898/result.json", json={})
    by_get = await client.get("/1/targets/result.json", params={"req_id": "1"})
    assert (by_path.status_code, by_get.status_code) == (404, 405)


async def test_malformed_json_is_400(client: httpx2.AsyncClient) -> None:
    response = await client.post("/1/upload", content=b'{"d": [', headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert response.json()["status"] == "fail"


@pytest.mark.parametrize("raw", [b"[]", b"[1]", b'"x"', b"7", b"null", b"true"])
@pytest.mark.parametrize("path", ["/1/targets/list.json", "/1/now.json", "/1/counts/events.json", "/1/events.json"])
async def test_a_well_formed_body_that_is_not_an_object_is_http_200_with_a_fail_body(
    client: httpx2.AsyncClient, path: str, raw: bytes
) -> None:
    response = await client.post(path, content=raw, headers={"Content-Type": "application/json"})
    assert response.status_code == 200
    body = response.json()
    assert (body["status"], body["code"]) == ("fail", 400)
    assert body["error"].startswith("The request body must be a JSON object")


@pytest.mark.parametrize("raw", [b"[]", b'"x"', b"null"])
async def test_an_upload_body_that_is_not_an_object_keeps_the_documented_malformed_envelope_answer(
    client: httpx2.AsyncClient, raw: bytes
) -> None:
    response = await client.post("/1/upload", content=raw, headers={"Content-Type": "application/json"})
    assert response.status_code == 200
    assert response.json() == {"status": "fail", "processed": 0, "unprocessed": []}


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity", "1e999", "-1e999"])
@pytest.mark.parametrize("path", ["/1/upload", "/1/now.json", "/1/counts/events.json"])
async def test_nan_infinity_and_overflowing_numbers_are_malformed_json(
    client: httpx2.AsyncClient, path: str, number: str
) -> None:
    raw = f'{{"d": [{{"type": "bogus", "x": {number}}}], "event_name": "Charged", "os": {number}}}'.encode()
    response = await client.post(path, content=raw, headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert response.json() == {"status": "fail", "error": "Malformed JSON in the request body", "code": 400}


async def test_an_event_carrying_nan_is_refused_so_exports_keep_rendering(
    client: httpx2.AsyncClient, account: Account
) -> None:
    before = len(account.events)
    raw = b'{"d": [{"type": "event", "identity": "u-1001", "evtName": "Charged", "evtData": {"Amount": NaN}}]}'
    refused = await client.post("/1/upload", content=raw, headers={"Content-Type": "application/json"})
    query = {"event_name": "Charged", "from": 20260101, "to": 20260105}
    cursor = (await client.post("/1/events.json?batch_size=5000", json=query)).json()["cursor"]
    exported = await client.get(f"/1/events.json?cursor={cursor}")
    assert refused.status_code == 400
    assert len(account.events) == before
    assert exported.status_code == 200
    assert exported.json()["status"] == "success"


@pytest.mark.parametrize("depth", [MAX_JSON_DEPTH + 1, 500, 960, 100_000])
async def test_deeply_nested_json_is_400_not_a_server_error(client: httpx2.AsyncClient, depth: int) -> None:
    nested = "[" * depth + "]" * depth
    for raw in (nested.encode(), f'{{"d": [{{"type": "bogus", "x": {nested}}}]}}'.encode()):
        response = await client.post("/1/upload", content=raw, headers={"Content-Type": "application/json"})
        assert response.status_code == 400
        assert response.json()["status"] == "fail"


async def test_nesting_at_the_bound_is_accepted_and_renders_back_in_answers_and_exports(
    client: httpx2.AsyncClient,
) -> None:
    value: Any = "leaf"
    for _ in range(MAX_JSON_DEPTH - 4):  # under the body's own 4 levels, {"d": [{"evtData": {...}}]}: exactly the bound
        value = [value]
    record = {"type": "event", "identity": "u-deep", "evtName": "Deep", "evtData": {"Deep": value}, "ts": 1767600000}
    stored = await client.post("/1/upload", json={"d": [record]})
    echoed = await client.post("/1/upload", json={"d": [{**record, "type": "bogus"}]})
    cursor = (await client.post("/1/events.json", json={"event_name": "Deep", "from": 20260105, "to": 20260105})).json()
    exported = await client.get(f"/1/events.json?cursor={cursor['cursor']}")
    assert (stored.status_code, stored.json()["status"]) == (200, "success")
    assert echoed.status_code == 200
    assert echoed.json()["unprocessed"][0]["record"]["evtData"] == {"Deep": value}
    assert exported.status_code == 200
    assert exported.json()["records"][0]["event_props"] == {"Deep": value}


async def test_post_without_content_type_and_get_with_it_are_both_accepted(client: httpx2.AsyncClient) -> None:
    post = await client.post("/1/upload", content=json.dumps({"d": [EVENT]}).encode())
    get = await client.get(
        "/1/profile.json", params={"identity": "u-1001"}, headers={"Content-Type": "application/json"}
    )
    assert post.json()["status"] == "success"
    assert get.json()["status"] == "success"
