"""The sandbox and the real server in this process, with an MCP client session and a handle on the world.

Nothing listens on a socket: the server reaches the sandbox through an ASGI transport, and the sandbox reaches its
own CleverTap the same way, so an environment starts in milliseconds and any number can run side by side.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from typing import Any

import httpx2
from mcp import Client
from mcp_types import CallToolResult, TextContent
from starlette.applications import Starlette

from clevertap_mcp.config import Settings
from clevertap_mcp.membrane.auth import MintedToken
from clevertap_mcp.sandbox.app import build_sandbox_app, parts_of
from clevertap_mcp.sandbox.clevertap.model import Account
from clevertap_mcp.sandbox.clevertap.snapshot import diff, snapshot
from clevertap_mcp.sandbox.clevertap.state import CleverTapWorld
from clevertap_mcp.sandbox.faults import Fault
from clevertap_mcp.sandbox.settings import SandboxSettings
from clevertap_mcp.server import build_server

__all__ = ["ROOT_URL", "Environment", "ToolError", "World", "clevertap_sandbox"]

ROOT_URL = "http://sandbox.invalid"  # never resolved: every request goes through the ASGI transport


class ToolError(Exception):
    """A tool answered isError; the message is what the agent would read."""


@dataclass(frozen=True)
class World:
    """The sandbox behind an environment: its settings, clock, faults, and the grader's snapshot and diff."""

    app: Starlette
    http: httpx2.AsyncClient  # the control plane and the emulated APIs, in-process

    @property
    def settings(self) -> SandboxSettings:
        return parts_of(self.app).clevertap.settings

    @property
    def seed(self) -> int:
        return self.settings.seed

    def clevertap(self, tenant: str | None = None) -> CleverTapWorld:
        """The CleverTap world itself, for reading what a grader compares with (never to change it behind the API)."""
        return parts_of(self.app).clevertap.world_for(tenant)

    def account(self, tenant: str | None = None) -> Account:
        """The demo account of the world: its profiles, events and campaigns."""
        (account, *_) = self.clevertap(tenant).accounts()
        return account

    def now(self) -> int:
        return int(self.clevertap().now())

    def advance_clock(self, seconds: float) -> None:
        """Move the world's clock forward (pending deletions come due, cursors and count requests expire)."""
        self.clevertap().advance_clock(seconds)

    def snapshot(self, tenant: str | None = None, *, events: bool = False) -> dict[str, Any]:
        return snapshot(self.clevertap(tenant), events=events)

    def diff(self, tenant: str | None = None) -> dict[str, Any]:
        """What changed since the last reset (docs/evaluating-agents.md, "Diff")."""
        return diff(self.clevertap(tenant))

    def fault(self, spec: Mapping[str, Any]) -> Fault:
        """Fault the next matching requests, as POST /_sandbox/faults does (sandbox/faults.py has the kinds)."""
        return parts_of(self.app).faults.add(spec)

    async def reset(self) -> None:
        """Back to the freshly seeded world: no connections, no faults, an empty request log and diff."""
        response = await self.http.post("/_sandbox/reset")
        response.raise_for_status()

    async def requests(self, **query: str) -> list[dict[str, Any]]:
        """The sandbox's request log (GET /_sandbox/requests), oldest first."""
        response = await self.http.get("/_sandbox/requests", params=query)
        response.raise_for_status()
        return response.json()["items"]


@dataclass(frozen=True)
class Environment:
    """An MCP client session of the real server, and the world it works on."""

    client: Client
    world: World

    async def call(self, tool: str, arguments: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """A tool's structured result; ToolError with the text the agent would read when it answered isError."""
        result = await self.call_raw(tool, arguments)
        if result.is_error or result.structured_content is None:
            raise ToolError(text_of(result))
        return result.structured_content

    async def call_raw(self, tool: str, arguments: Mapping[str, Any] | None = None) -> CallToolResult:
        return await self.client.call_tool(tool, dict(arguments or {}))


def text_of(result: CallToolResult) -> str:
    return "\n".join(block.text for block in result.content if isinstance(block, TextContent))


@asynccontextmanager
async def clevertap_sandbox(
    settings: SandboxSettings | None = None,
    *,
    server_settings: Mapping[str, Any] | None = None,
    **sandbox_overrides: Any,
) -> AsyncGenerator[Environment]:
    """A sandbox (auto-connecting unless told otherwise) and the real server on it, both in this process.

    `sandbox_overrides` are SandboxSettings fields (seed, profiles, clock, ...); `server_settings` are the server's
    Settings fields (read_only, confirm, max_output_chars, ...).
    """
    sandbox = replace(settings or SandboxSettings(auto_connect=True), **sandbox_overrides)
    app = build_sandbox_app(sandbox, root_url=ROOT_URL, outbound_transport=httpx2.ASGITransport)
    token = MintedToken(sandbox.workspace_key, sandbox.workspace_secret, sandbox.tenant_key)
    config = Settings(api_url=ROOT_URL, token_source=token, **dict(server_settings or {}))
    server = build_server(config, transport=lambda: httpx2.ASGITransport(app=app))
    async with (
        app.router.lifespan_context(app),
        httpx2.AsyncClient(transport=httpx2.ASGITransport(app=app), base_url=ROOT_URL) as http,
        Client(server, raise_exceptions=True) as client,
    ):
        yield Environment(client, World(app, http))
