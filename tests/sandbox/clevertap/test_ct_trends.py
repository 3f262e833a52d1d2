"""Trends and top counts, polled like the counts (clevertap-api.md §13, §14 #32), on a small hand-made account."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any

import httpx2
import pytest

from clevertap_mcp.sandbox.clevertap import CleverTapWorld
from clevertap_mcp.sandbox.clevertap.model import Account, Event, Profile
from clevertap_mcp.sandbox.settings import DEMO_CLEVERTAP_ACCOUNT_ID, DEMO_CLEVERTAP_PASSCODE, SandboxSettings

from helpers import posted

pytestmark = pytest.mark.anyio

NOW = 1767607200.0  # 2026-01-05 10:00 UTC, a Monday
WEEK = {"event_name": "Charged", "from": 20251230, "to": 20260105}
FAIL_INVALID_GROUP = "Invalid group"


def at(day: str) -> int:
    return int(datetime.strptime(day + " 12:00", "%Y%m%d %H:%M").replace(tzinfo=UTC).timestamp())


def charged(object_id: str, day: str, amount: float, mode: str) -> Event:
    return Event(object_id, "Charged", at(day), {"Amount": amount, "Payment Mode": mode}, {"utm_source": "google"})


def small_account() -> Account:
    account = Account(DEMO_CLEVERTAP_ACCOUNT_ID, DEMO_CLEVERTAP_PASSCODE, "eu1")
    for seq, (object_id, city) in enumerate((("__g1", "London"), ("__g2", "Paris"), ("__g3", "London")), start=1):
        account.add_profile(Profile(object_id, f"u-{seq}", seq, {"City": city}))
    account.events = [
        charged("__g3", "20251230", 250.5, "COD"),  # ISO week 1 of 2026, month 2025-12
        charged("__g1", "20260101", 50, "Card"),
        charged("__g1", "20260103", 120, "Card"),
        charged("__g1", "20260103", 10, "Card"),
        charged("__g2", "20260103", 30, "PayPal"),
        charged("__g2", "20251201", 99, "Card"),  # outside the range
    ]
    account.event_names.add("Charged")
    return account


@pytest.fixture
async def http(make_client: Callable[..., httpx2.AsyncClient]) -> AsyncIterator[httpx2.AsyncClient]:
    world = CleverTapWorld(SandboxSettings(clock=NOW, count_partial_polls=0), [small_account()])
    async with make_client(world) as client:
        yield client


async def test_trends_count_events_per_day_week_and_month_with_every_bucket_present(
    http: httpx2.AsyncClient,
) -> None:
    groups = {"d": {"trend_type": "daily"}, "w": {"trend_type": "weekly"}, "m": {"trend_type": "monthly"}}
    assert await posted(http, "/1/counts/trends.json", {**WEEK, "groups": groups}) == {
        "status": "success",
        "d": {
            "20251230": 1,
            "20251231": 0,
            "20260101": 1,
            "20260102": 0,
            "20260103": 3,
            "20260104": 0,
            "20260105": 0,
        },
        "w": {"202601": 5, "202602": 0},
        "m": {"202512": 1, "202601": 4},
    }


async def test_unique_trends_count_each_profile_once_per_bucket(http: httpx2.AsyncClient) -> None:
    body = {**WEEK, "unique": True, "groups": {"w": {"trend_type": "weekly"}, "d": {"trend_type": "daily"}}}
    answer = await posted(http, "/1/counts/trends.json", body)
    assert answer["w"] == {"202601": 3, "202602": 0}
    assert answer["d"]["20260103"] == 2


async def test_sum_event_prop_trends_add_up_the_property(http: httpx2.AsyncClient) -> None:
    body = {**WEEK, "sum_event_prop": "Amount", "groups": {"m": {"trend_type": "monthly"}}}
    assert await posted(http, "/1/counts/trends.json", body) == {
        "status": "success",
        "m": {"202512": 250.5, "202601": 210},
    }


async def test_trends_refuse_more_than_five_groups_a_range_over_a_year_and_a_bad_trend_type(
    http: httpx2.AsyncClient,
) -> None:
    six = {f"g{i}": {"trend_type": "daily"} for i in range(6)}
    too_many = await posted(http, "/1/counts/trends.json", {**WEEK, "groups": six})
    too_long = await posted(
        http, "/1/counts/trends.json", {**WEEK, "from": 20250101, "groups": {"d": {"trend_type": "daily"}}}
    )
    hourly = await posted(http, "/1/counts/trends.json", {**WEEK, "groups": {"h": {"trend_type": "hourly"}}})
    assert too_many["status"] == too_long["status"] == hourly["status"] == "fail"
    assert "At most 5 groups" in too_many["error"]
    assert "at most 1 year" in too_long["error"]
    assert hourly["error"].startswith(FAIL_INVALID_GROUP)


async def test_trends_refuse_an_unknown_event_and_missing_groups(http: httpx2.AsyncClient) -> None:
    daily = {"d": {"trend_type": "daily"}}
    unknown = await posted(http, "/1/counts/trends.json", {**WEEK, "event_name": "charged", "groups": daily})
    no_groups = await posted(http, "/1/counts/trends.json", WEEK)
    assert unknown == {"status": "fail", "error": '["Invalid event : charged"]', "code": 400}
    assert no_groups["status"] == "fail"
    assert "groups" in no_groups["error"]


async def test_top_counts_string_values_most_frequent_first(http: httpx2.AsyncClient) -> None:
    groups = {"modes": {"property_type": "event_properties", "name": "Payment Mode"}}
    assert await posted(http, "/1/counts/top.json", {**WEEK, "groups": groups}) == {
        "status": "success",
        "modes": {"STR": {"Card": 3, "COD": 1, "PayPal": 1}},
    }


async def test_top_honours_top_n_and_ascending_order(http: httpx2.AsyncClient) -> None:
    groups = {
        "two": {"property_type": "event_properties", "name": "Payment Mode", "top_n": 2},
        "asc": {"property_type": "event_properties", "name": "Payment Mode", "order": "asc"},
    }
    answer = await posted(http, "/1/counts/top.json", {**WEEK, "groups": groups})
    assert answer["two"] == {"STR": {"Card": 3, "COD": 1}}
    assert list(answer["asc"]["STR"].items()) == [("COD", 1), ("PayPal", 1), ("Card", 3)]


async def test_top_groups_numbers_into_ranges(http: httpx2.AsyncClient) -> None:
    groups = {"amount": {"property_type": "event_properties", "name": "Amount"}}
    assert await posted(http, "/1/counts/top.json", {**WEEK, "groups": groups}) == {
        "status": "success",
        "amount": {"NUMBER": {"0-50": 2, "100-150": 1, "250-300": 1, "50-100": 1}},
    }


async def test_top_on_a_profile_field_counts_each_profile_once(http: httpx2.AsyncClient) -> None:
    groups = {"city": {"property_type": "profile_fields", "name": "City"}}
    answer = await posted(http, "/1/counts/top.json", {**WEEK, "groups": groups})
    assert answer["city"] == {"STR": {"London": 2, "Paris": 1}}


async def test_top_on_a_session_field(http: httpx2.AsyncClient) -> None:
    groups = {"source": {"property_type": "session_fields", "name": "utm_source"}}
    answer = await posted(http, "/1/counts/top.json", {**WEEK, "groups": groups})
    assert answer["source"] == {"STR": {"google": 5}}


@pytest.mark.parametrize(
    "group",
    [
        {"property_type": "event_properties", "name": "Colour"},
        {"property_type": "profile_fields", "name": "Shoe Size"},
        {"property_type": "device_fields", "name": "Amount"},
        {"property_type": "event_properties", "name": "Amount", "top_n": 0},
        {"property_type": "event_properties", "name": "Amount", "order": "sideways"},
    ],
    ids=["unknown-event-property", "unknown-profile-field", "unknown-property-type", "zero-top-n", "bad-order"],
)
async def test_top_on_a_property_that_does_not_exist_or_a_bad_group_fails_as_invalid_group(
    http: httpx2.AsyncClient, group: dict[str, Any]
) -> None:
    answer = await posted(http, "/1/counts/top.json", {**WEEK, "groups": {"g": group}})
    assert answer["status"] == "fail"
    assert answer["error"].startswith(FAIL_INVALID_GROUP)


async def test_trends_and_top_poll_their_req_id_on_their_own_path(
    make_world: Callable[..., CleverTapWorld], make_client: Callable[..., httpx2.AsyncClient]
) -> None:
    body = {"event_name": "Charged", "from": 20251220, "to": 20260105, "groups": {"d": {"trend_type": "weekly"}}}
    async with make_client(make_world()) as client:
        first = await posted(client, "/1/counts/trends.json", body)
        wrong_path = (await client.get("/1/counts/top.json", params={"req_id": first["req_id"]})).json()
        polls = [(await client.get("/1/counts/trends.json", params={"req_id": first["req_id"]})).json()]
        polls.append((await client.get("/1/counts/trends.json", params={"req_id": str(first["req_id"])})).json())
    assert first["status"] == "partial"
    assert wrong_path["status"] == "fail"
    assert wrong_path["error"].startswith("Invalid request id")
    assert polls[0] == {"status": "partial", "req_id": first["req_id"]}
    assert polls[1]["status"] == "success"
    assert set(polls[1]["d"]) == {"202551", "202552", "202601", "202602"}
    assert sum(polls[1]["d"].values()) > 0
