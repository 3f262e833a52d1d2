"""Message reports and send-by-id (clevertap-api.md §13, §14 #38)."""

from __future__ import annotations

from typing import Any

import httpx2
import pytest

from clevertap_mcp.sandbox.clevertap.model import Account

from helpers import posted

pytestmark = pytest.mark.anyio

DECEMBER_ON = {"from": "20251201", "to": "20260105"}
PUSH = {"title": "Hi", "body": "Your cart misses you"}


async def test_the_report_lists_every_started_campaign_dashboard_ones_included(
    client: httpx2.AsyncClient, account: Account
) -> None:
    report = await posted(client, "/1/message/report.json", DECEMBER_ON)
    assert report["status"] == "success"
    names = [m["message_name"] for m in report["messages"]]
    assert names == ["Welcome Series", "Dashboard Newsletter", "Weekend Sale", "Flash Deal", "Cart Reminder"]
    welcome = next(c for c in account.campaigns.values() if c.name == "Welcome Series")
    assert report["messages"][0] == {
        "message_id": welcome.id,
        "message_name": "Welcome Series",
        "channel": "push",
        "status": "completed",
        "date": "20251216",
        "sent": welcome.result["sent"],
        "clicked": welcome.result["clicked"],
    }
    assert report["messages"][-1]["sent"] == 0  # still running: nothing counted yet


async def test_the_report_filters_by_channel(client: httpx2.AsyncClient) -> None:
    report = await posted(client, "/1/message/report.json", {**DECEMBER_ON, "channel": "email"})
    assert [m["message_name"] for m in report["messages"]] == ["Dashboard Newsletter", "Weekend Sale"]
    both = await posted(client, "/1/message/report.json", {**DECEMBER_ON, "channel": ["email", "push"]})
    assert len(both["messages"]) == 5


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"from": 20251201, "to": 20260105}, 'from must be a date string "YYYYMMDD"'),
        ({"from": "20251201"}, 'to must be a date string "YYYYMMDD"'),
        ({"from": "20260105", "to": "20251201"}, "Dates must be real"),
        ({**DECEMBER_ON, "channel": "pigeon"}, "channel must be one or a list of"),
    ],
    ids=["int-dates", "missing-to", "from-after-to", "unknown-channel"],
)
async def test_the_report_refuses_bad_dates_and_channels(
    client: httpx2.AsyncClient, body: dict[str, Any], expected: str
) -> None:
    answer = await posted(client, "/1/message/report.json", body)
    assert answer["status"] == "fail"
    assert expected in answer["error"]


@pytest.mark.parametrize("channel", ["push", "email", "sms", "webpush"])
async def test_a_send_by_id_is_added_to_the_queue(client: httpx2.AsyncClient, channel: str) -> None:
    body = {"to": {"Identity": ["u-1001"], "Email": ["ana@example.com"]}, "content": PUSH}
    assert await posted(client, f"/1/send/{channel}.json", body) == {
        "status": "success",
        "message": "Added to queue for processing",
    }


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"to": {"Identity": [f"u-{n}" for n in range(1001)]}, "content": PUSH}, "At most 1000 recipients"),
        ({"to": {"Identity": [f"u-{n}" for n in range(600)], "objectId": ["x"] * 401}, "content": PUSH}, "got 1001"),
        ({"to": {"Identity": []}, "content": PUSH}, "No recipients"),
        ({"to": {}, "content": PUSH}, "No recipients"),
        ({"content": PUSH}, "to is mandatory"),
        ({"to": {"Phone": ["+447700900000"]}, "content": PUSH}, "Unknown recipient key(s) Phone"),
        ({"to": {"Identity": "u-1001"}, "content": PUSH}, "to.Identity must be a list"),
        ({"to": {"Identity": ["u-1001"]}}, "content is mandatory"),
    ],
    ids=[
        "over-1000",
        "over-1000-across-keys",
        "empty-list",
        "no-ids",
        "no-to",
        "unknown-key",
        "not-a-list",
        "no-content",
    ],
)
async def test_a_send_with_too_many_or_no_recipients_fails(
    client: httpx2.AsyncClient, body: dict[str, Any], expected: str
) -> None:
    answer = await posted(client, "/1/send/push.json", body)
    assert answer["status"] == "fail"
    assert expected in answer["error"]


async def test_send_has_no_whatsapp_path(client: httpx2.AsyncClient) -> None:
    response = await client.post("/1/send/whatsapp.json", json={"to": {"Identity": ["u-1001"]}, "content": PUSH})
    assert response.status_code == 404
