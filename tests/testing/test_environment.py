"""clevertap_mcp.testing: the sandbox and the real server in-process, an MCP session, and a handle on the world."""

from __future__ import annotations

import pytest

from clevertap_mcp.sandbox.settings import DEMO_CLEVERTAP_ACCOUNT_ID
from clevertap_mcp.testing import ToolError, clevertap_sandbox, clevertap_sandbox_sync
from clevertap_mcp.testing.environment import text_of

pytestmark = pytest.mark.anyio

NOW = 1767607200


async def test_an_environment_connects_and_reads_the_seeded_world_through_the_real_server() -> None:
    async with clevertap_sandbox(clock=NOW, seed=7) as env:
        assert (await env.call("ensure_connection"))["state"] == "READY"
        user = env.world.account().find(identity="u-1001")
        assert user is not None
        found = await env.call("proxy_request", {"path": "/1/profile.json", "query": {"identity": "u-1001"}})
        assert found["body"]["record"]["email"] == user.data["Email"]
        assert env.world.seed == 7 and env.world.now() == NOW


async def test_what_an_agent_uploads_shows_in_the_diff_and_a_reset_clears_it() -> None:
    async with clevertap_sandbox(clock=NOW) as env:
        await env.call("ensure_connection")
        record = {"type": "profile", "identity": "u-1001", "profileData": {"Plan": "pro"}}
        await env.call("proxy_request", {"path": "/1/upload", "method": "POST", "body": {"d": [record]}})
        (changed,) = env.world.diff()["accounts"][DEMO_CLEVERTAP_ACCOUNT_ID]["profiles"]["changed"]
        assert changed["identity"] == "u-1001" and changed["data"] == {"Plan": [None, "pro"]}
        await env.world.reset()
        assert env.world.diff()["changed"] is False
        assert (await env.call("ensure_connection"))["state"] == "READY"


async def test_a_tool_error_is_raised_with_the_text_the_agent_reads() -> None:
    async with clevertap_sandbox(clock=NOW) as env:
        await env.call("ensure_connection")
        with pytest.raises(ToolError, match="search_actions"):
            await env.call("run_action", {"action_id": "no-such-action"})


async def test_an_injected_fault_reaches_the_agent_and_the_clock_moves_pending_deletions() -> None:
    async with clevertap_sandbox(clock=NOW, delete_delay_seconds=60) as env:
        await env.call("ensure_connection")
        env.world.fault({"side": "clevertap", "kind": "status", "status": 400, "path": "/1/profile.json"})
        failed = await env.call_raw("proxy_request", {"path": "/1/profile.json", "query": {"identity": "u-1001"}})
        # The proxy hands CleverTap's answer back as it came, status included.
        assert "injected fault" in text_of(failed)
        assert failed.structured_content is not None and failed.structured_content["status"] == 400
        deletion = {"path": "/1/delete/profiles.json", "method": "POST", "body": {"identity": "u-1002"}}
        raw = await env.call_raw("proxy_request", deletion)
        assert not raw.is_error, raw
        env.world.advance_clock(61)
        assert env.world.account().find(identity="u-1002") is not None  # the world settles on its next request
        await env.call_raw("proxy_request", {"path": "/1/profile.json", "query": {"identity": "u-1001"}})
        assert env.world.account().find(identity="u-1002") is None


def test_the_sync_helper_gives_the_same_environment_to_code_without_an_event_loop() -> None:
    with clevertap_sandbox_sync(clock=NOW) as env:
        assert env.call("ensure_connection")["state"] == "READY"
        assert env.snapshot()["now"] == NOW == env.now()
        assert env.diff()["changed"] is False
