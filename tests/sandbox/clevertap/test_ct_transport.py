"""Auth, regions, routing and body parsing of the CleverTap emulator (clevertap-api.md §1–§3, §14 #15, #18, #19)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx2
import pytest

from clevertap_mcp.sandbox.clevertap import CleverTapWorld
from clevertap_mcp.sandbox.settings import DEMO_CLEVERTAP_ACCOUNT_ID, DEMO_CLEVERTAP_PASSCODE

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


async def test_a_body_that_is_not_an_object_is_400_on_query_endpoints(client: httpx2.AsyncClient) -> None:
    response = await client.post("/1/targets/list.json", json=[20260101, 20260105])
    assert response.status_code == 400
    assert response.json()["status"] == "fail"


async def test_post_without_content_type_and_get_with_it_are_both_accepted(client: httpx2.AsyncClient) -> None:
    post = await client.post("/1/upload", content=json.dumps({"d": [EVENT]}).encode())
    get = await client.get(
        "/1/profile.json", params={"identity": "u-1001"}, headers={"Content-Type": "application/json"}
    )
    assert post.json()["status"] == "success"
    assert get.json()["status"] == "success"
