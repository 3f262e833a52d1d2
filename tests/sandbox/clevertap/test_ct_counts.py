"""Async counts with req_id polling, and real-time counts (clevertap-api.md §9, §10, §14 #29–#31)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx2
import pytest

from clevertap_mcp.sandbox.clevertap import CleverTapWorld
from clevertap_mcp.sandbox.clevertap.counts import MAX_COUNT_REQUESTS, CountRequests
from clevertap_mcp.sandbox.clevertap.errors import InvalidRequestId
from clevertap_mcp.sandbox.clevertap.model import Account

pytestmark = pytest.mark.anyio

QUERY = {"event_name": "Product Viewed", "from": 20251220, "to": 20260105}


def selected(account: Account) -> list[Any]:
    start = int(datetime(2025, 12, 20, tzinfo=UTC).timestamp())
    end = int(datetime(2026, 1, 6, tzinfo=UTC).timestamp())
    return [e for e in account.events if e.name == "Product Viewed" and start <= e.ts < end]


async def count_of(http: httpx2.AsyncClient, path: str, query: dict[str, Any]) -> list[Any]:
    """Every answer of one count, from the POST to the first non-partial poll (at most 20 polls)."""
    answers = [(await http.post(path, json=query)).json()]
    while answers[-1]["status"] == "partial" and len(answers) <= 20:
        answers.append((await http.get(path, params={"req_id": answers[0]["req_id"]})).json())
    return answers


async def test_by_default_the_post_and_the_first_get_poll_answer_partial_then_the_second_poll_succeeds(
    client: httpx2.AsyncClient, account: Account
) -> None:
    answers = await count_of(client, "/1/counts/events.json", QUERY)
    assert [answer["status"] for answer in answers] == ["partial", "partial", "success"]
    assert isinstance(answers[0]["req_id"], int)
    assert answers[1] == {"status": "partial", "req_id": answers[0]["req_id"]}
    assert answers[2] == {"status": "success", "count": len(selected(account))}


async def test_a_profile_count_counts_unique_profiles(client: httpx2.AsyncClient, account: Account) -> None:
    done = (await count_of(client, "/1/counts/profiles.json", QUERY))[-1]
    assert done == {"status": "success", "count": len({e.object_id for e in selected(account)})}
    assert done["count"] < len(selected(account))


async def test_with_zero_partial_polls_the_count_answers_at_once(
    make_world: Callable[..., CleverTapWorld], make_client: Callable[..., httpx2.AsyncClient]
) -> None:
    async with make_client(make_world(count_partial_polls=0)) as http:
        body = (await http.post("/1/counts/events.json", json=QUERY)).json()
    assert body["status"] == "success"
    assert body["count"] > 0


@pytest.mark.parametrize("n", [1, 2, 3])
async def test_n_partial_polls_mean_the_post_and_the_next_n_gets_answer_partial_then_success(
    make_world: Callable[..., CleverTapWorld], make_client: Callable[..., httpx2.AsyncClient], n: int
) -> None:
    async with make_client(make_world(count_partial_polls=n)) as http:
        first = (await http.post("/1/counts/events.json", json=QUERY)).json()
        polls = [(await http.get(f"/1/counts/events.json?req_id={first['req_id']}")).json() for _ in range(n + 2)]
    assert [first["status"], *(p["status"] for p in polls)] == ["partial", *["partial"] * n, "success", "success"]
    assert all(p["req_id"] == first["req_id"] for p in polls[:n])


async def test_a_req_id_expires_after_an_hour_of_world_time_and_then_answers_invalid_request_id(
    client: httpx2.AsyncClient, world: CleverTapWorld
) -> None:
    kept = (await client.post("/1/counts/events.json", json=QUERY)).json()["req_id"]
    lapsed = (await client.post("/1/counts/events.json", json=QUERY)).json()["req_id"]
    world.advance_clock(3600)
    still = (await client.get(f"/1/counts/events.json?req_id={kept}")).json()
    world.advance_clock(1)
    gone = (await client.get(f"/1/counts/events.json?req_id={lapsed}")).json()
    assert still == {"status": "partial", "req_id": kept}
    assert gone["status"] == "fail"
    assert gone["error"].startswith("Invalid request id")


async def test_the_req_id_lifetime_is_configurable(
    make_world: Callable[..., CleverTapWorld], make_client: Callable[..., httpx2.AsyncClient]
) -> None:
    world = make_world(count_request_ttl=60)
    async with make_client(world) as http:
        req_id = (await http.post("/1/counts/events.json", json=QUERY)).json()["req_id"]
        world.advance_clock(61)
        body = (await http.get(f"/1/counts/events.json?req_id={req_id}")).json()
    assert body["status"] == "fail"
    assert body["error"].startswith("Invalid request id")


def test_expired_req_ids_are_purged_when_another_count_starts() -> None:
    requests = CountRequests("acct", ttl=60)
    for _ in range(5):
        requests.start("events", {"status": "success", "count": 1}, 1, now=0)
    requests.start("events", {"status": "success", "count": 1}, 1, now=61)
    assert len(requests) == 1


def test_past_the_bound_the_oldest_req_id_is_dropped_first() -> None:
    requests = CountRequests("acct", ttl=3600, limit=3)
    ids = [requests.start("events", {"count": index}, 1, now=index)["req_id"] for index in range(4)]
    assert len(requests) == 3
    with pytest.raises(InvalidRequestId):
        requests.poll("events", str(ids[0]), now=5)
    assert requests.poll("events", str(ids[1]), now=5) == {"status": "partial", "req_id": ids[1]}


def test_a_busy_account_holds_at_most_the_bounded_number_of_req_ids() -> None:
    requests = CountRequests("acct", ttl=3600)
    for index in range(MAX_COUNT_REQUESTS + 50):
        requests.start("events", {"count": index}, 1, now=0)
    assert len(requests) == MAX_COUNT_REQUESTS


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
    # The message names the path to poll instead, so an agent can fix the call.
    assert body["error"].endswith(f"{req_id} was issued by /1/counts/events.json")


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
