"""`clevertap-mcp demo`: the agent flow against a real stdio subprocess, narrated; exit 0 only when every step worked."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import anyio
import pytest

from clevertap_mcp.cli.demo import run_demo
from clevertap_mcp.sandbox.settings import DEMO_CLEVERTAP_PASSCODE, DEMO_WORKSPACE_SECRET

from leakcheck import WRITTEN

pytestmark = pytest.mark.anyio

BOUND_SECONDS = 90


def test_the_demo_walks_the_whole_flow_and_exits_0(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "clevertap_mcp", "demo"],
        capture_output=True,
        text=True,
        env={"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path)},
        timeout=BOUND_SECONDS,
        check=False,
    )
    WRITTEN.extend([proc.stdout, proc.stderr])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = proc.stdout.splitlines()
    steps = [line for line in lines if line.startswith("[")]
    assert [step.split()[1] for step in steps] == [
        "ensure_connection",
        "open",
        "ensure_connection",
        "search_actions",
        "run_action",
        "proxy_request",
    ]
    assert any(line.strip().startswith("→ CLIENT_ACTION_REQUIRED") and "http://127.0.0.1:" in line for line in lines)
    # While the first call waits on a connection Membrane is still building, the server's progress is shown.
    first_call = lines[lines.index("[1/6] ensure_connection {}") + 1 :]
    waiting = first_call[: next(i for i, line in enumerate(first_call) if line.strip().startswith("→"))]
    assert waiting and all(
        line == "      … Membrane is setting up connection conn_0001 (BUILDING)…" for line in waiting
    ), waiting
    assert "      → READY: connection conn_0001" in lines
    assert any(line.strip().startswith("→ real-time-user-count, ") for line in lines)
    assert any(line.strip().startswith('→ output {"count": ') for line in lines)
    assert any(line.strip().startswith('→ HTTP 200 {"status": "success"') for line in lines)
    assert lines[-2].startswith("✓ all 6 steps worked in ")
    for secret in (DEMO_WORKSPACE_SECRET, DEMO_CLEVERTAP_PASSCODE, "Bearer", "eyJ"):
        assert secret not in proc.stdout + proc.stderr


async def test_a_step_that_fails_stops_the_demo_with_a_clear_line_and_exit_1() -> None:
    out = io.StringIO()
    with anyio.fail_after(BOUND_SECONDS):
        # Without --sandbox and without credentials, the server answers every tool with what to configure.
        code = await run_demo(out, server_args=["-m", "clevertap_mcp"])
    WRITTEN.append(out.getvalue())
    assert code == 1
    last = out.getvalue().splitlines()[-1]
    assert last.startswith("✗ step 1 failed: ensure_connection answered with an error: ")
    assert "MEMBRANE_TOKEN" in last


async def test_a_server_that_cannot_start_is_reported_with_its_last_words() -> None:
    out = io.StringIO()
    crash = "import sys; sys.stderr.write('clevertap-mcp: cannot start here\\n'); sys.exit(3)"
    with anyio.fail_after(BOUND_SECONDS):
        code = await run_demo(out, server_args=["-c", crash])
    assert code == 1
    assert out.getvalue().splitlines()[-1] == (
        "✗ the MCP server stopped or could not be started: clevertap-mcp: cannot start here"
    )


def test_a_reader_that_leaves_early_ends_the_demo_quietly(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "clevertap_mcp", "demo"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path)},
    )
    assert proc.stdout is not None
    proc.stdout.readline()
    proc.stdout.close()  # what `clevertap-mcp demo | head -1` does once it has its line
    _, stderr = proc.communicate(timeout=BOUND_SECONDS)
    WRITTEN.append(stderr.decode())
    assert proc.returncode == 1
    assert b"Traceback" not in stderr and b"BrokenPipe" not in stderr
