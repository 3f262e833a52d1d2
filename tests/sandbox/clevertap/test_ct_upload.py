"""POST /1/upload: envelope, statuses, record numbers and per-record error codes (clevertap-api.md §7, §14 #1–#14)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import anyio
import httpx2
import pytest

from clevertap_mcp.sandbox.clevertap import CleverTapWorld
from clevertap_mcp.sandbox.clevertap.model import Account
from clevertap_mcp.sandbox.settings import DEMO_CLEVERTAP_ACCOUNT_ID

pytestmark = pytest.mark.anyio

NEW_ID = "-2ce3cca260664f70b82b1c6bb505f462"


def event(**fields: Any) -> dict[str, Any]:
    return {"type": "event", "identity": "u-1001", "evtName": "Product Viewed", "evtData": {"Price": 59.9}, **fields}


def profile(**fields: Any) -> dict[str, Any]:
    return {"type": "profile", "identity": "u-1001", "profileData": {"City": "Porto"}, **fields}


def token(**fields: Any) -> dict[str, Any]:
    return {"type": "token", "objectId": NEW_ID, "tokenData": {"id": "tok-1", "type": "fcm"}, **fields}


async def upload(client: httpx2.AsyncClient, *records: Any, query: str = "") -> Any:
    response = await client.post(f"/1/upload{query}", json={"d": list(records)})
    assert response.status_code == 200
    return response.json()


async def test_a_batch_of_good_records_is_success(client: httpx2.AsyncClient) -> None:
    body = await upload(client, event(), profile(), token())
    assert body == {"status": "success", "processed": 3, "unprocessed": []}


async def test_upload_with_one_bad_record_is_partial_with_its_record_number(client: httpx2.AsyncClient) -> None:
    bad: dict[str, Any] = {"type": "event", "identity": "u-1001", "evtData": {}}
    body = await upload(client, event(), bad)
    assert body == {
        "status": "partial",
        "processed": 1,
        "unprocessed": [
            {
                "status": "fail",
                "code": 509,
                "error": "Event Name is incorrect. ErrorCode: 509 - Event name is mandatory. Skipped record number : 2",
                "record": bad,
            }
        ],
    }


async def test_a_batch_where_every_record_fails_is_fail_with_nothing_processed(client: httpx2.AsyncClient) -> None:
    body = await upload(client, event(evtName="App Launched"), event(evtName=""))
    assert body["status"] == "fail"
    assert body["processed"] == 0
    assert [entry["code"] for entry in body["unprocessed"]] == [513, 509]
    assert body["unprocessed"][0]["error"] == "Trying to raise a restricted system event. Skipped record number : 1"


@pytest.mark.parametrize("payload", [[event()], {"records": [event()]}, {"d": "x"}])
async def test_records_outside_d_get_fail_with_an_empty_unprocessed_list(
    client: httpx2.AsyncClient, payload: Any
) -> None:
    response = await client.post("/1/upload", json=payload)
    assert response.status_code == 200
    assert response.json() == {"status": "fail", "processed": 0, "unprocessed": []}


@pytest.mark.parametrize("size", [0, 1001])
async def test_an_empty_or_oversized_batch_is_http_400_and_stores_nothing(
    client: httpx2.AsyncClient, account: Account, size: int
) -> None:
    before = len(account.events)
    response = await client.post("/1/upload", json={"d": [event() for _ in range(size)]})
    assert response.status_code == 400
    assert response.json()["status"] == "fail"
    assert len(account.events) == before


async def test_a_batch_of_exactly_1000_records_is_accepted(client: httpx2.AsyncClient) -> None:
    body = await upload(client, *[event() for _ in range(1000)])
    assert (body["status"], body["processed"]) == ("success", 1000)


async def test_dry_run_validates_the_same_and_stores_nothing(client: httpx2.AsyncClient, account: Account) -> None:
    before = (len(account.events), len(account.profiles))
    body = await upload(client, event(identity="u-new-1"), event(evtName=""), query="?dryRun=1")
    assert (body["status"], body["processed"], body["unprocessed"][0]["code"]) == ("partial", 1, 509)
    assert (len(account.events), len(account.profiles)) == before


async def test_an_unknown_identity_creates_a_profile_that_lookups_find(client: httpx2.AsyncClient) -> None:
    await upload(client, profile(identity="u-9999", profileData={"Name": "Zoe New", "Email": "zoe@example.com"}))
    found = (await client.get("/1/profile.json", params={"identity": "u-9999"})).json()
    assert found["status"] == "success"
    assert found["record"]["email"] == "zoe@example.com"
    assert found["record"]["profileData"]["Name"] == "Zoe New"


async def test_profiles_merge_by_identity(client: httpx2.AsyncClient, account: Account) -> None:
    await upload(client, profile(identity="u-9000", profileData={"City": "Oslo"}))
    await upload(client, profile(identity="u-9000", profileData={"Customer Type": "Gold"}))
    merged = account.find(identity="u-9000")
    assert merged is not None
    assert merged.data == {"City": "Oslo", "Customer Type": "Gold"}


async def test_the_same_event_uploaded_twice_is_stored_twice(client: httpx2.AsyncClient, account: Account) -> None:
    before = len(account.events)
    same = event(ts=1767600000)
    await upload(client, same)
    await upload(client, same)
    assert len(account.events) == before + 2


async def test_an_event_without_ts_gets_the_server_time(client: httpx2.AsyncClient, account: Account) -> None:
    await upload(client, event(identity="u-7777"))
    assert account.events[-1].ts == 1767607200


@pytest.mark.parametrize(
    ("record", "code"),
    [
        (event(evtName=None), 509),
        (event(evtData=[1]), 512),
        (event(evtData=None), 512),
        (event(evtName="Notification Viewed"), 513),
        (profile(profileData={"Gender": "Male"}), 514),
        (profile(profileData={"Email": "not-an-email"}), 515),
        (profile(profileData={"Phone": "07911123456"}), 516),
        (profile(profileData={"Employed": "yes"}), 517),
        (profile(profileData={"Education": "PhD"}), 518),
        (profile(profileData={"Married": "maybe"}), 519),
        (profile(profileData={"Age": "old"}), 520),
        (profile(profileData={"DOB": "1990-01-01"}), 520),
        (profile(profileData={"DOB": 631152000}), 520),
        (profile(profileData={"DOB": "$D_"}), 520),
        (profile(profileData={"DOB": "$D_1990-01-01"}), 520),
        (profile(profileData={"Gender": ["M"]}), 514),
        (profile(profileData={"Married": True}), 519),
        (profile(profileData={"Education": ["School"]}), 518),
        (event(evtName="Legacy Event"), 528),
        (event(evtData={f"p{i}": i for i in range(257)}), 522),
        ({"type": "event", "evtName": "Searched", "evtData": {}}, 523),
        ({"type": "profile", "profileData": {"identity": "u-1001"}}, 523),
        ({"identity": "u-1001", "evtName": "Searched", "evtData": {}}, 524),
        (event(type="purchase"), 524),
        ("not a record", 524),
        (event(ts=1767607200000), 525),
        (event(ts="1767607200"), 525),
        (profile(identity=None, objectId="not-a-guid"), 526),
        (event(objectId="__gXYZ"), 526),
        ({"type": "token", "identity": "u-1001", "tokenData": {"id": "t", "type": "fcm"}}, 530),
        (token(objectId="bad"), 530),
        (token(tokenData="t-1"), 531),
        (token(tokenData={"type": "fcm"}), 532),
        (token(tokenData={"id": "t-1"}), 533),
        (token(tokenData={"id": "t-1", "type": "pager"}), 534),
        (token(tokenData={"id": "t-1", "type": "chrome"}), 535),
        (event(evtData={"k" * 121: 1}), 512),
        (event(evtData={"Note": "x" * 513}), 512),
        (profile(profileData={"Bio": "x" * 513}), 555),
        (profile(profileData={"Tags": {"$incr": "two"}}), 555),
    ],
)
async def test_each_invalid_record_gets_its_documented_code(client: httpx2.AsyncClient, record: Any, code: int) -> None:
    body = await upload(client, event(), record)
    assert body["status"] == "partial"
    [entry] = body["unprocessed"]
    assert entry["code"] == code
    assert entry["error"].endswith("Skipped record number : 2")
    assert entry["record"] == record


async def test_error_messages_embed_the_code_in_the_documented_template(client: httpx2.AsyncClient) -> None:
    body = await upload(client, profile(profileData={"Gender": "X"}))
    assert body["unprocessed"][0]["error"].startswith("Gender is incorrect. ErrorCode: 514 - ")


@pytest.mark.parametrize("dob", ["$D_631152000", "$D_-315619200", "$D_0"])
async def test_a_dob_in_the_date_form_is_accepted_and_stored(
    client: httpx2.AsyncClient, account: Account, dob: str
) -> None:
    body = await upload(client, profile(profileData={"DOB": dob}))
    assert body == {"status": "success", "processed": 1, "unprocessed": []}
    stored = account.find(identity="u-1001")
    assert stored is not None and stored.data["DOB"] == dob


async def test_an_invalid_dob_gets_520_with_the_documented_message(client: httpx2.AsyncClient) -> None:
    body = await upload(client, profile(profileData={"DOB": "1990-01-01"}))
    assert body["unprocessed"][0]["error"] == (
        "Age is incorrect. ErrorCode: 520 - DOB must be a date in the form $D_<epoch seconds>. "
        "Skipped record number : 1"
    )


async def test_a_discarded_event_gets_528_with_the_documented_message_and_is_not_stored(
    client: httpx2.AsyncClient, account: Account
) -> None:
    before = len(account.events)
    body = await upload(client, event(evtName="Legacy Event"))
    assert body == {
        "status": "fail",
        "processed": 0,
        "unprocessed": [
            {
                "status": "fail",
                "code": 528,
                "error": "Event is discarded. ErrorCode: 528 - Event Legacy Event has been discarded in the dashboard. "
                "Skipped record number : 1",
                "record": event(evtName="Legacy Event"),
            }
        ],
    }
    assert len(account.events) == before


async def test_discarded_events_are_per_account_and_a_dry_run_reports_them_too(
    client: httpx2.AsyncClient, account: Account
) -> None:
    account.discarded_events.add("Old Promo Viewed")
    dry = await upload(client, event(evtName="Old Promo Viewed"), query="?dryRun=1")
    account.discarded_events.clear()
    live = await upload(client, event(evtName="Legacy Event"))
    assert dry["unprocessed"][0]["code"] == 528
    assert live["status"] == "success"


async def test_a_token_type_of_another_platform_gets_534(client: httpx2.AsyncClient, account: Account) -> None:
    ios = next(p for p in account.profiles.values() if p.platform == "iOS")
    body = await upload(client, token(objectId=ios.object_id))
    assert body["unprocessed"][0]["code"] == 534


async def test_a_chrome_token_with_keys_is_stored_on_the_profile(client: httpx2.AsyncClient, account: Account) -> None:
    keys = {"p256dh": "BP-key", "auth": "auth-key"}
    body = await upload(client, token(tokenData={"id": "https://push/1", "type": "chrome", "keys": keys}))
    assert body["status"] == "success"
    stored = account.find(object_id=NEW_ID)
    assert stored is not None
    assert [(t.id, t.type, t.keys) for t in stored.tokens] == [("https://push/1", "chrome", keys)]


async def test_profile_operators_edit_values_in_place(client: httpx2.AsyncClient, account: Account) -> None:
    await upload(client, profile(profileData={"Tags": ["a", "b"], "Visits": 2, "Old": "x"}))
    await upload(
        client,
        profile(profileData={"Tags": {"$add": ["c"]}, "Visits": {"$incr": 3}, "Old": {"$delete": True}}),
        profile(profileData={"Tags": {"$remove": ["a"]}, "Visits": {"$decr": 1}}),
    )
    stored = account.find(identity="u-1001")
    assert stored is not None
    assert (stored.data["Tags"], stored.data["Visits"], "Old" in stored.data) == (["b", "c"], 4, False)


async def test_with_operators_switched_off_an_operator_object_is_stored_as_a_nested_value(
    make_world: Callable[..., CleverTapWorld], make_client: Callable[..., httpx2.AsyncClient]
) -> None:
    # §7.2 leaves the operators unconfirmed; the setting gives the other answer.
    world = make_world(profile_operators=False)
    async with make_client(world) as http:
        await upload(http, profile(profileData={"Visits": 2}))
        body = await upload(http, profile(profileData={"Visits": {"$incr": 3}, "Tags": {"$add": 7}}))
        found = (await http.get("/1/profile.json", params={"identity": "u-1001"})).json()
    assert body["status"] == "success"
    assert found["record"]["profileData"]["Visits"] == {"$incr": 3}
    assert found["record"]["profileData"]["Tags"] == {"$add": 7}


async def test_an_increment_that_would_overflow_gets_555_and_leaves_the_profile_untouched(
    client: httpx2.AsyncClient, account: Account
) -> None:
    await upload(client, profile(profileData={"Score": 1.7e308, "Visits": 1}))
    body = await upload(client, profile(profileData={"Visits": {"$incr": 1}, "Score": {"$incr": 1.7e308}}))
    found = await client.get("/1/profile.json", params={"identity": "u-1001"})
    assert body["unprocessed"][0]["code"] == 555
    stored = account.find(identity="u-1001")
    assert stored is not None and (stored.data["Score"], stored.data["Visits"]) == (1.7e308, 1)
    assert found.status_code == 200


async def test_a_multi_value_list_over_100_items_keeps_the_newest_100(
    client: httpx2.AsyncClient, account: Account
) -> None:
    await upload(client, profile(profileData={"Tags": [f"t{i}" for i in range(120)]}))
    stored = account.find(identity="u-1001")
    assert stored is not None
    assert stored.data["Tags"] == [f"t{i}" for i in range(20, 120)]


async def test_long_values_are_truncated_when_the_switch_is_on(
    make_world: Callable[..., CleverTapWorld], make_client: Callable[..., httpx2.AsyncClient]
) -> None:
    world = make_world(upload_truncate_long_values=True)
    async with make_client(world) as http:
        body = await upload(http, event(identity="u-5555", evtData={"Note": "x" * 600}))
    assert body["status"] == "success"
    account = world.account("eu1", DEMO_CLEVERTAP_ACCOUNT_ID)
    assert account is not None
    assert account.events[-1].props["Note"] == "x" * 512


async def test_robustness_switches_send_success_with_unprocessed_and_string_records(
    make_world: Callable[..., CleverTapWorld], make_client: Callable[..., httpx2.AsyncClient]
) -> None:
    world = make_world(upload_success_with_unprocessed=True, upload_record_as_string=True)
    bad = event(evtName="")
    async with make_client(world) as http:
        body = await upload(http, event(), bad)
    assert (body["status"], body["processed"]) == ("success", 1)
    assert body["unprocessed"][0]["record"] == json.dumps(bad)


async def test_an_uploaded_event_name_becomes_queryable(
    make_world: Callable[..., CleverTapWorld], make_client: Callable[..., httpx2.AsyncClient]
) -> None:
    query = {"event_name": "Wishlist Added", "from": 20260105, "to": 20260105}
    async with make_client(make_world(count_partial_polls=0)) as http:
        before = (await http.post("/1/counts/events.json", json=query)).json()
        await upload(http, event(evtName="Wishlist Added", ts=1767600000))
        after = (await http.post("/1/counts/events.json", json=query)).json()
    assert before["error"] == '["Invalid event : Wishlist Added"]'
    assert after == {"status": "success", "count": 1}


async def test_events_outside_the_live_campaign_window_are_stored_and_counted_like_any_other(
    make_world: Callable[..., CleverTapWorld], make_client: Callable[..., httpx2.AsyncClient]
) -> None:
    # §14 #8: outside -2 h / +2 min of now an event fires no live campaign; live campaigns are dashboard-made and
    # their firing shows nowhere in the REST API, so what an agent can observe is that both events are stored.
    query = {"event_name": "Wishlist Added", "from": 20260105, "to": 20260105}
    three_hours_ago, ten_minutes_ahead = 1767607200 - 3 * 3600, 1767607200 + 600
    async with make_client(make_world(count_partial_polls=0)) as http:
        body = await upload(
            http,
            event(evtName="Wishlist Added", ts=three_hours_ago),
            event(evtName="Wishlist Added", ts=ten_minutes_ahead),
        )
        counted = (await http.post("/1/counts/events.json", json=query)).json()
    assert (body["status"], body["processed"]) == ("success", 2)
    assert counted == {"status": "success", "count": 2}


async def test_concurrent_uploads_all_land_without_losing_records(client: httpx2.AsyncClient, account: Account) -> None:
    before = len(account.events)

    async def one(index: int) -> None:
        body = await upload(client, *[event(identity=f"u-c{index}", evtData={"n": n}) for n in range(20)])
        assert body["processed"] == 20

    async with anyio.create_task_group() as group:
        for index in range(25):
            group.start_soon(one, index)
    assert len(account.events) == before + 500
    assert all(account.find(identity=f"u-c{index}") is not None for index in range(25))


async def test_the_millisecond_switch_stores_the_event_far_in_the_future_where_no_range_selects_it(
    make_world: Callable[..., CleverTapWorld], make_client: Callable[..., httpx2.AsyncClient]
) -> None:
    world = make_world(upload_store_millisecond_ts=True, count_partial_polls=0)
    query = {"event_name": "Product Viewed", "from": 20260105, "to": 20260105}
    async with make_client(world) as http:
        before = (await http.post("/1/counts/events.json", json=query)).json()
        body = await upload(http, event(ts=1767607200000))
        after = (await http.post("/1/counts/events.json", json=query)).json()
    account = world.account("eu1", DEMO_CLEVERTAP_ACCOUNT_ID)
    assert account is not None
    assert (body["status"], body["processed"]) == ("success", 1)
    assert account.events[-1].ts == 1767607200000
    assert after == before
