"""A tool call the client cancels (notifications/cancelled) cancels its HTTP request, and the server keeps serving."""

from __future__ import annotations

from typing import Any

import anyio
import httpx2
import pytest

from clevertap_mcp.membrane.auth import StaticToken

from helpers import FAKE_API_URL, FakeMembrane, RecordedSleep, call, mcp_client, ok, recorded_retry

pytestmark = pytest.mark.anyio

CALLS: list[tuple[str, dict[str, Any]]] = [
    ("ensure_connection", {}),
    ("search_actions", {"intent": "count events", "connection_id": "conn_1"}),
    ("run_action", {"action_id": "upload-events", "input": {"d": []}, "connection_id": "conn_1"}),
    ("proxy_request", {"path": "/1/upload", "method": "POST", "body": {"d": []}, "connection_id": "conn_1"}),
]


class StallsFirstRequest(FakeMembrane):
    """Membrane that never answers the first request, and notes whether that request was cancelled."""

    def __init__(self) -> None:
        super().__init__()
        self.entered = anyio.Event()
        self.cancelled = anyio.Event()
        self._stalled = False

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        if self._stalled:
            return await super().handle_async_request(request)
        self._stalled = True
        self.requests.append(request)
        self.entered.set()
        try:
            await anyio.sleep_forever()
        except anyio.get_cancelled_exc_class():
            self.cancelled.set()
            raise
        raise AssertionError("unreachable: sleep_forever only ends by cancellation")


# "legacy" is the handshake era Claude Desktop speaks; "auto" lands on the modern protocol.
@pytest.mark.parametrize("mode", ["auto", "legacy"])
@pytest.mark.parametrize(("tool", "args"), CALLS, ids=[c[0] for c in CALLS])
async def test_a_cancelled_call_cancels_its_request_and_the_server_keeps_serving(
    tool: str, args: dict[str, Any], mode: str
) -> None:
    wire = StallsFirstRequest()
    sleep = RecordedSleep()
    token = StaticToken("tok-cancel-test-1", origin="test")
    async with mcp_client(FAKE_API_URL, token, mode=mode, transport=wire, retry=recorded_retry(sleep)) as client:
        with anyio.fail_after(10):
            async with anyio.create_task_group() as tg:
                tg.start_soon(call, client, tool, args)
                await wire.entered.wait()
                tg.cancel_scope.cancel()
            # The client gave up; the server must now have cancelled the request it had in flight.
            await wire.cancelled.wait()

            ok(await call(client, tool, args))
    # Nothing ran on after the cancel: no resend, no retry sleep, just the next call's own request.
    assert len(wire.requests) == 2
    assert sleep.delays == []
