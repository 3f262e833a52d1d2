"""Every CleverTap action through run_action, via an MCP client, against the seeded sandbox on loopback.

Expected values come from the seeded world itself (the sandbox's live CleverTap account, read before the call) or
from the seed plan (campaign names and states), so each assertion checks what an agent would actually be told.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import httpx2
import pytest
from mcp import Client

from clevertap_mcp.sandbox.app import parts_of
from clevertap_mcp.sandbox.clevertap.model import Account
from clevertap_mcp.sandbox.server import SandboxServer
from clevertap_mcp.sandbox.settings import DEMO_CLEVERTAP_ACCOUNT_ID, DEMO_CLEVERTAP_REGION, SandboxSettings

from helpers import call, control, demo_token, error_text, mcp_client, ok

pytestmark = pytest.mark.anyio

NOW = 1767607200  # 2026-01-05 10:00:00 UTC, the pinned clock
LAST_30_DAYS = {"from": 20251206, "to": 20260105}
RANGE_START, RANGE_END = 1764979200, 1767657600  # 2025-12-06 00:00 .. 2026-01-06 00:00 UTC
CHARGED = {"event_name": "Charged", **LAST_30_DAYS}
PUSH = {"name": "Promo", "target_mode": "push", "content": {"title": "Hi", "body": "Sale"}, "when": "now"}
# The API-created campaigns of the seed plan, in scheduled order (the dashboard one is never listed).
SEEDED_CAMPAIGNS = [
    ("Welcome Series", "completed"),
    ("Weekend Sale", "completed"),
    ("Flash Deal", "stopped"),
    ("Cart Reminder", "running"),
    ("Spring Launch", "scheduled"),
]
ALL_CAMPAIGN_DATES = {"from": 20251201, "to": 20260131}

# Per action, an input its schema refuses, and the field the error must name.
BAD_INPUT: dict[str, tuple[dict[str, Any], str]] = {
    "real-time-user-count": ({"os": "yes"}, "input.os"),
    "get-campaign-report": ({"id": -1}, "input.id"),
    "upload-device-tokens": (
        {"tokens": [{"objectId": "__g1", "tokenData": {"id": "t", "type": "pager"}}]},
        "input.tokens[0].tokenData.type",
    ),
    "get-campaigns": ({"from": "2026-01-01", "to": 20260105}, "input.from"),
    "stop-campaign": ({}, "'id' is a required property"),
    "create-campaign": ({**PUSH, "where": CHARGED, "segment": 1}, "must not combine 'where', 'segment'"),
    "get-profile-count": ({"event_name": "Charged", "from": 1767600000, "to": 20260105}, "input.from"),
    "get-event-count": ({"from": 20260101, "to": 20260105}, "'event_name' is a required property"),
    "delete-user-profile": ({}, "needs one of 'identity', 'guid'"),
    "get-events-by-cursor": ({"cursor": "abc&batch_size=1"}, "input.cursor"),
    "get-events": ({**CHARGED, "batch_size": 5001}, "input.batch_size"),
    "get-user-profiles-by-cursor": ({}, "'cursor' is a required property"),
    "get-user-profiles": ({**CHARGED, "to": 202601}, "input.to"),
    "upload-events": (
        {"events": [{"identity": "u-1", "evtName": "Searched", "evtData": {}, "ts": 1767600000000}]},
        "input.events[0].ts",
    ),
    "upload-user-profiles": ({"profiles": [{"profileData": {"Name": "A"}}]}, "needs one of 'identity', 'objectId'"),
}


@pytest.fixture
def world_sandbox(sandbox_factory: Callable[..., SandboxServer]) -> Callable[..., SandboxServer]:
    """Sandboxes on the pinned clock; their READY connection is made by `client`."""

    def make(**overrides: Any) -> SandboxServer:
        return sandbox_factory(clock=NOW, **overrides)

    return make


@pytest.fixture
def sandbox(world_sandbox: Callable[..., SandboxServer]) -> SandboxServer:
    return world_sandbox()


@pytest.fixture
async def client(sandbox: SandboxServer) -> AsyncIterator[Client]:
    await control(sandbox, "POST", "/connections", {})
    async with mcp_client(sandbox.base_url, demo_token()) as connected:
        yield connected


def account_of(sandbox: SandboxServer) -> Account:
    assert sandbox.app is not None
    found = parts_of(sandbox.app).clevertap.world.account(DEMO_CLEVERTAP_REGION, DEMO_CLEVERTAP_ACCOUNT_ID)
    assert found is not None
    return found


async def run(client: Client, key: str, input: dict[str, Any]) -> dict[str, Any]:
    """The action's whole output (fails the test with the error text otherwise, or if the output was cut)."""
    result = ok(await call(client, "run_action", {"action_id": key, "input": input}))
    assert "truncated" not in result, result["truncated"]
    return result["output"]


async def run_error(client: Client, key: str, input: dict[str, Any]) -> str:
    return error_text(await call(client, "run_action", {"action_id": key, "input": input}))


async def clevertap_requests(sandbox: SandboxServer) -> list[dict[str, Any]]:
    log = await control(sandbox, "GET", "/requests")
    return [entry for entry in log["items"] if entry["path"].startswith("/clevertap/")]


def charged_in_range(account: Account) -> list[Any]:
    return [e for e in account.events if e.name == "Charged" and RANGE_START <= e.ts < RANGE_END]


# Reads ----------------------------------------------------------------------------------------------------------


async def test_real_time_user_count_counts_the_users_active_in_the_last_five_minutes(
    sandbox: SandboxServer, client: Client
) -> None:
    active = {e.object_id for e in account_of(sandbox).events if NOW - 300 <= e.ts <= NOW}
    output = await run(client, "real-time-user-count", {"device": True})
    assert output["count"] == len(active) > 0
    assert sum(output["device"].values()) == output["count"]


async def test_get_event_count_counts_the_charged_events_of_the_last_thirty_days(
    sandbox: SandboxServer, client: Client
) -> None:
    expected = len(charged_in_range(account_of(sandbox)))
    assert await run(client, "get-event-count", CHARGED) == {"count": expected}
    assert expected > 0


async def test_get_event_count_applies_event_property_filters(sandbox: SandboxServer, client: Client) -> None:
    expected = len([e for e in charged_in_range(account_of(sandbox)) if e.props["Payment Mode"] == "PayPal"])
    where = [{"name": "Payment Mode", "operator": "equals", "value": "PayPal"}]
    assert await run(client, "get-event-count", {**CHARGED, "event_properties": where}) == {"count": expected}


async def test_get_profile_count_counts_each_buyer_once(sandbox: SandboxServer, client: Client) -> None:
    buyers = {e.object_id for e in charged_in_range(account_of(sandbox))}
    assert await run(client, "get-profile-count", CHARGED) == {"count": len(buyers)}
    assert len(buyers) < len(charged_in_range(account_of(sandbox)))  # some bought twice: unique is not total


async def test_a_count_still_running_after_the_poll_bound_fails_with_the_req_id_to_collect_it_by(
    world_sandbox: Callable[..., SandboxServer],
) -> None:
    sandbox = world_sandbox(count_partial_polls=18)
    await control(sandbox, "POST", "/connections", {})
    expected = len(charged_in_range(account_of(sandbox)))
    async with mcp_client(sandbox.base_url, demo_token()) as client:
        text = await run_error(client, "get-event-count", CHARGED)
        assert "still counting after 15 polls" in text and "actionRunId" in text
        poll_path = text.split("proxy_request GET ")[1].split(" until")[0]
        assert poll_path.startswith("/1/counts/events.json?req_id=")
        answers = [ok(await call(client, "proxy_request", {"path": poll_path}))["body"] for _ in range(4)]
    assert [a["status"] for a in answers] == ["partial", "partial", "partial", "success"]
    assert answers[-1]["count"] == expected


async def test_get_events_returns_the_first_page_and_the_cursor_walks_the_rest(
    sandbox: SandboxServer, client: Client
) -> None:
    expected = sorted(e.ts for e in charged_in_range(account_of(sandbox)))
    first = await run(client, "get-events", {**CHARGED, "batch_size": 25})
    records, cursor = list(first["records"]), first["next_cursor"]
    assert len(records) == 25 and cursor
    while cursor is not None:
        page = await run(client, "get-events-by-cursor", {"cursor": cursor})
        records.extend(page["records"])
        cursor = page["next_cursor"]
    assert len(records) == len(expected)
    assert all(r["event_props"]["Amount"] > 0 and len(str(r["ts"])) == 14 for r in records)


async def test_get_user_profiles_returns_the_buyers_across_pages(sandbox: SandboxServer, client: Client) -> None:
    account = account_of(sandbox)
    buyers = {account.profiles[e.object_id].identity for e in charged_in_range(account)}
    first = await run(client, "get-user-profiles", {**CHARGED, "batch_size": 23})
    records, cursor = list(first["records"]), first["next_cursor"]
    while cursor is not None:
        page = await run(client, "get-user-profiles-by-cursor", {"cursor": cursor})
        records.extend(page["records"])
        cursor = page["next_cursor"]
    assert {r["identity"] for r in records} == buyers
    assert len(records) == len(buyers) > 23


async def test_an_export_of_an_empty_range_is_one_empty_last_page(client: Client) -> None:
    empty = {"event_name": "Charged", "from": 20200101, "to": 20200102}
    assert await run(client, "get-events", empty) == {"records": [], "next_cursor": None}


async def test_a_cursor_clevertap_never_issued_fails_with_clevertaps_message(client: Client) -> None:
    text = await run_error(client, "get-events-by-cursor", {"cursor": "bm9wZQ%3D%3D"})
    assert "CURSOR_INVALIDATED: invalid cursor" in text


async def test_an_unknown_event_name_fails_with_clevertaps_invalid_event(client: Client) -> None:
    assert "Invalid event : Refunded" in await run_error(
        client, "get-event-count", {**CHARGED, "event_name": "Refunded"}
    )


async def test_get_campaigns_lists_the_api_created_campaigns_of_the_seed(client: Client) -> None:
    output = await run(client, "get-campaigns", ALL_CAMPAIGN_DATES)
    assert [(t["name"], t["status"]) for t in output["targets"]] == SEEDED_CAMPAIGNS


async def test_get_campaign_report_returns_a_finished_campaigns_stats(sandbox: SandboxServer, client: Client) -> None:
    campaigns = {c.name: c for c in account_of(sandbox).campaigns.values()}
    welcome = campaigns["Welcome Series"]
    output = await run(client, "get-campaign-report", {"id": welcome.id})
    assert output == {"result": welcome.result}
    assert output["result"]["sent"] >= output["result"]["clicked"] > 0
    text = await run_error(client, "get-campaign-report", {"id": campaigns["Cart Reminder"].id})
    assert "This target hasn't been completed" in text


# Writes ---------------------------------------------------------------------------------------------------------


async def test_upload_events_reports_processed_and_unprocessed_records_and_stores_the_good_one(
    sandbox: SandboxServer, client: Client
) -> None:
    searched_today = {"event_name": "Searched", "from": 20260105, "to": 20260105}
    before = (await run(client, "get-event-count", searched_today))["count"]
    events: list[dict[str, Any]] = [
        {"identity": "u-1001", "evtName": "Searched", "evtData": {"Query": "boots"}, "ts": NOW - 60},
        {"identity": "u-1001", "evtName": "App Launched", "evtData": {}, "ts": NOW - 60},
    ]
    output = await run(client, "upload-events", {"events": events})
    assert (output["status"], output["processed"]) == ("partial", 1)
    [refused] = output["unprocessed"]
    assert refused["code"] == 513 and "Skipped record number : 2" in refused["error"]
    assert (await run(client, "get-event-count", searched_today))["count"] == before + 1


async def test_an_upload_where_every_record_fails_is_an_error_naming_the_reason(client: Client) -> None:
    text = await run_error(
        client, "upload-events", {"events": [{"identity": "u-1", "evtName": "App Launched", "evtData": {}}]}
    )
    assert "processed none of the 1 records" in text and "restricted system event" in text


async def test_a_dry_run_upload_validates_and_stores_nothing(sandbox: SandboxServer, client: Client) -> None:
    output = await run(
        client, "upload-user-profiles", {"profiles": [{"identity": "u-9000", "profileData": {}}], "dryRun": True}
    )
    assert output == {"status": "success", "processed": 1, "unprocessed": []}
    assert account_of(sandbox).find(identity="u-9000") is None


async def test_upload_user_profiles_updates_a_profile_and_reports_a_bad_standard_field(
    sandbox: SandboxServer, client: Client
) -> None:
    profiles = [
        {"identity": "u-1002", "profileData": {"Customer Type": "Gold", "Email": "new.1002@example.com"}},
        {"identity": "u-1003", "profileData": {"Gender": "robot"}},
    ]
    output = await run(client, "upload-user-profiles", {"profiles": profiles})
    assert (output["status"], output["processed"], output["unprocessed"][0]["code"]) == ("partial", 1, 514)
    updated = account_of(sandbox).find(identity="u-1002")
    assert updated is not None and updated.data["Email"] == "new.1002@example.com"


async def test_upload_device_tokens_adds_the_token_to_an_android_profile(
    sandbox: SandboxServer, client: Client
) -> None:
    profile = next(p for p in account_of(sandbox).profiles.values() if p.platform == "Android" and not p.tokens)
    tokens = [{"objectId": profile.object_id, "tokenData": {"id": "fcm-token-for-test", "type": "fcm"}}]
    output = await run(client, "upload-device-tokens", {"tokens": tokens})
    assert output == {"status": "success", "processed": 1, "unprocessed": []}
    assert "fcm-token-for-test" in [t.id for t in profile.tokens]


@pytest.fixture
def declaring_sandbox(world_sandbox: Callable[..., SandboxServer]) -> SandboxServer:
    """create-campaign declares estimate_only (§11 R1's other reading; test_real_membrane.py covers both)."""
    return world_sandbox(create_campaign_estimate_only="declared")


async def test_create_campaign_previews_the_reach_then_creates_a_listed_campaign(
    declaring_sandbox: SandboxServer,
) -> None:
    sandbox = declaring_sandbox
    await control(sandbox, "POST", "/connections", {})
    async with mcp_client(sandbox.base_url, demo_token()) as client:
        await _preview_then_create(sandbox, client)


async def _preview_then_create(sandbox: SandboxServer, client: Client) -> None:
    account = account_of(sandbox)
    android = sum(1 for p in account.profiles.values() if any(t.type in ("fcm", "gcm") for t in p.tokens))
    ios = sum(1 for p in account.profiles.values() if any(t.type == "apns" for t in p.tokens))
    preview = await run(client, "create-campaign", {**PUSH, "estimate_only": True})
    assert preview == {"created": False, "estimates": {"android": android, "ios": ios, "windows": 0}}
    assert len((await run(client, "get-campaigns", ALL_CAMPAIGN_DATES))["targets"]) == len(SEEDED_CAMPAIGNS)
    created = await run(client, "create-campaign", PUSH)
    assert created["created"] is True and created["estimates"] == preview["estimates"]
    listed = (await run(client, "get-campaigns", ALL_CAMPAIGN_DATES))["targets"]
    assert [(t["name"], t["status"]) for t in listed if t["id"] == created["id"]] == [("Promo", "running")]


async def test_create_campaign_with_incomplete_content_fails_with_clevertaps_reason(client: Client) -> None:
    text = await run_error(client, "create-campaign", {**PUSH, "content": {"title": "Hi"}})
    assert "content for push needs body" in text


async def test_stop_campaign_stops_a_running_campaign_and_says_what_happened(
    sandbox: SandboxServer, client: Client
) -> None:
    running = next(c for c in account_of(sandbox).campaigns.values() if c.name == "Cart Reminder")
    output = await run(client, "stop-campaign", {"id": running.id})
    assert (output["status"], output["id"]) == ("success", running.id)
    assert f"stop of campaign {running.id}" in output["message"]
    listed = (await run(client, "get-campaigns", ALL_CAMPAIGN_DATES))["targets"]
    assert next(t["status"] for t in listed if t["id"] == running.id) == "stopped"


async def test_stopping_an_unknown_campaign_fails_with_clevertaps_reason(client: Client) -> None:
    assert "Invalid target id" in await run_error(client, "stop-campaign", {"id": 99})


async def test_delete_user_profile_removes_the_profile_from_counts_and_lookups(
    sandbox: SandboxServer, client: Client
) -> None:
    account = account_of(sandbox)
    buyer = account.profiles[charged_in_range(account)[0].object_id]
    assert buyer.identity is not None
    buyers = (await run(client, "get-profile-count", CHARGED))["count"]
    output = await run(client, "delete-user-profile", {"identity": buyer.identity})
    assert (output["status"], output["identity"]) == ("success", [buyer.identity])
    assert "deletion of 1 profile(s)" in output["message"]
    assert (await run(client, "get-profile-count", CHARGED))["count"] == buyers - 1
    lookup = ok(await call(client, "proxy_request", {"path": f"/1/profile.json?identity={buyer.identity}"}))
    assert lookup["body"]["status"] == "fail"


# Refusals before CleverTap --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def refusing_sandbox() -> Iterator[SandboxServer]:
    """One sandbox for the refusals: they change nothing, and each reads only the log entries it caused."""
    with SandboxServer(SandboxSettings(clock=NOW)) as shared:
        with httpx2.Client(base_url=shared.base_url) as http:
            http.post("/_sandbox/connections", json={}).raise_for_status()
        yield shared


@pytest.mark.parametrize("key", list(BAD_INPUT))
async def test_bad_input_is_refused_with_membranes_error_before_clevertap_is_called(
    refusing_sandbox: SandboxServer, key: str
) -> None:
    bad, named = BAD_INPUT[key]
    seen = {entry["seq"] for entry in (await control(refusing_sandbox, "GET", "/requests"))["items"]}
    async with mcp_client(refusing_sandbox.base_url, demo_token()) as client:
        text = await run_error(client, key, bad)
    assert "Invalid input at" in text and named in text and "Fix the arguments" in text
    log = await control(refusing_sandbox, "GET", "/requests")
    caused = [(entry["path"], entry["status"]) for entry in log["items"] if entry["seq"] not in seen]
    assert [entry for entry in caused if entry[0].endswith("/run")] == [(f"/actions/{key}/run", 400)]
    assert [entry for entry in caused if entry[0].startswith("/clevertap/")] == []


async def test_a_connection_with_a_wrong_passcode_fails_the_run_with_clevertaps_401_reason(
    sandbox: SandboxServer,
) -> None:
    await control(sandbox, "POST", "/connections", {"passcode": "NOT-THE-PASSCODE"})
    async with mcp_client(sandbox.base_url, demo_token()) as client:
        text = await run_error(client, "real-time-user-count", {})
    assert "Invalid Credentials" in text and "actionRunId" in text
    assert [entry["status"] for entry in await clevertap_requests(sandbox)] == [401]
