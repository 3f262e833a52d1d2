"""`--confirm writes`: every call that is not a read is asked about, uploads included; reads never are."""

from __future__ import annotations

from typing import Any

import pytest

from clevertap_mcp.sandbox.server import SandboxServer
from test_confirm import ERAS, User, connected, upstream

from helpers import call, demo_token, error_text, mcp_client, ok

pytestmark = pytest.mark.anyio

PROFILES = {"profiles": [{"identity": "u-9001", "profileData": {"Name": "Ada"}}]}
UPLOAD_ACTION = {"action_id": "upload-user-profiles", "input": PROFILES}
UPLOAD_PROXY = {
    "method": "POST",
    "path": "/1/upload",
    "body": {"d": [{"identity": "u-9002", "type": "profile", "profileData": {"Name": "Bo"}}]},
}
READS: list[tuple[str, dict[str, Any]]] = [
    ("run_action", {"action_id": "get-campaigns", "input": {"from": 20251201, "to": 20260131}}),
    ("proxy_request", {"method": "GET", "path": "/1/now.json"}),
    ("proxy_request", {"method": "POST", "path": "/1/counts/profiles.json", "body": {"event_name": "App Launched"}}),
]


@pytest.fixture
def ready_sandbox(sandbox_factory: Any) -> SandboxServer:
    sandbox: SandboxServer = sandbox_factory(auto_connect=True, clock=1767607200)
    return sandbox


@pytest.mark.parametrize("mode", ERAS)
@pytest.mark.parametrize(("tool", "arguments"), [("run_action", UPLOAD_ACTION), ("proxy_request", UPLOAD_PROXY)])
async def test_a_declined_upload_sends_nothing_and_an_accepted_one_is_sent_once(
    ready_sandbox: SandboxServer, mode: str, tool: str, arguments: dict[str, Any]
) -> None:
    declining = User("decline")
    async with mcp_client(
        ready_sandbox.base_url, demo_token(), mode=mode, elicitation_callback=declining, confirm="writes"
    ) as client:
        await connected(client)
        text = error_text(await call(client, tool, arguments))
    assert "did not confirm" in text and "nothing was sent" in text
    (asked,) = declining.asked
    assert "Write to CleverTap" in asked.message and tool in asked.message
    assert await upstream(ready_sandbox, "/1/upload") == []

    accepting = User("accept")
    async with mcp_client(
        ready_sandbox.base_url, demo_token(), mode=mode, elicitation_callback=accepting, confirm="writes"
    ) as client:
        await connected(client)
        ok(await call(client, tool, arguments))
    assert len(accepting.asked) == 1
    assert len(await upstream(ready_sandbox, "/1/upload")) == 1


@pytest.mark.parametrize("mode", ERAS)
async def test_reads_are_never_asked_about(ready_sandbox: SandboxServer, mode: str) -> None:
    user = User("decline")
    async with mcp_client(
        ready_sandbox.base_url, demo_token(), mode=mode, elicitation_callback=user, confirm="writes"
    ) as client:
        await connected(client)
        for tool, arguments in READS:
            ok(await call(client, tool, arguments))
    assert user.asked == []


@pytest.mark.parametrize("mode", ERAS)
async def test_a_client_that_cannot_ask_gets_a_clear_refusal_and_nothing_is_uploaded(
    ready_sandbox: SandboxServer, mode: str
) -> None:
    async with mcp_client(ready_sandbox.base_url, demo_token(), mode=mode, confirm="writes") as client:
        await connected(client)
        ok(await call(client, *READS[0]))
        texts = [
            error_text(await call(client, tool, args))
            for tool, args in (("run_action", UPLOAD_ACTION), ("proxy_request", UPLOAD_PROXY))
        ]
    for text in texts:
        assert "--confirm=writes" in text and "cannot show a confirmation form" in text and "nothing was sent" in text
    assert await upstream(ready_sandbox, "/1/upload") == []
