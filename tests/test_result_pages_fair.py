"""Pages of cut results: every caller keeps its own fair share (bounded per caller and in total), so a crowd never
loses its pages to one another, and a page no longer kept is an error that says what to do, never -32603."""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path

import anyio
import httpx2
import pytest
from mcp import Client, MCPError
from mcp.server.mcpserver.exceptions import ResourceError
from mcp_types import INVALID_PARAMS

from clevertap_mcp.budget import MAX_RESULTS_PER_CALLER, RESULTS_URI, DirectoryResultStore, Results, ResultStore
from clevertap_mcp.config import Settings
from clevertap_mcp.http import HttpSettings, build_http_app
from clevertap_mcp.membrane.auth import StaticToken

from helpers import FakeMembrane, call, http_client, mcp_client, ok, result_pages, uvicorn_served

pytestmark = pytest.mark.anyio

BUDGET = 2000


class ExportingMembrane(FakeMembrane):
    """Every proxied read answers a ~6,000-character export: over a 2,000 budget, so it is cut and kept."""

    def healthy(self, request: httpx2.Request) -> httpx2.Response:
        if "/proxy/" in request.url.path:
            records = [{"identity": f"u-{n}", "name": f"User number {n} of the export"} for n in range(100)]
            return httpx2.Response(200, json={"status": "success", "records": records})
        return super().healthy(request)


@asynccontextmanager
async def served(membrane: FakeMembrane) -> AsyncGenerator[int]:
    settings = Settings(
        api_url="http://membrane.test",
        token_source=StaticToken("server-own-token-x9", origin="t"),
        max_output_chars=BUDGET,
    )
    app = build_http_app(settings, HttpSettings(), transport=lambda: membrane)
    async with uvicorn_served(app, backlog=128) as port:
        yield port


def caller(port: int, token: str) -> AbstractAsyncContextManager[Client]:
    return http_client(f"http://127.0.0.1:{port}", token, http_timeout=60, mode="legacy")


async def test_sixty_tenants_each_read_every_page_of_their_three_cut_results() -> None:
    tenants = [f"tenant-token-{n:03d}" for n in range(60)]
    notices: dict[str, list[dict[str, object]]] = {}
    failures: list[str] = []
    limiter = anyio.Semaphore(12)
    async with served(ExportingMembrane()) as port:

        async def cut_three(token: str) -> None:
            async with limiter, caller(port, token) as client:
                ok(await call(client, "ensure_connection"))
                for n in range(3):
                    shown = ok(await call(client, "proxy_request", {"path": f"/1/profiles.json?page={n}"}))
                    notices.setdefault(token, []).append(shown["truncated"])

        async def read_back(token: str) -> None:
            async with limiter, caller(port, token) as client:
                for notice in notices[token]:
                    try:
                        body = json.loads("".join(await result_pages(client, notice)))  # type: ignore[arg-type]
                    except MCPError as exc:
                        failures.append(f"{token}: {exc.error.code} {exc.error.message}")
                        continue
                    assert len(body["body"]["records"]) == 100

        with anyio.fail_after(240):
            async with anyio.create_task_group() as tg:
                for token in tenants:
                    tg.start_soon(cut_three, token)
            async with anyio.create_task_group() as tg:
                for token in tenants:
                    tg.start_soon(read_back, token)
    assert failures == []


@pytest.mark.parametrize("where", ["memory", "directory"])
def test_one_greedy_caller_never_evicts_another_callers_results(where: str, tmp_path: Path) -> None:
    store: Results = (
        ResultStore(max_results=50, max_chars=10_000)
        if where == "memory"
        else DirectoryResultStore(tmp_path, max_results=50, max_chars=10_000)
    )
    others = {f"caller-{n}": [store.add([f"page of caller {n}"], f"caller-{n}") for _ in range(3)] for n in range(10)}
    for _ in range(200):
        store.add(["greedy " * 10], "greedy")
    for owner, ids in others.items():
        for result_id in ids:
            assert result_id is not None
            assert store.page(result_id, 1, owner).startswith("page of")
    assert len(store) <= 50  # bounded in total
    kept_greedy = len(store) - 30
    assert 0 < kept_greedy <= MAX_RESULTS_PER_CALLER  # and per caller


async def test_a_page_no_longer_kept_says_to_call_the_tool_again_and_is_not_an_internal_error() -> None:
    async with mcp_client(
        "http://membrane.test", StaticToken("server-own-token-x9", origin="t"), transport=ExportingMembrane(),
        max_output_chars=BUDGET,
    ) as client:  # fmt: skip
        ok(await call(client, "ensure_connection"))
        first = ok(await call(client, "proxy_request", {"path": "/1/profiles.json"}))["truncated"]
        for _ in range(MAX_RESULTS_PER_CALLER):
            ok(await call(client, "proxy_request", {"path": "/1/profiles.json"}))
        with pytest.raises(MCPError) as evicted:
            await client.read_resource(RESULTS_URI.format(result_id=first["result_id"], page=1))
        with pytest.raises(MCPError) as missing:
            await client.read_resource(RESULTS_URI.format(result_id="0123456789abcdef", page=1))
    for error in (evicted.value.error, missing.value.error):
        assert error.code == INVALID_PARAMS
        assert "Call the tool again" in error.message


def test_a_forgotten_result_is_a_resource_error_naming_what_to_do() -> None:
    store = ResultStore()
    with pytest.raises(ResourceError, match="Call the tool again"):
        store.page("0123456789abcdef", 1)
