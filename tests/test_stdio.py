"""The server as hosts run it: a real `clevertap-mcp` subprocess speaking MCP over stdio."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client

from clevertap_mcp.membrane.auth import StaticToken
from clevertap_mcp.sandbox.server import SandboxServer
from clevertap_mcp.sandbox.settings import SandboxSettings

from helpers import call, complete_connect_page, demo_token, error_text, ok
from leakcheck import WRITTEN

pytestmark = [pytest.mark.anyio, pytest.mark.stdio]

ROOT = Path(__file__).resolve().parent.parent


@asynccontextmanager
async def stdio_server(
    args: list[str], env: dict[str, str], tmp_path: Path, command: str | None = None
) -> AsyncGenerator[Client]:
    """A real subprocess; everything it writes to stderr joins the secret scan."""
    errlog_path = tmp_path / "stderr.log"
    params = StdioServerParameters(command=command or sys.executable, args=args, env=env)
    try:
        with errlog_path.open("w") as errlog:
            async with Client(stdio_client(params, errlog=errlog), mode="legacy") as client:
                yield client
    finally:
        WRITTEN.append(errlog_path.read_text())


def base_env() -> dict[str, str]:
    # With no credentials the first tool call offers a sign-in at MEMBRANE_API_URL: a closed loopback port keeps that
    # attempt on this machine; the config directory is the suite's empty one, never the developer's sign-in.
    return {
        "PATH": os.environ.get("PATH", ""),
        "HOME": os.environ.get("HOME", str(ROOT)),
        "MEMBRANE_API_URL": "http://127.0.0.1:9",
        "CLEVERTAP_MCP_CONFIG_DIR": os.environ["CLEVERTAP_MCP_CONFIG_DIR"],
    }


async def test_the_whole_flow_over_stdio_against_the_embedded_sandbox(tmp_path: Path) -> None:
    async with stdio_server(["-m", "clevertap_mcp", "--sandbox", "-vv"], base_env(), tmp_path) as client:
        with anyio.fail_after(30):
            first = ok(await call(client, "ensure_connection"))
            assert first["state"] == "CLIENT_ACTION_REQUIRED"
            ui_url = first["client_action"]["ui_url"]
            assert ui_url.startswith("http://127.0.0.1:")
            page = await complete_connect_page(ui_url)
            assert page.status_code == 200
            ready = ok(await call(client, "ensure_connection", {"connection_id": first["connection_id"]}))
            assert ready["state"] == "READY"
            found = ok(await call(client, "search_actions", {"intent": "how many users are online now"}))
            assert found["actions"][0]["key"] == "real-time-user-count"
            ran = ok(await call(client, "run_action", {"action_id": found["actions"][0]["id"]}))
            assert isinstance(ran["output"]["count"], int)
            proxied = ok(await call(client, "proxy_request", {"path": "/1/now.json", "method": "POST", "body": {}}))
            assert proxied["status"] == 200 and proxied["body"]["status"] == "success"


async def test_stdio_server_against_a_membrane_url_with_a_token_logs_no_token(tmp_path: Path) -> None:
    sandbox = SandboxServer(SandboxSettings(auto_connect=True))
    sandbox.start()
    try:
        token = demo_token().token()
        StaticToken(token, origin="test")  # registers the value for the final scan
        env = base_env() | {"MEMBRANE_API_URL": sandbox.base_url, "MEMBRANE_TOKEN": token}
        async with stdio_server(["-m", "clevertap_mcp", "-vv"], env, tmp_path) as client:
            with anyio.fail_after(30):
                ok(await call(client, "ensure_connection"))
                ok(await call(client, "run_action", {"action_id": "real-time-user-count"}))
        assert token not in (tmp_path / "stderr.log").read_text()
        assert "/run" in (tmp_path / "stderr.log").read_text()  # -vv did log the traffic
    finally:
        sandbox.stop()


async def test_without_credentials_the_stdio_server_lists_tools_and_explains(tmp_path: Path) -> None:
    async with stdio_server(["-m", "clevertap_mcp"], base_env(), tmp_path) as client:
        tools = await client.list_tools()
        text = error_text(await call(client, "search_actions", {"intent": "anything"}))
    assert len(tools.tools) == 4
    assert "MEMBRANE_TOKEN" in text and "--sandbox" in text


async def test_the_committed_mcp_json_launches_a_working_server(tmp_path: Path) -> None:
    config = json.loads((ROOT / "mcp.json").read_text())
    entry: dict[str, Any] = config["mcpServers"]["clevertap"]
    name = str(entry["command"])
    command = shutil.which(name, path=str(Path(sys.executable).parent)) or shutil.which(name)
    assert command, f"{name} is not installed next to {sys.executable}"
    assert set(entry["env"]) >= {"MEMBRANE_TOKEN"}
    # Placeholders are the user's to fill; with them blank the server must still start and explain itself.
    env = base_env() | {k: "" for k in entry["env"]}
    async with stdio_server(entry["args"], env, tmp_path, command=command) as client:
        tools = await client.list_tools()
        text = error_text(await call(client, "ensure_connection"))
    assert sorted(t.name for t in tools.tools) == ["ensure_connection", "proxy_request", "run_action", "search_actions"]
    assert "MEMBRANE_TOKEN" in text


def test_the_sandbox_command_serves_membranes_api_and_prints_how_to_use_it() -> None:
    with subprocess.Popen(
        [sys.executable, "-m", "clevertap_mcp", "sandbox", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=base_env(),
    ) as proc:
        try:
            assert proc.stdout is not None
            first = proc.stdout.readline()
            assert first.startswith("Membrane sandbox listening on http://127.0.0.1:")
            base_url = first.rsplit(" ", 1)[1].strip()
            rest = [proc.stdout.readline().split()[0] for _ in range(4)]
            assert rest == [
                f"MEMBRANE_API_URL={base_url}",
                "MEMBRANE_WORKSPACE_KEY=sandbox-workspace",
                "MEMBRANE_WORKSPACE_SECRET=sandbox-secret",
                "MEMBRANE_TENANT_KEY=sandbox-tenant",
            ]
            response = httpx2.post(
                f"{base_url}/connections/ensure",
                json={"appUrl": "clevertap.com"},
                headers={"Authorization": f"Bearer {demo_token().token()}"},
            )
            assert response.status_code == 200
            assert response.json()["state"] == "CLIENT_ACTION_REQUIRED"
        finally:
            proc.terminate()
            proc.wait(timeout=10)
