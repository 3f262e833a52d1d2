"""A stdio MCP server as a subprocess, driven by raw JSON-RPC lines.

No MCP client library sits between the clock and the pipe: what is timed is the server (and the pipe), and what is
counted is the exact bytes a host would read. Reads block on the pipe, so the bench's own threads (a sandbox, an
upstream) keep running while we wait.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import IO, Any, Self

ROOT = Path(__file__).resolve().parent.parent
# The handshake era (what Claude Desktop and the TypeScript SDK speak): initialize, then requests.
PROTOCOL_VERSION = "2025-11-25"


def base_env(**extra: str) -> dict[str, str]:
    """What a host passes a server: a few variables of its own plus the configured `env` (and nothing secret)."""
    env = {"PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", str(ROOT))}
    env.update(extra)
    return env


class StdioServer:
    """One server process. `request` sends one call and returns its answer; `send`/`read` pipeline many."""

    def __init__(self, args: list[str], env: dict[str, str]) -> None:
        self.started = time.perf_counter()
        self.process = subprocess.Popen(
            [sys.executable, *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=env,
            cwd=ROOT,
        )
        assert self.process.stdin is not None and self.process.stdout is not None
        self._in: IO[bytes] = self.process.stdin
        self._out: IO[bytes] = self.process.stdout
        self._next_id = 0
        self.last_bytes = 0

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        if self.process.poll() is None:
            self._in.close()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._out.close()

    def send(self, method: str, params: dict[str, Any] | None = None, *, notify: bool = False) -> int:
        message: dict[str, Any] = {"jsonrpc": "2.0", "method": method}
        if params is not None:
            message["params"] = params
        self._next_id += 1
        if not notify:
            message["id"] = self._next_id
        self._in.write(json.dumps(message, separators=(",", ":")).encode() + b"\n")
        self._in.flush()
        return self._next_id

    def read(self) -> dict[str, Any]:
        """The next response; notifications (progress and the like) are skipped."""
        while True:
            line = self._out.readline()
            if not line:
                raise RuntimeError(f"the server exited (code {self.process.wait()}) before answering")
            message: dict[str, Any] = json.loads(line)
            if "id" in message:
                self.last_bytes = len(line.rstrip(b"\n"))
                return message

    def request(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        sent = self.send(method, params)
        message = self.read()
        if message.get("id") != sent:
            raise RuntimeError(f"answer to request {message.get('id')} while waiting for {sent}")
        if "error" in message:
            raise RuntimeError(f"{method} failed: {message['error']}")
        result: dict[str, Any] = message["result"]
        return result

    def handshake(self) -> dict[str, Any]:
        """initialize → initialized → tools/list; returns the tools/list result."""
        self.request(
            "initialize",
            {
                "protocolVersion": PROTOCOL_VERSION,
                "capabilities": {},
                "clientInfo": {"name": "clevertap-mcp-bench", "version": "0"},
            },
        )
        self.send("notifications/initialized", notify=True)
        return self.request("tools/list")

    def call(self, tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
        """tools/call; an isError result raises, so a benchmark never times failures."""
        result = self.request("tools/call", {"name": tool, "arguments": arguments})
        if result.get("isError"):
            raise RuntimeError(f"{tool} failed: {result['content']}")
        return result

    def rss_kib(self) -> tuple[int, int]:
        """(current RSS, peak RSS) of the server process, in KiB, from /proc (Linux)."""
        fields: dict[str, int] = {}
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            name, _, value = line.partition(":")
            if name in ("VmRSS", "VmHWM"):
                fields[name] = int(value.split()[0])
        return fields["VmRSS"], fields["VmHWM"]
