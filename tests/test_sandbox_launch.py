"""--sandbox starts the sandbox in the background: Membrane requests wait for it instead of failing."""

from __future__ import annotations

import anyio
import httpx2
import pytest

from clevertap_mcp.deferred_transport import DeferredTransport
from clevertap_mcp.sandbox.settings import SandboxSettings
from clevertap_mcp.sandbox_launch import SandboxLauncher

pytestmark = pytest.mark.anyio


async def test_requests_sent_as_soon_as_the_url_is_known_wait_for_the_sandbox_and_succeed() -> None:
    launcher = SandboxLauncher(SandboxSettings())
    try:
        async with httpx2.AsyncClient(
            base_url=launcher.base_url, transport=DeferredTransport(ready=launcher.wait_started)
        ) as http:
            with anyio.fail_after(30):
                answers = [await http.get("/_sandbox/health") for _ in range(3)]
        assert [a.status_code for a in answers] == [200, 200, 200]
    finally:
        launcher.stop()


async def test_a_stopped_sandbox_no_longer_listens() -> None:
    launcher = SandboxLauncher(SandboxSettings())
    async with httpx2.AsyncClient(
        base_url=launcher.base_url, transport=DeferredTransport(ready=launcher.wait_started)
    ) as http:
        with anyio.fail_after(30):
            assert (await http.get("/_sandbox/health")).status_code == 200
        launcher.stop()
        with pytest.raises(httpx2.ConnectError):
            await http.get("/_sandbox/health")
