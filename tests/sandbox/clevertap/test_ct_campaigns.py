"""Campaigns: list, report, create with estimates, stop (clevertap-api.md §11, §14 #33–#37)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx2
import pytest

from clevertap_mcp.sandbox.clevertap import CleverTapWorld
from clevertap_mcp.sandbox.clevertap.model import Account
from clevertap_mcp.sandbox.settings import DEMO_CLEVERTAP_ACCOUNT_ID

from helpers import posted

pytestmark = pytest.mark.anyio

ALL_TIME = {"from": 20250101, "to": 20261231}
PUSH = {"name": "New arrivals", "target_mode": "push", "content": {"title": "Hi", "body": "New in"}, "when": "now"}


def by_name(account: Account, name: str) -> int:
    return next(c.id for c in account.campaigns.values() if c.name == name)


async def test_the_list_holds_only_api_created_campaigns_in_several_states(
    client: httpx2.AsyncClient, account: Account
) -> None:
    body = await posted(client, "/1/targets/list.json", ALL_TIME)
    assert body["status"] == "success"
    assert {t["status"] for t in body["targets"]} == {"scheduled", "running", "completed", "stopped"}
    assert "Dashboard Newsletter" not in {t["name"] for t in body["targets"]}
    assert any(not c.api_created for c in account.campaigns.values())
    assert all(set(t) == {"id", "name", "scheduled_on", "status"} for t in body["targets"])


async def test_the_list_filters_by_scheduled_start_date_inclusively(client: httpx2.AsyncClient) -> None:
    body = await posted(client, "/1/targets/list.json", {"from": 20260105, "to": 20260105})
    assert [(t["name"], t["scheduled_on"]) for t in body["targets"]] == [("Cart Reminder", 202601050800)]


async def test_the_list_refuses_bad_dates(client: httpx2.AsyncClient) -> None:
    body = await posted(client, "/1/targets/list.json", {"from": 20260110, "to": 20260101})
    assert (body["status"], body["code"]) == ("fail", 4002)


async def test_a_completed_campaign_reports_sent_and_clicked(client: httpx2.AsyncClient, account: Account) -> None:
    campaign_id = by_name(account, "Welcome Series")
    body = await posted(client, "/1/targets/result.json", {"id": campaign_id})
    assert body == {"status": "success", "result": account.campaigns[campaign_id].result}
    assert set(body["result"]) == {"sent", "clicked"}


async def test_a_dashboard_campaign_still_has_a_report(client: httpx2.AsyncClient, account: Account) -> None:
    body = await posted(client, "/1/targets/result.json", {"id": by_name(account, "Dashboard Newsletter")})
    assert body["status"] == "success"


@pytest.mark.parametrize("name", ["Cart Reminder", "Spring Launch"])
async def test_a_report_on_an_unfinished_campaign_fails(
    client: httpx2.AsyncClient, account: Account, name: str
) -> None:
    body = await posted(client, "/1/targets/result.json", {"id": by_name(account, name)})
    assert body == {"status": "fail", "error": "This target hasn't been completed"}


async def test_estimate_only_returns_estimates_without_an_id_and_stores_nothing(
    client: httpx2.AsyncClient, account: Account
) -> None:
    before = dict(account.campaigns)
    body = await posted(client, "/1/targets/create.json", {**PUSH, "estimate_only": True})
    assert set(body) == {"status", "estimates"}
    assert set(body["estimates"]) == {"android", "ios", "windows"}
    assert account.campaigns == before


async def test_a_created_campaign_gets_an_id_and_is_listed(client: httpx2.AsyncClient) -> None:
    body = await posted(client, "/1/targets/create.json", {**PUSH, "when": "20260107 09:30"})
    assert body["status"] == "success"
    assert isinstance(body["id"], int) and len(str(body["id"])) == 10
    listed = await posted(client, "/1/targets/list.json", {"from": 20260107, "to": 20260107})
    assert listed["targets"] == [
        {"id": body["id"], "name": "New arrivals", "scheduled_on": 202601070930, "status": "scheduled"}
    ]


async def test_push_estimates_count_reachable_devices(client: httpx2.AsyncClient, account: Account) -> None:
    body = await posted(client, "/1/targets/create.json", {**PUSH, "estimate_only": True, "devices": ["ios"]})
    reachable = sum(1 for p in account.profiles.values() if any(t.type == "apns" for t in p.tokens))
    assert body["estimates"] == {"ios": reachable}
    assert reachable > 0


async def test_a_where_audience_narrows_the_estimate(client: httpx2.AsyncClient) -> None:
    email = {**PUSH, "target_mode": "email", "content": {"subject": "S", "body": "B", "sender_name": "Shop"}}
    everyone = await posted(client, "/1/targets/create.json", {**email, "estimate_only": True})
    where = {"event_name": "Charged", "from": 20251201, "to": 20260105}
    buyers = await posted(client, "/1/targets/create.json", {**email, "estimate_only": True, "where": where})
    assert 0 < sum(buyers["estimates"].values()) < sum(everyone["estimates"].values())


async def test_where_together_with_segment_fails(client: httpx2.AsyncClient) -> None:
    where = {"event_name": "Charged", "from": 20251201, "to": 20260105}
    body = await posted(client, "/1/targets/create.json", {**PUSH, "where": where, "segment": 42})
    assert body["status"] == "fail"


@pytest.mark.parametrize("missing", ["name", "target_mode", "content", "when"])
async def test_a_create_without_a_mandatory_field_fails_naming_it(client: httpx2.AsyncClient, missing: str) -> None:
    body = await posted(client, "/1/targets/create.json", {k: v for k, v in PUSH.items() if k != missing})
    assert body["status"] == "fail"
    assert missing in body["error"]


@pytest.mark.parametrize(
    "change",
    [
        {"target_mode": "pigeon"},
        {"name": ["not", "a", "name"]},
        {"content": {"body": "no title"}},
        {"when": "tomorrow"},
        {"devices": ["blackberry"]},
        {"where": {"event_name": "Nope", "from": 20251201, "to": 20260105}},
    ],
)
async def test_an_invalid_create_fails_and_stores_nothing(
    client: httpx2.AsyncClient, account: Account, change: dict[str, Any]
) -> None:
    before = len(account.campaigns)
    body = await posted(client, "/1/targets/create.json", {**PUSH, **change})
    assert body["status"] == "fail"
    assert len(account.campaigns) == before


async def test_stopping_a_running_campaign_stops_it(client: httpx2.AsyncClient, account: Account) -> None:
    campaign_id = by_name(account, "Cart Reminder")
    assert await posted(client, "/1/targets/stop.json", {"id": campaign_id}) == {"status": "success"}
    assert account.campaigns[campaign_id].status == "stopped"


async def test_stopping_a_stopped_campaign_is_a_successful_no_op(client: httpx2.AsyncClient, account: Account) -> None:
    campaign_id = by_name(account, "Flash Deal")
    assert await posted(client, "/1/targets/stop.json", {"id": campaign_id}) == {"status": "success"}
    assert account.campaigns[campaign_id].status == "stopped"


@pytest.mark.parametrize("campaign_id", [-5, 0, 123, "abc", None])
async def test_stopping_an_unknown_or_invalid_id_fails_with_details(
    client: httpx2.AsyncClient, campaign_id: Any
) -> None:
    body = await posted(client, "/1/targets/stop.json", {"id": campaign_id})
    assert body["status"] == "fail"
    assert str(campaign_id) in body["error"]


async def test_configured_extra_report_metrics_follow_sent_and_clicked(
    make_world: Callable[..., CleverTapWorld], make_client: Callable[..., httpx2.AsyncClient]
) -> None:
    world = make_world(campaign_result_extras=("delivered", "clicked"))
    account = world.account("eu1", DEMO_CLEVERTAP_ACCOUNT_ID)
    assert account is not None
    campaign_id = by_name(account, "Weekend Sale")
    async with make_client(world) as http:
        body = await posted(http, "/1/targets/result.json", {"id": campaign_id})
    result = account.campaigns[campaign_id].result
    assert list(body["result"].items()) == [("sent", result["sent"]), ("clicked", result["clicked"]), ("delivered", 0)]
