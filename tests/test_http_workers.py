"""`clevertap-mcp --transport http --workers 2` as a team deploys it: a real process tree behind one port."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from clevertap_mcp.sandbox.server import SandboxServer
from clevertap_mcp.sandbox.settings import SandboxSettings

from helpers import call, error_text, free_port, ok, tenant_token
from leakcheck import WRITTEN

pytestmark = pytest.mark.anyio

ROOT = Path(__file__).resolve().parent.parent
STARTED = re.compile(r"Started server process \[(\d+)\]")


@asynccontextmanager
async def http_workers(sandbox: SandboxServer, tmp_path: Path, *args: str) -> AsyncGenerator[str]:
    """The command in a subprocess, ready once its health answers and both workers have said they started."""
    s = SandboxSettings()
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": os.environ.get("HOME", str(ROOT)),
        "MEMBRANE_API_URL": sandbox.base_url,
        "MEMBRANE_WORKSPACE_KEY": s.workspace_key,
        "MEMBRANE_WORKSPACE_SECRET": s.workspace_secret,
        "MEMBRANE_TENANT_KEY": s.tenant_key,
    }
    port = free_port()
    command = [sys.executable, "-m", "clevertap_mcp", "-v", "--transport", "http", "--port", str(port), *args]
    stderr_path = tmp_path / "stderr.log"
    url = f"http://127.0.0.1:{port}"
    with stderr_path.open("w") as stderr:
        process = await anyio.open_process(command, env=env, stdout=subprocess.DEVNULL, stderr=stderr)
    try:
        async with httpx2.AsyncClient() as http:
            with anyio.fail_after(45):
                while True:
                    try:
                        healthy = (await http.get(f"{url}/healthz")).status_code == 200
                    except httpx2.TransportError:
                        healthy = False
                    if healthy and len(set(STARTED.findall(stderr_path.read_text()))) >= 2:
                        break
                    assert process.returncode is None, stderr_path.read_text()
                    await anyio.sleep(0.1)
        yield url
    finally:
        process.send_signal(signal.SIGINT)
        with anyio.move_on_after(20, shield=True) as stopping:
            await process.wait()
        if stopping.cancelled_caught:
            process.kill()
        await process.aclose()
        WRITTEN.append(stderr_path.read_text())


@asynccontextmanager
async def client_for(url: str, token: str | None, mode: str) -> AsyncGenerator[Client]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with (
        httpx2.AsyncClient(headers=headers, timeout=30) as http,
        Client(streamable_http_client(f"{url}/mcp", http_client=http), mode=mode) as client,
    ):
        yield client


async def test_two_workers_serve_many_callers_each_with_only_their_own_connections(
    sandbox_factory: Any, tmp_path: Path
) -> None:
    sandbox: SandboxServer = sandbox_factory(auto_connect=True)
    tenants = [f"team-member-{n}" for n in range(4)]
    seen: dict[str, set[str]] = {tenant: set() for tenant in tenants}
    async with http_workers(sandbox, tmp_path, "--workers", "2", "--require-client-token") as url:

        async def member(tenant: str, mode: str) -> None:
            async with client_for(url, tenant_token(tenant), mode) as client:
                for _ in range(2):
                    ensured = ok(await call(client, "ensure_connection"))
                    assert ensured["state"] == "READY"
                    seen[tenant].add(ensured["connection_id"])
                    # No connection_id: whichever worker answers finds this caller's own READY connection.
                    found = ok(await call(client, "search_actions", {"intent": "how many users are online now"}))
                    assert found["actions"][0]["key"] == "real-time-user-count"

        with anyio.fail_after(90):
            async with anyio.create_task_group() as tg:
                for index, tenant in enumerate(tenants):
                    tg.start_soon(member, tenant, "legacy" if index % 2 else "auto")
            # The flag reached the workers through the environment the command exported.
            async with client_for(url, None, "legacy") as anonymous:
                assert "Authorization: Bearer" in error_text(await call(anonymous, "ensure_connection"))

    assert all(len(ids) == 1 for ids in seen.values()), seen
    assert len(set[str]().union(*seen.values())) == len(tenants)
