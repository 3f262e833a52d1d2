"""Points clevertap-api.md marks unconfirmed: each answers its documented default, and a SandboxSettings field flips it.

One test per field, asserting the default and the flipped answer through the emulator's HTTP interface.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx2
import pytest

from clevertap_mcp.sandbox.clevertap import CleverTapWorld
from clevertap_mcp.sandbox.clevertap.model import Account
from clevertap_mcp.sandbox.settings import DEMO_CLEVERTAP_ACCOUNT_ID, DEMO_CLEVERTAP_REGION

pytestmark = pytest.mark.anyio

WorldFactory = Callable[..., CleverTapWorld]
ClientFactory = Callable[..., httpx2.AsyncClient]

NEW_ID = "-2ce3cca260664f70b82b1c6bb505f462"
CART_REMINDER_START = 1767600000  # 2026-01-05 08:00 UTC, two hours before the pinned "now"
CHARGED = {"event_name": "Charged", "from": 20260101, "to": 20260105}
EVENT: dict[str, Any] = {"type": "event", "identity": "u-1001", "evtName": "Product Viewed", "evtData": {}}


def demo_account(world: CleverTapWorld) -> Account:
    found = world.account(DEMO_CLEVERTAP_REGION, DEMO_CLEVERTAP_ACCOUNT_ID)
    assert found is not None
    return found


async def answers(
    make_world: WorldFactory, make_client: ClientFactory, call: Callable[[httpx2.AsyncClient], Any], **flipped: Any
) -> tuple[httpx2.Response, httpx2.Response]:
    """The same call on a world with the defaults and on one with `flipped` settings."""
    results: list[httpx2.Response] = []
    for overrides in ({}, flipped):
        async with make_client(make_world(**overrides)) as http:
            results.append(await call(http))
    return results[0], results[1]


async def test_sk1_is_not_served_by_default_and_serving_it_answers_401_as_a_host_without_accounts(
    make_world: WorldFactory, make_client: ClientFactory
) -> None:
    statuses: list[tuple[int, Any]] = []
    for serve in (False, True):
        async with make_client(make_world(serve_sk1=serve), region="sk1") as http:
            response = await http.post("/1/now.json", json={})
        statuses.append((response.status_code, response.json()))
    assert statuses == [
        (404, {"status": "fail", "error": "Not Found", "code": 404}),
        (401, {"status": "fail", "error": "Invalid Credentials", "code": 401}),
    ]


@pytest.mark.parametrize(
    ("token_data", "default_code"),
    [("not-an-object", 531), ({"id": "tok-1", "type": "chrome"}, 535)],
    ids=["token-data-not-an-object", "chrome-token-without-keys"],
)
async def test_bad_token_data_codes_default_to_531_and_535_and_are_settings(
    make_world: WorldFactory, make_client: ClientFactory, token_data: Any, default_code: int
) -> None:
    record = {"type": "token", "objectId": NEW_ID, "tokenData": token_data}

    async def call(http: httpx2.AsyncClient) -> httpx2.Response:
        return await http.post("/1/upload", json={"d": [record]})

    default, flipped = await answers(
        make_world, make_client, call, token_not_object_code=590, token_invalid_content_code=590
    )
    assert default.json()["unprocessed"][0]["code"] == default_code
    assert flipped.json()["unprocessed"][0]["code"] == 590


async def test_an_unknown_user_lookup_answers_the_configured_fail_body(
    make_world: WorldFactory, make_client: ClientFactory
) -> None:
    async def call(http: httpx2.AsyncClient) -> httpx2.Response:
        return await http.get("/1/profile.json", params={"identity": "nobody-here"})

    default, flipped = await answers(
        make_world, make_client, call, user_not_found_error="Profile does not exist", user_not_found_code=400
    )
    assert (default.status_code, default.json()) == (200, {"status": "fail", "error": "User not found", "code": 404})
    assert (flipped.status_code, flipped.json()) == (
        200,
        {"status": "fail", "error": "Profile does not exist", "code": 400},
    )


async def test_a_delete_answers_only_success_unless_extra_fields_are_configured(
    make_world: WorldFactory, make_client: ClientFactory
) -> None:
    async def call(http: httpx2.AsyncClient) -> httpx2.Response:
        return await http.post("/1/delete/profiles.json", json={"identity": "u-1001"})

    extras = (("message", "Deletion scheduled"), ("count", 1))
    default, flipped = await answers(make_world, make_client, call, delete_success_extras=extras)
    assert default.json() == {"status": "success"}
    assert flipped.json() == {"status": "success", "message": "Deletion scheduled", "count": 1}


@pytest.mark.parametrize("size", [0, 1001], ids=["empty-d", "over-1000-records"])
async def test_a_batch_outside_1_to_1000_records_is_http_400_by_default_or_200_when_set_and_stores_nothing(
    make_world: WorldFactory, make_client: ClientFactory, size: int
) -> None:
    outcomes: list[tuple[int, str, int]] = []
    for http_200 in (False, True):
        world = make_world(upload_batch_limit_http_200=http_200)
        before = len(demo_account(world).events)
        async with make_client(world) as http:
            response = await http.post("/1/upload", json={"d": [EVENT] * size})
        body = response.json()
        assert "1000" in body["error"]
        outcomes.append((response.status_code, body["status"], len(demo_account(world).events) - before))
    assert outcomes == [(400, "fail", 0), (200, "fail", 0)]


async def test_a_bad_batch_size_answers_the_configured_wording_and_code(
    make_world: WorldFactory, make_client: ClientFactory
) -> None:
    async def call(http: httpx2.AsyncClient) -> httpx2.Response:
        return await http.post("/1/events.json?batch_size=5001", json=CHARGED)

    default, flipped = await answers(
        make_world, make_client, call, batch_size_error="Invalid batch_size", batch_size_error_code=4001
    )
    assert default.json() == {
        "status": "fail",
        "error": "batch_size must be an integer between 1 and 5000",
        "code": 400,
    }
    assert flipped.json() == {"status": "fail", "error": "Invalid batch_size", "code": 4001}


@pytest.mark.parametrize("path", ["/1/events.json", "/1/counts/events.json", "/1/targets/list.json"])
async def test_bad_dates_carry_code_4002_by_default_and_the_configured_code_otherwise(
    make_world: WorldFactory, make_client: ClientFactory, path: str
) -> None:
    async def call(http: httpx2.AsyncClient) -> httpx2.Response:
        return await http.post(path, json={"event_name": "Charged", "from": 20260110, "to": 20260101})

    default, flipped = await answers(make_world, make_client, call, invalid_dates_code=400)
    assert (default.json()["code"], flipped.json()["code"]) == (4002, 400)
    assert flipped.json()["error"].startswith("Dates must be real")


async def test_scheduled_on_is_yyyymmddhhmm_by_default_or_epoch_seconds_when_set(
    make_world: WorldFactory, make_client: ClientFactory
) -> None:
    async def call(http: httpx2.AsyncClient) -> httpx2.Response:
        return await http.post("/1/targets/list.json", json={"from": 20260105, "to": 20260105})

    default, flipped = await answers(make_world, make_client, call, scheduled_on_format="epoch")
    assert [t["scheduled_on"] for t in default.json()["targets"]] == [202601050800]
    assert [t["scheduled_on"] for t in flipped.json()["targets"]] == [CART_REMINDER_START]


async def test_campaign_status_values_can_be_renamed(make_world: WorldFactory, make_client: ClientFactory) -> None:
    async def call(http: httpx2.AsyncClient) -> httpx2.Response:
        return await http.post("/1/targets/list.json", json={"from": 20250101, "to": 20261231})

    renames = (("completed", "finished"), ("running", "live"))
    default, flipped = await answers(make_world, make_client, call, campaign_status_names=renames)
    assert {t["status"] for t in default.json()["targets"]} == {"scheduled", "running", "completed", "stopped"}
    assert {t["status"] for t in flipped.json()["targets"]} == {"scheduled", "live", "finished", "stopped"}


async def test_an_unknown_cursor_answers_the_configured_wording(
    make_world: WorldFactory, make_client: ClientFactory
) -> None:
    async def call(http: httpx2.AsyncClient) -> httpx2.Response:
        return await http.get("/1/events.json", params={"cursor": "no-such-cursor"})

    default, flipped = await answers(make_world, make_client, call, cursor_invalid_error="Invalid cursor")
    assert default.json() == {"status": "fail", "error": "CURSOR_INVALIDATED: invalid cursor", "code": 400}
    assert flipped.json() == {"status": "fail", "error": "Invalid cursor", "code": 400}
