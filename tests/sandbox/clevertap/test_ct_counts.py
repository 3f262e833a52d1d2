"""Async counts with req_id polling, and real-time counts (clevertap-api.md §9, §10, §14 #29–#31)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx2
import pytest

from clevertap_mcp.sandbox.clevertap import CleverTapWorld
from clevertap_mcp.sandbox.clevertap.model import Account

pytestmark = pytest.mark.anyio

QUERY = {"event_name": "Product Viewed", "from": 20251220, "to": 20260105}


def selected(account: Account) -> list[Any]:
    start = int(datetime(2025, 12, 20, tzinfo=UTC).timestamp())
    end = int(datetime(2026, 1, 6, tzinfo=UTC).timestamp())
    return [e for e in account.events if e.name == "Product Viewed" and start <= e.ts < end]


async def test_an_event_count_answers_partial_then_success_on_a_get_poll(
    client: httpx2.AsyncClient, account: Account
) -> None:
    first = (await client.post("/1/counts/events.json", json=QUERY)).json()
    assert first["status"] == "partial"
    assert isinstance(first["req_id"], int)
    done = (await client.get("/1/counts/events.json", params={"req_id": first["req_id"]})).json()
    assert done == {"status": "success", "count": len(selected(account))}


async def test_a_profile_count_counts_unique_profiles(client: httpx2.AsyncClient, account: Account) -> None:
    req_id = (await client.post("/1/counts/profiles.json", json=QUERY)).json()["req_id"]
    done = (await client.get(f"/1/counts/profiles.json?req_id={req_id}")).json()
    assert done == {"status": "success", "count": len({e.object_id for e in selected(account)})}
    assert done["count"] < len(selected(account))


async def test_with_zero_partial_polls_the_count_answers_at_once(
    make_world: Callable[..., CleverTapWorld], make_client: Callable[..., httpx2.AsyncClient]
) -> None:
    async with make_client(make_world(count_partial_polls=0)) as http:
        body = (await http.post("/1/counts/events.json", json=QUERY)).json()
    assert body["status"] == "success"
    assert body["count"] > 0


async def test_the_configured_number_of_partial_answers_come_before_success(
    make_world: Callable[..., CleverTapWorld], make_client: Callable[..., httpx2.AsyncClient]
) -> None:
    async with make_client(make_world(count_partial_polls=3)) as http:
        first = (await http.post("/1/counts/events.json", json=QUERY)).json()
        polls = [(await http.get(f"/1/counts/events.json?req_id={first['req_id']}")).json() for _ in range(3)]
    assert [first["status"], *(p["status"] for p in polls)] == ["partial", "partial", "partial", "success"]
    assert polls[0]["req_id"] == first["req_id"]


async def test_an_unknown_req_id_fails_as_invalid_request_id(client: httpx2.AsyncClient) -> None:
    for req_id in ("384649162721759", "abc"):
        body = (await client.get(f"/1/counts/events.json?req_id={req_id}")).json()
        assert body["status"] == "fail"
        assert body["error"].startswith("Invalid request id")


async def test_polling_with_post_fails(client: httpx2.AsyncClient) -> None:
    req_id = (await client.post("/1/counts/events.json", json=QUERY)).json()["req_id"]
    body = (await client.post(f"/1/counts/events.json?req_id={req_id}", json=QUERY)).json()
    assert body["status"] == "fail"
    assert body["error"].startswith("Invalid request id")


async def test_polling_another_path_than_the_issuing_one_fails(client: httpx2.AsyncClient) -> None:
    req_id = (await client.post("/1/counts/events.json", json=QUERY)).json()["req_id"]
    body = (await client.get(f"/1/counts/profiles.json?req_id={req_id}")).json()
    assert body["status"] == "fail"
    assert body["error"].startswith("Invalid request id")


async def test_counts_refuse_bad_dates_and_unknown_events(client: httpx2.AsyncClient) -> None:
    dates = (await client.post("/1/counts/events.json", json={**QUERY, "from": 20261301})).json()
    event = (await client.post("/1/counts/profiles.json", json={**QUERY, "event_name": "Nope"})).json()
    assert (dates["status"], dates["code"]) == ("fail", 4002)
    assert event == {"status": "fail", "error": '["Invalid event : Nope"]', "code": 400}


async def test_a_count_filters_on_event_and_profile_properties(
    make_world: Callable[..., CleverTapWorld], make_client: Callable[..., httpx2.AsyncClient]
) -> None:
    world = make_world(count_partial_polls=0)
    account = world.account("eu1", "TEST-R78-ZZ6-5Z7Z")
    assert account is not None
    query = {
        **QUERY,
        "event_properties": [{"name": "Category", "operator": "equals", "value": "Footwear"}],
        "common_profile_properties": {"profile_fields": [{"name": "City", "operator": "equals", "value": "London"}]},
    }
    async with make_client(world) as http:
        body = (await http.post("/1/counts/events.json", json=query)).json()
    expected = [
        e
        for e in selected(account)
        if e.props["Category"] == "Footwear" and account.profiles[e.object_id].data["City"] == "London"
    ]
    assert body == {"status": "success", "count": len(expected)}
    assert 0 < len(expected) < len(selected(account))


async def test_real_time_count_is_users_active_in_the_last_five_minutes(
    client: httpx2.AsyncClient, account: Account
) -> None:
    body = (await client.post("/1/now.json", json={})).json()
    active = {e.object_id for e in account.events if 1767607200 - 300 <= e.ts <= 1767607200}
    assert body == {"status": "success", "count": len(active), "last_processed_ts": 1767607200}
    assert body["count"] > 0


async def test_each_real_time_flag_adds_its_split_and_only_that(client: httpx2.AsyncClient) -> None:
    plain = (await client.post("/1/now.json", json={})).json()
    flagged = (await client.post("/1/now.json", json={"user_type": True, "device": True, "os": False})).json()
    assert set(flagged) - set(plain) == {"user_type", "device"}
    assert set(flagged["user_type"]) == {"new", "repeat", "addressable", "customer"}
    assert set(flagged["device"]) == {"desktop", "mobile", "tablet"}
    assert flagged["user_type"]["new"] + flagged["user_type"]["repeat"] == plain["count"]
    assert sum(flagged["device"].values()) == plain["count"]


async def test_every_real_time_split_has_its_documented_keys(client: httpx2.AsyncClient) -> None:
    flags = {"session_source": True, "browser": True, "os": True, "device": True, "new": True}
    body = (await client.post("/1/now.json", json=flags)).json()
    keys = {
        "session_source": {"direct", "others", "search", "social", "email", "unavailable"},
        "browser": {"others", "firefox", "chrome", "ie", "mobileapp"},
        "os": {"others", "android", "ios", "windows", "mac", "linux"},
        "device": {"desktop", "mobile", "tablet"},
    }
    assert {split: set(body[split]) for split in keys} == keys
    assert {split: set(body["new"][split]) for split in keys} == keys
    assert sum(body["browser"].values()) == sum(body["os"].values()) == body["count"]


async def test_a_real_time_flag_that_is_not_a_boolean_fails(client: httpx2.AsyncClient) -> None:
    body = (await client.post("/1/now.json", json={"os": "yes"})).json()
    assert body["status"] == "fail"
