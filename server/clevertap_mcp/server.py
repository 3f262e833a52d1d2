"""The MCP server: its lifespan (one Membrane client, and the sandbox when asked for) and its four tools."""

from __future__ import annotations

import inspect
import logging
from collections.abc import AsyncGenerator, Callable
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager

import httpx2
from mcp.server.mcpserver import MCPServer
from mcp_types import ToolAnnotations

from clevertap_mcp import __version__, tools
from clevertap_mcp.config import Settings
from clevertap_mcp.membrane.client import MembraneClient
from clevertap_mcp.results import drop_titles
from clevertap_mcp.state import AppState

logger = logging.getLogger(__name__)

INSTRUCTIONS = (
    "Work with the user's CleverTap account through Membrane. Workflow: ensure_connection → search_actions → "
    "run_action; proxy_request only when no action fits. Never ask the user for CleverTap or Membrane credentials."
)

_OPEN = {"open_world_hint": True}
ANNOTATIONS: dict[str, ToolAnnotations] = {
    "ensure_connection": ToolAnnotations(
        title="Ensure CleverTap connection", read_only_hint=False, destructive_hint=False, idempotent_hint=True, **_OPEN
    ),
    "search_actions": ToolAnnotations(title="Search CleverTap actions", read_only_hint=True, **_OPEN),
    "run_action": ToolAnnotations(
        title="Run CleverTap action", read_only_hint=False, destructive_hint=True, idempotent_hint=False, **_OPEN
    ),
    "proxy_request": ToolAnnotations(
        title="CleverTap API request", read_only_hint=False, destructive_hint=True, idempotent_hint=False, **_OPEN
    ),
}

TransportFactory = Callable[[], httpx2.AsyncBaseTransport | None]


def _lifespan(
    settings: Settings, transport: TransportFactory | None
) -> Callable[[MCPServer[AppState]], AbstractAsyncContextManager[AppState]]:
    @asynccontextmanager
    async def lifespan(_: MCPServer[AppState]) -> AsyncGenerator[AppState]:
        async with AsyncExitStack() as stack:
            api_url = settings.api_url
            if settings.sandbox is not None:
                # Imported here: the sandbox (Starlette routes, uvicorn, jsonschema) costs start-up time.
                from clevertap_mcp.sandbox.server import SandboxServer

                sandbox = SandboxServer(settings.sandbox)
                sandbox.start()
                stack.callback(sandbox.stop)
                api_url = sandbox.base_url
                logger.info("Sandbox Membrane API at %s", api_url)
            client: MembraneClient | None = None
            if settings.token_source is not None:
                client = MembraneClient(api_url, settings.token_source, transport=transport() if transport else None)
                await stack.enter_async_context(client)
            yield AppState(client=client, credentials_problem=settings.credentials_problem, app_url=settings.app_url)

    return lifespan


def build_server(settings: Settings, *, transport: TransportFactory | None = None) -> MCPServer[AppState]:
    """The server; `transport` lets tests route the Membrane client somewhere without a network."""
    server: MCPServer[AppState] = MCPServer(
        name="clevertap-mcp",
        version=__version__,
        instructions=INSTRUCTIONS,
        lifespan=_lifespan(settings, transport),
    )
    for fn in (tools.ensure_connection, tools.search_actions, tools.run_action, tools.proxy_request):
        annotations = ANNOTATIONS[fn.__name__]
        server.add_tool(
            fn,
            name=fn.__name__,
            title=annotations.title,
            description=inspect.cleandoc(fn.__doc__ or ""),
            annotations=annotations,
            structured_output=True,
        )
        registered = server._tool_manager.get_tool(fn.__name__)  # pyright: ignore[reportPrivateUsage]
        assert registered is not None
        drop_titles(registered.parameters)
    return server
