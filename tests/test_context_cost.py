"""What the agent's context pays for: compact results, trimmed schemas and search results that still say everything
needed to call the action an agent picks (search_shape.py).

Sizes are measured in bench/ (context cost); these tests pin what the trimming must never lose.
"""

from __future__ import annotations

import json
from typing import Any

import jsonschema
import pytest
from mcp import Client

from clevertap_mcp import search_shape
from clevertap_mcp.results import compact_schema
from clevertap_mcp.sandbox.connector.catalog import ACTIONS, ActionSpec
from clevertap_mcp.sandbox.membrane.readings import input_schema_of, spec_description
from clevertap_mcp.sandbox.server import SandboxServer
from clevertap_mcp.sandbox.settings import SandboxSettings

from helpers import call, demo_token, error_text, mcp_client, ok, text_of

pytestmark = pytest.mark.anyio


@pytest.fixture
def ready_sandbox(sandbox_factory: Any) -> SandboxServer:
    sandbox: SandboxServer = sandbox_factory(auto_connect=True)
    return sandbox


async def _search(client: Client, intent: str, **arguments: Any) -> list[dict[str, Any]]:
    actions: list[dict[str, Any]] = ok(await call(client, "search_actions", {"intent": intent, **arguments}))["actions"]
    return actions


async def test_only_the_best_match_carries_its_whole_input_schema_and_the_rest_a_signature_of_their_inputs(
    ready_sandbox: SandboxServer,
) -> None:
    specs = {spec.key: spec for spec in ACTIONS}
    async with mcp_client(ready_sandbox.base_url, demo_token()) as client:
        ok(await call(client, "ensure_connection"))
        found = await _search(client, "how many users are online right now")
    assert found[0] == {
        "id": found[0]["id"],
        "key": "real-time-user-count",
        "description": specs["real-time-user-count"].description,
        "input_schema": input_schema_of(specs["real-time-user-count"], SandboxSettings()),
    }
    rest = {action["key"]: action for action in found[1:]}
    assert len(rest) == 9 and not any("input_schema" in action for action in rest.values())
    # A read question shows no write action's schema, only what it takes: names, types, required (*), formats.
    assert rest["get-event-count"]["inputs"] == (
        "event_name*: str, from*: int (YYYYMMDD), to*: int (YYYYMMDD), event_properties: obj[], "
        "session_properties: obj[], common_profile_properties: obj"
    )
    assert rest["delete-user-profile"]["inputs"] == "identity: str|str[], guid: str|str[]; needs identity or guid"
    assert rest["get-event-count"]["description"] == "Number of times an event happened in a date range. …"


@pytest.mark.parametrize("spec", ACTIONS, ids=lambda spec: spec.key)
async def test_searching_an_actions_key_answers_its_whole_input_schema_first(
    ready_sandbox: SandboxServer, spec: ActionSpec
) -> None:
    async with mcp_client(ready_sandbox.base_url, demo_token()) as client:
        ok(await call(client, "ensure_connection"))
        found = await _search(client, spec.key)
    assert found[0]["key"] == spec.key
    assert found[0]["input_schema"] == input_schema_of(spec, SandboxSettings()) and found[0][
        "description"
    ] == spec_description(spec, SandboxSettings())


async def test_searching_the_id_of_an_action_a_search_showed_answers_that_action_alone_and_whole(
    ready_sandbox: SandboxServer,
) -> None:
    async with mcp_client(ready_sandbox.base_url, demo_token()) as client:
        ok(await call(client, "ensure_connection"))
        shown = (await _search(client, "count users and events"))[-1]
        again = await _search(client, shown["id"])
    spec = next(spec for spec in ACTIONS if spec.key == shown["key"])
    assert "inputs" in shown
    assert again == [
        {
            "id": shown["id"],
            "key": spec.key,
            "description": spec.description,
            "input_schema": input_schema_of(spec, SandboxSettings()),
        }
    ]


def test_a_signature_keeps_names_types_required_marks_enums_and_format_notes_and_a_summary_keeps_one_sentence() -> None:
    schema = {
        "type": "object",
        "properties": {
            "when": {"type": "integer", "description": "YYYYMMDD"},
            "mode": {"enum": ["now", "later"]},
            "channel": {"enum": ["a", "b", "c", "d", "e", "f", "g"], "description": "A long explanation of channels."},
            "tags": {"type": "array", "items": {"anyOf": [{"type": "string"}, {"type": "integer"}]}},
            "email": {"type": "string", "format": "email"},
            "kind": {"const": "push"},
            "extra": {},
            "maybe": {"type": ["string", "null"]},
        },
        "required": ["when", "mode"],
    }
    assert search_shape.signature(schema) == (
        "when*: int (YYYYMMDD), mode*: now|later, channel: a|b|c|d|e|f|…, tags: (str|int)[], email: str email, "
        "kind: 'push', extra: any, maybe: str|null"
    )
    assert search_shape.signature(None) == "none"
    assert search_shape.signature({"type": "object", "properties": {}}) == "none"
    assert search_shape.summary("Short. Second sentence.") == "Short. …"
    assert search_shape.summary("One sentence only") == "One sentence only"
    assert search_shape.summary("word " * 40) == ("word " * 20).strip() + " …"


async def test_an_input_built_from_a_searched_schema_runs_and_one_breaking_it_is_refused(
    ready_sandbox: SandboxServer,
) -> None:
    async with mcp_client(ready_sandbox.base_url, demo_token()) as client:
        ok(await call(client, "ensure_connection"))
        action = (await _search(client, "get-event-count"))[0]
        schema = action["input_schema"]
        good = {"event_name": "App Launched", "from": 20260101, "to": 20260131}
        jsonschema.validate(good, schema)
        ran = ok(await call(client, "run_action", {"action_id": action["id"], "input": good}))
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
