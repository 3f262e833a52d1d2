"""`clevertap-mcp demo`: the flow an agent follows, run for real and narrated.

It serves the built-in sandbox on 127.0.0.1, starts `clevertap-mcp` as a stdio subprocess pointed at it (as a host
would, credentials in its environment), drives it with the SDK's MCP client (ensure → the connect link → completing
it, as a user would in the browser → ensure again → search → run → proxy) and prints each call, the server's
progress while a call waits, and a shortened result. The sandbox builds each new connection for a few polls, as
Membrane does, so the first call shows the progress an agent sees. Nothing it prints can hold a token: tool results
never carry one, the demo workspace's secret stays in the server's environment, and the connect form's passcode is
the sandbox's demo account, sent but never shown.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections.abc import Sequence
from typing import IO, Any, TextIO, cast

import anyio
import httpx2
from mcp import Client, MCPError, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp_types import CallToolResult, TextContent

from clevertap_mcp.cli.terminal import utf8_output
from clevertap_mcp.sandbox.settings import (
    DEMO_CLEVERTAP_ACCOUNT_ID,
    DEMO_CLEVERTAP_PASSCODE,
    DEMO_CLEVERTAP_REGION,
    SandboxSettings,
)

__all__ = ["DemoFailed", "run", "run_demo", "run_server_command"]

STEPS = 6
STEP_TIMEOUT_SECONDS = 60
MAX_SHOWN = 220
# GET polls for which the sandbox answers BUILDING before a new connection needs the user: progress to show.
BUILDING_POLLS = 1
# Passed through to the server; hosts do the same (HOME, PATH and the like), never the caller's credentials.
_PASSED_ENV = ("HOME", "PATH", "SYSTEMROOT", "TMPDIR", "TEMP", "TMP", "LANG", "LC_ALL")


class DemoFailed(Exception):
    """A step did not do what the flow needs; the message says which and why."""


def _short(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, separators=(", ", ": "), ensure_ascii=False)
    text = " ".join(text.split())
    return text if len(text) <= MAX_SHOWN else text[: MAX_SHOWN - 1] + "…"


def _text(result: CallToolResult) -> str:
    return " ".join(block.text for block in result.content if isinstance(block, TextContent))


class _Narrator:
    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.step = 0

    def say(self, line: str) -> None:
        self.out.write(line + "\n")
        self.out.flush()

    def begin(self, what: str) -> None:
        self.step += 1
        self.say(f"[{self.step}/{STEPS}] {what}")

    def result(self, what: str) -> None:
        self.say(f"      → {what}")

    async def progress(self, progress: float, total: float | None, message: str | None) -> None:
        self.say(f"      … {message or f'{progress:g}' + (f'/{total:g}' if total else '')}")


async def _call(client: Client, narrator: _Narrator, tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
    narrator.begin(f"{tool} {_short(arguments)}")
    with anyio.fail_after(STEP_TIMEOUT_SECONDS):
        result = await client.call_tool(tool, arguments, progress_callback=narrator.progress)
    if result.is_error or result.structured_content is None:
        raise DemoFailed(f"{tool} answered with an error: {_short(_text(result))}")
    return result.structured_content


async def _connect(narrator: _Narrator, ui_url: str) -> None:
    narrator.begin("open the connect link and submit its form with the demo CleverTap account (as a user would)")
    form = {
        "account_id": DEMO_CLEVERTAP_ACCOUNT_ID,
        "passcode": DEMO_CLEVERTAP_PASSCODE,
        "region": DEMO_CLEVERTAP_REGION,
    }
    async with httpx2.AsyncClient(timeout=STEP_TIMEOUT_SECONDS) as http:
        response = await http.post(ui_url, data=form)
    if response.status_code != 200:
        raise DemoFailed(f"the connect page answered HTTP {response.status_code}")
    narrator.result(f"HTTP {response.status_code}: the connect page accepted the account")


async def _flow(client: Client, narrator: _Narrator) -> None:
    first = await _call(client, narrator, "ensure_connection", {})
    connection_id = first["connection_id"]
    if first["state"] == "CLIENT_ACTION_REQUIRED":
        action = cast(dict[str, Any], first.get("client_action") or {})
        ui_url = action.get("ui_url")
        if not isinstance(ui_url, str) or not ui_url:
            raise DemoFailed("ensure_connection asked for a client action but gave no connect link")
        narrator.result(f"CLIENT_ACTION_REQUIRED: the agent shows the user this connect link: {ui_url}")
        await _connect(narrator, ui_url)
    else:
        narrator.begin("connect page: not needed, the connection is already usable")
    ready = await _call(client, narrator, "ensure_connection", {"connection_id": connection_id})
    if ready["state"] != "READY":
        raise DemoFailed(f"the connection is {ready['state']}, not READY: {_short(ready.get('message') or '')}")
    narrator.result(f"READY: connection {connection_id}")

    found = await _call(client, narrator, "search_actions", {"intent": "how many users are online now", "limit": 3})
    actions: list[dict[str, Any]] = found["actions"]
    if not actions:
        raise DemoFailed("search_actions found no action for the intent")
    narrator.result(", ".join(a.get("key") or a["id"] for a in actions))

    ran = await _call(client, narrator, "run_action", {"action_id": actions[0].get("key") or actions[0]["id"]})
    narrator.result(f"output {_short(ran.get('output'))}")

    proxied = await _call(client, narrator, "proxy_request", {"path": "/1/now.json", "method": "POST", "body": {}})
    if not 200 <= proxied["status"] < 300:
        raise DemoFailed(f"proxy_request got HTTP {proxied['status']} from CleverTap: {_short(proxied.get('body'))}")
    narrator.result(f"HTTP {proxied['status']} {_short(proxied.get('body'))}")


def _server_env() -> dict[str, str]:
    return {name: os.environ[name] for name in _PASSED_ENV if name in os.environ}


def _sandbox_env(base_url: str, settings: SandboxSettings) -> dict[str, str]:
    """What a host's `env` block would hold for this Membrane: its URL and the demo workspace's key and secret."""
    return {
        "MEMBRANE_API_URL": base_url,
        "MEMBRANE_WORKSPACE_KEY": settings.workspace_key,
        "MEMBRANE_WORKSPACE_SECRET": settings.workspace_secret,
        "MEMBRANE_TENANT_KEY": settings.tenant_key,
    }


def _tail(errlog: IO[str]) -> str:
    errlog.seek(0)
    lines = [line.strip() for line in errlog.read().splitlines() if line.strip()]
    return lines[-1] if lines else ""


async def run_demo(out: TextIO, *, server_args: Sequence[str] | None = None) -> int:
    """Run the flow against a fresh server subprocess on a fresh sandbox; 0 when every step worked, 1 otherwise
    (with the reason). `server_args` replaces the server's command line and leaves it without the sandbox."""
    narrator = _Narrator(out)
    if server_args is not None:
        return await _drive(narrator, list(server_args), _server_env())
    from clevertap_mcp.sandbox.server import SandboxServer

    settings = SandboxSettings(building_polls=BUILDING_POLLS)
    sandbox = SandboxServer(settings)
    sandbox.start()
    try:
        narrator.say(f"clevertap-mcp demo: the built-in sandbox (Membrane and CleverTap) at {sandbox.base_url}")
        return await _drive(narrator, ["-m", "clevertap_mcp"], _server_env() | _sandbox_env(sandbox.base_url, settings))
    finally:
        sandbox.stop()


async def run_server_command(out: TextIO, command: str, args: Sequence[str], env: dict[str, str]) -> int:
    """The flow against the server `command args` starts with `env` (which says what Membrane it talks to): how a
    host's launch line is checked, e.g. the Claude Desktop bundle's (scripts/bundle-check)."""
    return await _drive(_Narrator(out), list(args), env, command=command)


async def _drive(narrator: _Narrator, args: list[str], env: dict[str, str], *, command: str = sys.executable) -> int:
    params = StdioServerParameters(command=command, args=args, env=env)
    narrator.say("starting `clevertap-mcp` as a stdio subprocess, driven by a real MCP client…")
    started = time.perf_counter()
    failure: str | None = None
    with tempfile.TemporaryFile("w+", encoding="utf-8") as errlog:
        try:
            async with Client(stdio_client(params, errlog=errlog), mode="legacy") as client:
                # Failures are caught inside the client's block: leaving it with one wraps it in an ExceptionGroup.
                try:
                    with anyio.fail_after(STEP_TIMEOUT_SECONDS):
                        tools = await client.list_tools()
                    narrator.say(f"server started; tools: {', '.join(t.name for t in tools.tools)}")
                    await _flow(client, narrator)
                except DemoFailed as exc:
                    failure = f"step {narrator.step} failed: {exc}"
                except TimeoutError:
                    failure = f"step {narrator.step} failed: no answer within {STEP_TIMEOUT_SECONDS} s"
                except MCPError as exc:
                    failure = f"step {narrator.step} failed: the server answered with a protocol error: {exc}"
        except Exception as exc:  # the server did not start or died: say so with its last words
            failure = f"the MCP server stopped or could not be started: {_short(_tail(errlog) or type(exc).__name__)}"
    if failure is not None:
        narrator.say(f"✗ {failure}")
        return 1
    narrator.say(f"✓ all {STEPS} steps worked in {time.perf_counter() - started:.1f} s.")
    narrator.say("Next: `clevertap-mcp config <host>` prints the configuration for your MCP host (see docs/hosts.md).")
    return 0


def run(args: argparse.Namespace) -> int:
    utf8_output(sys.stdout)
    return anyio.run(run_demo, sys.stdout)
