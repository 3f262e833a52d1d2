"""search_actions ranks the CleverTap actions for natural phrasings, through an MCP client against the sandbox.

The table is what agents actually type: questions, imperatives, CleverTap's own event names, synonyms. Each row names
the action that must come first. The ranking is a fixed vocabulary model (sandbox/membrane/search.py), never a list
of these strings.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx2
import pytest

from clevertap_mcp.sandbox.connector import ACTIONS, ActionSpec
from clevertap_mcp.sandbox.server import SandboxServer
from clevertap_mcp.sandbox.settings import SandboxSettings

from helpers import call, demo_token, mcp_client, ok

pytestmark = pytest.mark.anyio

PHRASINGS: list[tuple[str, str]] = [
    ("how many users are online now", "real-time-user-count"),
    ("live users right now by device", "real-time-user-count"),
    ("active users in the last 5 minutes", "real-time-user-count"),
    ("who is using the app at the moment", "real-time-user-count"),
    ("send a push campaign", "create-campaign"),
    ("send an email to gold customers", "create-campaign"),
    ("schedule an sms blast for tomorrow", "create-campaign"),
    ("estimate the reach of a campaign before sending", "create-campaign"),
    ("notify users about the sale", "create-campaign"),
    ("stop a campaign", "stop-campaign"),
    ("cancel a scheduled campaign", "stop-campaign"),
    ("halt the running push notification", "stop-campaign"),
    ("list all campaigns", "get-campaigns"),
    ("which campaigns ran last week", "get-campaigns"),
    ("campaign performance stats", "get-campaign-report"),
    ("how many people clicked the campaign", "get-campaign-report"),
    ("delivery report of campaign 1457433898", "get-campaign-report"),
    ("count of Charged events yesterday", "get-event-count"),
    ("number of times App Launched happened this month", "get-event-count"),
    ("how many purchases were made last week", "get-event-count"),
    ("how many unique users did Charged last week", "get-profile-count"),
    ("how many profiles searched for shoes", "get-profile-count"),
    ("count distinct users who launched the app", "get-profile-count"),
    ("export profiles who did Charged last week", "get-user-profiles"),
    ("fetch user profiles who viewed a product", "get-user-profiles"),
    ("download the customers who added to cart", "get-user-profiles"),
    ("download all Product Viewed events from last month", "get-events"),
    ("get events", "get-events"),
    ("show me the purchases made yesterday", "get-events"),
    ("next page of events", "get-events-by-cursor"),
    ("page through events with next_cursor", "get-events-by-cursor"),
    ("continue exporting profiles with the cursor", "get-user-profiles-by-cursor"),
    ("more user profiles from the previous export", "get-user-profiles-by-cursor"),
    ("upload events", "upload-events"),
    ("track a purchase event for a user", "upload-events"),
    ("record that a user added an item to the cart", "upload-events"),
    ("create or update user profiles", "upload-user-profiles"),
    ("update a customer's email address", "upload-user-profiles"),
    ("import users from our CRM", "upload-user-profiles"),
    ("merge duplicate profiles", "upload-user-profiles"),
    ("register push tokens for a device", "upload-device-tokens"),
    ("add an FCM token to a user", "upload-device-tokens"),
    ("remove a user", "delete-user-profile"),
    ("delete a profile by identity", "delete-user-profile"),
    ("GDPR erase a customer's data", "delete-user-profile"),
    # Finding a person never puts a destructive action or a campaign first.
    ("look up user u-1001", "get-user-profiles"),
    ("find a user by email", "get-user-profiles"),
    ("how did the welcome campaign perform", "get-campaign-report"),
]


@pytest.fixture(scope="module")
def searchable() -> Iterator[SandboxServer]:
    """One sandbox with a READY CleverTap connection, shared by the table: searching changes nothing."""
    with SandboxServer(SandboxSettings()) as sandbox:
        with httpx2.Client(base_url=sandbox.base_url) as http:
            http.post("/_sandbox/connections", json={}).raise_for_status()
        yield sandbox


async def top_keys(sandbox: SandboxServer, intent: str, limit: int = 3) -> list[str]:
    async with mcp_client(sandbox.base_url, demo_token()) as client:
        result = ok(await call(client, "search_actions", {"intent": intent, "limit": limit}))
    return [action["key"] for action in result["actions"]]


def test_the_table_covers_every_action_and_has_at_least_thirty_phrasings() -> None:
    assert len(PHRASINGS) >= 30
    assert {best for _, best in PHRASINGS} == {spec.key for spec in ACTIONS}


@pytest.mark.parametrize(("intent", "best"), PHRASINGS)
async def test_a_natural_phrasing_ranks_the_action_that_does_it_first(
    searchable: SandboxServer, intent: str, best: str
) -> None:
    keys = await top_keys(searchable, intent)
    assert keys[0] == best, f"{intent!r} ranked {keys}"


@pytest.mark.parametrize("spec", ACTIONS, ids=lambda spec: spec.key)
async def test_an_actions_own_name_ranks_it_first(searchable: SandboxServer, spec: ActionSpec) -> None:
    assert (await top_keys(searchable, spec.name))[0] == spec.key


async def test_a_first_page_ranks_above_its_next_page_and_the_next_page_above_it_when_asked(
    searchable: SandboxServer,
) -> None:
    assert (await top_keys(searchable, "export events", 2)) == ["get-events", "get-events-by-cursor"]
    assert (await top_keys(searchable, "next page of the events export", 2)) == [
        "get-events-by-cursor",
        "get-events",
    ]
