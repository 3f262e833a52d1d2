"""`clevertap-mcp --transport http --workers 2` as a team deploys it: a real process tree behind one port."""

from __future__ import annotations

import dataclasses
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

from clevertap_mcp.config import Settings, settings_from_env, with_safety
from clevertap_mcp.http import HttpSettings, settings_for_worker, worker_env
from clevertap_mcp.sandbox.server import SandboxServer
from clevertap_mcp.sandbox.settings import SandboxSettings

from helpers import call, control, error_text, free_port, ok, tenant_token, text_of
from leakcheck import WRITTEN

pytestmark = pytest.mark.anyio

ROOT = Path(__file__).resolve().parent.parent
STARTED = re.compile(r"Started server process \[(\d+)\]")


@asynccontextmanager
async def http_workers(
    sandbox: SandboxServer, tmp_path: Path, *args: str, extra_env: dict[str, str] | None = None
) -> AsyncGenerator[str]:
    """The command in a subprocess, ready once its health answers and every worker has said it started."""
    s = SandboxSettings()
    workers = int(args[args.index("--workers") + 1]) if "--workers" in args else 1
    env = {
        **(extra_env or {}),
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
                    if healthy and len(set(STARTED.findall(stderr_path.read_text()))) >= workers:
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


# Each safety setting as a flag and as its variable: both routes must reach every worker.
SAFETY_ROUTES: dict[str, tuple[list[str], dict[str, str]]] = {
    "flags": (["--read-only", "--max-output-chars", "2000"], {}),
    "variables": ([], {"CLEVERTAP_MCP_READ_ONLY": "1", "CLEVERTAP_MCP_MAX_OUTPUT_CHARS": "2000"}),
}
CONFIRM_ROUTES: dict[str, tuple[list[str], dict[str, str]]] = {
    "flags": (["--confirm", "required"], {}),
    "variables": ([], {"CLEVERTAP_MCP_CONFIRM": "required"}),
}


@pytest.mark.parametrize("workers", ["1", "2"])
@pytest.mark.parametrize("route", list(SAFETY_ROUTES))
async def test_read_only_mode_and_the_output_budget_hold_in_every_worker(
    sandbox_factory: Any, tmp_path: Path, workers: str, route: str
) -> None:
    sandbox: SandboxServer = sandbox_factory(auto_connect=True)
    args, env = SAFETY_ROUTES[route]
    async with http_workers(sandbox, tmp_path, "--workers", workers, *args, extra_env=env) as url:
        with anyio.fail_after(60):
            for _ in range(int(workers) * 2):  # new connections each time: several chances to meet each worker
                async with client_for(url, None, "legacy") as client:
                    listed = {tool.name: tool for tool in (await client.list_tools()).tools}
                    run_action = listed["run_action"].annotations
                    assert run_action is not None and run_action.read_only_hint and not run_action.destructive_hint
                    ok(await call(client, "ensure_connection"))
                    refused = error_text(
                        await call(client, "run_action", {"action_id": "delete-user-profile", "input": {"id": 1}})
                    )
                    assert "read-only mode" in refused and "nothing was sent" in refused
                    found = await call(client, "search_actions", {"intent": "user profiles", "limit": 50})
                    assert len(text_of(found)) <= 2000 and ok(found)["truncated"]["result_id"]
    log = await control(sandbox, "GET", "/requests")
    assert not [entry for entry in log["items"] if str(entry["path"]).endswith("/run")]


@pytest.mark.parametrize("workers", ["1", "2"])
@pytest.mark.parametrize("route", list(CONFIRM_ROUTES))
async def test_a_required_confirmation_holds_in_every_worker(
    sandbox_factory: Any, tmp_path: Path, workers: str, route: str
) -> None:
    sandbox: SandboxServer = sandbox_factory(auto_connect=True)
    args, env = CONFIRM_ROUTES[route]
    async with http_workers(sandbox, tmp_path, "--workers", workers, *args, extra_env=env) as url:
        with anyio.fail_after(60):
            for _ in range(int(workers) * 2):
                async with client_for(url, None, "legacy") as client:  # cannot ask its user
                    ok(await call(client, "ensure_connection"))
                    refused = error_text(
                        await call(
                            client, "run_action", {"action_id": "delete-user-profile", "input": {"identity": ["u-1"]}}
                        )
                    )
                    assert "--confirm=required" in refused and "nothing was sent" in refused
    log = await control(sandbox, "GET", "/requests")
    assert not [entry for entry in log["items"] if "/proxy/" not in entry["path"] and "delete" in entry["path"]]


def test_every_setting_the_command_line_resolves_reaches_a_worker_unchanged(tmp_path: Path) -> None:
    """The audit behind the tests above: each value a flag or variable can set, away from its default, survives the
    trip through the environment into a worker process."""
    s = SandboxSettings()
    env = {"MEMBRANE_API_URL": "http://127.0.0.1:9", "MEMBRANE_TOKEN": "a-membrane-token-for-the-audit"}
    settings = with_safety(settings_from_env(env), env, read_only=True, confirm="required", max_output_chars=3000)
    http = HttpSettings(
        host="127.0.0.2",
        port=8123,
        workers=3,
        allowed_hosts=("mcp.example.com",),
        allowed_origins=("https://app.example.com",),
        json_response=True,
        require_client_token=True,
        max_token_clients=7,
        state_keys=(s.workspace_secret * 4,),
        verbosity=2,
        results_dir=str(tmp_path),
    )
    worker_settings, worker_http = settings_for_worker({**env, **worker_env(settings, http)})
    # Only the parent reads these: how many workers to start, and whether it may bind beyond loopback.
    assert worker_http == dataclasses.replace(http, workers=1, allow_shared_credentials=False)
    for field in dataclasses.fields(Settings):
        if field.name != "token_source":
            assert getattr(worker_settings, field.name) == getattr(settings, field.name), field.name
    assert repr(worker_settings.token_source) == repr(settings.token_source)
