"""The tool surface, pinned: any change to a name, description, schema or annotation shows up as a diff here.

Regenerate after a deliberate change with `UPDATE_SNAPSHOTS=1 scripts/test tests/test_tool_surface.py`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from helpers import mcp_client

pytestmark = pytest.mark.anyio

SNAPSHOT = Path(__file__).parent / "snapshots" / "tools.json"


async def test_tool_surface_matches_the_snapshot() -> None:
    async with mcp_client("http://127.0.0.1:9", None, credentials_problem="none") as client:
        listed = await client.list_tools()
    surface = [t.model_dump(mode="json", by_alias=True, exclude_none=True) for t in listed.tools]
    text = json.dumps(surface, indent=2, sort_keys=True) + "\n"
    if os.environ.get("UPDATE_SNAPSHOTS"):
        SNAPSHOT.write_text(text)
    assert SNAPSHOT.read_text() == text


async def test_exactly_the_four_tools_with_honest_annotations() -> None:
    async with mcp_client("http://127.0.0.1:9", None, credentials_problem="none") as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
    assert sorted(tools) == ["ensure_connection", "proxy_request", "run_action", "search_actions"]
    search = tools["search_actions"].annotations
    run = tools["run_action"].annotations
    ensure = tools["ensure_connection"].annotations
    assert search is not None and search.read_only_hint is True
    assert run is not None and run.read_only_hint is False and run.destructive_hint is True
    assert ensure is not None and ensure.idempotent_hint is True and ensure.destructive_hint is False
    for tool in tools.values():
        assert tool.title
        assert tool.output_schema is not None
        assert "title" not in json.dumps(tool.input_schema)
        # Left out where they equal the spec's defaults (openWorldHint true, idempotentHint false): hosts apply them.
        assert tool.annotations is not None and tool.annotations.open_world_hint is None
        assert tool.annotations.title is None
    assert run.idempotent_hint is None
