"""`--sandbox-shared`: one sandbox process for every stdio server started with the same sandbox settings.

Some harnesses start a new MCP server for every tool call (inspect-ai's `use_tools(mcp_server_stdio(...))` with
`generate()`). With the in-process sandbox each call would meet a fresh world, and the READY connection made by the
previous call would be gone. Shared, the first server starts `clevertap-mcp sandbox` as a detached process and
records its URL under a private directory, keyed by the settings; later servers with the same settings find it there
and use it, so the world, its connections and whatever the agent wrote outlive each server. The sandbox process ends
after `IDLE_EXIT_SECONDS` without a request.
"""

from __future__ import annotations

import dataclasses
import fcntl
import hashlib
import json
import os
import socket
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from clevertap_mcp.sandbox.settings import SandboxSettings

__all__ = ["IDLE_EXIT_SECONDS", "STATE_DIR_ENV", "SharedSandboxError", "sandbox_arguments", "shared_sandbox_url"]

IDLE_EXIT_SECONDS = 900
STATE_DIR_ENV = "CLEVERTAP_MCP_SANDBOX_DIR"
_READY_PREFIX = "Membrane sandbox listening on "
# Started sandboxes are held here so the Popen objects are never collected (and warned about) while they run on.
_STARTED: list[subprocess.Popen[str]] = []


class SharedSandboxError(RuntimeError):
    """The shared sandbox could not be found or started; the message says where its log is."""


def sandbox_arguments(settings: SandboxSettings) -> list[str]:
    """`--set NAME=JSON` for every setting that differs from the default: they rebuild `settings` exactly
    (settings.with_overrides), and they key the shared process."""
    from clevertap_mcp.sandbox.settings import SandboxSettings

    default = SandboxSettings()
    out: list[str] = []
    for field in dataclasses.fields(settings):
        value: Any = getattr(settings, field.name)
        if value != getattr(default, field.name):
            out += ["--set", f"{field.name}={json.dumps(value)}"]
    return out


def state_dir(env: Mapping[str, str] | None = None) -> Path:
    env = os.environ if env is None else env
    base = env.get(STATE_DIR_ENV) or str(Path(env.get("XDG_RUNTIME_DIR") or tempfile.gettempdir()) / "clevertap-mcp")
    path = Path(base) / f"sandboxes-{os.getuid()}"
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    return path


def shared_sandbox_url(settings: SandboxSettings) -> str:
    """The URL of the shared sandbox for `settings`, started now if none is running. Blocking: call it in a thread."""
    arguments = sandbox_arguments(settings)
    key = hashlib.sha256(json.dumps(arguments).encode()).hexdigest()[:16]
    directory = state_dir()
    record = directory / f"{key}.json"
    with (directory / f"{key}.lock").open("w") as lock:
        # One starter at a time: servers started together must not each start a sandbox.
        fcntl.flock(lock, fcntl.LOCK_EX)
        known = _read(record)
        if known is not None and _listening(known["url"]):
            return known["url"]
        log = directory / f"{key}.log"
        url, pid = _start(arguments, log)
        tmp = record.with_suffix(".tmp")
        tmp.write_text(json.dumps({"url": url, "pid": pid}))
        os.replace(tmp, record)
        return url


def _read(record: Path) -> dict[str, Any] | None:
    try:
        loaded: Any = json.loads(record.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(loaded, dict):
        return None
    known = cast(dict[str, Any], loaded)
    return known if isinstance(known.get("url"), str) else None


def _listening(url: str) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 80), timeout=1):
            return True
    except OSError:
        return False


def _start(arguments: list[str], log: Path) -> tuple[str, int]:
    command = [sys.executable, "-m", "clevertap_mcp", "sandbox", "--port", "0"]
    command += ["--idle-exit", str(IDLE_EXIT_SECONDS), *arguments]
    with log.open("w") as stderr:
        process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=stderr,
            start_new_session=True,  # outlives this server, and a signal to it
            text=True,
        )
    _STARTED.append(process)
    assert process.stdout is not None
    # The sandbox prints its URL once it listens; EOF first means it failed to start.
    first = process.stdout.readline()
    process.stdout.close()
    if not first.startswith(_READY_PREFIX):
        raise SharedSandboxError(f"The shared sandbox did not start (its log: {log})")
    return first.removeprefix(_READY_PREFIX).strip(), process.pid
