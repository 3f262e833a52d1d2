"""The quick start with a sign-in: `clevertap-mcp login`, then `clevertap-mcp config <host> --write`, and the host's
server reaches a READY CleverTap connection with no token in any config file."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import anyio
import pytest
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client

from clevertap_mcp import cli
from clevertap_mcp.sandbox.server import SandboxServer

from helpers import call, ok
from leakcheck import WRITTEN
from oauth_support import signed_in_store


@pytest.mark.anyio
@pytest.mark.stdio
async def test_after_login_the_written_host_config_starts_a_server_that_uses_the_sign_in(
    sandbox_factory: Callable[..., SandboxServer], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sandbox = sandbox_factory(auto_connect=True)
    home = tmp_path / "home"
    _, sign_in = await signed_in_store(sandbox.base_url, home / ".config" / "clevertap-mcp")
    path = tmp_path / "claude_desktop_config.json"
    assert cli.main(["config", "claude-desktop", "--write", "--path", str(path)]) == 0
    assert "Signed in with `clevertap-mcp login`? Leave the credential variables blank" in capsys.readouterr().out
    entry = json.loads(path.read_text())["mcpServers"]["clevertap"]
    assert set(entry["env"].values()) == {""}  # nothing secret in the file
    env = entry["env"] | {"PATH": os.environ.get("PATH", ""), "HOME": str(home), "MEMBRANE_API_URL": sandbox.base_url}
    params = StdioServerParameters(command=entry["command"], args=entry["args"], env=env)
    with (tmp_path / "stderr.log").open("w") as errlog, anyio.fail_after(30):
        async with Client(stdio_client(params, errlog=errlog), mode="legacy") as client:
            ready = ok(await call(client, "ensure_connection"))
    WRITTEN.append((tmp_path / "stderr.log").read_text())
    assert ready["state"] == "READY"
    assert sign_in.access_token is not None and sign_in.access_token not in path.read_text()
