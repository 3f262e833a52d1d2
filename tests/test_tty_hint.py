"""Started by hand in a terminal, the stdio server says what it is on stderr and keeps serving; under a host, silence."""

from __future__ import annotations

import io
import json
import os
import pty
import select
import subprocess
import sys
from pathlib import Path
from typing import IO

from clevertap_mcp.cli.terminal import TTY_HINT, tty_hint

from leakcheck import WRITTEN

BOUND_SECONDS = 30
INITIALIZE = json.dumps(
    {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}},
    }
)


def env(tmp_path: Path) -> dict[str, str]:
    return {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path)}


def read_line(stream: IO[bytes]) -> str:
    """One line, waiting at most BOUND_SECONDS for it to start (select, not sleep)."""
    ready, _, _ = select.select([stream], [], [], BOUND_SECONDS)
    assert ready, f"nothing arrived within {BOUND_SECONDS} s"
    return stream.readline().decode()


def test_in_a_terminal_the_server_prints_the_hint_and_keeps_serving(tmp_path: Path) -> None:
    controller, terminal = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "clevertap_mcp"],
        stdin=terminal,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env(tmp_path),
    )
    os.close(terminal)
    try:
        assert proc.stdout is not None and proc.stderr is not None
        hint = read_line(proc.stderr)
        assert hint == TTY_HINT
        assert "clevertap-mcp config <host>" in hint and "clevertap-mcp demo" in hint
        assert proc.poll() is None
        # Still an MCP server: a request typed into the terminal gets its answer on stdout.
        os.write(controller, INITIALIZE.encode() + b"\n")
        answer = json.loads(read_line(proc.stdout))
        assert answer["id"] == 1 and answer["result"]["serverInfo"]["name"] == "clevertap-mcp"
    finally:
        proc.terminate()
        _, stderr = proc.communicate(timeout=BOUND_SECONDS)
        os.close(controller)
        WRITTEN.append(stderr.decode())


def test_under_a_host_stdin_is_a_pipe_and_the_server_writes_nothing_to_stderr(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "clevertap_mcp"],
        input=(INITIALIZE + "\n").encode(),
        capture_output=True,
        env=env(tmp_path),
        timeout=BOUND_SECONDS,
        check=False,
    )
    assert json.loads(proc.stdout.decode().splitlines()[0])["id"] == 1
    assert proc.stderr.decode() == ""


def test_the_hint_goes_only_to_an_interactive_stdin() -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    written = io.StringIO()
    tty_hint(stdin=io.StringIO(), stderr=written)
    assert written.getvalue() == ""
    tty_hint(stdin=Terminal(), stderr=written)
    assert written.getvalue() == TTY_HINT
