"""search_actions ranks the CleverTap actions for natural phrasings, through an MCP client against the sandbox.

The table (bench/phrasings.py, also the context benchmark's sample) is what agents actually type. Each row names the
action that must come first. The ranking is a fixed vocabulary model (sandbox/membrane/search.py), never a list
of these strings.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx2
import pytest
from bench.phrasings import PHRASINGS

from clevertap_mcp.sandbox.connector import ACTIONS, ActionSpec
from clevertap_mcp.sandbox.server import SandboxServer
from clevertap_mcp.sandbox.settings import SandboxSettings

from helpers import call, demo_token, mcp_client, ok

pytestmark = pytest.mark.anyio


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
