"""The HTTP server under stress: workers behind one port, as a load balancer without affinity spreads requests
(consecutive requests of one client land on different server instances: here in-process replicas, each sent
requests in turn), and more callers with their own tokens at once than the server keeps clients for."""

from __future__ import annotations

import json
import re
import stat
import time
import warnings
from collections.abc import AsyncGenerator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx2
import jwt
import pytest
from jwt.warnings import InsecureKeyLengthWarning
from mcp import Client
from mcp.client.context import ClientRequestContext
from mcp.client.streamable_http import streamable_http_client
from mcp_types import (
    CallToolResult,
    ElicitRequestFormParams,
    ElicitRequestParams,
    ElicitResult,
    ErrorData,
    TextContent,
)

from clevertap_mcp import redaction
from clevertap_mcp.budget import Budget, DirectoryResultStore
from clevertap_mcp.config import Settings
from clevertap_mcp.http import HttpConfigError, HttpSettings, build_http_app, shared_by_workers
from clevertap_mcp.sandbox.server import SandboxServer
from clevertap_mcp.sandbox.settings import SandboxSettings
from clevertap_mcp.server import TransportFactory

from helpers import call, control, demo_token, ok, result_pages, uvicorn_served

pytestmark = pytest.mark.anyio

DELETE = {"action_id": "delete-user-profile", "input": {"identity": ["u-1"]}}


@asynccontextmanager
async def replica(
    sandbox: SandboxServer, http: HttpSettings, *, transport: TransportFactory | None = None, **settings: Any
) -> AsyncGenerator[int]:
    """One replica of the HTTP server under uvicorn on 127.0.0.1; its port."""
    app = build_http_app(
        Settings(api_url=sandbox.base_url, token_source=demo_token(), **settings), http, transport=transport
    )
    async with uvicorn_served(app, backlog=64) as port:
        yield port


class RoundRobin(httpx2.AsyncBaseTransport):
    """A load balancer without affinity: each request goes to the next replica."""

    def __init__(self, ports: list[int]) -> None:
        self._ports = ports
        self._next = 0
        self._inner = httpx2.AsyncHTTPTransport()
        self.sent_to: list[int] = []

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        port = self._ports[self._next % len(self._ports)]
        self._next += 1
        self.sent_to.append(port)
        request.url = request.url.copy_with(port=port)
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self._inner.aclose()


@asynccontextmanager
async def balanced(sandbox: SandboxServer, count: int, **settings: Any) -> AsyncGenerator[RoundRobin]:
    """`count` replicas sharing what `--workers` makes them share (http.shared_by_workers), behind a balancer."""
    async with AsyncExitStack() as stack:
        http = stack.enter_context(shared_by_workers(HttpSettings(workers=count)))
        ports = [await stack.enter_async_context(replica(sandbox, http, **settings)) for _ in range(count)]
        yield RoundRobin(ports)


async def accept(context: ClientRequestContext, params: ElicitRequestParams) -> ElicitResult | ErrorData:
    assert isinstance(params, ElicitRequestFormParams)
    return ElicitResult(action="accept", content={"confirm": True})


async def test_a_confirmation_asked_by_one_replica_is_honoured_by_another(sandbox_factory: Any) -> None:
    sandbox: SandboxServer = sandbox_factory(auto_connect=True)
    async with balanced(sandbox, 2) as balancer:
        async with (
            httpx2.AsyncClient(transport=balancer, timeout=30) as http,
            Client(
                streamable_http_client("http://127.0.0.1/mcp", http_client=http),
                mode="auto",
                elicitation_callback=accept,
            ) as client,
        ):
            with anyio.fail_after(60):
                ok(await call(client, "ensure_connection"))
                before = len(balancer.sent_to)
                result = ok(await call(client, "run_action", DELETE))
        assert len(set(balancer.sent_to[before:])) == 2  # the question and the answer went to different replicas
    assert result["output"]["status"] == "success"
    log = await control(sandbox, "GET", "/requests")
    assert len([e for e in log["items"] if e["path"].endswith("/1/delete/profiles.json")]) == 1


async def test_every_page_of_a_cut_result_is_readable_whichever_worker_answers(sandbox_factory: Any) -> None:
    sandbox: SandboxServer = sandbox_factory(auto_connect=True)
    async with (
        balanced(sandbox, 2, max_output_chars=2000) as balancer,
        httpx2.AsyncClient(transport=balancer, timeout=30) as http,
        Client(streamable_http_client("http://127.0.0.1/mcp", http_client=http), mode="legacy") as client,
    ):
        with anyio.fail_after(60):
            ok(await call(client, "ensure_connection"))
            shown = ok(await call(client, "search_actions", {"intent": "profiles", "limit": 15}))
            notice = shown["truncated"]
            before = len(balancer.sent_to)
            pages = await result_pages(client, notice)
        assert len(pages) >= 2 and len(set(balancer.sent_to[before:])) == 2  # the pages were read from both replicas
    assert json.loads("".join(pages))["actions"][0]["key"]


def test_workers_share_a_private_results_directory_that_is_removed_afterwards() -> None:
    with shared_by_workers(HttpSettings(workers=2)) as http:
        directory = Path(http.results_dir)
        assert directory.is_dir() and stat.S_IMODE(directory.stat().st_mode) == 0o700
        assert http.state_keys
        assert HttpSettings.from_env(http.to_env()).results_dir == http.results_dir
    assert not directory.exists()


class GatedMembrane(httpx2.AsyncBaseTransport):
    """The way to Membrane, recording which token asked for which path, and holding every caller's first request
    until `callers` distinct tokens are in flight at once (`all_in_flight`) and the test lets them go (`release`)."""

    def __init__(self, callers: int) -> None:
        self._inner = httpx2.AsyncHTTPTransport()
        self._callers = callers
        self._arrived: set[str] = set()
        self.all_in_flight = anyio.Event()
        self.release = anyio.Event()
        self.sent: list[tuple[str, str]] = []
        self.registered_while_held: list[bool] = []

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        token = request.headers.get("authorization", "").removeprefix("Bearer ")
        self.sent.append((token, request.url.path))
        if token not in self._arrived:
            self._arrived.add(token)
            if len(self._arrived) == self._callers:
                self.all_in_flight.set()
            await self.release.wait()
            # Evicted meanwhile by the callers after it, its token must still be masked in logs until it is done.
            self.registered_while_held.append(token in redaction.registered_values())
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self._inner.aclose()


async def test_more_callers_at_once_than_the_server_keeps_each_finish_with_only_their_own_connection(
    sandbox_factory: Any,
) -> None:
    sandbox: SandboxServer = sandbox_factory(auto_connect=True)
    keep, callers = 4, 12  # as 300 callers against the default 256, at a scale this machine runs in seconds
    tokens = {unregistered_token(f"crowd-{n}"): f"crowd-{n}" for n in range(callers)}
    membrane = GatedMembrane(callers)
    connection_of: dict[str, str] = {}
    http = HttpSettings(max_token_clients=keep, require_client_token=True)
    async with replica(sandbox, http, transport=lambda: membrane) as port:

        async def caller(token: str) -> None:
            async with (
                httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=30) as client_http,
                Client(streamable_http_client(f"http://127.0.0.1:{port}/mcp", http_client=client_http)) as client,
            ):
                ensured = ok(await call(client, "ensure_connection"))
                connection_of[token] = ensured["connection_id"]
                ran = ok(await call(client, "run_action", {"action_id": "real-time-user-count"}))
                assert isinstance(ran["output"]["count"], int)

        with anyio.fail_after(60):
            async with anyio.create_task_group() as tg:
                for token in tokens:
                    tg.start_soon(caller, token)
                await membrane.all_in_flight.wait()
                async with httpx2.AsyncClient() as probe:  # a load balancer's probe, while every caller waits
                    health = await probe.get(f"http://127.0.0.1:{port}/healthz")
                assert health.status_code == 200 and health.json()["status"] == "ok"
                membrane.release.set()
    assert len(set(connection_of.values())) == callers
    for token, path in membrane.sent:
        used = set(re.findall(r"conn_\d+", path))
        assert used <= {connection_of.get(token, "")}, (tokens.get(token), path)  # the tenant, never the token
    assert len(membrane.registered_while_held) == callers and all(membrane.registered_while_held)
    # Bounded: only the callers still kept hold a client, and only their tokens stay registered for redaction.
    assert len(set(tokens) & redaction.registered_values()) <= keep


def unregistered_token(tenant_key: str) -> str:
    """A sandbox token minted here rather than by MintedToken, which would register it for redaction itself: what
    stays registered afterwards is then only what the server holds."""
    s = SandboxSettings()
    claims = {"id": tenant_key, "iss": s.workspace_key, "exp": int(time.time()) + 3600}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", InsecureKeyLengthWarning)  # the sandbox's demo secret is short
        return jwt.encode(claims, s.workspace_secret, algorithm="HS256")


def test_a_results_directory_that_does_not_exist_is_refused_with_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(HttpConfigError, match=r"CLEVERTAP_MCP_RESULTS_DIR .* not a directory\. Create it"):
        HttpSettings.from_env({"CLEVERTAP_MCP_RESULTS_DIR": str(tmp_path / "missing")})


def test_a_result_that_cannot_be_written_to_the_shared_directory_is_still_shown_cut(tmp_path: Path) -> None:
    store = DirectoryResultStore(tmp_path / "removed-meanwhile")
    structured = {"output": ["x" * 100] * 100}
    shown = Budget(2000, store).apply(
        CallToolResult(content=[TextContent(type="text", text=json.dumps(structured))], structured_content=structured)
    )
    assert shown.structured_content is not None
    notice = shown.structured_content["truncated"]
    assert notice["result_id"] is None and "too large to keep" in notice["message"]
