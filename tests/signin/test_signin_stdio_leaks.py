"""A real stdio session signed in with `clevertap-mcp login`'s store, logging at DEBUG, through a renewal: no access
or refresh token, old or new, reaches its stderr, its results, or any file but the token store."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import anyio
import pytest
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client

from clevertap_mcp.sandbox.server import SandboxServer

from helpers import call, control, ok, text_of
from leakcheck import WRITTEN
from oauth_support import signed_in_store

pytestmark = [pytest.mark.anyio, pytest.mark.stdio]


def files_under(root: Path) -> dict[Path, bytes]:
    return {p: p.read_bytes() for p in root.rglob("*") if p.is_file()}


async def test_a_signed_in_stdio_session_writes_no_token_anywhere_but_the_store(
    sandbox_factory: Callable[..., SandboxServer], tmp_path: Path
) -> None:
    sandbox = sandbox_factory(auto_connect=True)
    home = tmp_path / "home"
    config_dir = home / ".config" / "clevertap-mcp"  # where HOME alone puts it
    store, first = await signed_in_store(sandbox.base_url, config_dir)
    env = {"HOME": str(home), "MEMBRANE_API_URL": sandbox.base_url, "CLEVERTAP_MCP_TOKEN_STORE": "file"}
    params = StdioServerParameters(command=sys.executable, args=["-m", "clevertap_mcp", "-vv"], env=env, cwd=str(home))
    answers: list[str] = []
    errlog_path = tmp_path / "stderr.log"
    with errlog_path.open("w") as errlog:
        async with Client(stdio_client(params, errlog=errlog), mode="legacy") as client:
            with anyio.fail_after(60):
                answers.append(text_of(await call(client, "ensure_connection")))
                await control(sandbox, "POST", "/oauth/advance", {"seconds": 3601})  # the next call renews
                found = await call(client, "search_actions", {"intent": "count events"})
                answers.append(text_of(found))
                ok(found)
    renewed = store.load(sandbox.base_url)
    assert renewed is not None and renewed.access_token != first.access_token
    tokens = {t for s in (first, renewed) for t in (s.access_token, s.refresh_token) if t}
    stderr = errlog_path.read_text()
    WRITTEN.append(stderr)
    assert " DEBUG " in stderr
    written = {path: content for path, content in files_under(tmp_path).items() if path != store.path}
    written[Path("(tool results)")] = "\n".join(answers).encode()
    leaks = [str(path) for path, content in written.items() for token in tokens if token.encode() in content]
    assert leaks == []
