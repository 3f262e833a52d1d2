"""Agent sessions: the call sequences a model makes for everyday CleverTap tasks, end to end, with their answers.

Each test reads like a task a user gives an agent ("how many Charged events last week, and the revenue?"): it reads
what search_actions ranks first and what the action's description says, runs what that points to, falls back to
proxy_request where no action fits (as clevertap-api.md tells an agent), and checks the answer against the seeded,
clock-pinned world, computed here straight from its events. The refusals check that every mistake agents typically
make is answered with what to change.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, date, datetime
from typing import Any

import anyio
import jsonschema
import pytest
from mcp import Client

from clevertap_mcp.sandbox.app import parts_of
from clevertap_mcp.sandbox.clevertap.model import Account
from clevertap_mcp.sandbox.server import SandboxServer
from clevertap_mcp.sandbox.settings import DEMO_CLEVERTAP_ACCOUNT_ID, DEMO_CLEVERTAP_REGION, SandboxSettings

from helpers import call, complete_connect_page, demo_token, error_text, mcp_client, ok

pytestmark = pytest.mark.anyio

NOW = 1767607200  # Monday 2026-01-05 10:00 UTC, the pinned clock
LAST_WEEK = {"from": 20251229, "to": 20260104}
YESTERDAY = {"from": 20260104, "to": 20260104}
LAST_30_DAYS = {"from": 20251206, "to": 20260105}
LAST_3_DAYS = {"from": 20260103, "to": 20260105}
# Count polls an agent makes before giving up (clevertap-api.md §9: clients poll 10–15 times).
MAX_POLLS = 15


# The world the answers come from ------------------------------------------------------------------------------------


def account_of(sandbox: SandboxServer) -> Account:
    assert sandbox.app is not None
    found = parts_of(sandbox.app).clevertap.world.account(DEMO_CLEVERTAP_REGION, DEMO_CLEVERTAP_ACCOUNT_ID)
    assert found is not None
    return found


def _day(yyyymmdd: int) -> int:
    day = date(yyyymmdd // 10000, yyyymmdd // 100 % 100, yyyymmdd % 100)
    return int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp())


def events_in(account: Account, name: str, dates: dict[str, int]) -> list[Any]:
    start, end = _day(dates["from"]), _day(dates["to"]) + 86400
    return [event for event in account.events if event.name == name and start <= event.ts < end]


def doers(account: Account, name: str, dates: dict[str, int]) -> set[str]:
    return {event.object_id for event in events_in(account, name, dates)}


# Sessions -----------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def world() -> Iterator[SandboxServer]:
    """One auto-connecting sandbox for the sessions that only read: none of them changes the world."""
    with SandboxServer(SandboxSettings(auto_connect=True, clock=NOW)) as shared:
        yield shared


@pytest.fixture
async def agent(world: SandboxServer) -> AsyncIterator[Client]:
    async with mcp_client(world.base_url, demo_token()) as client:
        assert ok(await call(client, "ensure_connection"))["state"] == "READY"
        yield client


@pytest.fixture
def fresh_world(sandbox_factory: Callable[..., SandboxServer]) -> SandboxServer:
    """A world of its own, for sessions that write."""
    return sandbox_factory(auto_connect=True, clock=NOW)


@pytest.fixture
async def writer(fresh_world: SandboxServer) -> AsyncIterator[Client]:
    async with mcp_client(fresh_world.base_url, demo_token()) as client:
        assert ok(await call(client, "ensure_connection"))["state"] == "READY"
        yield client


async def best(client: Client, intent: str, limit: int = 3) -> list[dict[str, Any]]:
    return ok(await call(client, "search_actions", {"intent": intent, "limit": limit}))["actions"]


async def run(client: Client, action: str, input: dict[str, Any]) -> Any:
    result = ok(await call(client, "run_action", {"action_id": action, "input": input}))
    assert "truncated" not in result, result["truncated"]
    return result["output"]


async def run_error(client: Client, action: str, input: dict[str, Any]) -> str:
    return error_text(await call(client, "run_action", {"action_id": action, "input": input}))


async def proxy(client: Client, path: str, **arguments: Any) -> dict[str, Any]:
    return ok(await call(client, "proxy_request", {"path": path, **arguments}))["body"]


async def polled(client: Client, path: str, query: dict[str, Any]) -> dict[str, Any]:
    """POST a CleverTap query, then GET its req_id until it is no longer partial, as the docs tell an agent to."""
    body = await proxy(client, path, method="POST", body=query)
    with anyio.fail_after(30):
        for _ in range(MAX_POLLS):
            if body["status"] != "partial":
                return body
            body = await proxy(client, path, query={"req_id": body["req_id"]})
    raise AssertionError(f"{path} was still partial after {MAX_POLLS} polls")


# Reads --------------------------------------------------------------------------------------------------------------


async def test_how_many_users_are_online_now_is_the_first_match_and_answers_at_the_worlds_clock(
    agent: Client,
) -> None:
    found = await best(agent, "how many users are online now")
    assert found[0]["key"] == "real-time-user-count"
    online = await run(agent, found[0]["id"], {})
    assert online["last_processed_ts"] == NOW and online["count"] > 0


async def test_an_action_ranked_below_the_first_is_fetched_whole_by_its_key_and_then_run_correctly(
    agent: Client, world: SandboxServer
) -> None:
    # "Online now, and how many people launched the app yesterday?": the second part is not the best match.
    found = await best(agent, "how many users are online right now", limit=10)
    listed = next(action for action in found if action["key"] == "get-profile-count")
    assert "input_schema" not in listed and "from*: int (YYYYMMDD)" in listed["inputs"]
    whole = (await best(agent, listed["key"], limit=1))[0]
    question = {"event_name": "App Launched", **YESTERDAY}
    jsonschema.validate(question, whole["input_schema"])
    counted = await run(agent, whole["id"], question)
    assert counted == {"count": len(doers(account_of(world), "App Launched", YESTERDAY))}


async def test_last_weeks_charged_count_comes_from_the_count_action_and_its_revenue_from_the_trends_api_it_names(
    agent: Client, world: SandboxServer
) -> None:
    charged = events_in(account_of(world), "Charged", LAST_WEEK)
    found = await best(agent, "how many Charged events last week and their total revenue")
    assert found[0]["key"] == "get-event-count"
    # No action sums a property; the count action's description says where that is.
    assert "/1/counts/trends.json" in found[0]["description"]
    counted = await run(agent, "get-event-count", {"event_name": "Charged", **LAST_WEEK})
    assert counted == {"count": len(charged)}

    query = {
        "event_name": "Charged",
        **LAST_WEEK,
        "sum_event_prop": "Amount",
        "groups": {"revenue": {"trend_type": "daily"}},
    }
    trend = await polled(agent, "/1/counts/trends.json", query)
    assert trend["status"] == "success"
    assert sorted(trend["revenue"]) == [str(day) for day in range(20251229, 20251232)] + [
        str(day) for day in range(20260101, 20260105)
    ]
    assert sum(trend["revenue"].values()) == pytest.approx(sum(event.props["Amount"] for event in charged))


async def test_a_daily_trend_intent_ranks_the_count_action_first_and_no_upload_among_the_first_three(
    agent: Client,
) -> None:
    # "App Launched" names an event: it must not read as "launch a campaign" nor match upload-events' mention of it.
    keys = [action["key"] for action in await best(agent, "daily trend of App Launched this week")]
    assert keys[0] == "get-event-count"
    assert not any(key.startswith("upload") for key in keys)


@pytest.mark.parametrize(
    ("intent", "first"),
    [
        ("which users are on iOS", "get-user-profiles"),
        ("users who bought last month", "get-user-profiles"),
        ("opt a user out of email", "upload-user-profiles"),
        ("unsubscribe u-1001 from emails", "upload-user-profiles"),
    ],
)
async def test_a_question_never_ranks_a_delete_first_and_an_opt_out_is_a_profile_update(
    agent: Client, intent: str, first: str
) -> None:
    found = await best(agent, intent)
    assert found[0]["key"] == first
    assert found[0]["key"] != "delete-user-profile"
    if first == "upload-user-profiles":
        assert "MSG-email" in found[0]["description"]  # the consent key an opt-out sets


@pytest.mark.parametrize("kind", ["did_all", "did_any", "did_none"])
async def test_advanced_query_narrows_a_count_to_who_also_did_or_did_not_do_another_event(
    agent: Client, world: SandboxServer, kind: str
) -> None:
    account = account_of(world)
    carted, bought = doers(account, "Added To Cart", LAST_3_DAYS), doers(account, "Charged", LAST_3_DAYS)
    searched = doers(account, "Searched", LAST_3_DAYS)
    expected = {
        "did_all": carted & bought & searched,
        "did_any": carted & (bought | searched),
        "did_none": carted - bought - searched,
    }[kind]
    others = [{"event_name": "Charged"}, {"event_name": "Searched", **LAST_3_DAYS}]
    query = {"event_name": "Added To Cart", **LAST_3_DAYS, "advanced_query": {kind: others}}
    assert await run(agent, "get-profile-count", query) == {"count": len(expected)}


async def test_a_mis_cased_event_name_is_refused_with_what_to_change(agent: Client) -> None:
    text = await run_error(agent, "get-event-count", {"event_name": "charged", **LAST_WEEK})
    assert "CleverTap rejected the input" in text and "Invalid event : charged" in text
    assert "case-sensitive" in text and "'Charged'" in text


async def test_running_campaigns_are_listed_with_a_documented_scheduled_on_format(agent: Client) -> None:
    found = await best(agent, "list running campaigns")
    assert found[0]["key"] == "get-campaigns"
    assert "yyyyMMddHHmm" in found[0]["description"]
    listed = await run(agent, "get-campaigns", {"from": 20251201, "to": 20260105})
    running = [campaign for campaign in listed["targets"] if campaign["status"] == "running"]
    assert running == [
        {"id": running[0]["id"], "name": "Cart Reminder", "scheduled_on": 202601050800, "status": "running"}
    ]


async def test_one_user_is_found_by_email_through_the_lookup_the_profiles_action_points_to(
    agent: Client, world: SandboxServer
) -> None:
    account = account_of(world)
    user = account.find(identity="u-1001")
    assert user is not None
    found = await best(agent, "get the profile of a user by email")
    assert found[0]["key"] == "get-user-profiles"
    assert "/1/profile.json" in found[0]["description"]
    looked_up = await proxy(agent, "/1/profile.json", query={"email": user.data["Email"]})
    assert looked_up["status"] == "success"
    assert looked_up["record"]["identity"] == "u-1001" and looked_up["record"]["email"] == user.data["Email"]


async def test_yesterdays_app_launchers_are_exported_page_by_page_until_next_cursor_is_null(
    agent: Client, world: SandboxServer
) -> None:
    account = account_of(world)
    expected = {account.profiles[object_id].identity for object_id in doers(account, "App Launched", YESTERDAY)}
    found = await best(agent, "export all profiles who launched the app yesterday")
    assert found[0]["key"] == "get-user-profiles"
    page = await run(agent, "get-user-profiles", {"event_name": "App Launched", **YESTERDAY, "batch_size": 4})
    exported = [record["identity"] for record in page["records"]]
    pages = 1
    while page["next_cursor"] is not None:
        page = await run(agent, "get-user-profiles-by-cursor", {"cursor": page["next_cursor"]})
        exported += [record["identity"] for record in page["records"]]
        pages += 1
    assert sorted(exported) == sorted(str(identity) for identity in expected) and len(expected) > 4 and pages > 1


async def test_the_top_five_viewed_products_come_from_the_top_api_after_polling(
    agent: Client, world: SandboxServer
) -> None:
    views = Counter(event.props["Product"] for event in events_in(account_of(world), "Product Viewed", LAST_30_DAYS))
    query = {
        "event_name": "Product Viewed",
        **LAST_30_DAYS,
        "groups": {"products": {"property_type": "event_properties", "name": "Product", "top_n": 5}},
    }
    top = (await polled(agent, "/1/counts/top.json", query))["products"]["STR"]
    assert len(top) == 5
    assert all(views[product] == count for product, count in top.items())
    assert min(top.values()) >= max((count for product, count in views.items() if product not in top), default=0)


async def test_last_months_message_report_includes_campaigns_made_in_the_dashboard(agent: Client) -> None:
    report = await proxy(agent, "/1/message/report.json", method="POST", body={"from": "20251201", "to": "20251231"})
    names = {message["message_name"] for message in report["messages"]}
    assert {"Welcome Series", "Weekend Sale", "Flash Deal", "Dashboard Newsletter"} <= names


# Refusals an agent can act on ---------------------------------------------------------------------------------------


async def test_an_actions_name_passed_as_its_id_is_refused_naming_the_key_to_pass(agent: Client) -> None:
    text = error_text(
        await call(
            agent, "run_action", {"action_id": "Get Event Count", "input": {"event_name": "Charged", **LAST_WEEK}}
        )
    )
    assert "No action 'Get Event Count'" in text and "get-event-count" in text and "never its name" in text
    assert "Nothing was run" in text


@pytest.mark.parametrize("wrong", ["2025-12-29", 1767052800, 1767052800000], ids=["iso-string", "epoch-s", "epoch-ms"])
async def test_a_date_in_the_wrong_format_is_refused_naming_the_field_whose_schema_shows_the_format(
    agent: Client, wrong: Any
) -> None:
    schema = (await best(agent, "how many times did users buy", limit=1))[0]["input_schema"]
    assert (
        schema["properties"]["from"]["type"] == "integer" and schema["properties"]["from"]["description"] == "YYYYMMDD"
    )
    text = await run_error(agent, "get-event-count", {"event_name": "Charged", "from": wrong, "to": 20260104})
    assert "input.from" in text and "Nothing was run or changed" in text


async def test_an_identity_put_inside_profile_data_is_refused_naming_the_record_that_needs_one(agent: Client) -> None:
    found = await best(agent, "update a user's email", limit=1)
    assert found[0]["key"] == "upload-user-profiles"
    text = await run_error(
        agent, "upload-user-profiles", {"profiles": [{"profileData": {"identity": "u-1001", "Email": "a@b.co"}}]}
    )
    assert "input.profiles[0]" in text and "needs one of 'identity', 'objectId'" in text


async def test_a_misspelled_advanced_query_is_refused_with_the_words_it_takes(agent: Client) -> None:
    wrong = {"event_name": "Added To Cart", **LAST_3_DAYS, "advanced_query": {"did_not": [{"event_name": "Charged"}]}}
    text = await run_error(agent, "get-profile-count", wrong)
    assert "advanced_query takes did_all, did_any, did_none; not did_not" in text


async def test_a_report_asked_for_while_the_campaign_runs_says_when_it_will_exist(agent: Client) -> None:
    running = next(
        campaign
        for campaign in (await run(agent, "get-campaigns", {"from": 20251201, "to": 20260105}))["targets"]
        if campaign["status"] == "running"
    )
    text = await run_error(agent, "get-campaign-report", {"id": running["id"]})
    assert "hasn't been completed" in text and "completes or is stopped" in text


# Sessions that write ------------------------------------------------------------------------------------------------


async def test_a_push_to_cart_abandoners_is_estimated_without_buyers_then_created(
    writer: Client, fresh_world: SandboxServer
) -> None:
    account = account_of(fresh_world)
    abandoners = doers(account, "Added To Cart", LAST_3_DAYS) - doers(account, "Charged", LAST_3_DAYS)
    assert abandoners and abandoners != doers(account, "Added To Cart", LAST_3_DAYS)
    found = await best(
        writer, "send a push to users who did Added To Cart in the last 3 days but not Charged, estimate reach first"
    )
    assert found[0]["key"] == "create-campaign"
    assert "advanced_query" in found[0]["input_schema"]["properties"]["where"]["properties"]

    where = {"event_name": "Added To Cart", **LAST_3_DAYS, "advanced_query": {"did_none": [{"event_name": "Charged"}]}}
    assert await run(writer, "get-profile-count", where) == {"count": len(abandoners)}
    push = {"name": "Cart nudge", "target_mode": "push", "content": {"title": "Still there?", "body": "Your cart"}}
    campaign = {**push, "when": "now", "where": where, "estimate_only": True}
    # The action takes estimate_only only where its schema declares it (§11 R1); else CleverTap's own, by proxy.
    assert "estimate_only" not in found[0]["input_schema"]["properties"]
    proxied = ok(
        await call(writer, "proxy_request", {"path": "/1/targets/create.json", "method": "POST", "body": campaign})
    )
    estimate = proxied["body"]
    reachable = {p.object_id for p in account.profiles.values() if p.tokens and p.object_id in abandoners}
    assert "id" not in estimate and sum(estimate["estimates"].values()) == len(reachable)

    created = await run(writer, "create-campaign", {**push, "when": "now", "where": where})
    listed = await run(writer, "get-campaigns", {"from": 20260105, "to": 20260105})
    assert {"id": created["id"], "name": "Cart nudge", "status": "running"}.items() <= next(
        campaign for campaign in listed["targets"] if campaign["id"] == created["id"]
    ).items()


async def test_the_cart_reminder_is_stopped_by_the_id_its_name_lists_and_then_reports_zeros(writer: Client) -> None:
    found = await best(writer, "stop the Cart Reminder campaign")
    assert found[0]["key"] == "stop-campaign"
    assert "get-campaigns" in found[0]["input_schema"]["properties"]["id"]["description"]
    text = await run_error(writer, "stop-campaign", {"id": "Cart Reminder"})
    assert "input.id" in text
    campaigns = (await run(writer, "get-campaigns", {"from": 20251201, "to": 20260131}))["targets"]
    reminder = next(campaign for campaign in campaigns if campaign["name"] == "Cart Reminder")
    stopped = await run(writer, "stop-campaign", {"id": reminder["id"]})
    assert stopped["status"] == "success"
    after = (await run(writer, "get-campaigns", {"from": 20251201, "to": 20260131}))["targets"]
    assert next(campaign for campaign in after if campaign["id"] == reminder["id"])["status"] == "stopped"
    # A campaign stopped before it delivered reports zeros, not an empty object that reads as "no report".
    assert await run(writer, "get-campaign-report", {"id": reminder["id"]}) == {"result": {"sent": 0, "clicked": 0}}


async def test_a_rejected_upload_says_nothing_changed_rather_than_that_it_may_have_run(writer: Client) -> None:
    text = await run_error(
        writer, "upload-events", {"events": [{"identity": "u-1001", "evtName": "App Launched", "evtData": {}}]}
    )
    assert "CleverTap rejected the input and processed none of the 1 records" in text
    assert "restricted system event" in text and "Nothing was changed" in text
    assert "may or may not have run" not in text


async def test_an_event_for_a_new_user_creates_a_profile_that_reads_back_and_then_deletes(writer: Client) -> None:
    found = await best(writer, "upload an event for a new user")
    assert found[0]["key"] == "upload-events"
    event = {"identity": "agent-new-1", "evtName": "Product Viewed", "evtData": {"Product": "Hat"}}
    assert await run(writer, "upload-events", {"events": [event]}) == {
        "status": "success",
        "processed": 1,
        "unprocessed": [],
    }
    profile = await proxy(writer, "/1/profile.json", query={"identity": "agent-new-1"})
    assert profile["record"]["events"]["Product Viewed"]["count"] == 1
    assert profile["record"]["events"]["Product Viewed"]["first_seen"] == NOW  # no ts: the server's time

    assert (await best(writer, "delete a user"))[0]["key"] == "delete-user-profile"
    deleted = await run(writer, "delete-user-profile", {"identity": "agent-new-1"})
    assert deleted["identity"] == ["agent-new-1"]
    assert await proxy(writer, "/1/profile.json", query={"identity": "agent-new-1"}) == {
        "status": "fail",
        "error": "User not found",
        "code": 404,
    }


async def test_without_auto_connect_the_agent_is_led_from_the_first_call_to_a_ready_connection(
    sandbox_factory: Callable[..., SandboxServer],
) -> None:
    sandbox = sandbox_factory(clock=NOW)
    async with mcp_client(sandbox.base_url, demo_token()) as client:
        assert "Call ensure_connection first" in error_text(await call(client, "search_actions", {"intent": "count"}))
        pending = ok(await call(client, "ensure_connection", {"wait_seconds": 0}))
        assert pending["state"] == "CLIENT_ACTION_REQUIRED" and pending["client_action"]["ui_url"] in pending["message"]
        early = error_text(await call(client, "run_action", {"action_id": "real-time-user-count"}))
        assert "Nothing was run" in early and "ensure_connection" in early
        assert (await complete_connect_page(pending["client_action"]["ui_url"])).status_code == 200
        ready = ok(await call(client, "ensure_connection", {"connection_id": pending["connection_id"]}))
        assert ready["state"] == "READY"
        assert (await run(client, "real-time-user-count", {}))["last_processed_ts"] == NOW
