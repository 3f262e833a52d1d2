"""The stdio server's life as a host sees it: whatever the host writes, and however it ends the server (closing stdin,
SIGTERM), the process answers what it can and then exits promptly, without a traceback."""

from __future__ import annotations

import json
import os
import signal
import sys
from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import pytest
from anyio.abc import Process
from anyio.streams.buffered import BufferedByteReceiveStream

from leakcheck import WRITTEN

pytestmark = [pytest.mark.anyio, pytest.mark.stdio]

ROOT = Path(__file__).resolve().parent.parent
INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "host", "version": "1"}},
}
INITIALIZED = {"jsonrpc": "2.0", "method": "notifications/initialized"}
EXIT_SECONDS = 10


class Host:
    """The host's end of the pipes: JSON-RPC lines out, answers in."""

    def __init__(self, process: Process) -> None:
        assert process.stdin is not None and process.stdout is not None
        self.process = process
        self._stdin = process.stdin
        self._stdout = BufferedByteReceiveStream(process.stdout)

    async def write(self, line: bytes) -> None:
        await self._stdin.send(line + b"\n")

    async def send(self, message: dict[str, Any]) -> None:
        await self.write(json.dumps(message).encode())

    async def answer_to(self, request_id: int) -> dict[str, Any]:
        while True:
            message = json.loads(await self._stdout.receive_until(b"\n", 10 * 1024 * 1024))
            if message.get("id") == request_id:
                return message

    async def next_message(self) -> dict[str, Any]:
        return json.loads(await self._stdout.receive_until(b"\n", 10 * 1024 * 1024))

    async def close_stdin(self) -> None:
        await self._stdin.aclose()


@asynccontextmanager
async def stdio_process(tmp_path: Path, *args: str) -> AsyncGenerator[Host]:
    """`clevertap-mcp` started as a host starts it, already initialized; killed if a test leaves it running."""
    env = {"PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", str(ROOT))}
    stderr_path = tmp_path / "stderr.log"
    with stderr_path.open("w") as stderr:
        process = await anyio.open_process([sys.executable, "-m", "clevertap_mcp", *args], env=env, stderr=stderr)
    try:
        host = Host(process)
        with anyio.fail_after(30):
            await host.send(INITIALIZE)
            assert "result" in await host.answer_to(1)
            await host.send(INITIALIZED)
        yield host
    finally:
        if process.returncode is None:
            process.kill()
        await process.aclose()
        WRITTEN.append(stderr_path.read_text())


async def exit_status(host: Host) -> int:
    with anyio.fail_after(EXIT_SECONDS):
        return await host.process.wait()


def search(request_id: int) -> dict[str, Any]:
    params = {"name": "search_actions", "arguments": {"intent": "users online"}}
    return {"jsonrpc": "2.0", "id": request_id, "method": "tools/call", "params": params}


async def test_closing_stdin_while_a_call_waits_for_the_sandbox_ends_the_server_cleanly(tmp_path: Path) -> None:
    async with stdio_process(tmp_path, "--sandbox") as host:
        await host.send(search(2))  # its Membrane request waits for the sandbox, which is still starting
        await host.close_stdin()
        assert await exit_status(host) == 0
    assert "Traceback" not in (tmp_path / "stderr.log").read_text()


async def test_sigterm_ends_the_server_promptly_even_with_a_call_in_flight(tmp_path: Path) -> None:
    async with stdio_process(tmp_path, "--sandbox") as host:
        await host.send(search(2))
        host.process.send_signal(signal.SIGTERM)
        assert await exit_status(host) in (0, -signal.SIGTERM)
    assert "Traceback" not in (tmp_path / "stderr.log").read_text()


async def test_garbage_invalid_utf8_and_a_huge_line_on_stdin_leave_the_server_answering(tmp_path: Path) -> None:
    async with stdio_process(tmp_path, "--sandbox") as host:
        with anyio.fail_after(30):
            for line in (
                b"not json at all",
                b"\xff\xfe\x00",
                b"{" * 100,
                b'{"jsonrpc": "2.0", "id": 7}',
                b"x" * 8_000_000,
            ):
                await host.write(line)
            await host.send(search(2))
            answer = await host.answer_to(2)
        assert answer["result"]["isError"] is True  # no connection yet: an answer, the server is alive
        assert "ensure_connection" in answer["result"]["content"][0]["text"]
        await host.close_stdin()
        assert await exit_status(host) == 0
    assert "Traceback" not in (tmp_path / "stderr.log").read_text()


STOP_SECONDS = 1


def call(request_id: int, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    return {
        "jsonrpc": "2.0",
        "id": request_id,
        "method": "tools/call",
        "params": {"name": name, "arguments": arguments},
    }


async def stopped_within_a_second(host: Host) -> int:
    with anyio.fail_after(STOP_SECONDS):
        return await host.process.wait()


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
async def test_a_stop_signal_ends_an_idle_server_within_a_second_while_stdin_stays_open(
    tmp_path: Path, signum: signal.Signals
) -> None:
    async with stdio_process(tmp_path, "--sandbox") as host:
        await host.send({"jsonrpc": "2.0", "id": 2, "method": "tools/list"})
        with anyio.fail_after(30):
            assert "result" in await host.answer_to(2)
        host.process.send_signal(signum)
        assert await stopped_within_a_second(host) == 0
    assert "Traceback" not in (tmp_path / "stderr.log").read_text()


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
async def test_a_stop_signal_mid_call_cancels_the_membrane_request_and_ends_the_server_within_a_second(
    tmp_path: Path, signum: signal.Signals
) -> None:
    # Every emulated CleverTap request stays in flight for a minute: the proxy call is mid-request when the signal
    # comes, and only cancelling it lets the server end in time.
    async with stdio_process(tmp_path, "--sandbox-auto-connect", "--sandbox-set", "handler_delay=60") as host:
        with anyio.fail_after(30):
            await host.send(call(2, "ensure_connection", {}))
            assert (await host.answer_to(2))["result"]["structuredContent"]["state"] == "READY"
        await host.send(call(3, "proxy_request", {"path": "/1/profile.json", "query": {"email": "a@example.com"}}))
        with anyio.fail_after(30):
            # Requests are dispatched in order: once the ping is answered, the proxy call is running.
            await host.send({"jsonrpc": "2.0", "id": 4, "method": "ping"})
            assert "result" in await host.answer_to(4)
        host.process.send_signal(signum)
        assert await stopped_within_a_second(host) == 0
    assert "Traceback" not in (tmp_path / "stderr.log").read_text()
