"""Single-profile lookup and profile deletion (clevertap-api.md §8, §12, §14 #39–#40)."""

from __future__ import annotations

from collections.abc import Callable

import httpx2
import pytest

from clevertap_mcp.sandbox.clevertap import CleverTapWorld
from clevertap_mcp.sandbox.clevertap.model import Account
from clevertap_mcp.sandbox.settings import DEMO_CLEVERTAP_ACCOUNT_ID

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize("key", ["email", "identity", "objectId"])
async def test_a_profile_is_found_by_each_of_its_ids(client: httpx2.AsyncClient, account: Account, key: str) -> None:
    profile = account.find(identity="u-1001")
    assert profile is not None
    value = {"email": profile.data["Email"], "identity": "u-1001", "objectId": profile.object_id}[key]
    body = (await client.get("/1/profile.json", params={key: value})).json()
    assert body["status"] == "success"
    record = body["record"]
    assert (record["identity"], record["email"]) == ("u-1001", profile.data["Email"])
    assert record["profileData"]["Name"] == profile.data["Name"]
    assert record["platformInfo"][0]["objectId"] == profile.object_id
    assert sum(summary["count"] for summary in record["events"].values()) == sum(
        1 for e in account.events if e.object_id == profile.object_id
    )


@pytest.mark.parametrize("params", [{}, {"identity": "u-1001", "email": "x@example.com"}])
async def test_a_lookup_needs_exactly_one_id(client: httpx2.AsyncClient, params: dict[str, str]) -> None:
    body = (await client.get("/1/profile.json", params=params)).json()
    assert body["status"] == "fail"
    assert "Exactly one" in body["error"]


async def test_an_unknown_user_is_not_found(client: httpx2.AsyncClient) -> None:
    body = (await client.get("/1/profile.json", params={"identity": "u-nobody"})).json()
    assert body == {"status": "fail", "error": "User not found", "code": 404}


async def test_deleted_profiles_leave_lookups_exports_and_counts(
    make_world: Callable[..., CleverTapWorld], make_client: Callable[..., httpx2.AsyncClient]
) -> None:
    world = make_world(count_partial_polls=0)
    account = world.account("eu1", DEMO_CLEVERTAP_ACCOUNT_ID)
    assert account is not None
    doomed = account.find(identity="u-1002")
    assert doomed is not None
    query = {"event_name": "App Launched", "from": 20251201, "to": 20260105}
    async with make_client(world) as http:
        before = (await http.post("/1/counts/profiles.json", json=query)).json()["count"]
        deleted = await http.post("/1/delete/profiles.json", json={"identity": ["u-1001"], "guid": doomed.object_id})
        after = (await http.post("/1/counts/profiles.json", json=query)).json()["count"]
        lookup = (await http.get("/1/profile.json", params={"identity": "u-1001"})).json()
    assert deleted.json() == {"status": "success"}
    assert after == before - 2
    assert lookup["error"] == "User not found"


async def test_deletion_waits_for_the_configured_delay(
    make_world: Callable[..., CleverTapWorld], make_client: Callable[..., httpx2.AsyncClient]
) -> None:
    world = make_world(delete_delay_seconds=600)
    async with make_client(world) as http:
        await http.post("/1/delete/profiles.json", json={"identity": "u-1001"})
        still = (await http.get("/1/profile.json", params={"identity": "u-1001"})).json()
        world.advance_clock(601)
        gone = (await http.get("/1/profile.json", params={"identity": "u-1001"})).json()
    assert still["status"] == "success"
    assert gone["error"] == "User not found"


@pytest.mark.parametrize(
    "body",
    [{}, {"identity": []}, {"identity": [f"u-{i}" for i in range(101)]}, {"guid": [1, 2]}],
    ids=["neither", "empty", "over-100", "not-strings"],
)
async def test_a_delete_without_ids_or_with_too_many_fails(
    client: httpx2.AsyncClient, account: Account, body: dict[str, object]
) -> None:
    before = len(account.profiles)
    answer = (await client.post("/1/delete/profiles.json", json=body)).json()
    assert answer["status"] == "fail"
    assert len(account.profiles) == before


async def test_deleting_unknown_ids_is_accepted_quietly(client: httpx2.AsyncClient, account: Account) -> None:
    before = len(account.profiles)
    answer = (await client.post("/1/delete/profiles.json", json={"identity": "u-ghost"})).json()
    assert answer == {"status": "success"}
    assert len(account.profiles) == before


async def test_demerge_detaches_an_identity_so_its_next_record_starts_a_profile_of_its_own(
    client: httpx2.AsyncClient, account: Account
) -> None:
    device = "-2ce3cca260664f70b82b1c6bb505f462"
    anonymous: dict[str, object] = {"type": "profile", "objectId": device, "profileData": {}}
    merge: dict[str, object] = {
        "type": "profile",
        "objectId": device,
        "identity": "u-merged",
        "profileData": {"City": "Porto"},
    }
    await client.post("/1/upload", json={"d": [anonymous, merge]})
    assert (await client.get("/1/profile.json", params={"identity": "u-merged"})).json()["status"] == "success"
    answer = (await client.post("/1/demerge/profiles.json", json={"identities": ["u-merged", "u-ghost"]})).json()
    by_identity = (await client.get("/1/profile.json", params={"identity": "u-merged"})).json()
    by_device = (await client.get("/1/profile.json", params={"objectId": device})).json()
    again = {"type": "profile", "identity": "u-merged", "profileData": {"City": "Faro"}}
    await client.post("/1/upload", json={"d": [again]})
    fresh = account.find(identity="u-merged")
    assert answer == {"status": "success"}
    assert by_identity == {"status": "fail", "error": "User not found", "code": 404}
    assert by_device["record"]["profileData"]["City"] == "Porto"
    assert fresh is not None
    assert fresh.object_id != device
    assert fresh.data == {"City": "Faro"}


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"identities": []},
        {"identities": ""},
        {"identities": {"u-1001": True}},
        {"identities": [f"u-{i}" for i in range(101)]},
        {"identities": [7]},
    ],
    ids=["missing", "empty", "empty-string", "an-object", "over-100", "not-strings"],
)
async def test_a_demerge_without_identities_or_with_too_many_fails_and_changes_nothing(
    client: httpx2.AsyncClient, account: Account, body: dict[str, object]
) -> None:
    answer = (await client.post("/1/demerge/profiles.json", json=body)).json()
    assert answer["status"] == "fail"
    assert "identities" in answer["error"]
    assert account.find(identity="u-1001") is not None
