"""End to end against the sandbox: when the answer to a campaign send is lost, on CleverTap's side of Membrane or on
ours, or arrives after the client gave up waiting, the campaign is created exactly once and the agent is told it
may or may not have run. The fault matrix (test_fault_matrix.py) proves the same rule against a fake Membrane;
here the sandbox's own fault knobs (POST /_sandbox/faults) and its request log are the witnesses.
"""

from __future__ import annotations

from typing import Any

import httpx2
import pytest

from clevertap_mcp.sandbox.server import SandboxServer

from helpers import call, control, demo_token, error_text, mcp_client, ok

pytestmark = pytest.mark.anyio

CLOCK = 1767607200  # 2026-01-05 10:00 UTC
CREATE_PATH = "/1/targets/create.json"
CAMPAIGN = {
    "name": "Once only",
    "target_mode": "push",
    "content": {"title": "Hi", "body": "20% off today"},
    "when": "now",
    "where": {"event_name": "App Launched", "from": 20251201, "to": 20260105},
}
SENDS: dict[str, tuple[str, dict[str, Any], str]] = {
    # tool, arguments, the Membrane path (a glob) that carries the send
    "run_action": ("run_action", {"action_id": "create-campaign", "input": CAMPAIGN}, "/actions/*/run"),
    "proxy_request": (
        "proxy_request",
        {"path": CREATE_PATH, "method": "POST", "body": CAMPAIGN},
        f"/connections/*/proxy{CREATE_PATH}",
    ),
}


class AnswerTooLate(httpx2.AsyncBaseTransport):
    """The real network, except that the answer to the send arrives after the client's deadline: the request is
    served in full (the campaign exists), then the client sees a read timeout instead of the answer."""

    def __init__(self, send_path: str) -> None:
        self._inner = httpx2.AsyncHTTPTransport()
        self._send_path = send_path
        self.timed_out = 0

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        response = await self._inner.handle_async_request(request)
        if request.method == "POST" and request.url.path.endswith(self._send_path) and not self.timed_out:
            await response.aread()
            await response.aclose()
            self.timed_out += 1
            raise httpx2.ReadTimeout("timed out waiting for the answer")
        return response

    async def aclose(self) -> None:
        await self._inner.aclose()


@pytest.fixture
def ready_sandbox(sandbox_factory: Any) -> SandboxServer:
    sandbox: SandboxServer = sandbox_factory(auto_connect=True, clock=CLOCK)
    return sandbox


async def creates_that_reached_clevertap(sandbox: SandboxServer) -> list[dict[str, Any]]:
    log = await control(sandbox, "GET", "/requests?side=clevertap")
    return [e for e in log["items"] if e["method"] == "POST" and e["path"].endswith(CREATE_PATH)]


async def campaigns_named(sandbox: SandboxServer, name: str) -> list[dict[str, Any]]:
    async with mcp_client(sandbox.base_url, demo_token()) as client:
        ok(await call(client, "ensure_connection"))
        listed = ok(
            await call(
                client, "run_action", {"action_id": "get-campaigns", "input": {"from": 20260105, "to": 20260105}}
            )
        )
    return [t for t in listed["output"]["targets"] if t["name"] == name]


async def send_once(sandbox: SandboxServer, tool: str, args: dict[str, Any], **client: Any) -> str:
    async with mcp_client(sandbox.base_url, demo_token(), confirm="never", **client) as mcp:
        ok(await call(mcp, "ensure_connection"))
        text = error_text(await call(mcp, tool, args))
        # The server keeps serving after the lost answer.
        ok(await call(mcp, "run_action", {"action_id": "real-time-user-count"}))
    return text


@pytest.mark.parametrize("send", SENDS)
@pytest.mark.parametrize("side", ["clevertap", "membrane"])
async def test_a_send_whose_answer_is_dropped_creates_one_campaign_and_says_it_may_have_run(
    ready_sandbox: SandboxServer, send: str, side: str
) -> None:
    tool, args, membrane_path = SENDS[send]
    fault = {"side": side, "kind": "drop", "stage": "mid_response", "method": "POST"}
    fault["path"] = CREATE_PATH if side == "clevertap" else membrane_path
    await control(ready_sandbox, "POST", "/faults", fault)
    text = await send_once(ready_sandbox, tool, args)
    assert "may or may not have run" in text and "check before retrying" in text
    (create,) = await creates_that_reached_clevertap(ready_sandbox)
    assert ("fault" in create) == (side == "clevertap")  # the send itself reached CleverTap once either way
    assert len(await campaigns_named(ready_sandbox, "Once only")) == 1


@pytest.mark.parametrize("send", SENDS)
async def test_a_send_answered_after_the_deadline_is_never_resent(ready_sandbox: SandboxServer, send: str) -> None:
    tool, args, membrane_path = SENDS[send]
    late = AnswerTooLate(membrane_path.rsplit("*", 1)[-1])
    text = await send_once(ready_sandbox, tool, args, transport=late)
    assert late.timed_out == 1
    assert "ReadTimeout" in text and "may or may not have run" in text
    assert len(await creates_that_reached_clevertap(ready_sandbox)) == 1
    assert len(await campaigns_named(ready_sandbox, "Once only")) == 1
