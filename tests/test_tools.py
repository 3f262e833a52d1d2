"""search_actions, run_action and proxy_request through an MCP client, against the sandbox on loopback."""

from __future__ import annotations

from typing import Any

import pytest
from mcp import Client

from clevertap_mcp.config import NO_CREDENTIALS
from clevertap_mcp.membrane.auth import MintedToken
from clevertap_mcp.sandbox.server import SandboxServer

from helpers import call, control, demo_token, error_text, mcp_client, ok

pytestmark = pytest.mark.anyio

TOOLS = ["ensure_connection", "search_actions", "run_action", "proxy_request"]
ARGS: dict[str, dict[str, Any]] = {
    "ensure_connection": {},
    "search_actions": {"intent": "count events"},
    "run_action": {"action_id": "real-time-user-count"},
    "proxy_request": {"path": "/1/now.json", "method": "POST", "body": {}},
}


@pytest.fixture
def ready_sandbox(sandbox_factory: Any) -> SandboxServer:
    sandbox: SandboxServer = sandbox_factory(auto_connect=True)
    return sandbox


async def ensured(client: Client) -> str:
    result = ok(await call(client, "ensure_connection"))
    assert result["state"] == "READY"
    return str(result["connection_id"])


@pytest.mark.parametrize("tool", TOOLS)
async def test_without_credentials_every_tool_says_which_variables_to_set(tool: str) -> None:
    async with mcp_client("http://127.0.0.1:9", None, credentials_problem=NO_CREDENTIALS) as client:
        listed = await client.list_tools()
        text = error_text(await call(client, tool, ARGS[tool]))
    assert sorted(t.name for t in listed.tools) == sorted(TOOLS)
    assert NO_CREDENTIALS in text


async def test_wrong_credentials_are_reported_as_a_401_with_what_to_check(ready_sandbox: SandboxServer) -> None:
    wrong = MintedToken("sandbox-workspace", "not-the-sandbox-secret", "sandbox-tenant")
    async with mcp_client(ready_sandbox.base_url, wrong) as client:
        text = error_text(await call(client, "ensure_connection"))
    assert "401" in text and "MEMBRANE_TOKEN" in text


async def test_tools_need_a_ready_connection_first(sandbox: SandboxServer) -> None:
    async with mcp_client(sandbox.base_url, demo_token()) as client:
        text = error_text(await call(client, "search_actions", {"intent": "count events"}))
    assert "Call ensure_connection" in text and "then call this tool again" in text


async def test_a_fresh_server_finds_the_workspaces_ready_connection(ready_sandbox: SandboxServer) -> None:
    async with mcp_client(ready_sandbox.base_url, demo_token()) as client:
        conn_id = await ensured(client)
    async with mcp_client(ready_sandbox.base_url, demo_token()) as client:
        result = ok(await call(client, "run_action", {"action_id": "real-time-user-count"}))
    assert isinstance(result["output"]["count"], int)
    log = await control(ready_sandbox, "GET", "/requests")
    runs = [r for r in log["items"] if r["path"].endswith("/run")]
    assert runs and all(conn_id in r.get("query", "") for r in runs)


async def test_search_ranks_the_right_action_first_with_its_input_schema(ready_sandbox: SandboxServer) -> None:
    async with mcp_client(ready_sandbox.base_url, demo_token()) as client:
        await ensured(client)
        result = ok(await call(client, "search_actions", {"intent": "how many users are online now"}))
    top = result["actions"][0]
    assert top["key"] == "real-time-user-count"
    assert top["input_schema"]["type"] == "object"
    # No `name`: "Real-Time User Count" only re-spells the key (search_shape.py).
    assert set(top) == {"id", "key", "description", "input_schema"}


async def test_search_pages_with_next_cursor(ready_sandbox: SandboxServer) -> None:
    async with mcp_client(ready_sandbox.base_url, demo_token()) as client:
        await ensured(client)
        first = ok(await call(client, "search_actions", {"intent": "events", "limit": 10}))
        assert first["next_cursor"]
        second = ok(
            await call(client, "search_actions", {"intent": "events", "limit": 10, "cursor": first["next_cursor"]})
        )
    ids = [a["id"] for a in first["actions"] + second["actions"]]
    assert len(ids) == 15 == len(set(ids))
    assert second["next_cursor"] is None


@pytest.mark.parametrize(
    ("args", "field"),
    [({"intent": ""}, "intent"), ({"intent": "x" * 201}, "intent"), ({"intent": "x", "limit": 51}, "limit")],
)
async def test_search_arguments_out_of_range_are_refused(
    ready_sandbox: SandboxServer, args: dict[str, Any], field: str
) -> None:
    async with mcp_client(ready_sandbox.base_url, demo_token()) as client:
        text = error_text(await call(client, "search_actions", args))
    assert field in text


async def test_run_action_by_key_returns_output_and_run_id(ready_sandbox: SandboxServer) -> None:
    async with mcp_client(ready_sandbox.base_url, demo_token()) as client:
        await ensured(client)
        result = ok(await call(client, "run_action", {"action_id": "real-time-user-count", "input": {}}))
    assert isinstance(result["output"]["count"], int)
    assert result["action_run_id"]


async def test_run_action_by_id_from_search(ready_sandbox: SandboxServer) -> None:
    async with mcp_client(ready_sandbox.base_url, demo_token()) as client:
        await ensured(client)
        found = ok(await call(client, "search_actions", {"intent": "list campaigns"}))
        action = next(a for a in found["actions"] if a["key"] == "get-campaigns")
        result = ok(
            await call(client, "run_action", {"action_id": action["id"], "input": {"from": 20200101, "to": 20991231}})
        )
    assert result["action_run_id"]
    assert result["output"] is not None


async def test_run_action_with_bad_input_quotes_membrane_and_sends_nothing_to_clevertap(
    ready_sandbox: SandboxServer,
) -> None:
    async with mcp_client(ready_sandbox.base_url, demo_token()) as client:
        await ensured(client)
        text = error_text(
            await call(client, "run_action", {"action_id": "get-event-count", "input": {"event_name": 5}})
        )
    assert "Membrane rejected the request (HTTP 400)" in text
    log = await control(ready_sandbox, "GET", "/requests")
    assert not [r for r in log["items"] if "/clevertap/" in r["path"] and "counts" in r["path"]]


async def test_a_run_clevertap_refuses_comes_back_as_an_error_quoting_it(ready_sandbox: SandboxServer) -> None:
    async with mcp_client(ready_sandbox.base_url, demo_token()) as client:
        await ensured(client)
        args = {
            "action_id": "get-event-count",
            "input": {"event_name": "No Such Event", "from": 20260101, "to": 20260102},
        }
        text = error_text(await call(client, "run_action", args))
    assert text.startswith("Error executing tool run_action: The action ran and failed: ")
    assert "Invalid event : No Such Event" in text
    assert "actionRunId run_" in text


async def test_an_unknown_action_is_not_found(ready_sandbox: SandboxServer) -> None:
    async with mcp_client(ready_sandbox.base_url, demo_token()) as client:
        await ensured(client)
        text = error_text(await call(client, "run_action", {"action_id": "send-a-fax"}))
    assert "404" in text and "search_actions" in text


async def test_run_on_a_connection_that_is_not_ready_says_to_ensure(sandbox: SandboxServer) -> None:
    async with mcp_client(sandbox.base_url, demo_token()) as client:
        conn = ok(await call(client, "ensure_connection"))
        text = error_text(
            await call(
                client, "run_action", {"action_id": "real-time-user-count", "connection_id": conn["connection_id"]}
            )
        )
    assert "ensure_connection" in text and "CLIENT_ACTION_REQUIRED" in text


async def test_proxy_request_reaches_clevertap_with_the_connections_credentials(ready_sandbox: SandboxServer) -> None:
    async with mcp_client(ready_sandbox.base_url, demo_token()) as client:
        await ensured(client)
        result = ok(await call(client, "proxy_request", {"path": "/1/now.json", "method": "POST", "body": {}}))
    assert result["status"] == 200
    assert result["body"]["status"] == "success"
    assert isinstance(result["body"]["count"], int)
    assert result["headers"]["content-type"].startswith("application/json")
    assert not {"set-cookie", "authorization"} & set(result["headers"])


async def test_proxy_passes_clevertaps_failures_back_as_results(ready_sandbox: SandboxServer) -> None:
    async with mcp_client(ready_sandbox.base_url, demo_token()) as client:
        await ensured(client)
        result = ok(
            await call(client, "proxy_request", {"path": "/1/profile.json", "query": {"identity": "nobody-here"}})
        )
    assert result["status"] == 200
    assert result["body"]["status"] == "fail"


async def test_proxy_path_params_fill_the_path(ready_sandbox: SandboxServer) -> None:
    async with mcp_client(ready_sandbox.base_url, demo_token()) as client:
        await ensured(client)
        result = ok(
            await call(
                client,
                "proxy_request",
                {"path": "/1/{endpoint}", "method": "POST", "body": {}, "path_params": {"endpoint": "now.json"}},
            )
        )
    assert result["body"]["status"] == "success"


@pytest.mark.parametrize(
    ("args", "says"),
    [
        ({"path": "https://attacker.example/steal"}, "not a URL"),
        ({"path": "//attacker.example/1/x"}, "not a URL"),
        ({"path": "/1/now.json\r\nX: y"}, "control character"),
        ({"path": "/1/../x"}, "'..'"),
        ({"path": "/1/now.json", "headers": {"Authorization": "Bearer x"}}, "may not be set"),
        ({"path": "/1/now.json", "headers": {"X-CleverTap-Passcode": "x"}}, "may not be set"),
        ({"path": "/1/now.json", "body": {}, "raw_body": "{}"}, "not both"),
    ],
)
async def test_proxy_refuses_unsafe_requests_before_anything_is_sent(
    ready_sandbox: SandboxServer, args: dict[str, Any], says: str
) -> None:
    async with mcp_client(ready_sandbox.base_url, demo_token()) as client:
        await ensured(client)
        text = error_text(await call(client, "proxy_request", args))
    assert says in text
    log = await control(ready_sandbox, "GET", "/requests")
    assert not [r for r in log["items"] if "/proxy" in r["path"]]


async def test_proxy_on_a_connection_that_is_not_ready_is_an_error(sandbox: SandboxServer) -> None:
    async with mcp_client(sandbox.base_url, demo_token()) as client:
        conn = ok(await call(client, "ensure_connection"))
        text = error_text(
            await call(
                client,
                "proxy_request",
                {"path": "/1/now.json", "method": "POST", "connection_id": conn["connection_id"]},
            )
        )
    assert "cannot be used now" in text


async def test_proxy_takes_a_null_raw_body_as_no_raw_body(ready_sandbox: SandboxServer) -> None:
    async with mcp_client(ready_sandbox.base_url, demo_token()) as client:
        await ensured(client)
        result = ok(
            await call(client, "proxy_request", {"path": "/1/now.json", "method": "POST", "body": {}, "raw_body": None})
        )
    assert result["body"]["status"] == "success"


async def test_proxy_sends_a_raw_body_byte_for_byte(ready_sandbox: SandboxServer) -> None:
    async with mcp_client(ready_sandbox.base_url, demo_token()) as client:
        await ensured(client)
        args = {
            "path": "/1/now.json",
            "method": "POST",
            "raw_body": "{}",
            "headers": {"Content-Type": "application/json"},
        }
        result = ok(await call(client, "proxy_request", args))
    assert result["body"]["status"] == "success"


async def test_proxy_refuses_a_header_value_that_is_not_printable_ascii(ready_sandbox: SandboxServer) -> None:
    async with mcp_client(ready_sandbox.base_url, demo_token()) as client:
        await ensured(client)
        text = error_text(await call(client, "proxy_request", {"path": "/1/now.json", "headers": {"X-Note": "café"}}))
    assert "printable ASCII" in text
    log = await control(ready_sandbox, "GET", "/requests")
    assert not [r for r in log["items"] if "/proxy" in r["path"]]
