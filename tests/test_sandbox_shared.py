"""One server process per tool call (inspect-ai's `use_tools(mcp_server_stdio(...))` + `generate()`): with
`--sandbox-shared`, consecutive processes started with the same sandbox flags meet the same world, so the connection
the user made through the first one is READY for the next."""

from __future__ import annotations

import json
import os
import signal
import sys
from collections.abc import AsyncGenerator, Iterator
from contextlib import asynccontextmanager, suppress
from pathlib import Path

import anyio
import pytest
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client

from clevertap_mcp.sandbox_share import STATE_DIR_ENV

from helpers import call, complete_connect_page, error_text, ok
from leakcheck import WRITTEN

pytestmark = [pytest.mark.anyio, pytest.mark.stdio]

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def state_dir(tmp_path: Path) -> Iterator[Path]:
    """Where the shared sandboxes are recorded; every sandbox a test started is stopped after it."""
    directory = tmp_path / "shared"
    yield directory
    for record in directory.glob("*/*.json"):
        with suppress(ProcessLookupError, ValueError, KeyError):
            os.kill(int(json.loads(record.read_text())["pid"]), signal.SIGTERM)


@asynccontextmanager
async def one_process(state_dir: Path, tmp_path: Path, *flags: str) -> AsyncGenerator[Client]:
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path), STATE_DIR_ENV: str(state_dir)}
    params = StdioServerParameters(command=sys.executable, args=["-m", "clevertap_mcp", *flags], env=env)
    errlog_path = tmp_path / "stderr.log"
    try:
        with errlog_path.open("a") as errlog:
            async with Client(stdio_client(params, errlog=errlog), mode="legacy") as client:
                yield client
    finally:
        WRITTEN.append(errlog_path.read_text())


async def test_a_connection_made_through_one_process_is_ready_in_the_next(state_dir: Path, tmp_path: Path) -> None:
    flags = ("--sandbox", "--sandbox-shared", "--sandbox-seed", "11")
    async with one_process(state_dir, tmp_path, *flags) as client:
        first = ok(await call(client, "ensure_connection", {"wait_seconds": 0}))
    assert first["state"] == "CLIENT_ACTION_REQUIRED"
    assert (await complete_connect_page(first["client_action"]["ui_url"])).status_code == 200
    async with one_process(state_dir, tmp_path, *flags) as client:
        found = ok(await call(client, "search_actions", {"intent": "how many users are online"}))
    assert found["actions"]
    async with one_process(state_dir, tmp_path, *flags) as client:
        again = ok(await call(client, "ensure_connection", {"connection_id": first["connection_id"]}))
    assert again["state"] == "READY"
    assert "Traceback" not in (tmp_path / "stderr.log").read_text()


async def test_processes_with_other_sandbox_flags_get_a_world_of_their_own(state_dir: Path, tmp_path: Path) -> None:
    async with one_process(state_dir, tmp_path, "--sandbox", "--sandbox-shared", "--sandbox-auto-connect") as client:
        assert ok(await call(client, "ensure_connection"))["state"] == "READY"
    async with one_process(state_dir, tmp_path, "--sandbox", "--sandbox-shared", "--sandbox-seed", "12") as client:
        text = error_text(await call(client, "search_actions", {"intent": "count events"}))
    assert "no ready CleverTap connection" in text


async def test_the_sandbox_command_with_idle_exit_stops_by_itself_once_nobody_calls(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "clevertap_mcp", "sandbox", "--port", "0", "--idle-exit", "0.5"]
    process = await anyio.open_process(command, env={"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path)})
    try:
        with anyio.fail_after(30):
            assert await process.wait() == 0
    finally:
        if process.returncode is None:
            process.kill()
        await process.aclose()
