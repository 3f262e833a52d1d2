"""What the three CLI host checks share: the pinned npm install, the fake model served on loopback, and the report."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import uvicorn

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / ".cache" / "hosts-npm"


def npm_binary(package: str, version: str, name: str) -> Path:
    """`name` from `package@version`, installed into CACHE on first use (or when the pin changed)."""
    manifest = CACHE / "node_modules" / package / "package.json"
    if not manifest.is_file() or json.loads(manifest.read_text())["version"] != version:
        CACHE.mkdir(parents=True, exist_ok=True)
        if not (CACHE / "package.json").exists():
            (CACHE / "package.json").write_text('{"name": "clevertap-mcp-hosts", "private": true}\n')
        npm = ["npm", "install", "--no-audit", "--no-fund", "--loglevel=error", f"{package}@{version}"]
        subprocess.run(npm, cwd=CACHE, check=True)  # noqa: S603 - npm from PATH, as scripts/ci_node.py
    return CACHE / "node_modules" / ".bin" / name


@contextmanager
def served(app: Any) -> Iterator[int]:
    """`app` (a fake model API) under uvicorn in a daemon thread on a 127.0.0.1 socket bound first; its port."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        yield sock.getsockname()[1]
    finally:
        server.should_exit = True
        thread.join(10)


@dataclass
class Outcome:
    """What a CLI host's run showed the scripted model, and how the host ended."""

    received: list[dict[str, Any]]  # per step: the tool results the model got back
    request_bytes: list[int]  # per main-agent request, as sent to the model
    tool_definition_bytes: int
    exit_code: int
    final: str

    def result(self, step: int) -> dict[str, Any]:
        """The first tool result the model got at `step`; an empty one when it got none."""
        results: list[dict[str, Any]] = self.received[step]["results"] if step < len(self.received) else []
        return results[0] if results else {"text": "", "is_error": None}

    def received_text_bytes(self) -> list[int]:
        turns: list[list[dict[str, Any]]] = [turn["results"] for turn in self.received]
        return [sum(len(result["text"]) for result in results) for results in turns]


def report(host: str, label: str, figures: dict[str, Any], problems: list[str]) -> int:
    """Record `figures` in bench/results/hosts-<host>.json and on stdout, each problem on stderr; 1 when any."""
    out = ROOT / "bench" / "results" / f"hosts-{host}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(figures, indent=2) + "\n")
    sys.stdout.write(json.dumps(figures) + "\n")
    for problem in problems:
        sys.stderr.write(f"{label}: {problem}\n")
    return 1 if problems else 0
