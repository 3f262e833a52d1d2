"""An export cursor reaches CleverTap byte for byte through proxy_request, whether the agent puts it in the path or
in `query`, as CleverTap gave it (percent-encoded) or decoded (clevertap-api.md §8)."""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

import pytest
from mcp import Client

from clevertap_mcp.sandbox.server import SandboxServer

from helpers import call, demo_token, mcp_client, ok

pytestmark = pytest.mark.anyio

QUERY = {"event_name": "Charged", "from": 20251206, "to": 20260105}


async def proxied(client: Client, arguments: dict[str, Any]) -> dict[str, Any]:
    result = ok(await call(client, "proxy_request", arguments))
    assert result["status"] == 200
    return result["body"]


async def first_cursor(client: Client) -> str:
    opened = await proxied(
        client, {"path": "/1/events.json", "method": "POST", "query": {"batch_size": 5}, "body": QUERY}
    )
    cursor = str(opened["cursor"])
    assert "%" in cursor  # CleverTap hands cursors out percent-encoded: the case that used to break
    return cursor


@pytest.mark.parametrize(
    "place",
    ["path", "query as given", "query decoded"],
)
async def test_an_export_cursor_pages_the_same_wherever_the_agent_puts_it(sandbox_factory: Any, place: str) -> None:
    sandbox: SandboxServer = sandbox_factory(auto_connect=True, clock=1767607200.0)
    async with mcp_client(sandbox.base_url, demo_token()) as client:
        await call(client, "ensure_connection")
        cursor = await first_cursor(client)
        pages: list[dict[str, Any]] = []
        while cursor:
            if place == "path":
                arguments: dict[str, Any] = {"path": f"/1/events.json?cursor={cursor}"}
            else:
                given = cursor if place == "query as given" else unquote(cursor)
                arguments = {"path": "/1/events.json", "query": {"cursor": given}}
            page = await proxied(client, arguments)
            assert page["status"] == "success", page
            pages.append(page)
            cursor = page.get("next_cursor", "")
        reference = await first_cursor(client)
        by_path: list[Any] = []
        while reference:
            page = await proxied(client, {"path": f"/1/events.json?cursor={reference}"})
            by_path.extend(page.get("records", []))
            reference = page.get("next_cursor", "")
    records = [record for page in pages for record in page.get("records", [])]
    assert len(pages) > 1
    assert records == by_path
