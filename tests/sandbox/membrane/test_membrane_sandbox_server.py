"""The sandbox served by uvicorn on a real loopback port: SandboxServer, serve_forever, and the whole user flow."""

from __future__ import annotations

import logging
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

import anyio
import httpx2
import pytest
from membrane_sandbox_support import bearer, sdk_token
from starlette.requests import Request
from starlette.responses import Response

from clevertap_mcp.sandbox.app import parts_of
from clevertap_mcp.sandbox.server import SandboxServer, serve_forever
from clevertap_mcp.sandbox.settings import DEMO_CLEVERTAP_ACCOUNT_ID, DEMO_CLEVERTAP_PASSCODE, SandboxSettings

BOUND_SECONDS = 15


def _client(base_url: str, *, token: bool = True) -> httpx2.AsyncClient:
    headers = bearer(sdk_token()) if token else {}
    return httpx2.AsyncClient(base_url=base_url, headers=headers, trust_env=False)


@pytest.mark.anyio
async def test_the_whole_flow_works_over_a_real_loopback_port() -> None:
    with SandboxServer(SandboxSettings()) as sandbox:
        assert sandbox.base_url.startswith("http://127.0.0.1:")
        assert not sandbox.base_url.endswith(":0")
        with anyio.fail_after(BOUND_SECONDS):
            async with _client(sandbox.base_url) as api:
                conn = (await api.post("/connections/ensure", json={"appUrl": "clevertap.com"})).json()
                assert conn["state"] == "CLIENT_ACTION_REQUIRED"
                ui_url = conn["clientAction"]["uiUrl"]
                assert ui_url == f"{sandbox.base_url}/ui/connect/{conn['id']}"
                async with _client(sandbox.base_url, token=False) as browser:
                    page = await browser.get(ui_url)
                    assert page.status_code == 200 and "<form" in page.text
                    form = {
                        "account_id": DEMO_CLEVERTAP_ACCOUNT_ID,
                        "passcode": DEMO_CLEVERTAP_PASSCODE,
                        "region": "eu1",
                    }
                    assert (await browser.post(ui_url, data=form)).status_code == 200
                ready = (await api.get(f"/connections/{conn['id']}", params={"wait": "true", "timeout": 5})).json()
                assert ready["state"] == "READY"
                search = await api.get("/actions", params={"connectionId": conn["id"], "intent": "users online now"})
                action = search.json()["items"][0]
                assert action["key"] == "real-time-user-count"
                run = await api.post(f"/actions/{action['id']}/run", params={"connectionId": conn["id"]}, json={})
                assert run.status_code == 200, run.text
                assert run.json()["actionRunId"] == "run_0001"
                proxied = await api.post(f"/connections/{conn['id']}/proxy/1/now.json", json={})
                assert proxied.status_code == 200
                assert proxied.json()["status"] == "success"
                log = (await api.get("/_sandbox/requests")).json()["items"]
        upstream_paths = [entry["path"] for entry in log if entry["path"].startswith("/clevertap/")]
        assert upstream_paths == ["/clevertap/eu1/1/now.json"] * 3  # connect check, run, proxy


def test_a_stopped_server_no_longer_answers_and_can_start_again() -> None:
    sandbox = SandboxServer(SandboxSettings())
    sandbox.start()
    url = sandbox.base_url
    assert httpx2.get(f"{url}/_sandbox/health", trust_env=False).json()["status"] == "ok"
    sandbox.stop()
    with pytest.raises(RuntimeError):
        _ = sandbox.base_url
    with pytest.raises(httpx2.ConnectError):
        httpx2.get(f"{url}/_sandbox/health", trust_env=False)
    sandbox.start()
    try:
        assert httpx2.get(f"{sandbox.base_url}/_sandbox/health", trust_env=False).status_code == 200
    finally:
        sandbox.stop()


def test_starting_on_a_port_in_use_fails_with_a_clear_error() -> None:
    with SandboxServer(SandboxSettings()) as running:
        port = int(running.base_url.rsplit(":", 1)[1])
        with pytest.raises(OSError, match="in use"):
            SandboxServer(SandboxSettings(), port=port).start()


@pytest.mark.anyio
async def test_serve_forever_reports_its_url_serves_and_stops_when_cancelled() -> None:
    ready: list[str] = []
    health: dict[str, str] = {}
    listening = anyio.Event()

    def on_ready(base_url: str) -> None:
        ready.append(base_url)
        listening.set()

    with anyio.fail_after(BOUND_SECONDS):
        async with anyio.create_task_group() as group:
            group.start_soon(serve_forever, SandboxSettings(), "127.0.0.1", 0, on_ready)
            await listening.wait()
            async with _client(ready[0], token=False) as client:
                health = (await client.get("/_sandbox/health")).json()
            group.cancel_scope.cancel()
    assert health == {"status": "ok", "rootUrl": ready[0]}
    with pytest.raises(httpx2.ConnectError):
        httpx2.get(f"{ready[0]}/_sandbox/health", trust_env=False)


def test_importing_the_sandbox_package_loads_nothing_heavy() -> None:
    code = (
        "import sys, clevertap_mcp.sandbox as s; "
        "heavy = [m for m in ('uvicorn', 'starlette', 'jsonschema', 'clevertap_mcp.sandbox.app') if m in sys.modules]; "
        "print(heavy); assert s.SandboxServer.__name__ == 'SandboxServer'"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


def test_a_served_sandbox_writes_nothing_to_stdout() -> None:
    # stdout is the MCP wire of the stdio server, which runs this server in-process.
    code = (
        "import logging, httpx2\n"
        "logging.basicConfig(level=logging.DEBUG)\n"
        "from clevertap_mcp.sandbox.server import SandboxServer\n"
        "from clevertap_mcp.sandbox.settings import SandboxSettings\n"
        "with SandboxServer(SandboxSettings()) as s:\n"
        "    httpx2.get(s.base_url + '/_sandbox/health', trust_env=False).raise_for_status()\n"
        "    httpx2.get(s.base_url + '/connections', trust_env=False)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert result.stdout == ""
    assert "uvicorn" in result.stderr  # its log lines went to stderr


def test_stopping_the_server_answers_a_parked_long_poll_with_200_and_the_current_object(
    caplog: pytest.LogCaptureFixture,
) -> None:
    sandbox = SandboxServer(SandboxSettings())
    sandbox.start()
    assert sandbox.app is not None
    arrived = threading.Event()

    async def note_the_long_poll(request: Request) -> Response | None:
        if request.query_params.get("wait") == "true":
            arrived.set()
        return None

    parts_of(sandbox.app).interceptors.append(note_the_long_poll)
    with httpx2.Client(base_url=sandbox.base_url, headers=bearer(sdk_token()), trust_env=False) as api:
        conn = api.post("/_sandbox/connections", json={}).json()
        api.post(f"/_sandbox/connections/{conn['id']}/state", json={"state": "BUILDING"}).raise_for_status()
        with ThreadPoolExecutor(max_workers=1) as pool:
            poll = pool.submit(
                api.get, f"/connections/{conn['id']}", params={"wait": "true", "timeout": "60"}, timeout=BOUND_SECONDS
            )
            try:
                assert arrived.wait(BOUND_SECONDS)
            finally:
                sandbox.stop()
            answer = poll.result(BOUND_SECONDS)
    assert answer.status_code == 200
    assert (answer.json()["id"], answer.json()["state"]) == (conn["id"], "BUILDING")
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []
