"""The argument schemas survive what hosts do to them: strict-mode agents (openai-agents) send every argument, null
for the ones they would leave out; Codex empties a property with no `type` and drops `default`, `minimum`, `maximum`
(docs/hosts-in-ci.md)."""

from __future__ import annotations

from typing import Any, cast

import pytest

from clevertap_mcp.sandbox.server import SandboxServer

from helpers import call, demo_token, mcp_client, ok

pytestmark = pytest.mark.anyio

DROPPED_BY_CODEX = ("default", "minimum", "maximum")


async def listed_arguments() -> dict[str, dict[str, Any]]:
    async with mcp_client("http://127.0.0.1:9", None, credentials_problem="none") as client:
        return {t.name: t.input_schema for t in (await client.list_tools()).tools}


def strict(schema: dict[str, Any]) -> dict[str, Any]:
    """Every argument, each null unless required: what a strict-mode model must send when it has nothing to say."""
    required = set(schema.get("required", []))
    return {name: None for name in schema["properties"] if name not in required}


async def test_every_argument_has_a_type_so_codex_keeps_its_description() -> None:
    for tool, schema in (await listed_arguments()).items():
        for name, prop in schema["properties"].items():
            assert "type" in prop, f"{tool}.{name} has no type"


async def test_every_optional_argument_accepts_null_in_its_published_schema() -> None:
    for tool, schema in (await listed_arguments()).items():
        for name in strict(schema):
            prop = schema["properties"][name]
            assert "null" in prop["type"], f"{tool}.{name} does not accept null"
            assert "enum" not in prop or None in prop["enum"], f"{tool}.{name} lists no null"


def _objects(schema: Any) -> list[dict[str, Any]]:
    """Every object schema inside `schema`, itself included."""
    found: list[dict[str, Any]] = []
    if isinstance(schema, dict):
        node = cast(dict[str, Any], schema)
        kind = node.get("type")
        if kind == "object" or (isinstance(kind, list) and "object" in kind):
            found.append(node)
        children: list[Any] = list(node.values())
    else:
        children = list(cast(list[Any], schema)) if isinstance(schema, list) else []
    for child in children:
        found.extend(_objects(child))
    return found


@pytest.mark.parametrize("tool", ["ensure_connection", "search_actions"])
async def test_the_tools_an_agent_calls_first_can_be_made_strict(tool: str) -> None:
    # openai-agents makes a tool strict only when every object in its arguments is closed; an open map (a free-form
    # `dict[str, str]`) silently drops the whole tool to non-strict, where strict models invent values.
    arguments = (await listed_arguments())[tool]
    for inner in _objects(arguments["properties"]):
        assert inner.get("additionalProperties") is False, f"{tool} has an open object: {inner}"


async def test_nothing_an_agent_needs_lives_only_where_codex_drops_it() -> None:
    arguments = await listed_arguments()
    for tool, schema in arguments.items():
        for name, prop in schema["properties"].items():
            assert not set(DROPPED_BY_CODEX) & prop.keys(), f"{tool}.{name} keeps {prop}"
    assert arguments["ensure_connection"]["properties"]["wait_seconds"]["description"] == "0-300, default 20."
    assert arguments["search_actions"]["properties"]["limit"]["description"] == "1-50, default 10."
    assert arguments["proxy_request"]["properties"]["method"]["description"] == "Default GET."
    assert arguments["proxy_request"]["properties"]["body"]["description"] == "JSON body."


async def test_a_strict_mode_agent_runs_the_read_flow_passing_null_for_every_optional_argument(
    sandbox_factory: Any,
) -> None:
    sandbox: SandboxServer = sandbox_factory(auto_connect=True)
    schemas = await listed_arguments()
    async with mcp_client(sandbox.base_url, demo_token()) as client:
        ensured = ok(await call(client, "ensure_connection", strict(schemas["ensure_connection"])))
        assert ensured["state"] == "READY"
        found = ok(
            await call(client, "search_actions", {**strict(schemas["search_actions"]), "intent": "count events"})
        )
        assert 0 < len(found["actions"]) <= 10
        ran = ok(
            await call(client, "run_action", {**strict(schemas["run_action"]), "action_id": "real-time-user-count"})
        )
        assert ran["output"] is not None
        proxied = ok(
            await call(
                client,
                "proxy_request",
                {**strict(schemas["proxy_request"]), "path": "/1/profile.json", "query": {"email": "no@one.example"}},
            )
        )
        assert proxied["status"] == 200  # sent as a GET with the query: CleverTap's own answer, not a refusal
