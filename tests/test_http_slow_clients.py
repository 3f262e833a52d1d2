"""Slow clients and crowds against the HTTP server: half-sent headers and bodies time out, connections past the cap
get a clean 503, repeated conditions log once, a client that leaves mid-request is one INFO line, and -vv never
logs response bodies."""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import anyio.abc
import httpx2
import pytest

from clevertap_mcp import http_guard, logs
from clevertap_mcp.config import Settings
from clevertap_mcp.http import HttpSettings, build_http_app
from test_http_workers import client_for, http_workers

from helpers import call, demo_token, ok, uvicorn_served

pytestmark = pytest.mark.anyio

PING = b'{"jsonrpc":"2.0","id":1,"method":"ping"}'


def request_bytes(body: bytes = PING, *, content_length: int | None = None) -> bytes:
    length = len(body) if content_length is None else content_length
    return (
        b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        b"Accept: application/json, text/event-stream\r\nMCP-Protocol-Version: 2025-11-25\r\n"
        + f"Content-Length: {length}\r\n\r\n".encode()
        + body
    )


@asynccontextmanager
async def guarded(http: HttpSettings) -> AsyncGenerator[int]:
    settings = Settings(api_url="http://127.0.0.1:9", token_source=demo_token())
    app = build_http_app(settings, http)
    async with uvicorn_served(app, backlog=256, **http_guard.uvicorn_options(http)) as port:
        yield port


async def answer_of(stream: anyio.abc.SocketStream) -> bytes:
    """Everything the server writes until it closes the connection."""
    received = b""
    try:
        while True:
            received += await stream.receive()
    except (anyio.EndOfStream, anyio.BrokenResourceError, ConnectionResetError):
        return received


async def test_a_client_that_never_finishes_its_headers_is_closed_with_408() -> None:
    async with guarded(HttpSettings(header_timeout=0.5)) as port:
        with anyio.fail_after(10):
            async with await anyio.connect_tcp("127.0.0.1", port) as stream:
                await stream.send(b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\n")
                answer = await answer_of(stream)
    assert answer.startswith(b"HTTP/1.1 408 ")


async def test_a_client_that_never_finishes_its_body_is_closed_with_408() -> None:
    async with guarded(HttpSettings(body_timeout=0.5)) as port:
        with anyio.fail_after(10):
            async with await anyio.connect_tcp("127.0.0.1", port) as stream:
                await stream.send(request_bytes(PING[:10], content_length=len(PING)))
                answer = await answer_of(stream)
    assert answer.startswith(b"HTTP/1.1 408 ")


async def test_connections_past_the_cap_get_a_clean_503_and_the_server_serves_again_once_they_leave() -> None:
    async with guarded(HttpSettings(max_connections=5, header_timeout=30)) as port:
        with anyio.fail_after(20):
            held = [await anyio.connect_tcp("127.0.0.1", port) for _ in range(5)]
            for stream in held:
                await stream.send(b"POST /mcp HTTP/1.1\r\n")  # half-sent: each holds its connection
            async with httpx2.AsyncClient() as client:
                refused = await client.get(f"http://127.0.0.1:{port}/healthz")
                assert refused.status_code == 503 and refused.headers.get("retry-after")
                for stream in held:
                    await stream.aclose()
                for _ in range(200):  # the server notices the closed sockets on its next turns
                    if (await client.get(f"http://127.0.0.1:{port}/healthz")).status_code == 200:
                        break
                    await anyio.sleep(0.05)
                else:
                    pytest.fail("the server still refused connections after the crowd left")


def test_a_condition_repeated_many_times_is_logged_once_then_summarised(caplog: pytest.LogCaptureFixture) -> None:
    log_filter = logs.RateLimitFilter(interval=60)
    logger = logging.getLogger("asyncio")
    logger.addFilter(log_filter)
    try:
        with caplog.at_level(logging.ERROR, logger="asyncio"):
            for _ in range(10_000):
                logger.error("socket.accept() out of system resource: %s", OSError(24, "Too many open files"))
    finally:
        logger.removeFilter(log_filter)
    assert len([r for r in caplog.records if r.name == "asyncio"]) == 1


async def test_a_crowd_of_half_sent_requests_past_the_cap_is_refused_quietly_and_the_server_recovers() -> None:
    http = HttpSettings(max_connections=20, header_timeout=0.5, body_timeout=0.5)
    async with guarded(http) as port:
        with anyio.fail_after(30):
            crowd = [await anyio.connect_tcp("127.0.0.1", port) for _ in range(60)]
            for n, stream in enumerate(crowd):
                await stream.send(request_bytes(PING[:5], content_length=len(PING)) if n % 2 else b"POST /mcp")
            answers = [await answer_of(stream) for stream in crowd]
            for stream in crowd:
                await stream.aclose()
            async with httpx2.AsyncClient() as client:
                assert (await client.get(f"http://127.0.0.1:{port}/healthz")).status_code == 200
    statuses = {answer[:12] for answer in answers}
    assert statuses <= {b"HTTP/1.1 408", b"HTTP/1.1 503"} and len(answers) == 60


async def test_a_client_leaving_mid_request_is_one_info_line_and_minus_vv_never_logs_results(
    sandbox_factory: Any, tmp_path: Path
) -> None:
    sandbox = sandbox_factory(auto_connect=True)
    async with http_workers(sandbox, tmp_path, "-v") as url:  # -v twice: -vv
        async with client_for(url, None, "legacy") as client:
            ok(await call(client, "ensure_connection"))
            found = ok(await call(client, "search_actions", {"intent": "delete user profiles"}))
        marker = found["actions"][0]["description"]
        port = int(url.rsplit(":", 1)[1])
        with anyio.fail_after(20):
            stream = await anyio.connect_tcp("127.0.0.1", port)
            body = b'{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"ensure_connection","arguments":{"wait_seconds":5}}}'
            await stream.send(request_bytes(body))
            await stream.aclose()
            async with client_for(url, None, "legacy") as client:
                ok(await call(client, "ensure_connection"))
    stderr = (tmp_path / "stderr.log").read_text()
    assert marker not in stderr
    assert '"result"' not in stderr
    assert "Traceback" not in stderr and " ERROR " not in stderr, stderr[-3000:]
    assert stderr.count("The client left before its answer") == 1, stderr[-3000:]
