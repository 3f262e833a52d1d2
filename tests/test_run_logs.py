"""Run logs and output schemas as MCP resources: named in run_action's results and errors, read with the caller's
own client, emulated by the sandbox (`GET /action-run-logs/{id}`, `GET /actions/{id}`)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from mcp import Client, MCPError
from mcp_types import TextResourceContents

from clevertap_mcp.sandbox.server import SandboxServer

from helpers import call, demo_token, error_text, mcp_client, ok

pytestmark = pytest.mark.anyio


async def read_json(client: Client, uri: str) -> Any:
    read = await client.read_resource(uri)
    (contents,) = read.contents
    assert isinstance(contents, TextResourceContents)
    return json.loads(contents.text)


async def test_a_runs_log_is_named_in_its_result_and_shows_the_clevertap_requests_it_made(sandbox_factory: Any) -> None:
    sandbox: SandboxServer = sandbox_factory(auto_connect=True)
    async with mcp_client(sandbox.base_url, demo_token()) as client:
        ok(await call(client, "ensure_connection"))
        result = ok(await call(client, "run_action", {"action_id": "real-time-user-count", "input": {"os": True}}))
        assert result["run_log"] == f"clevertap://run-logs/{result['action_run_id']}"
        log = await read_json(client, result["run_log"])
    assert log["id"] == result["action_run_id"] and log["status"] == "success"
    assert log["actionKey"] == "real-time-user-count" and log["input"] == {"os": True}
    assert log["output"] == result["output"]
    assert log["details"]["requests"] == [{"method": "POST", "path": "/1/now.json", "status": 200}]


async def test_a_failed_runs_error_names_its_log_which_holds_the_error(sandbox_factory: Any) -> None:
    sandbox: SandboxServer = sandbox_factory(auto_connect=True)
    async with mcp_client(sandbox.base_url, demo_token()) as client:
        ok(await call(client, "ensure_connection"))
        text = error_text(await call(client, "run_action", {"action_id": "get-campaign-report", "input": {"id": 1}}))
        uri = text.split("its log: ", 1)[1].split(")", 1)[0]
        log = await read_json(client, uri)
    assert log["status"] == "failed" and log["error"]["type"] == "action_run"
    assert [r["path"] for r in log["details"]["requests"]] == ["/1/targets/result.json"]


async def test_a_run_log_membrane_does_not_have_is_an_error_that_says_so(sandbox_factory: Any) -> None:
    sandbox: SandboxServer = sandbox_factory(auto_connect=True)
    async with mcp_client(sandbox.base_url, demo_token()) as client:
        ok(await call(client, "ensure_connection"))
        with pytest.raises(MCPError, match="could not be read"):
            await client.read_resource("clevertap://run-logs/run_0999")


async def test_an_actions_output_schema_is_a_resource_not_part_of_search_results(sandbox_factory: Any) -> None:
    sandbox: SandboxServer = sandbox_factory(auto_connect=True)
    async with mcp_client(sandbox.base_url, demo_token()) as client:
        ok(await call(client, "ensure_connection"))
        found = ok(await call(client, "search_actions", {"intent": "users active right now", "limit": 1}))
        (action,) = found["actions"]
        assert "output_schema" not in action
        schema = await read_json(client, f"clevertap://actions/{action['key']}/output-schema")
    assert schema["required"] == ["count", "last_processed_ts"]
