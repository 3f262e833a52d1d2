"""The sandbox CleverTap connector: its catalog's schemas, and every action run against the emulator over HTTP."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx2
import jsonschema
import pytest

from clevertap_mcp.sandbox.clevertap import REGIONS, CleverTapWorld, build_clevertap_app
from clevertap_mcp.sandbox.clevertap.model import Account
from clevertap_mcp.sandbox.connector import (
    ACTIONS,
    ActionFailed,
    CleverTapCredentials,
    clevertap_base_url,
    run_action,
)
from clevertap_mcp.sandbox.connector.run import MAX_COUNT_POLLS, integral_floats_to_ints
from clevertap_mcp.sandbox.settings import (
    DEMO_CLEVERTAP_ACCOUNT_ID,
    DEMO_CLEVERTAP_PASSCODE,
    DEMO_CLEVERTAP_REGION,
)

NOW = 1767607200.0  # 2026-01-05 10:00:00 UTC
BASE = "http://ct/eu1"
CREDS = CleverTapCredentials(DEMO_CLEVERTAP_ACCOUNT_ID, DEMO_CLEVERTAP_PASSCODE, DEMO_CLEVERTAP_REGION)
QUERY = {"event_name": "Charged", "from": 20251206, "to": 20260105}
PUSH = {"name": "Promo", "target_mode": "push", "content": {"title": "Hi", "body": "Sale"}, "when": "now"}
GUID = "-2ce3cca260664f70b82b1c6bb505f462"

Run = Callable[..., Any]

# One input per action that its schema must accept, and one it must refuse.
VALID: dict[str, dict[str, Any]] = {
    "real-time-user-count": {"user_type": True},
    "get-campaign-report": {"id": 1457433898},
    "upload-device-tokens": {"tokens": [{"objectId": GUID, "tokenData": {"id": "t-1", "type": "fcm"}}]},
    "get-campaigns": {"from": 20260101, "to": 20260105},
    "stop-campaign": {"id": 1457433898},
    "create-campaign": PUSH,
    "get-profile-count": QUERY,
    "get-event-count": {**QUERY, "event_properties": [{"name": "Amount", "operator": "greater_than", "value": 9}]},
    "delete-user-profile": {"identity": ["u-1001"]},
    "get-events-by-cursor": {"cursor": "ab%2Fcd%3D%3D"},
    "get-events": {**QUERY, "batch_size": 100},
    "get-user-profiles-by-cursor": {"cursor": "ab+cd/ef=="},
    "get-user-profiles": {**QUERY, "events": False},
    "upload-events": {"events": [{"identity": "u-1", "evtName": "Searched", "evtData": {}, "ts": 1767600000}]},
    "upload-user-profiles": {"profiles": [{"objectId": GUID, "profileData": {"Name": "A"}}]},
}
INVALID: dict[str, dict[str, Any]] = {
    "real-time-user-count": {"os": "yes"},
    "get-campaign-report": {"id": -1},
    "upload-device-tokens": {"tokens": [{"objectId": GUID, "tokenData": {"id": "t-1", "type": "pager"}}]},
    "get-campaigns": {"from": "2026-01-01", "to": 20260105},
    "stop-campaign": {},
    "create-campaign": {**PUSH, "where": QUERY, "segment": 1},
    "get-profile-count": {"event_name": "Charged", "from": 1767600000, "to": 20260105},
    "get-event-count": {"from": 20260101, "to": 20260105},
    "delete-user-profile": {},
    "get-events-by-cursor": {"cursor": "abc&batch_size=1"},
    "get-events": {**QUERY, "batch_size": 5001},
    "get-user-profiles-by-cursor": {},
    "get-user-profiles": {**QUERY, "to": 202601},
    "upload-events": {"events": [{"identity": "u-1", "evtName": "Searched", "evtData": {}, "ts": 1767600000000}]},
    "upload-user-profiles": {"profiles": [{"profileData": {"Name": "A"}}]},
}


@pytest.fixture
async def http(world: CleverTapWorld) -> AsyncIterator[httpx2.AsyncClient]:
    async with httpx2.AsyncClient(transport=httpx2.ASGITransport(app=build_clevertap_app(world))) as client:
        yield client


@pytest.fixture
def run(http: httpx2.AsyncClient) -> Run:
    async def call(key: str, input: dict[str, Any], **kwargs: Any) -> Any:
        return await run_action(key, input, CREDS, http, BASE, **kwargs)

    return call


def mock_client(handler: Callable[[httpx2.Request], httpx2.Response]) -> httpx2.AsyncClient:
    return httpx2.AsyncClient(transport=httpx2.MockTransport(handler))


# The catalog --------------------------------------------------------------------------------------------------------


def test_the_catalog_has_the_fifteen_actions_in_order() -> None:
    assert [spec.key for spec in ACTIONS] == list(VALID)
    assert len({spec.name for spec in ACTIONS}) == 15
    assert all(spec.description and len(spec.description) < 250 for spec in ACTIONS)


def test_keys_and_names_are_the_ones_membranes_clevertap_connector_publishes() -> None:
    # The "Popular actions" table of membranedev/application-skills skills/clevertap/SKILL.md.
    assert {spec.key: spec.name for spec in ACTIONS} == {
        "real-time-user-count": "Real-Time User Count",
        "get-campaign-report": "Get Campaign Report",
        "upload-device-tokens": "Upload Device Tokens",
        "get-campaigns": "Get Campaigns",
        "stop-campaign": "Stop Campaign",
        "create-campaign": "Create Campaign",
        "get-profile-count": "Get Profile Count",
        "get-event-count": "Get Event Count",
        "delete-user-profile": "Delete User Profile",
        "get-events-by-cursor": "Get Events by Cursor",
        "get-events": "Get Events",
        "get-user-profiles-by-cursor": "Get User Profiles by Cursor",
        "get-user-profiles": "Get User Profiles",
        "upload-events": "Upload Events",
        "upload-user-profiles": "Upload User Profiles",
    }


def test_read_only_marks_exactly_the_actions_that_only_read() -> None:
    writes = {
        "upload-device-tokens",
        "stop-campaign",
        "create-campaign",
        "delete-user-profile",
        "upload-events",
        "upload-user-profiles",
    }
    assert {spec.key for spec in ACTIONS if not spec.read_only} == writes


@pytest.mark.parametrize("spec", ACTIONS, ids=lambda spec: spec.key)
def test_every_schema_is_valid_draft_2020_12(spec: Any) -> None:
    jsonschema.Draft202012Validator.check_schema(spec.input_schema)
    jsonschema.Draft202012Validator.check_schema(spec.output_schema)
    assert '"title":' not in json.dumps(spec.input_schema)


@pytest.mark.parametrize("spec", ACTIONS, ids=lambda spec: spec.key)
def test_a_representative_input_passes_and_a_bad_one_is_refused(spec: Any) -> None:
    jsonschema.validate(VALID[spec.key], spec.input_schema, cls=jsonschema.Draft202012Validator)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(INVALID[spec.key], spec.input_schema, cls=jsonschema.Draft202012Validator)


def test_the_base_url_puts_the_region_under_the_clevertap_mount() -> None:
    assert clevertap_base_url("http://127.0.0.1:8123", "eu1") == "http://127.0.0.1:8123/clevertap/eu1"


def test_credentials_never_show_the_passcode_in_their_repr() -> None:
    assert DEMO_CLEVERTAP_PASSCODE not in repr(CREDS)


def test_the_known_regions_are_the_six_documented_ones_and_each_maps_under_the_mount() -> None:
    assert REGIONS == ("eu1", "in1", "sg1", "us1", "aps3", "mec1")
    for region in REGIONS:
        assert CleverTapCredentials("a", "p", region).region == region
        assert clevertap_base_url("http://h/", region) == f"http://h/clevertap/{region}"


BAD_REGIONS = ["../..", "..", "eu1/..", "eu1/../../_sandbox", "%2e%2e", "sk1", "api", "EU1", " eu1", "", "eu1?x=1"]


@pytest.mark.parametrize("region", BAD_REGIONS)
def test_credentials_refuse_a_region_outside_the_known_six(region: str) -> None:
    with pytest.raises(ValueError, match="Unknown CleverTap region"):
        CleverTapCredentials(DEMO_CLEVERTAP_ACCOUNT_ID, DEMO_CLEVERTAP_PASSCODE, region)


@pytest.mark.parametrize("region", BAD_REGIONS)
def test_the_base_url_refuses_a_region_that_could_leave_the_clevertap_mount(region: str) -> None:
    with pytest.raises(ValueError, match="Unknown CleverTap region"):
        clevertap_base_url("http://127.0.0.1:8123", region)


# Running actions against the emulator ---------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_real_time_user_count_returns_the_count_and_requested_splits(run: Run) -> None:
    output = await run("real-time-user-count", {"device": True})
    assert set(output) == {"count", "last_processed_ts", "device"}
    assert sum(output["device"].values()) == output["count"]


@pytest.mark.anyio
async def test_event_count_polls_the_req_id_and_reports_progress(
    make_world: Callable[..., CleverTapWorld], account: Account
) -> None:
    world = make_world(count_partial_polls=3)
    progress: list[str] = []

    async def note(message: str) -> None:
        progress.append(message)

    async with httpx2.AsyncClient(transport=httpx2.ASGITransport(app=build_clevertap_app(world))) as client:
        output = await run_action("get-event-count", QUERY, CREDS, client, BASE, progress=note)
    start, end = 1764979200, 1767657600  # 2025-12-06 .. 2026-01-06 UTC
    assert output == {"count": sum(1 for e in account.events if e.name == "Charged" and start <= e.ts < end)}
    assert len(progress) == 4  # three partial polls, then the fourth poll that succeeds


@pytest.mark.anyio
async def test_profile_count_counts_unique_profiles(run: Run, account: Account) -> None:
    output = await run("get-profile-count", QUERY)
    start, end = 1764979200, 1767657600
    assert output == {
        "count": len({e.object_id for e in account.events if e.name == "Charged" and start <= e.ts < end})
    }


@pytest.mark.anyio
@pytest.mark.parametrize(("partial_polls", "finishes"), [(MAX_COUNT_POLLS - 1, True), (MAX_COUNT_POLLS, False)])
async def test_the_poll_bound_finishes_any_count_with_fewer_partial_polls_than_the_bound(
    make_world: Callable[..., CleverTapWorld], partial_polls: int, finishes: bool
) -> None:
    world = make_world(count_partial_polls=partial_polls)
    async with httpx2.AsyncClient(transport=httpx2.ASGITransport(app=build_clevertap_app(world))) as client:
        if finishes:
            assert isinstance((await run_action("get-event-count", QUERY, CREDS, client, BASE))["count"], int)
        else:
            with pytest.raises(ActionFailed, match=f"still counting after {MAX_COUNT_POLLS} polls") as caught:
                await run_action("get-event-count", QUERY, CREDS, client, BASE)
            req_id = caught.value.data["req_id"]
            assert f"GET /1/counts/events.json?req_id={req_id}" in caught.value.message


@pytest.mark.anyio
async def test_a_count_that_never_finishes_fails_after_the_poll_bound(
    make_world: Callable[..., CleverTapWorld],
) -> None:
    world = make_world(count_partial_polls=100)
    async with httpx2.AsyncClient(transport=httpx2.ASGITransport(app=build_clevertap_app(world))) as client:
        with pytest.raises(ActionFailed, match="still counting"):
            await run_action("get-event-count", QUERY, CREDS, client, BASE)


@pytest.mark.anyio
async def test_get_events_then_by_cursor_walks_the_whole_export(run: Run) -> None:
    first = await run("get-events", {**QUERY, "batch_size": 40})
    records = list(first["records"])
    cursor = first["next_cursor"]
    while cursor is not None:
        page = await run("get-events-by-cursor", {"cursor": cursor})
        records.extend(page["records"])
        cursor = page["next_cursor"]
    assert len(records) == (await run("get-event-count", QUERY))["count"] > 40
    assert all(isinstance(r["ts"], int) and len(str(r["ts"])) == 14 for r in records)


@pytest.mark.anyio
async def test_get_user_profiles_then_by_cursor_walks_the_whole_export(run: Run) -> None:
    first = await run("get-user-profiles", {**QUERY, "batch_size": 23})
    records = list(first["records"])
    cursor = first["next_cursor"]
    while cursor is not None:
        page = await run("get-user-profiles-by-cursor", {"cursor": cursor})
        records.extend(page["records"])
        cursor = page["next_cursor"]
    assert len({r["identity"] for r in records}) == len(records) == (await run("get-profile-count", QUERY))["count"]


@pytest.mark.anyio
async def test_an_empty_export_is_one_empty_last_page(run: Run) -> None:
    assert await run("get-events", {**QUERY, "from": 20200101, "to": 20200102}) == {"records": [], "next_cursor": None}


@pytest.mark.anyio
async def test_a_first_page_still_in_progress_is_retried_with_the_same_cursor(
    make_world: Callable[..., CleverTapWorld],
) -> None:
    world = make_world(cursor_pending_polls=2)
    progress: list[str] = []

    async def note(message: str) -> None:
        progress.append(message)

    async with httpx2.AsyncClient(transport=httpx2.ASGITransport(app=build_clevertap_app(world))) as client:
        output = await run_action("get-events", {**QUERY, "batch_size": 5}, CREDS, client, BASE, progress=note)
    assert len(output["records"]) == 5
    assert len(progress) == 2


@pytest.mark.anyio
async def test_a_first_page_that_stays_in_progress_fails_after_the_retry_bound(
    make_world: Callable[..., CleverTapWorld],
) -> None:
    world = make_world(cursor_pending_polls=50)
    async with httpx2.AsyncClient(transport=httpx2.ASGITransport(app=build_clevertap_app(world))) as client:
        with pytest.raises(ActionFailed, match=r"Request still in progress.*\(CleverTap code 2\)"):
            await run_action("get-events", QUERY, CREDS, client, BASE)


@pytest.mark.anyio
async def test_an_unknown_cursor_fails_with_cleverTaps_message(run: Run) -> None:
    with pytest.raises(ActionFailed) as caught:
        await run("get-events-by-cursor", {"cursor": "bm9wZQ%3D%3D"})
    assert (
        caught.value.message == "CleverTap rejected the input: CURSOR_INVALIDATED: invalid cursor (CleverTap code 400)"
    )
    assert caught.value.data == {"status": "fail", "error": "CURSOR_INVALIDATED: invalid cursor", "code": 400}


@pytest.mark.anyio
async def test_bad_dates_that_pass_the_schema_fail_with_cleverTaps_4002(run: Run) -> None:
    with pytest.raises(
        ActionFailed, match=r"^CleverTap rejected the input: Dates must be real.*\(CleverTap code 4002\)$"
    ):
        await run("get-event-count", {**QUERY, "from": 20260231, "to": 20260301})


@pytest.mark.anyio
async def test_integral_float_dates_that_pass_the_schema_are_counted_not_refused_with_4002(run: Run) -> None:
    floats = {**QUERY, "from": 20251206.0, "to": 20260105.0}
    spec = next(spec for spec in ACTIONS if spec.key == "get-event-count")
    jsonschema.validate(floats, spec.input_schema, cls=jsonschema.Draft202012Validator)  # JSON Schema calls it int
    assert await run("get-event-count", floats) == await run("get-event-count", QUERY)


@pytest.mark.anyio
async def test_integers_the_schema_declares_go_out_as_json_integers_and_free_form_floats_stay_floats() -> None:
    seen: list[httpx2.Request] = []

    def answer(request: httpx2.Request) -> httpx2.Response:
        seen.append(request)
        body: dict[str, Any] = {"status": "success", "processed": 1, "unprocessed": [], "targets": [], "id": 1}
        return httpx2.Response(200, json={**body, "estimates": {}})

    event = {"identity": "u-1", "evtName": "Charged", "evtData": {"Amount": 59.0}, "ts": 1767600000.0}
    async with mock_client(answer) as client:
        await run_action("get-campaigns", {"from": 20260101.0, "to": 20260105.0}, CREDS, client, BASE)
        await run_action("upload-events", {"events": [event]}, CREDS, client, BASE)
        await run_action("create-campaign", {**PUSH, "where": {**QUERY, "from": 20251206.0}}, CREDS, client, BASE)
        await run_action("create-campaign", {**PUSH, "segment": 7.0}, CREDS, client, BASE)
    listed, uploaded, where, segment = (json.loads(request.content) for request in seen)
    assert listed == {"from": 20260101, "to": 20260105}
    assert isinstance(listed["from"], int) and isinstance(listed["to"], int)
    assert isinstance(uploaded["d"][0]["ts"], int)
    assert isinstance(uploaded["d"][0]["evtData"]["Amount"], float)  # evtData is free-form: left as sent
    assert isinstance(where["where"]["from"], int)
    assert isinstance(segment["segment"], int)


def test_only_integral_floats_at_integer_positions_change() -> None:
    schema = {"type": "object", "properties": {"n": {"type": "integer"}, "x": {"type": "number"}}}
    value = {"n": 1.5, "x": 2.0, "other": 3.0}
    assert integral_floats_to_ints(schema, value) == value
    assert integral_floats_to_ints(schema, {"n": 4.0}) == {"n": 4}
    assert isinstance(integral_floats_to_ints(schema, {"n": 4.0})["n"], int)


@pytest.mark.anyio
async def test_an_input_holding_nan_or_infinity_fails_before_anything_is_sent() -> None:
    seen: list[httpx2.Request] = []

    def answer(request: httpx2.Request) -> httpx2.Response:
        seen.append(request)
        return httpx2.Response(200, json={"status": "success", "processed": 1, "unprocessed": []})

    async with mock_client(answer) as client:
        for number in (float("nan"), float("inf")):
            events = [{"identity": "u-1", "evtName": "Charged", "evtData": {"Amount": number}}]
            with pytest.raises(ActionFailed, match="NaN or Infinity"):
                await run_action("upload-events", {"events": events}, CREDS, client, BASE)
    assert seen == []


@pytest.mark.anyio
async def test_uploading_a_discarded_event_reports_528(run: Run) -> None:
    with pytest.raises(ActionFailed, match=r"Event is discarded\. ErrorCode: 528") as caught:
        await run("upload-events", {"events": [{"identity": "u-1", "evtName": "Legacy Event", "evtData": {}}]})
    assert caught.value.data["unprocessed"][0]["code"] == 528


@pytest.mark.anyio
async def test_an_unknown_event_name_fails_with_the_invalid_event_message(run: Run) -> None:
    with pytest.raises(ActionFailed, match="Invalid event : Refunded"):
        await run("get-events", {**QUERY, "event_name": "Refunded"})


@pytest.mark.anyio
async def test_upload_events_returns_partial_with_the_unprocessed_records(run: Run, account: Account) -> None:
    before = len(account.events)
    output = await run(
        "upload-events",
        {
            "events": [
                {"identity": "u-1", "evtName": "Searched", "evtData": {}},
                {"identity": "u-1", "evtName": "App Launched", "evtData": {}},
            ]
        },
    )
    assert (output["status"], output["processed"]) == ("partial", 1)
    assert output["unprocessed"][0]["record"]["type"] == "event"
    assert output["unprocessed"][0]["code"] == 513
    assert len(account.events) == before + 1


@pytest.mark.anyio
async def test_an_upload_where_every_record_fails_raises_with_the_first_error(run: Run) -> None:
    with pytest.raises(ActionFailed, match="none of the 1 records: Trying to raise a restricted") as caught:
        await run("upload-events", {"events": [{"identity": "u-1", "evtName": "App Launched", "evtData": {}}]})
    assert caught.value.data["status"] == "fail"


@pytest.mark.anyio
async def test_a_dry_run_upload_stores_nothing(run: Run, account: Account) -> None:
    output = await run("upload-user-profiles", {"profiles": [{"identity": "u-42", "profileData": {}}], "dryRun": True})
    assert output == {"status": "success", "processed": 1, "unprocessed": []}
    assert account.find(identity="u-42") is None


@pytest.mark.anyio
async def test_upload_user_profiles_creates_profiles(run: Run, account: Account) -> None:
    output = await run("upload-user-profiles", {"profiles": [{"identity": "u-77", "profileData": {"Gender": "F"}}]})
    assert output == {"status": "success", "processed": 1, "unprocessed": []}
    created = account.find(identity="u-77")
    assert created is not None and created.data == {"Gender": "F"}


@pytest.mark.anyio
async def test_upload_device_tokens_registers_the_token(run: Run, account: Account) -> None:
    output = await run("upload-device-tokens", VALID["upload-device-tokens"])
    assert output["status"] == "success"
    created = account.find(object_id=GUID)
    assert created is not None and [t.id for t in created.tokens] == ["t-1"]


@pytest.mark.anyio
async def test_get_campaigns_lists_api_campaigns(run: Run) -> None:
    output = await run("get-campaigns", {"from": 20250101, "to": 20261231})
    assert {t["status"] for t in output["targets"]} == {"scheduled", "running", "completed", "stopped"}


@pytest.mark.anyio
async def test_create_campaign_previews_with_estimate_only_then_creates(run: Run, account: Account) -> None:
    before = set(account.campaigns)
    preview = await run("create-campaign", {**PUSH, "estimate_only": True})
    assert set(preview) == {"created", "estimates"} and preview["created"] is False
    assert set(account.campaigns) == before
    created = await run("create-campaign", PUSH)
    assert set(created) == {"created", "id", "estimates"} and created["created"] is True
    assert created["estimates"] == preview["estimates"]
    assert account.campaigns[created["id"]].name == "Promo"


@pytest.mark.anyio
async def test_campaign_report_and_stop(run: Run, account: Account) -> None:
    done = next(c.id for c in account.campaigns.values() if c.status == "completed" and c.api_created)
    running = next(c.id for c in account.campaigns.values() if c.status == "running")
    assert (await run("get-campaign-report", {"id": done}))["result"] == account.campaigns[done].result
    with pytest.raises(ActionFailed, match="This target hasn't been completed"):
        await run("get-campaign-report", {"id": running})
    stopped = await run("stop-campaign", {"id": running})
    assert (stopped["status"], stopped["id"]) == ("success", running)
    assert f"stop of campaign {running}" in stopped["message"]
    assert account.campaigns[running].status == "stopped"
    with pytest.raises(ActionFailed, match="Invalid target id"):
        await run("stop-campaign", {"id": 99})


@pytest.mark.anyio
async def test_delete_user_profile_deletes(run: Run, account: Account) -> None:
    output = await run("delete-user-profile", {"identity": "u-1001"})
    assert (output["status"], output["identity"], "guid" in output) == ("success", ["u-1001"], False)
    assert "deletion of 1 profile(s)" in output["message"]
    assert account.find(identity="u-1001") is None


# Failures at the wire -------------------------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_wrong_credentials_fail_with_invalid_credentials(http: httpx2.AsyncClient) -> None:
    creds = CleverTapCredentials(DEMO_CLEVERTAP_ACCOUNT_ID, "WRONG", "eu1")
    with pytest.raises(ActionFailed, match="Invalid Credentials") as caught:
        await run_action("get-campaigns", {"from": 20260101, "to": 20260105}, creds, http, BASE)
    assert caught.value.data == {"status": "fail", "error": "Invalid Credentials", "code": 401}


@pytest.mark.anyio
async def test_a_429_fails_with_cleverTaps_message_and_body() -> None:
    body = {"status": "fail", "error": "Too many concurrent requests", "code": 429}
    async with mock_client(lambda request: httpx2.Response(429, json=body)) as client:
        with pytest.raises(ActionFailed, match="Too many concurrent requests") as caught:
            await run_action("real-time-user-count", {}, CREDS, client, BASE)
    assert caught.value.data == body


@pytest.mark.anyio
async def test_a_non_json_answer_fails_with_its_status() -> None:
    async with mock_client(lambda request: httpx2.Response(502, text="<html>Bad gateway</html>")) as client:
        with pytest.raises(ActionFailed, match="HTTP 502 without a JSON object body"):
            await run_action("real-time-user-count", {}, CREDS, client, BASE)


@pytest.mark.anyio
async def test_an_unreachable_host_fails_clearly() -> None:
    def refuse(request: httpx2.Request) -> httpx2.Response:
        raise httpx2.ConnectError("connection refused", request=request)

    async with mock_client(refuse) as client:
        with pytest.raises(ActionFailed, match="Could not reach CleverTap: ConnectError"):
            await run_action("real-time-user-count", {}, CREDS, client, BASE)


@pytest.mark.anyio
async def test_an_unknown_action_key_fails(http: httpx2.AsyncClient) -> None:
    with pytest.raises(ActionFailed, match="Unknown CleverTap action"):
        await run_action("send-carrier-pigeon", {}, CREDS, http, BASE)


@pytest.mark.anyio
async def test_requests_carry_the_auth_headers_and_cursors_go_out_unencoded_again() -> None:
    seen: list[httpx2.Request] = []

    def answer(request: httpx2.Request) -> httpx2.Response:
        seen.append(request)
        return httpx2.Response(200, json={"status": "success", "records": [{"x": 1}]})

    async with mock_client(answer) as client:
        output = await run_action("get-events-by-cursor", {"cursor": "ab%2Bc%2Fd%3D%3D"}, CREDS, client, BASE)
    assert output == {"records": [{"x": 1}], "next_cursor": None}
    [request] = seen
    assert request.url.raw_path == b"/eu1/1/events.json?cursor=ab%2Bc%2Fd%3D%3D"
    assert request.headers["X-CleverTap-Account-Id"] == DEMO_CLEVERTAP_ACCOUNT_ID
    assert request.headers["X-CleverTap-Passcode"] == DEMO_CLEVERTAP_PASSCODE
    assert request.headers["Content-Type"] == "application/json"


@pytest.mark.anyio
async def test_export_switches_go_in_the_url_and_the_query_in_the_body() -> None:
    seen: list[httpx2.Request] = []

    def answer(request: httpx2.Request) -> httpx2.Response:
        seen.append(request)
        if request.method == "POST":
            return httpx2.Response(200, json={"status": "success", "cursor": "c%3D"})
        return httpx2.Response(200, json={"status": "success"})

    async with mock_client(answer) as client:
        await run_action("get-user-profiles", {**QUERY, "batch_size": 23, "events": False}, CREDS, client, BASE)
    post, get = seen
    assert post.url.raw_path == b"/eu1/1/profiles.json?batch_size=23&events=false"
    assert json.loads(post.content) == QUERY
    assert get.url.raw_path == b"/eu1/1/profiles.json?cursor=c%3D"


@pytest.mark.anyio
async def test_a_cursor_that_could_smuggle_parameters_is_refused_before_any_request() -> None:
    seen: list[httpx2.Request] = []

    def answer(request: httpx2.Request) -> httpx2.Response:
        seen.append(request)
        return httpx2.Response(200, json={"status": "success"})

    async with mock_client(answer) as client:
        with pytest.raises(ActionFailed, match="cursor"):
            await run_action("get-events-by-cursor", {"cursor": "x&batch_size=1"}, CREDS, client, BASE)
    assert seen == []
