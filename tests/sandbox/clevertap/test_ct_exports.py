"""Cursor exports of /1/events.json and /1/profiles.json (clevertap-api.md §8, §14 #20–#28)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, unquote

import httpx2
import pytest

from clevertap_mcp.sandbox.clevertap import CleverTapWorld
from clevertap_mcp.sandbox.clevertap.errors import CursorInvalidated
from clevertap_mcp.sandbox.clevertap.exports import MAX_EXPORTS, CursorPolicy, CursorStore
from clevertap_mcp.sandbox.clevertap.model import Account

pytestmark = pytest.mark.anyio

CHARGED = {"event_name": "Charged", "from": 20251206, "to": 20260105}
STILL_IN_PROGRESS = {"status": "fail", "error": "Request still in progress, please retry later", "code": 2}
INVALIDATED = {"status": "fail", "error": "CURSOR_INVALIDATED: invalid cursor", "code": 400}


async def open_cursor(client: httpx2.AsyncClient, path: str, query: dict[str, Any], params: str = "") -> str:
    body = (await client.post(f"{path}{params}", json=query)).json()
    assert body["status"] == "success", body
    return body["cursor"]


async def page(client: httpx2.AsyncClient, path: str, cursor: str) -> Any:
    # The cursor goes into the URL untouched, as CleverTap requires.
    response = await client.get(f"{path}?cursor={cursor}")
    assert response.status_code == 200
    return response.json()


async def walk(client: httpx2.AsyncClient, path: str, cursor: str) -> list[Any]:
    records: list[Any] = []
    while True:
        body = await page(client, path, cursor)
        assert body["status"] == "success"
        records.extend(body.get("records", []))
        if "next_cursor" not in body:
            return records
        cursor = body["next_cursor"]


def charged_events(account: Account) -> list[Any]:
    start = int(datetime(2025, 12, 6, tzinfo=UTC).timestamp())
    end = int(datetime(2026, 1, 6, tzinfo=UTC).timestamp())
    return [e for e in account.events if e.name == "Charged" and start <= e.ts < end]


async def test_walking_an_event_export_returns_every_matching_event_once(
    client: httpx2.AsyncClient, account: Account
) -> None:
    cursor = await open_cursor(client, "/1/events.json", CHARGED, "?batch_size=7")
    records = await walk(client, "/1/events.json", cursor)
    expected = sorted(charged_events(account), key=lambda e: e.ts)
    assert len(records) == len(expected) > 7
    assert [r["profile"]["objectId"] for r in records] == [e.object_id for e in expected]
    assert [r["event_props"]["Amount"] for r in records] == [e.props["Amount"] for e in expected]


async def test_event_records_carry_ts_as_yyyymmddhhmmss_in_utc(client: httpx2.AsyncClient, account: Account) -> None:
    mine = next(e for e in charged_events(account))
    query = {**CHARGED, "event_properties": [{"name": "Amount", "operator": "equals", "value": mine.props["Amount"]}]}
    cursor = await open_cursor(client, "/1/events.json", query)
    record = (await page(client, "/1/events.json", cursor))["records"][0]
    assert record["ts"] == int(datetime.fromtimestamp(mine.ts, UTC).strftime("%Y%m%d%H%M%S"))
    assert set(record) == {"profile", "ts", "event_props", "session_props"}
    assert set(record["profile"]) >= {"objectId", "identity", "email", "platform", "profileData", "id"}


async def test_the_last_page_has_no_next_cursor_and_others_do(client: httpx2.AsyncClient) -> None:
    cursor = await open_cursor(client, "/1/events.json", CHARGED, "?batch_size=5000")
    only = await page(client, "/1/events.json", cursor)
    assert "next_cursor" not in only
    cursor = await open_cursor(client, "/1/events.json", CHARGED, "?batch_size=1")
    first = await page(client, "/1/events.json", cursor)
    assert first["next_cursor"]
    assert len(first["records"]) == 1


async def test_cursors_come_percent_encoded_and_are_accepted_untouched_or_decoded(client: httpx2.AsyncClient) -> None:
    cursor = await open_cursor(client, "/1/events.json", CHARGED, "?batch_size=1")
    assert "%3D%3D" in cursor
    assert unquote(cursor) != cursor
    encoded = await page(client, "/1/events.json", cursor)
    decoded = await page(client, "/1/events.json", unquote(cursor))
    assert encoded == decoded
    assert encoded["previous_cursor"] == unquote(cursor)


async def test_a_double_encoded_cursor_gets_incorrect_usage(client: httpx2.AsyncClient) -> None:
    cursor = await open_cursor(client, "/1/events.json", CHARGED)
    body = await page(client, "/1/events.json", quote(cursor, safe=""))
    assert body["status"] == "fail"
    assert "Incorrect Usage" in body["error"]


async def test_an_unknown_cursor_is_invalidated(client: httpx2.AsyncClient) -> None:
    assert await page(client, "/1/events.json", "bm90LWEtY3Vyc29y%3D%3D") == INVALIDATED


async def test_a_cursor_from_another_export_kind_is_invalidated(client: httpx2.AsyncClient) -> None:
    cursor = await open_cursor(client, "/1/profiles.json", CHARGED)
    assert await page(client, "/1/events.json", cursor) == INVALIDATED


async def test_a_cursor_used_on_another_account_or_region_fails(
    world: CleverTapWorld, client: httpx2.AsyncClient, make_client: Callable[..., httpx2.AsyncClient]
) -> None:
    # §14 #24: a second account, in another region, cannot read the demo account's export.
    world.add_account(Account(account_id="OTHER-ACC-0001", passcode="other-passcode", region="us1"))
    other = {"X-CleverTap-Account-Id": "OTHER-ACC-0001", "X-CleverTap-Passcode": "other-passcode"}
    cursor = await open_cursor(client, "/1/events.json", CHARGED)
    async with make_client(world, region="us1", headers=other) as stranger:
        assert await page(stranger, "/1/events.json", cursor) == INVALIDATED
    async with make_client(world, region="us1") as wrong_host:
        answer = await wrong_host.get(f"/1/events.json?cursor={cursor}")
    assert (answer.status_code, answer.json()["error"]) == (401, "Invalid Credentials")
    assert (await page(client, "/1/events.json", cursor))["status"] == "success"


async def test_an_empty_range_still_gets_a_cursor_whose_page_has_no_records_or_next(client: httpx2.AsyncClient) -> None:
    query = {"event_name": "Charged", "from": 20200101, "to": 20200131}
    cursor = await open_cursor(client, "/1/events.json", query)
    body = await page(client, "/1/events.json", cursor)
    assert body["status"] == "success"
    assert "records" not in body
    assert "next_cursor" not in body


async def test_a_first_page_can_be_still_in_progress_and_the_same_cursor_then_succeeds(
    make_world: Callable[..., CleverTapWorld], make_client: Callable[..., httpx2.AsyncClient]
) -> None:
    async with make_client(make_world(cursor_pending_polls=2)) as http:
        cursor = await open_cursor(http, "/1/events.json", CHARGED, "?batch_size=3")
        first = await page(http, "/1/events.json", cursor)
        second = await page(http, "/1/events.json", cursor)
        third = await page(http, "/1/events.json", cursor)
    assert first == second == STILL_IN_PROGRESS
    assert third["status"] == "success"
    assert len(third["records"]) == 3


async def test_event_cursors_expire_after_an_idle_hour(client: httpx2.AsyncClient, world: CleverTapWorld) -> None:
    cursor = await open_cursor(client, "/1/events.json", CHARGED, "?batch_size=1")
    world.advance_clock(3000)
    assert (await page(client, "/1/events.json", cursor))["status"] == "success"
    world.advance_clock(3601)
    assert await page(client, "/1/events.json", cursor) == INVALIDATED


async def test_event_cursors_expire_four_hours_after_creation_even_when_busy(
    client: httpx2.AsyncClient, world: CleverTapWorld
) -> None:
    cursor = await open_cursor(client, "/1/events.json", CHARGED, "?batch_size=1")
    for _ in range(4):
        world.advance_clock(3500)
        body = await page(client, "/1/events.json", cursor)
        assert body["status"] == "success"
        cursor = body["next_cursor"]
    world.advance_clock(500)
    assert await page(client, "/1/events.json", cursor) == INVALIDATED


async def test_profile_cursors_live_four_days(client: httpx2.AsyncClient, world: CleverTapWorld) -> None:
    cursor = await open_cursor(client, "/1/profiles.json", CHARGED)
    world.advance_clock(3 * 86400)
    assert (await page(client, "/1/profiles.json", cursor))["status"] == "success"
    world.advance_clock(86401)
    assert await page(client, "/1/profiles.json", cursor) == INVALIDATED


POLICY = CursorPolicy(ttl=100, idle_ttl=None)


def test_expired_exports_are_purged_when_another_export_opens() -> None:
    store = CursorStore("acct")
    for _ in range(5):
        store.open("events", [{"n": 1}], batch_size=1, policy=POLICY, now=0, pending_polls=0)
    store.open("events", [{"n": 2}], batch_size=1, policy=POLICY, now=101, pending_polls=0)
    assert (store.export_count, store.cursor_count) == (1, 1)


def test_expired_exports_are_purged_when_any_page_is_fetched() -> None:
    store = CursorStore("acct")
    store.open("events", [{"n": 1}, {"n": 2}], batch_size=1, policy=POLICY, now=0, pending_polls=0)
    live = unquote(store.open("events", [{"n": 3}], batch_size=1, policy=POLICY, now=50, pending_polls=0))
    assert store.page("events", live, now=120)["records"] == [{"n": 3}]
    assert (store.export_count, store.cursor_count) == (1, 1)


def test_past_the_bound_the_least_recently_used_export_is_dropped() -> None:
    store = CursorStore("acct", limit=2)
    first = unquote(store.open("events", [{"n": 1}], batch_size=1, policy=POLICY, now=0, pending_polls=0))
    second = unquote(store.open("events", [{"n": 2}], batch_size=1, policy=POLICY, now=1, pending_polls=0))
    store.page("events", first, now=2)  # first is now the most recently used
    store.open("events", [{"n": 3}], batch_size=1, policy=POLICY, now=3, pending_polls=0)
    assert store.export_count == 2
    assert store.page("events", first, now=4)["records"] == [{"n": 1}]
    with pytest.raises(CursorInvalidated):
        store.page("events", second, now=4)


async def test_any_request_of_the_account_frees_its_expired_exports_and_count_requests(
    client: httpx2.AsyncClient, world: CleverTapWorld, account: Account
) -> None:
    for _ in range(3):
        await open_cursor(client, "/1/events.json", CHARGED)
        await open_cursor(client, "/1/profiles.json", CHARGED)
        await client.post("/1/counts/events.json", json=CHARGED)
    assert world.held(account) == {"exports": 6, "cursors": 6, "count_requests": 3}
    world.advance_clock(5 * 86400)
    await client.post("/1/now.json", json={})
    assert world.held(account) == {"exports": 0, "cursors": 0, "count_requests": 0}


async def test_an_export_pushed_out_by_the_bounded_number_of_newer_ones_answers_cursor_invalidated(
    client: httpx2.AsyncClient,
) -> None:
    oldest = await open_cursor(client, "/1/events.json", CHARGED, "?batch_size=1")
    newest = ""
    for _ in range(MAX_EXPORTS):
        newest = await open_cursor(client, "/1/events.json", CHARGED, "?batch_size=1")
    assert await page(client, "/1/events.json", oldest) == INVALIDATED
    assert (await page(client, "/1/events.json", newest))["status"] == "success"


async def test_a_profile_export_lists_each_profile_that_did_the_event_once(
    client: httpx2.AsyncClient, account: Account
) -> None:
    cursor = await open_cursor(client, "/1/profiles.json", CHARGED, "?batch_size=23")
    records = await walk(client, "/1/profiles.json", cursor)
    expected = {account.profiles[e.object_id].identity or "" for e in charged_events(account)}
    assert sorted(r["identity"] for r in records) == sorted(expected)
    sample = records[0]
    assert set(sample) == {"identity", "email", "name", "phone", "profileData", "events", "platformInfo"}
    assert sample["events"]["Charged"]["count"] >= 1


async def test_profile_export_switches_drop_event_summaries_and_custom_properties(client: httpx2.AsyncClient) -> None:
    cursor = await open_cursor(client, "/1/profiles.json", CHARGED, "?events=false&profile=false&app=true")
    record = (await page(client, "/1/profiles.json", cursor))["records"][0]
    assert "events" not in record
    assert "City" not in record["profileData"]
    assert "Gender" in record["profileData"]


async def test_app_true_adds_device_details_to_event_records(client: httpx2.AsyncClient, account: Account) -> None:
    cursor = await open_cursor(client, "/1/events.json", CHARGED, "?app=true&batch_size=5000")
    records = (await page(client, "/1/events.json", cursor))["records"]
    app_users = [r for r in records if account.profiles[r["profile"]["objectId"]].platform != "Web"]
    assert app_users
    assert all({"os_version", "app_version", "make", "model"} <= set(r["profile"]) for r in app_users)


@pytest.mark.parametrize("size", ["0", "5001", "ten"])
async def test_a_batch_size_outside_1_to_5000_fails_naming_batch_size(client: httpx2.AsyncClient, size: str) -> None:
    body = (await client.post(f"/1/events.json?batch_size={size}", json=CHARGED)).json()
    assert body["status"] == "fail"
    assert "batch_size" in body["error"]


@pytest.mark.parametrize(
    "dates",
    [
        {"from": 20260105, "to": 20260101},
        {"from": 20260231, "to": 20260301},
        {"from": 20260101, "to": 20260110},
        {"from": "20260101", "to": 20260105},
        {"from": 2026010, "to": 20260105},
        {"to": 20260105},
    ],
    ids=["from-after-to", "impossible-date", "future", "string", "seven-digits", "missing"],
)
@pytest.mark.parametrize("path", ["/1/events.json", "/1/profiles.json"])
async def test_bad_dates_fail_with_code_4002(client: httpx2.AsyncClient, path: str, dates: dict[str, Any]) -> None:
    response = await client.post(path, json={"event_name": "Charged", **dates})
    body = response.json()
    assert response.status_code == 200
    assert (body["status"], body["code"]) == ("fail", 4002)
    assert body["error"].startswith("Dates must be real")


@pytest.mark.parametrize("name", ["charged", "Purchase"])
async def test_an_unknown_or_miscased_event_name_fails_as_invalid_event(client: httpx2.AsyncClient, name: str) -> None:
    body = (await client.post("/1/events.json", json={**CHARGED, "event_name": name})).json()
    assert body == {"status": "fail", "error": f'["Invalid event : {name}"]', "code": 400}


async def test_event_property_filters_narrow_the_export(client: httpx2.AsyncClient, account: Account) -> None:
    query = {**CHARGED, "event_properties": [{"name": "Amount", "operator": "greater_than", "value": 200}]}
    cursor = await open_cursor(client, "/1/events.json", query, "?batch_size=5000")
    records = await walk(client, "/1/events.json", cursor)
    expected = [e for e in charged_events(account) if e.props["Amount"] > 200]
    assert 0 < len(records) == len(expected) < len(charged_events(account))


async def test_a_missing_event_name_fails(client: httpx2.AsyncClient) -> None:
    body = (await client.post("/1/events.json", json={"from": 20260101, "to": 20260105})).json()
    assert body["status"] == "fail"
    assert "event_name" in body["error"]
