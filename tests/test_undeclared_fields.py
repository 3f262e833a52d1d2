"""Membrane ignores input fields an action does not declare; run_action names them instead of letting a typo run."""

from __future__ import annotations

from typing import Any

import pytest

from clevertap_mcp.sandbox.server import SandboxServer

from helpers import call, control, demo_token, error_text, mcp_client, ok

pytestmark = pytest.mark.anyio

NOW = 1767607200  # 2026-01-05 10:00:00 UTC
CHARGED = {"event_name": "Charged", "from": 20251229, "to": 20260105}


@pytest.fixture
def ready_sandbox(sandbox_factory: Any) -> SandboxServer:
    sandbox: SandboxServer = sandbox_factory(auto_connect=True, clock=NOW)
    return sandbox


async def _clevertap_requests(sandbox: SandboxServer) -> int:
    log = await control(sandbox, "GET", "/requests?side=clevertap")
    return len(log["items"])


async def test_a_misspelt_input_field_is_named_with_its_likely_spelling_and_nothing_is_sent(
    ready_sandbox: SandboxServer,
) -> None:
    async with mcp_client(ready_sandbox.base_url, demo_token()) as client:
        ok(await call(client, "ensure_connection"))
        found = ok(await call(client, "search_actions", {"intent": "export events", "limit": 15}))
        events = next(a for a in found["actions"] if a["key"] == "get-events")
        before = await _clevertap_requests(ready_sandbox)
        for action_id in (events["id"], events["key"]):
            text = error_text(
                await call(client, "run_action", {"action_id": action_id, "input": {**CHARGED, "batchSize": 5}})
            )
            assert "'batchSize' (did you mean 'batch_size'?)" in text
            assert "nothing was sent" in text and "batch_size" in text
        assert await _clevertap_requests(ready_sandbox) == before
        # Spelt as declared, the same call runs and honours it.
        good = ok(await call(client, "run_action", {"action_id": "get-events", "input": {**CHARGED, "batch_size": 5}}))
        assert len(good["output"]["records"]) == 5


async def test_an_action_no_search_has_shown_is_left_to_membrane_to_check(ready_sandbox: SandboxServer) -> None:
    async with mcp_client(ready_sandbox.base_url, demo_token()) as client:
        ok(await call(client, "ensure_connection"))
        # No search first: the server knows no schema, so Membrane's own rules apply (it ignores the extra field).
        ran = ok(await call(client, "run_action", {"action_id": "get-event-count", "input": {**CHARGED, "extra": 1}}))
        assert isinstance(ran["output"]["count"], int)
