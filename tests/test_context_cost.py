"""What the agent's context pays for: compact results and trimmed schemas that still say everything needed.

Sizes are measured in bench/ (context cost); these tests pin what the trimming must never lose.
"""

from __future__ import annotations

import json
from typing import Any

import jsonschema
import pytest
from mcp import Client

from clevertap_mcp.results import compact_schema
from clevertap_mcp.sandbox.connector.catalog import ACTIONS
from clevertap_mcp.sandbox.server import SandboxServer

from helpers import call, demo_token, error_text, mcp_client, ok, text_of

pytestmark = pytest.mark.anyio


@pytest.fixture
def ready_sandbox(sandbox_factory: Any) -> SandboxServer:
    sandbox: SandboxServer = sandbox_factory(auto_connect=True)
    return sandbox


async def _all_actions(client: Client) -> list[dict[str, Any]]:
    ok(await call(client, "ensure_connection"))
    found = ok(await call(client, "search_actions", {"intent": "CleverTap users events campaigns", "limit": 50}))
    actions: list[dict[str, Any]] = found["actions"]
    return actions


async def test_search_results_carry_every_action_full_input_schema(ready_sandbox: SandboxServer) -> None:
    async with mcp_client(ready_sandbox.base_url, demo_token()) as client:
        actions = await _all_actions(client)
    assert {a["key"]: a["input_schema"] for a in actions} == {spec.key: spec.input_schema for spec in ACTIONS}


async def test_an_input_built_from_a_searched_schema_runs_and_one_breaking_it_is_refused(
    ready_sandbox: SandboxServer,
) -> None:
    async with mcp_client(ready_sandbox.base_url, demo_token()) as client:
        actions = {a["key"]: a for a in await _all_actions(client)}
        schema = actions["get-event-count"]["input_schema"]
        good = {"event_name": "App Launched", "from": 20260101, "to": 20260131}
        jsonschema.validate(good, schema)
        ran = ok(await call(client, "run_action", {"action_id": actions["get-event-count"]["id"], "input": good}))
        bad = {"event_name": "App Launched"}
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(bad, schema)
        refused = error_text(await call(client, "run_action", {"action_id": "get-event-count", "input": bad}))
    assert ran["action_run_id"]
    assert "from" in refused


async def test_a_client_reading_only_content_gets_exactly_the_structured_result_as_compact_json(
    ready_sandbox: SandboxServer,
) -> None:
    async with mcp_client(ready_sandbox.base_url, demo_token()) as client:
        results = [
            await call(client, "ensure_connection"),
            await call(client, "search_actions", {"intent": "count users", "limit": 10}),
            await call(client, "run_action", {"action_id": "real-time-user-count"}),
            await call(client, "proxy_request", {"path": "/1/now.json", "method": "POST", "body": {}}),
        ]
    for result in results:
        structured = ok(result)
        assert json.loads(text_of(result)) == structured
        assert text_of(result) == json.dumps(structured, ensure_ascii=False, separators=(",", ":"))


async def test_published_argument_schemas_drop_only_what_says_nothing() -> None:
    async with mcp_client("http://127.0.0.1:9", None, credentials_problem="none") as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
    proxy = tools["proxy_request"].input_schema
    assert proxy["properties"]["connection_id"] == {"type": ["string", "null"]}
    assert proxy["properties"]["query"]["additionalProperties"] == {"type": ["string", "integer", "number", "boolean"]}
    assert proxy["required"] == ["path"]
    search = tools["search_actions"].input_schema
    assert search["properties"]["limit"] == {"type": ["integer", "null"], "description": "1-50, default 10."}
    assert "$defs" not in json.dumps(tools["search_actions"].output_schema)


async def test_limits_left_out_of_the_published_schema_are_still_enforced_with_a_clear_error(
    ready_sandbox: SandboxServer,
) -> None:
    async with mcp_client(ready_sandbox.base_url, demo_token()) as client:
        text = error_text(await call(client, "run_action", {"action_id": "x" * 201}))
    assert "action_id" in text and "200" in text


def test_compacting_a_nullable_schema_keeps_null_valid_with_one_type_list_even_for_an_enum() -> None:
    schema = {
        "type": "object",
        "properties": {
            "cursor": {"anyOf": [{"type": "string", "minLength": 3}, {"type": "null"}]},
            "mode": {"anyOf": [{"enum": ["a", "b"], "type": "string"}, {"type": "null"}]},
            "child": {"anyOf": [{"$ref": "#/$defs/Child"}, {"type": "null"}]},
        },
        "$defs": {"Child": {"type": "object", "title": "Child", "properties": {"n": {"type": "integer"}}}},
    }
    compact = compact_schema(schema, arguments=False)
    assert compact == {
        "type": "object",
        "properties": {
            "cursor": {"type": ["string", "null"], "minLength": 3},
            "mode": {"enum": ["a", "b", None], "type": ["string", "null"]},
            "child": {"type": ["object", "null"], "properties": {"n": {"type": "integer"}}},
        },
    }
    for value in ({"cursor": None, "mode": None, "child": None}, {"cursor": "abc", "mode": "a", "child": {"n": 1}}):
        jsonschema.validate(value, schema)
        jsonschema.validate(value, compact)
    for value in ({"cursor": "ab"}, {"mode": "c"}, {"child": {"n": "x"}}):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(value, compact)
