"""The grader routes: a snapshot of the CleverTap world and its diff since the last reset, read over the control plane."""

from __future__ import annotations

from typing import Any

import httpx2
import pytest

from clevertap_mcp.sandbox.app import parts_of
from clevertap_mcp.sandbox.clevertap.seed import seed_demo_account
from clevertap_mcp.sandbox.clevertap.snapshot import SCHEMA_VERSION, diff
from clevertap_mcp.sandbox.clevertap.state import CleverTapWorld
from clevertap_mcp.sandbox.settings import (
    DEMO_CLEVERTAP_ACCOUNT_ID,
    DEMO_CLEVERTAP_PASSCODE,
    DEMO_TENANT_KEY,
    SandboxSettings,
)
from clevertap_mcp.sandbox.tenant_worlds import tenant_segment

from helpers import in_process_sandbox

pytestmark = pytest.mark.anyio

NOW = 1767607200
ACCOUNT = DEMO_CLEVERTAP_ACCOUNT_ID
CT = {"X-CleverTap-Account-Id": DEMO_CLEVERTAP_ACCOUNT_ID, "X-CleverTap-Passcode": DEMO_CLEVERTAP_PASSCODE}


async def clevertap(client: httpx2.AsyncClient, path: str, body: Any) -> dict[str, Any]:
    response = await client.post(f"/clevertap/eu1{path}", json=body, headers=CT)
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["status"] == "success", answer
    return answer


async def diff_of(client: httpx2.AsyncClient, **query: str) -> dict[str, Any]:
    response = await client.get("/_sandbox/diff", params=query)
    assert response.status_code == 200, response.text
    return response.json()


def account_diff(diff: dict[str, Any]) -> dict[str, Any]:
    return diff["accounts"][ACCOUNT]


async def test_a_fresh_world_has_an_empty_diff_and_a_snapshot_of_its_seeded_data() -> None:
    async with in_process_sandbox(SandboxSettings(clock=NOW)) as (_, client):
        snap = (await client.get("/_sandbox/snapshot")).json()
        diff = await diff_of(client)
    account = snap["accounts"][ACCOUNT]
    assert snap["version"] == SCHEMA_VERSION and snap["now"] == NOW
    assert len(account["profiles"]) == 200 and account["region"] == "eu1"
    assert sum(account["events"]["byName"].values()) == account["events"]["total"] > 200
    assert {c["name"] for c in account["campaigns"].values()} >= {"Cart Reminder", "Spring Launch"}
    assert diff["changed"] is False
    assert account_diff(diff)["summary"]["total"] == 0


async def test_an_upload_shows_as_a_new_profile_a_changed_property_and_an_added_event() -> None:
    async with in_process_sandbox(SandboxSettings(clock=NOW)) as (app, client):
        world = parts_of(app).clevertap.world
        before = world.account("eu1", ACCOUNT)
        assert before is not None
        user = before.find(identity="u-1001")
        assert user is not None
        old_city = user.data["City"]
        records = [
            {"type": "profile", "identity": "u-1001", "profileData": {"City": "Oslo", "Plan": "pro"}},
            {"type": "profile", "identity": "u-new", "profileData": {"Name": "New Person"}},
            {"type": "event", "identity": "u-1001", "evtName": "Searched", "evtData": {"Query": "tent"}, "ts": NOW},
        ]
        await clevertap(client, "/1/upload", {"d": records})
        diff = account_diff(await diff_of(client))
    assert diff["summary"] == {
        "profilesAdded": 1,
        "profilesRemoved": 0,
        "profilesChanged": 1,
        "eventsAdded": 1,
        "eventsRemoved": 0,
        "campaignsAdded": 0,
        "campaignsChanged": 0,
        "deletionsScheduled": 0,
        "total": 3,
    }
    (added,) = diff["profiles"]["added"]
    assert added["identity"] == "u-new" and added["data"] == {"Name": "New Person"}
    (changed,) = diff["profiles"]["changed"]
    assert changed["identity"] == "u-1001" and changed["fields"] == {}
    assert changed["data"] == {"City": [old_city, "Oslo"], "Plan": [None, "pro"]}
    (event,) = diff["events"]["added"]
    assert event == {
        "objectId": changed["objectId"],
        "identity": "u-1001",
        "name": "Searched",
        "ts": NOW,
        "props": {"Query": "tent"},
    }


async def test_a_dry_run_upload_changes_nothing() -> None:
    async with in_process_sandbox(SandboxSettings(clock=NOW)) as (_, client):
        record = {"type": "profile", "identity": "u-1001", "profileData": {"City": "Oslo"}}
        await clevertap(client, "/1/upload?dryRun=1", {"d": [record]})
        assert (await diff_of(client))["changed"] is False


async def test_created_and_stopped_campaigns_are_in_the_diff_with_the_create_request() -> None:
    async with in_process_sandbox(SandboxSettings(clock=NOW)) as (_, client):
        listed = await clevertap(client, "/1/targets/list.json", {"from": 20251201, "to": 20260201})
        running = next(c for c in listed["targets"] if c["status"] == "running")
        await clevertap(client, "/1/targets/stop.json", {"id": running["id"]})
        body = {"name": "Tent Sale", "target_mode": "push", "when": "now", "content": {"title": "T", "body": "B"}}
        created = await clevertap(client, "/1/targets/create.json", body)
        diff = account_diff(await diff_of(client))
    (added,) = diff["campaigns"]["added"]
    assert added["id"] == created["id"] and added["name"] == "Tent Sale" and added["request"] == body
    assert diff["campaigns"]["changed"] == [
        {"id": running["id"], "name": running["name"], "status": ["running", "stopped"]}
    ]


async def test_a_deletion_is_scheduled_then_removes_the_profile_and_its_events() -> None:
    async with in_process_sandbox(SandboxSettings(clock=NOW, delete_delay_seconds=60)) as (app, client):
        await clevertap(client, "/1/delete/profiles.json", {"identity": "u-1002"})
        scheduled = account_diff(await diff_of(client))
        parts_of(app).clevertap.world.advance_clock(61)
        await clevertap(client, "/1/delete/profiles.json", {"identity": "u-unknown"})  # any call settles deletions
        done = account_diff(await diff_of(client))
    (pending,) = scheduled["deletions"]["scheduled"]
    assert pending["identity"] == "u-1002" and pending["at"] == NOW + 60
    assert scheduled["profiles"]["removed"] == []
    (removed,) = done["profiles"]["removed"]
    assert removed["identity"] == "u-1002"
    assert done["events"]["removed"]["total"] == done["summary"]["eventsRemoved"] > 0


async def test_a_demerge_shows_as_the_identity_leaving_its_profile() -> None:
    async with in_process_sandbox(SandboxSettings(clock=NOW)) as (_, client):
        await clevertap(client, "/1/demerge/profiles.json", {"identities": ["u-1003"]})
        (changed,) = account_diff(await diff_of(client))["profiles"]["changed"]
    assert changed["identity"] == "u-1003"
    assert changed["fields"] == {"identity": ["u-1003", None]} and changed["data"] == {}


async def test_a_reset_empties_the_diff() -> None:
    async with in_process_sandbox(SandboxSettings(clock=NOW)) as (_, client):
        await clevertap(client, "/1/upload", {"d": [{"type": "profile", "identity": "u-x", "profileData": {}}]})
        assert (await diff_of(client))["changed"] is True
        assert (await client.post("/_sandbox/reset")).status_code == 200
        assert (await diff_of(client))["changed"] is False


async def test_the_sandbox_tenant_is_readable_by_key_and_another_tenant_is_a_404_that_says_what_to_pass() -> None:
    async with in_process_sandbox(SandboxSettings(clock=NOW)) as (_, client):
        assert (await diff_of(client, tenant=DEMO_TENANT_KEY))["changed"] is False
        response = await client.get("/_sandbox/snapshot", params={"tenant": "someone-else"})
    assert response.status_code == 404
    assert "someone-else" in response.json()["message"] and "omit 'tenant'" in response.json()["message"]


async def test_a_full_snapshot_lists_every_event_and_never_a_device_token() -> None:
    async with in_process_sandbox(SandboxSettings(clock=NOW)) as (app, client):
        full = (await client.get("/_sandbox/snapshot", params={"events": "full"})).json()
        bad = await client.get("/_sandbox/snapshot", params={"events": "all"})
        account = parts_of(app).clevertap.world.account("eu1", ACCOUNT)
    assert account is not None
    assert len(full["accounts"][ACCOUNT]["events"]) == len(account.events)
    token_ids = [token.id for profile in account.profiles.values() for token in profile.tokens]
    assert token_ids and not any(token_id in bad.text or token_id in str(full) for token_id in token_ids)
    assert bad.status_code == 400 and "'events'" in bad.json()["message"]


def test_the_diff_baseline_is_the_world_as_seeded_even_after_its_clock_moved_on() -> None:
    # An unpinned clock: the seeded data ends at the moment of creation, and the twin must be seeded at that moment,
    # not at the first diff's (every seeded timestamp would differ and read as a change).
    world = CleverTapWorld.seeded(SandboxSettings())
    world.advance_clock(3 * 3600)
    assert diff(world)["changed"] is False


def test_a_world_built_by_hand_diffs_against_an_empty_world() -> None:
    world = CleverTapWorld(SandboxSettings())
    assert diff(world) == {"version": SCHEMA_VERSION, "changed": False, "accounts": {}}
    world.add_account(seed_demo_account(1, 3, anchor=NOW))
    (added,) = diff(world)["accounts"].values()
    assert added["summary"]["profilesAdded"] == 3 and added["summary"]["eventsAdded"] > 0


async def test_each_tenant_is_graded_on_its_own_world_once_it_has_one() -> None:
    record = {"type": "profile", "identity": "graded-user", "profileData": {"Name": "Graded"}}
    base = f"/clevertap/tenant/{tenant_segment('episode-7')}/eu1"
    async with in_process_sandbox(SandboxSettings(clock=NOW)) as (_, client):
        before = await client.get("/_sandbox/diff", params={"tenant": "episode-7"})
        uploaded = await client.post(f"{base}/1/upload", json={"d": [record]}, headers=CT)
        theirs = await diff_of(client, tenant="episode-7")
        own = await diff_of(client)
    assert before.status_code == 404
    assert uploaded.json()["status"] == "success", uploaded.text
    assert theirs["changed"] is True and account_diff(theirs)["summary"]["profilesAdded"] == 1
    assert own["changed"] is False
