"""Runs last (see conftest): nothing the server wrote during the whole suite carries a credential.

The scan looks for the credentials the suite's traffic used (LEAK_TOKEN, LEAK_SECRET, and every other value the
server registered for redaction). It needs that traffic: run alone, it skips; whenever test_leak_check.py ran in the
same session, it fails if those credentials were not registered, since a silent skip would hide a redaction
regression.

Before the scan, one real stdio session per credential form runs with every directory the server could write to
(HOME, TMPDIR, XDG_*, its working directory) inside a fresh folder, so "any file the server writes" is checked too.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client

from clevertap_mcp import redaction
from clevertap_mcp.sandbox.server import SandboxServer
from clevertap_mcp.sandbox.settings import SandboxSettings

from helpers import call, text_of
from leakcheck import LEAK_SECRET, LEAK_TOKEN, WRITTEN

# Every JWT starts with a base64url `{"` header and payload: a minted token the test cannot know still matches.
JWT = re.compile(rb"eyJ[A-Za-z0-9_-]{4,}\.eyJ[A-Za-z0-9_-]{4,}")
CALLS: list[tuple[str, dict[str, Any]]] = [
    ("ensure_connection", {}),
    ("search_actions", {"intent": "count events"}),
    (
        "run_action",
        {"action_id": "get-event-count", "input": {"event_name": "Charged", "from": 20200101, "to": 20200102}},
    ),
    ("run_action", {"action_id": "get-event-count", "input": {"event_name": 1}}),
    ("proxy_request", {"path": "/1/now.json", "method": "POST", "body": {}}),
    ("proxy_request", {"path": "https://attacker.example/x"}),
    ("proxy_request", {"path": "/1/profile.json", "headers": {"Authorization": "Bearer x"}}),
]


@pytest.mark.anyio
@pytest.mark.stdio
@pytest.mark.parametrize("credential", ["workspace secret", "static token"])
async def test_a_stdio_session_writes_no_credential_to_stderr_or_any_file(credential: str, tmp_path: Path) -> None:
    dirs = {
        name: tmp_path / name.lower()
        for name in ("HOME", "TMPDIR", "XDG_CONFIG_HOME", "XDG_CACHE_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME", "WORK")
    }
    for path in dirs.values():
        path.mkdir()
    sandbox = SandboxServer(SandboxSettings(workspace_secret=LEAK_SECRET, auto_connect=True))
    sandbox.start()
    try:
        env = {name: str(path) for name, path in dirs.items() if name != "WORK"} | {
            "MEMBRANE_API_URL": sandbox.base_url
        }
        if credential == "static token":
            env["MEMBRANE_TOKEN"] = LEAK_TOKEN
        else:
            env |= {
                "MEMBRANE_WORKSPACE_KEY": "sandbox-workspace",
                "MEMBRANE_WORKSPACE_SECRET": LEAK_SECRET,
                "MEMBRANE_TENANT_KEY": "sandbox-tenant",
            }
        params = StdioServerParameters(
            command=sys.executable, args=["-m", "clevertap_mcp", "-vv"], env=env, cwd=dirs["WORK"]
        )
        answers: list[str] = []
        with (tmp_path / "stderr.log").open("w") as errlog:
            async with Client(stdio_client(params, errlog=errlog), mode="legacy") as client:
                with anyio.fail_after(60):
                    for tool, args in CALLS:
                        result = await call(client, tool, args)
                        answers.append(text_of(result) + result.model_dump_json())
    finally:
        sandbox.stop()
    stderr = (tmp_path / "stderr.log").read_text()
    WRITTEN.append(stderr)
    assert " DEBUG " in stderr, "the server logged nothing at DEBUG, so this scan would prove nothing"
    if credential == "workspace secret":
        assert "is ready" in answers[0], answers[0]
    written = _files_under(tmp_path)
    written["(tool results)"] = "\n".join(answers).encode()
    for name, content in written.items():
        for secret in (LEAK_TOKEN.encode(), LEAK_SECRET.encode()):
            assert secret not in content, f"{name} holds a credential"
        assert JWT.search(content) is None, f"{name} holds a bearer token (a JWT)"


def _files_under(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


LEAK_TRAFFIC = "test_leak_check.py"


def test_no_token_or_secret_appears_in_anything_the_server_wrote(request: pytest.FixtureRequest) -> None:
    if not any(item.path.name == LEAK_TRAFFIC for item in request.session.items):
        # Without the traffic that uses the leak credentials there is nothing meaningful to scan.
        pytest.skip(f"the scan needs the suite's traffic with the leak credentials ({LEAK_TRAFFIC}); run all of tests/")
    registered = redaction.registered_values()
    missing = [
        name for name, value in (("LEAK_TOKEN", LEAK_TOKEN), ("LEAK_SECRET", LEAK_SECRET)) if value not in registered
    ]
    assert missing == [], f"{LEAK_TRAFFIC} ran, yet {missing} were never registered for log redaction"
    assert len(WRITTEN) > 100, "too little was recorded for this scan to mean anything"
    wanted = registered | {LEAK_TOKEN, LEAK_SECRET}
    leaks = [(value[:12] + "…", text[:200]) for text in WRITTEN for value in wanted if value in text]
    assert leaks == []
