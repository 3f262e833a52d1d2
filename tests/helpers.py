"""Helpers for tests that drive the real server through an MCP client against a real sandbox on loopback."""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager
from typing import Any

import httpx2
from mcp import Client
from mcp.client.session import ElicitationFnT, MessageHandlerFnT
from mcp.shared.dispatcher import ProgressFnT
from mcp_types import CallToolResult, TextContent

from clevertap_mcp.config import Settings
from clevertap_mcp.membrane.auth import MintedToken, TokenSource
from clevertap_mcp.sandbox.server import SandboxServer
from clevertap_mcp.sandbox.settings import (
    DEMO_CLEVERTAP_ACCOUNT_ID,
    DEMO_CLEVERTAP_PASSCODE,
    DEMO_CLEVERTAP_REGION,
    SandboxSettings,
)
from clevertap_mcp.server import build_server

from leakcheck import WRITTEN


def demo_token(settings: SandboxSettings | None = None) -> MintedToken:
    s = settings or SandboxSettings()
    return MintedToken(s.workspace_key, s.workspace_secret, s.tenant_key)


@asynccontextmanager
async def mcp_client(
    api_url: str,
    token_source: TokenSource | None = None,
    *,
    mode: str = "auto",
    elicitation_callback: ElicitationFnT | None = None,
    message_handler: MessageHandlerFnT | None = None,
    credentials_problem: str | None = None,
    transport: httpx2.AsyncBaseTransport | None = None,
) -> AsyncGenerator[Client]:
    """An in-memory MCP client of the real server; `transport` replaces the network for fault tests."""
    settings = Settings(api_url=api_url, token_source=token_source, credentials_problem=credentials_problem)
    async with Client(
        build_server(settings, transport=(lambda: transport) if transport is not None else None),
        mode=mode,
        elicitation_callback=elicitation_callback,
        message_handler=message_handler,
        raise_exceptions=True,
    ) as client:
        yield client


async def call(
    client: Client,
    tool: str,
    arguments: dict[str, Any] | None = None,
    *,
    progress_callback: ProgressFnT | None = None,
    **kwargs: Any,
) -> CallToolResult:
    """Call a tool and keep everything it answered, progress messages included, for the secret scan."""

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        WRITTEN.append(message or "")
        if progress_callback is not None:
            await progress_callback(progress, total, message)

    result = await client.call_tool(tool, arguments or {}, progress_callback=on_progress, **kwargs)
    WRITTEN.append(result.model_dump_json())
    return result


def text_of(result: CallToolResult) -> str:
    return "\n".join(block.text for block in result.content if isinstance(block, TextContent))


def ok(result: CallToolResult) -> dict[str, Any]:
    """The structured result of a successful call (fails the test with the error text otherwise)."""
    assert not result.is_error, text_of(result)
    assert result.structured_content is not None
    return result.structured_content


def error_text(result: CallToolResult) -> str:
    assert result.is_error, f"expected an isError result, got {result.structured_content}"
    return text_of(result)


async def complete_connect_page(ui_url: str, **fields: str) -> httpx2.Response:
    """What a user does in the browser: submit the connect form (pre-filled with the demo account)."""
    form = {
        "account_id": DEMO_CLEVERTAP_ACCOUNT_ID,
        "passcode": DEMO_CLEVERTAP_PASSCODE,
        "region": DEMO_CLEVERTAP_REGION,
    }
    form.update(fields)
    async with httpx2.AsyncClient() as http:
        return await http.post(ui_url, data=form)


async def control(sandbox: SandboxServer, method: str, path: str, body: Any = None) -> Any:
    async with httpx2.AsyncClient(base_url=sandbox.base_url) as http:
        response = await http.request(method, f"/_sandbox{path}", json=body)
        response.raise_for_status()
        return response.json() if response.content else None


def dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True)
