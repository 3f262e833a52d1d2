"""Eval harnesses write expected answers once: two sandboxes with the same seed, size and pinned clock answer a
scripted agent session (every tool, reads and writes, through a real MCP client) with identical results."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from clevertap_mcp.sandbox.server import SandboxServer

from helpers import call, demo_token, mcp_client, ok

pytestmark = pytest.mark.anyio

NOW = 1767607200  # 2026-01-05 10:00:00 UTC
LAST_WEEK = {"from": 20251229, "to": 20260105}


async def scripted_session(sandbox: SandboxServer) -> list[str]:
    """What an agent does in a typical eval, each answer as the exact JSON the agent received."""
    answers: list[dict[str, Any]] = []
    async with mcp_client(sandbox.base_url, demo_token()) as client:

        async def step(tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
            answer = ok(await call(client, tool, arguments))
            answers.append(answer)
            return answer

        await step("ensure_connection", {})
        await step("search_actions", {"intent": "how many users bought something last week", "limit": 5})
        await step("run_action", {"action_id": "get-event-count", "input": {"event_name": "Charged", **LAST_WEEK}})
        await step(
            "run_action", {"action_id": "get-profile-count", "input": {"event_name": "App Launched", **LAST_WEEK}}
        )
        await step("run_action", {"action_id": "real-time-user-count", "input": {"device": True}})
        first = await step(
            "run_action",
            {"action_id": "get-events", "input": {"event_name": "Product Viewed", **LAST_WEEK, "batch_size": 5}},
        )
        cursor = first["output"].get("cursor") or first["output"].get("next_cursor")
        assert isinstance(cursor, str), first
        await step("run_action", {"action_id": "get-events-by-cursor", "input": {"cursor": cursor}})
        await step(
            "run_action",
            {"action_id": "get-user-profiles", "input": {"event_name": "Charged", **LAST_WEEK, "batch_size": 5}},
        )
        await step("run_action", {"action_id": "get-campaigns", "input": {"from": 20251201, "to": 20260131}})
        await step(
            "run_action",
            {
                "action_id": "upload-events",
                "input": {
                    "events": [
                        {"identity": "eval-user-1", "type": "event", "evtName": "Searched", "evtData": {"q": "shoes"}}
                    ]
                },
            },
        )
        await step("proxy_request", {"path": "/1/profile.json", "query": {"identity": "eval-user-1"}})
        await step("proxy_request", {"path": "/1/now.json", "method": "POST", "body": {"event_name": "App Launched"}})
    return [json.dumps(answer, sort_keys=True) for answer in answers]


async def test_two_sandboxes_with_the_same_seed_and_clock_answer_a_scripted_session_identically(
    sandbox_factory: Callable[..., SandboxServer],
) -> None:
    first = await scripted_session(sandbox_factory(seed=7, profiles=120, clock=NOW, auto_connect=True))
    second = await scripted_session(sandbox_factory(seed=7, profiles=120, clock=NOW, auto_connect=True))
    assert first == second


async def test_another_seed_gives_another_world(sandbox_factory: Callable[..., SandboxServer]) -> None:
    first = await scripted_session(sandbox_factory(seed=7, profiles=120, clock=NOW, auto_connect=True))
    other = await scripted_session(sandbox_factory(seed=8, profiles=120, clock=NOW, auto_connect=True))
    # The connection and the search are the same; the data answers differ.
    assert first[:2] == other[:2]
    assert first[2:] != other[2:]
