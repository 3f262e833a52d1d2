"""Running `clevertap-mcp login` / `logout` as a person does: a real process, its terminal output read as it comes."""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

import anyio
from anyio.abc import Process

AUTHORIZE_URL = re.compile(r"http://\S+/oauth/authorize\?\S+")
WAIT_SECONDS = 30


def command_env(api_url: str, config_dir: Path, **extra: str) -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(config_dir.parent),
        "MEMBRANE_API_URL": api_url,
        "CLEVERTAP_MCP_CONFIG_DIR": str(config_dir),
        "CLEVERTAP_MCP_TOKEN_STORE": "file",
        "NO_PROXY": "127.0.0.1,localhost",
        **extra,
    }


async def start(args: list[str], env: dict[str, str]) -> Process:
    return await anyio.open_process([sys.executable, "-m", "clevertap_mcp", *args], env=env)


async def read_until_url(process: Process, seen: list[str]) -> str:
    """Read stderr until the authorize URL appears; everything read is kept in `seen`."""
    assert process.stderr is not None
    with anyio.fail_after(WAIT_SECONDS):
        while not (found := AUTHORIZE_URL.search("".join(seen))):
            seen.append((await process.stderr.receive()).decode())
    return found.group(0)


async def finish(process: Process, seen: list[str]) -> int:
    """Wait for the process to end, reading the rest of stderr into `seen`; its exit status."""
    assert process.stderr is not None
    with anyio.fail_after(WAIT_SECONDS):
        async for chunk in process.stderr:
            seen.append(chunk.decode())
        return await process.wait()


async def run_command(args: list[str], env: dict[str, str]) -> tuple[int, str]:
    """Exit status and everything the command printed (stdout, then stderr)."""
    with anyio.fail_after(WAIT_SECONDS):
        done = await anyio.run_process([sys.executable, "-m", "clevertap_mcp", *args], env=env, check=False)
    return done.returncode, done.stdout.decode() + done.stderr.decode()
