"""The MCP server: its lifespan (one Membrane client, and the sandbox when asked for) and its four tools."""

from __future__ import annotations

import inspect
import logging
from collections.abc import AsyncGenerator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import anyio
import anyio.to_thread
import httpx2
from mcp.server.mcpserver import MCPServer, RequestStateSecurity
from mcp_types import ToolAnnotations

from clevertap_mcp import __version__, run_logs, tools
from clevertap_mcp.agent_errors import TENANT_HINT
from clevertap_mcp.budget import BudgetedServer
from clevertap_mcp.calllog import logged
from clevertap_mcp.config import Settings, api_url_problem
from clevertap_mcp.deferred_transport import DeferredTransport
from clevertap_mcp.membrane.auth import MintedToken, TokenSource
from clevertap_mcp.membrane.client import MembraneClient
from clevertap_mcp.results import compact_schema, with_compact_text
from clevertap_mcp.sandbox_launch import SandboxLauncher
from clevertap_mcp.sandbox_share import SharedSandboxError, shared_sandbox_url
from clevertap_mcp.signin_offer import offering_sign_in
from clevertap_mcp.state import AppState, TokenCallers

if TYPE_CHECKING:
    from clevertap_mcp.signin_offer import SignInOffer

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

# Read-only mode (--read-only): the two tools that could write only read, and say so before they are called.
READ_ONLY_INSTRUCTIONS = (
    " This server is read-only: run_action runs only read actions and proxy_request reaches only read endpoints; "
    "anything else is refused, so offer the user a read instead."
)
READ_ONLY_NOTE = "\n\nRead-only mode: only reads run; writes are refused before anything is sent."
READ_ONLY_ANNOTATIONS: dict[str, ToolAnnotations] = {
    name: ANNOTATIONS[name].model_copy(update={"read_only_hint": True, "destructive_hint": False})
    for name in ("run_action", "proxy_request")
}

TransportFactory = Callable[[], httpx2.AsyncBaseTransport | None]


def _lifespan(
    settings: Settings, transport: TransportFactory | None
) -> Callable[[MCPServer[AppState]], AbstractAsyncContextManager[AppState]]:
    @asynccontextmanager
    async def lifespan(_: MCPServer[AppState]) -> AsyncGenerator[AppState]:
        async with AsyncExitStack() as stack:
            api_url = settings.api_url
            ready: Callable[[], Awaitable[None]] | None = None
            shared_url: str | None = None
            if settings.sandbox is not None and settings.sandbox_shared:
                try:
                    shared_url = await anyio.to_thread.run_sync(shared_sandbox_url, settings.sandbox)
                    logger.info("Shared sandbox Membrane API at %s", shared_url)
                except SharedSandboxError as exc:
                    logger.error("%s; this server uses a sandbox of its own instead", exc)
            if shared_url is not None:
                api_url = shared_url
            elif settings.sandbox is not None:
                # Started in the background, off the handshake; Membrane requests wait for it (sandbox_launch.py).
                sandbox = SandboxLauncher(settings.sandbox)
                stack.callback(sandbox.stop)
                api_url = sandbox.base_url
                ready = sandbox.wait_started

            def make_transport() -> httpx2.AsyncBaseTransport:
                # Built on the first request, not before the handshake is answered (deferred_transport.py).
                return DeferredTransport(transport, ready=ready)

            client: MembraneClient | None = None
            if isinstance(settings.token_source, MintedToken) and settings.token_source.workspace_level:
                # §11 R4: a warning, not a refusal: whether Membrane serves tenant calls to such a token is unconfirmed.
                logger.warning("MEMBRANE_TENANT_KEY is not set, so the minted token names no tenant. %s", TENANT_HINT)
            if settings.token_source is not None:
                client = MembraneClient(
                    api_url,
                    settings.token_source,
                    transport=make_transport(),
                    retry=settings.retry,
                )
                await stack.enter_async_context(client)
            # Requests that bring their own token (HTTP) get clients of their own; not where the URL cannot work.
            token_callers: TokenCallers | None = None
            if api_url_problem(api_url) is None:
                token_callers = TokenCallers(
                    api_url, transport=make_transport, max_size=settings.max_token_clients, retry=settings.retry
                )
                stack.push_async_callback(token_callers.aclose)
            app = AppState(
                client=client,
                credentials_problem=settings.credentials_problem,
                app_url=settings.app_url,
                token_callers=token_callers,
                require_request_token=settings.require_request_token,
                read_only=settings.read_only,
                confirm=settings.confirm,
            )
            if client is None and settings.sign_in_store is not None and api_url_problem(api_url) is None:
                app.sign_in_offer = await _sign_in_offer(settings, api_url, app, stack, make_transport)
            yield app

    return lifespan


async def _sign_in_offer(
    settings: Settings,
    api_url: str,
    app: AppState,
    stack: AsyncExitStack,
    make_transport: Callable[[], httpx2.AsyncBaseTransport],
) -> SignInOffer:
    from clevertap_mcp.signin_offer import SignInOffer

    tasks = await stack.enter_async_context(anyio.create_task_group())
    stack.callback(tasks.cancel_scope.cancel)  # runs first on the way out: a pending sign-in stops waiting

    def signed_in(source: TokenSource) -> None:
        client = MembraneClient(api_url, source, transport=make_transport(), retry=settings.retry)
        stack.push_async_callback(client.aclose)
        app.use_client(client)

    assert settings.sign_in_store is not None
    return SignInOffer(api_url, settings.sign_in_store, tasks, signed_in)


def _lean(annotations: ToolAnnotations) -> ToolAnnotations:
    """Annotations without what tools/list would say twice: the title (the tool has it) and the spec's defaults
    (openWorldHint true, idempotentHint false). readOnlyHint and destructiveHint stay explicit, default or not:
    hosts base their confirmations on them."""
    return annotations.model_copy(
        update={
            "title": None,
            "open_world_hint": None if annotations.open_world_hint is True else annotations.open_world_hint,
            "idempotent_hint": None if annotations.idempotent_hint is False else annotations.idempotent_hint,
        }
    )


def build_server(
    settings: Settings, *, transport: TransportFactory | None = None, results_dir: Path | None = None
) -> MCPServer[AppState]:
    """The server; `transport` lets tests route the Membrane client somewhere without a network; `results_dir` keeps
    cut results where every worker process can serve their pages (budget.py)."""
    server: MCPServer[AppState] = BudgetedServer(
        name="clevertap-mcp",
        version=__version__,
        instructions=INSTRUCTIONS + (READ_ONLY_INSTRUCTIONS if settings.read_only else ""),
        max_output_chars=settings.max_output_chars,
        results_dir=results_dir,
        lifespan=_lifespan(settings, transport),
        # Replicas behind one load balancer must unseal each other's multi-round-trip state.
        request_state_security=RequestStateSecurity(keys=list(settings.request_state_keys))
        if settings.request_state_keys
        else None,
    )
    run_logs.register(server)
    for fn in (tools.ensure_connection, tools.search_actions, tools.run_action, tools.proxy_request):
        annotations = ANNOTATIONS[fn.__name__]
        description = inspect.cleandoc(fn.__doc__ or "")
        if settings.read_only and fn.__name__ in READ_ONLY_ANNOTATIONS:
            annotations = READ_ONLY_ANNOTATIONS[fn.__name__]
            description += READ_ONLY_NOTE
        server.add_tool(
            logged(with_compact_text(offering_sign_in(fn))),
            name=fn.__name__,
            title=annotations.title,
            description=description,
            annotations=_lean(annotations),
            structured_output=True,
        )
        registered = server._tool_manager.get_tool(fn.__name__)  # pyright: ignore[reportPrivateUsage]
        assert registered is not None
        registered.parameters = compact_schema(registered.parameters, arguments=True)
        output_schema = registered.fn_metadata.output_schema
        if output_schema is not None:
            registered.fn_metadata.output_schema = compact_schema(output_schema, arguments=False)
            vars(registered).pop("output_schema", None)  # a cached_property the SDK may have read already
    return server
