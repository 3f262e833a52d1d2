"""Output budgets: no tool result is over the budget; the cut is clean, says what it left out, and the agent can read
the whole result back in pages and join them into exactly the result it would have got."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx2
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mcp import Client, MCPError
from mcp.server.mcpserver.exceptions import ResourceError
from mcp_types import CallToolResult, TextContent, TextResourceContents

from clevertap_mcp.budget import RESULTS_URI, Budget, DirectoryResultStore, Results, ResultStore
from clevertap_mcp.config import DEFAULT_MAX_OUTPUT_CHARS, MIN_MAX_OUTPUT_CHARS
from clevertap_mcp.membrane.auth import StaticToken
from clevertap_mcp.sandbox.server import SandboxServer

from helpers import (
    FAKE_API_URL,
    FAKE_CONNECTION,
    FakeMembrane,
    call,
    demo_token,
    error_text,
    mcp_client,
    ok,
    result_pages,
    text_of,
)

pytestmark = pytest.mark.anyio

# 2026-01-05 10:00 UTC: the sandbox's "now", so the date range below always holds its seeded events.
CLOCK = 1767607200
PROFILES = 300
QUERY = {"event_name": "App Launched", "from": 20251201, "to": 20260105}


@pytest.fixture
def big_sandbox(sandbox_factory: Any) -> SandboxServer:
    sandbox: SandboxServer = sandbox_factory(auto_connect=True, profiles=PROFILES, clock=CLOCK)
    return sandbox


async def read_all_pages(client: Client, notice: dict[str, Any]) -> str:
    pages = await result_pages(client, notice)
    budget = notice["budget"]
    assert all(len(p) <= budget for p in pages), [len(p) for p in pages]
    # Pages end at line ends: of the JSON text, or, inside one long string, of that string (escaped).
    assert all(p.endswith(("\n", "\\n")) for p in pages[:-1]), [p[-10:] for p in pages]
    return "".join(pages)


def notice_of(result: dict[str, Any], budget: int) -> dict[str, Any]:
    notice = dict(result["truncated"])
    notice["budget"] = budget
    return notice


async def export_cursor(client: Client) -> str:
    ok(await call(client, "ensure_connection"))
    first = ok(
        await call(
            client,
            "proxy_request",
            {"path": "/1/profiles.json", "method": "POST", "query": {"batch_size": 5000}, "body": QUERY},
        )
    )
    return str(first["body"]["cursor"])


async def test_a_large_proxied_export_is_cut_to_the_budget_and_the_rest_is_readable_as_pages(
    big_sandbox: SandboxServer,
) -> None:
    async with mcp_client(big_sandbox.base_url, demo_token()) as client:
        cursor = await export_cursor(client)
        answer = await call(client, "proxy_request", {"path": f"/1/profiles.json?cursor={cursor}"})
        shown = ok(answer)
        joined = await read_all_pages(client, notice_of(shown, DEFAULT_MAX_OUTPUT_CHARS))
    # What the agent read is within the default budget, as text and as structured content.
    assert len(text_of(answer)) <= DEFAULT_MAX_OUTPUT_CHARS
    assert len(json.dumps(shown, ensure_ascii=False, separators=(",", ":"))) <= DEFAULT_MAX_OUTPUT_CHARS
    notice = shown["truncated"]
    (cut,) = notice["cuts"]
    records = shown["body"]["records"]
    assert cut == {"path": "body.records", "kept": len(records), "omitted": PROFILES - len(records), "unit": "items"}
    assert 0 < len(records) < PROFILES
    assert f"kept {len(records)} of {PROFILES} items" in notice["message"]
    assert notice["result_id"] in notice["message"]
    # The pages joined are exactly the whole result: what was shown is its head, nothing else changed.
    full = json.loads(joined)
    assert len(full["body"]["records"]) == PROFILES
    assert full["body"]["records"][: len(records)] == records
    head = {k: v for k, v in shown.items() if k != "truncated"}
    assert {**full, "body": {**full["body"], "records": records}} == head


async def test_the_pages_are_the_same_result_a_larger_budget_would_have_shown_at_once(
    big_sandbox: SandboxServer,
) -> None:
    async with mcp_client(big_sandbox.base_url, demo_token()) as client:
        cursor = await export_cursor(client)
        cut = ok(await call(client, "proxy_request", {"path": f"/1/profiles.json?cursor={cursor}"}))
        joined = await read_all_pages(client, notice_of(cut, DEFAULT_MAX_OUTPUT_CHARS))
    # A cursor page read again answers the same records (clevertap-api.md §8), so this is the same result, whole.
    async with mcp_client(big_sandbox.base_url, demo_token(), max_output_chars=1_000_000) as client:
        ok(await call(client, "ensure_connection"))
        whole = ok(await call(client, "proxy_request", {"path": f"/1/profiles.json?cursor={cursor}"}))
    assert "truncated" not in whole
    assert json.loads(joined) == whole


async def test_a_large_action_output_is_cut_within_a_configured_budget_and_reassembles_exactly(
    big_sandbox: SandboxServer,
) -> None:
    budget = 5_000
    async with mcp_client(big_sandbox.base_url, demo_token(), max_output_chars=budget) as client:
        ok(await call(client, "ensure_connection"))
        answer = await call(
            client, "run_action", {"action_id": "get-user-profiles", "input": {**QUERY, "batch_size": 5000}}
        )
        shown = ok(answer)
        joined = await read_all_pages(client, notice_of(shown, budget))
    assert len(text_of(answer)) <= budget
    (cut,) = shown["truncated"]["cuts"]
    assert cut["path"] == "output.records"
    kept = shown["output"]["records"]
    assert cut["kept"] == len(kept) and cut["omitted"] == PROFILES - len(kept)
    full = json.loads(joined)
    assert full["action_run_id"] == shown["action_run_id"]
    assert len(full["output"]["records"]) == PROFILES
    assert full["output"]["records"][: len(kept)] == kept


async def test_search_results_over_the_budget_say_how_many_actions_were_left_out(big_sandbox: SandboxServer) -> None:
    async with mcp_client(big_sandbox.base_url, demo_token(), max_output_chars=MIN_MAX_OUTPUT_CHARS) as client:
        ok(await call(client, "ensure_connection"))
        answer = await call(client, "search_actions", {"intent": "CleverTap users events campaigns", "limit": 50})
        shown = ok(answer)
        joined = json.loads(await read_all_pages(client, notice_of(shown, MIN_MAX_OUTPUT_CHARS)))
    assert len(text_of(answer)) <= MIN_MAX_OUTPUT_CHARS
    (cut,) = shown["truncated"]["cuts"]
    total = len(joined["actions"])
    assert cut == {
        "path": "actions",
        "kept": len(shown["actions"]),
        "omitted": total - len(shown["actions"]),
        "unit": "items",
    }
    assert 0 < len(shown["actions"]) < total
    assert joined["actions"][: len(shown["actions"])] == shown["actions"]


async def test_an_ensure_connection_result_is_held_to_the_budget_too() -> None:
    wire = FakeMembrane()
    # Membrane's instructions for the user are passed on as they come, so they can be as long as Membrane likes.
    action = {"type": "connect", "description": "Connect CleverTap. " * 3000, "uiUrl": "http://127.0.0.1:9/connect"}
    wire.connection = {**FAKE_CONNECTION, "state": "CLIENT_ACTION_REQUIRED", "clientAction": action}
    async with mcp_client(
        FAKE_API_URL, StaticToken("t0ken-budget", origin="test"), transport=wire, max_output_chars=MIN_MAX_OUTPUT_CHARS
    ) as client:
        answer = await call(client, "ensure_connection", {"connection_id": "conn_1"})
    shown = ok(answer)
    assert len(text_of(answer)) <= MIN_MAX_OUTPUT_CHARS
    assert shown["truncated"]["cuts"][0]["unit"] == "characters" and shown["truncated"]["cuts"][0]["omitted"] > 0


async def test_a_result_within_the_budget_is_passed_untouched(big_sandbox: SandboxServer) -> None:
    async with mcp_client(big_sandbox.base_url, demo_token()) as client:
        ok(await call(client, "ensure_connection"))
        result = ok(await call(client, "run_action", {"action_id": "real-time-user-count"}))
    assert set(result) == {"output", "action_run_id", "run_log"}


def _huge_export_membrane(body: bytes, content_type: str) -> httpx2.MockTransport:
    """A Membrane whose connection is ready and whose proxy answers `body`."""
    ready = {"id": "conn_1", "name": "CleverTap", "state": "READY", "userId": "u", "createdAt": "", "updatedAt": ""}

    async def handler(request: httpx2.Request) -> httpx2.Response:
        if "/proxy/" in request.url.path:
            return httpx2.Response(200, content=body, headers={"content-type": content_type})
        return httpx2.Response(200, json={"items": [ready]})

    return httpx2.MockTransport(handler)


async def test_a_five_megabyte_export_never_reaches_the_agent_in_one_message() -> None:
    records = [{"identity": f"user-{i}", "profileData": {"bio": "x" * 200}} for i in range(20_000)]
    body = json.dumps({"status": "success", "records": records}).encode()
    assert len(body) > 5_000_000
    transport = _huge_export_membrane(body, "application/json")
    async with mcp_client("http://membrane.test", demo_token(), transport=transport) as client:
        answer = await call(client, "proxy_request", {"path": "/1/profiles.json?cursor=abc"})
        shown = ok(answer)
        first = await client.read_resource(RESULTS_URI.format(result_id=shown["truncated"]["result_id"], page=1))
    assert len(text_of(answer)) <= DEFAULT_MAX_OUTPUT_CHARS
    (cut,) = shown["truncated"]["cuts"]
    assert cut["omitted"] == 20_000 - cut["kept"] and cut["kept"] > 0
    assert shown["truncated"]["pages"] > 250
    (contents,) = first.contents
    assert isinstance(contents, TextResourceContents) and len(contents.text) <= DEFAULT_MAX_OUTPUT_CHARS


async def test_a_long_text_body_is_cut_at_a_line_end_and_says_how_much_was_left_out() -> None:
    lines = [f"{i},user-{i},{'y' * 40}" for i in range(5_000)]
    transport = _huge_export_membrane("\n".join(lines).encode(), "text/csv")
    budget = 3_000
    async with mcp_client("http://membrane.test", demo_token(), transport=transport, max_output_chars=budget) as client:
        answer = await call(client, "proxy_request", {"path": "/1/profiles.json?cursor=abc"})
        shown = ok(answer)
        joined = await read_all_pages(client, notice_of(shown, budget))
    assert len(text_of(answer)) <= budget
    text = shown["body"]
    assert text.endswith("\n") and text.splitlines() == lines[: len(text.splitlines())]
    (cut,) = shown["truncated"]["cuts"]
    assert cut == {
        "path": "body",
        "kept": len(text),
        "omitted": len("\n".join(lines)) - len(text),
        "unit": "characters",
    }
    assert json.loads(joined)["body"] == "\n".join(lines)


async def test_reading_a_page_that_does_not_exist_says_which_pages_do(big_sandbox: SandboxServer) -> None:
    async with mcp_client(big_sandbox.base_url, demo_token(), max_output_chars=5_000) as client:
        ok(await call(client, "ensure_connection"))
        shown = ok(await call(client, "run_action", {"action_id": "get-user-profiles", "input": QUERY}))
        notice = shown["truncated"]
        missing = RESULTS_URI.format(result_id=notice["result_id"], page=notice["pages"] + 1)
        with pytest.raises(MCPError) as page_error:
            await client.read_resource(missing)
        with pytest.raises(MCPError) as id_error:
            await client.read_resource(RESULTS_URI.format(result_id="0123456789abcdef", page=1))
    assert f"pages 1 to {notice['pages']}" in page_error.value.error.message
    assert "no longer kept" in id_error.value.error.message


def test_the_store_keeps_only_the_most_recently_used_results() -> None:
    store = ResultStore(max_results=2, max_chars=100)
    first, second = store.add(["a\n", "b"]), store.add(["c"])
    assert first is not None and second is not None
    assert store.page(first, 2) == "b"  # reading keeps a result fresh
    third = store.add(["d"])
    assert third is not None and len(store) == 2
    with pytest.raises(ResourceError, match="no longer kept"):
        store.page(second, 1)
    assert store.page(first, 1) == "a\n" and store.page(third, 1) == "d"
    # The size bound holds too: a result that alone is over it is not kept at all.
    assert store.add(["x" * 101]) is None
    fourth = store.add(["y" * 100])
    assert fourth is not None and len(store) == 1


@pytest.mark.parametrize("where", ["memory", "directory"])
def test_the_store_keeps_the_most_recently_used_results_in_memory_or_in_a_directory_workers_share(
    where: str, tmp_path: Path
) -> None:
    writer: Results = ResultStore(max_results=2, max_chars=100)
    reader = writer
    if where == "directory":  # one worker keeps the result, another serves its pages
        writer = DirectoryResultStore(tmp_path, max_results=2, max_chars=100)
        reader = DirectoryResultStore(tmp_path, max_results=2, max_chars=100)
    first, second = writer.add(["a\n", "é😀"], "owner"), writer.add(["c"], "owner")
    assert first is not None and second is not None
    assert reader.page(first, 2, "owner") == "é😀"  # reading keeps a result fresh
    third = writer.add(["d"], "owner")
    assert third is not None
    with pytest.raises(ResourceError, match="no longer kept"):
        reader.page(second, 1, "owner")
    with pytest.raises(ResourceError, match="no longer kept"):
        reader.page(first, 1, "another caller")
    assert reader.page(first, 1, "owner") == "a\n" and reader.page(third, 1, "owner") == "d"
    assert writer.add(["x" * 101]) is None


@pytest.mark.parametrize(
    "result_id", ["../secret", "../../etc/passwd", "0123456789abcdef/../x", "", "ABCDEF0123456789"]
)
def test_a_result_id_that_this_server_could_not_have_made_reads_nothing(result_id: str, tmp_path: Path) -> None:
    (tmp_path / "secret.json").write_text('{"owner": "", "pages": ["not a result"]}')
    store = DirectoryResultStore(tmp_path / "results")
    (tmp_path / "results").mkdir()
    with pytest.raises(ResourceError, match="no longer kept"):
        store.page(result_id, 1)


async def test_an_error_over_the_budget_is_cut_too() -> None:
    # Membrane's message and data are each bounded in the sentence; under the smallest budget they are still over it.
    huge_message = "CleverTap said: " + "no " * 20_000
    ready = {"id": "conn_1", "name": "CleverTap", "state": "READY", "userId": "u", "createdAt": "", "updatedAt": ""}

    async def handler(request: httpx2.Request) -> httpx2.Response:
        if request.url.path.endswith("/run"):
            body = {"type": "bad_request", "message": huge_message, "data": {"detail": huge_message}}
            return httpx2.Response(400, json=body)
        return httpx2.Response(200, json={"items": [ready]})

    transport = httpx2.MockTransport(handler)
    async with mcp_client(
        "http://membrane.test", demo_token(), transport=transport, max_output_chars=MIN_MAX_OUTPUT_CHARS
    ) as client:
        text = error_text(await call(client, "run_action", {"action_id": "get-events", "input": {}}))
    assert len(text) <= MIN_MAX_OUTPUT_CHARS
    assert text.startswith("Error executing tool run_action") and "over the output budget" in text


# Repeated short texts make long strings cheaply, so about a quarter of the examples are over the budget.
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=200) | st.text(max_size=30).map(lambda t: t * 40),
    lambda inner: st.lists(inner, max_size=60) | st.dictionaries(st.text(max_size=20), inner, max_size=30),
    max_leaves=400,
)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(value=JSON_VALUES, budget=st.integers(MIN_MAX_OUTPUT_CHARS, 4_000))
def test_any_result_fits_the_budget_as_valid_json_and_its_pages_join_into_it(value: Any, budget: int) -> None:
    structured: dict[str, Any] = {"output": value, "action_run_id": "run_1"}
    text = json.dumps(structured, ensure_ascii=False, separators=(",", ":"))
    store = ResultStore()
    shown = Budget(budget, store).apply(
        CallToolResult(content=[TextContent(type="text", text=text)], structured_content=structured)
    )
    (block,) = shown.content
    assert isinstance(block, TextContent) and len(block.text) <= budget
    assert json.loads(block.text) == shown.structured_content
    out = shown.structured_content
    assert out is not None and out["action_run_id"] == "run_1"
    if "truncated" in out:
        notice = out["truncated"]
        joined = "".join(store.page(notice["result_id"], n) for n in range(1, notice["pages"] + 1))
        assert json.loads(joined) == structured
    else:
        assert out == structured
