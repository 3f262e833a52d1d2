"""Helpers for tests that drive the real server through an MCP client against a real sandbox on loopback."""

from __future__ import annotations

import json
import random
import socket
from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager
from typing import Any

import httpx2
from mcp import Client
from mcp.client.session import ElicitationFnT, MessageHandlerFnT
from mcp.shared.dispatcher import ProgressFnT
from mcp_types import CallToolResult, TextContent, TextResourceContents
from starlette.applications import Starlette

from clevertap_mcp.budget import RESULTS_URI
from clevertap_mcp.config import DEFAULT_CONFIRM_MODE, DEFAULT_MAX_OUTPUT_CHARS, ConfirmMode, Settings
from clevertap_mcp.membrane.auth import MintedToken, TokenSource
from clevertap_mcp.membrane.retry import RetryPolicy
from clevertap_mcp.sandbox.app import build_sandbox_app
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


def tenant_token(tenant_key: str) -> str:
    """A token the sandbox accepts for `tenant_key`, signed with the demo workspace's key and secret."""
    s = SandboxSettings()
    return MintedToken(s.workspace_key, s.workspace_secret, tenant_key).token()


def free_port() -> int:
    """A loopback port nothing listens on (bound once by the OS, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


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
    retry: RetryPolicy | None = None,
    read_only: bool = False,
    confirm: ConfirmMode = DEFAULT_CONFIRM_MODE,
    max_output_chars: int = DEFAULT_MAX_OUTPUT_CHARS,
) -> AsyncGenerator[Client]:
    """An in-memory MCP client of the real server; `transport` replaces the network for fault tests, `retry` the
    client's retry policy (so fault tests record backoff delays instead of waiting them out)."""
    settings = Settings(
        api_url=api_url,
        token_source=token_source,
        credentials_problem=credentials_problem,
        retry=retry,
        read_only=read_only,
        confirm=confirm,
        max_output_chars=max_output_chars,
    )
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


async def posted(client: httpx2.AsyncClient, path: str, body: Any) -> Any:
    """POST `body` as JSON, require a 200, and return the decoded answer."""
    response = await client.post(path, json=body)
    assert response.status_code == 200
    return response.json()


def dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


# A sandbox clock and a campaign whose event window ends that day: the confirmation and preview tests' write.
CLOCK = 1767607200  # 2026-01-05 10:00 UTC
CAMPAIGN: dict[str, Any] = {
    "name": "Spring sale",
    "target_mode": "push",
    "content": {"title": "Hi", "body": "20% off today"},
    "when": "now",
    "where": {"event_name": "App Launched", "from": 20251201, "to": 20260105},
}
FAKE_API_URL = "http://membrane.test"
FAKE_CONNECTION: dict[str, Any] = {
    "id": "conn_1",
    "name": "CleverTap",
    "userId": "u",
    "createdAt": "2026-01-01T00:00:00Z",
    "updatedAt": "2026-01-01T00:00:00Z",
    "state": "READY",
}
FAKE_ACTION: dict[str, Any] = {"id": "act_1", "key": "get-event-count", "name": "Get event count"}
FakeAnswer = httpx2.Response | Exception


class FakeMembrane(httpx2.AsyncBaseTransport):
    """Membrane at the wire, in memory: healthy answers for the four tools, unless a fault is queued.

    Each queued fault answers (or raises for) one request, in order, before the healthy answers resume; `requests`
    keeps everything that would have left the process.
    """

    def __init__(self, *faults: FakeAnswer) -> None:
        self.faults = list(faults)
        self.requests: list[httpx2.Request] = []
        self.connection: dict[str, Any] = FAKE_CONNECTION

    def queue(self, *faults: FakeAnswer) -> None:
        self.faults.extend(faults)

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        self.requests.append(request)
        if self.faults:
            fault = self.faults.pop(0)
            if isinstance(fault, Exception):
                raise fault
            return fault
        return self.healthy(request)

    def healthy(self, request: httpx2.Request) -> httpx2.Response:
        path = request.url.path
        if "/proxy/" in path:
            return httpx2.Response(200, json={"status": "success", "echo": path.split("/proxy", 1)[1]})
        if path == "/connections/ensure" or path.startswith("/connections/"):
            return httpx2.Response(200, json=self.connection)
        if path == "/connections":
            return httpx2.Response(200, json={"items": [self.connection]})
        if path == "/actions":
            return httpx2.Response(200, json={"items": [FAKE_ACTION]})
        if path.endswith("/run"):
            return httpx2.Response(200, json={"output": {"count": 1}, "actionRunId": "run_ok"})
        return httpx2.Response(404, json={"type": "bad_request", "key": "not_found", "message": f"No route {path}"})


class RecordedSleep:
    """A retry sleep that records the delay it was asked for and returns at once: tests never wait."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)


def recorded_retry(sleep: RecordedSleep) -> RetryPolicy:
    return RetryPolicy(sleep=sleep, rng=random.Random(4))


IN_PROCESS_ROOT = "http://sandbox.test"


@asynccontextmanager
async def http_client(
    base_url: str,
    token: str | None = None,
    *,
    mode: str = "auto",
    authorization: str | None = None,
    http_timeout: float = 30,
) -> AsyncGenerator[Client]:
    """An MCP client over HTTP; `token` is sent as `Authorization: Bearer`, `authorization` as the header verbatim."""
    from mcp.client.streamable_http import streamable_http_client

    if token:
        authorization = f"Bearer {token}"
    headers = {"Authorization": authorization} if authorization else {}
    async with (
        httpx2.AsyncClient(headers=headers, timeout=http_timeout) as http,
        Client(streamable_http_client(f"{base_url}/mcp", http_client=http), mode=mode) as client,
    ):
        yield client


@asynccontextmanager
async def uvicorn_served(app: Any, *, backlog: int = 64, **options: Any) -> AsyncGenerator[int]:
    """`app` under uvicorn on a 127.0.0.1 socket bound before it starts (so no port race); its port."""
    import anyio
    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(backlog)
    server = uvicorn.Server(uvicorn.Config(app, log_config=None, lifespan="on", timeout_graceful_shutdown=2, **options))
    with sock:
        async with anyio.create_task_group() as tg:
            tg.start_soon(server.serve, [sock])
            try:
                yield sock.getsockname()[1]
            finally:
                server.should_exit = True


@asynccontextmanager
async def in_process_sandbox(
    settings: SandboxSettings | None = None,
) -> AsyncGenerator[tuple[Starlette, httpx2.AsyncClient]]:
    """The sandbox app in this process (lifespan entered, its CleverTap reached in-process too), and a client of it
    carrying the demo tenant's token: for sandbox tests that need no socket."""
    settings = settings or SandboxSettings()
    app = build_sandbox_app(settings, root_url=IN_PROCESS_ROOT, outbound_transport=httpx2.ASGITransport)
    headers = {"Authorization": f"Bearer {demo_token(settings).token()}"}
    async with (
        app.router.lifespan_context(app),
        httpx2.AsyncClient(
            transport=httpx2.ASGITransport(app=app), base_url=IN_PROCESS_ROOT, headers=headers
        ) as client,
    ):
        yield app, client


async def result_pages(client: Client, notice: dict[str, Any]) -> list[str]:
    """Every page of a result that was cut to the output budget, read as the agent would, in order."""
    pages: list[str] = []
    for page in range(1, notice["pages"] + 1):
        read = await client.read_resource(RESULTS_URI.format(result_id=notice["result_id"], page=page))
        (contents,) = read.contents
        assert isinstance(contents, TextResourceContents)
        pages.append(contents.text)
    return pages
