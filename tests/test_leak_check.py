"""Traffic with recognisable credentials, so the final secret scan has something to find if anything leaks.

Each test also checks that the credential it uses was registered for log redaction: the final scan counts on it,
and fails (rather than skips) when this file ran and the credentials are not registered.
"""

from __future__ import annotations

from typing import Any

import pytest

from clevertap_mcp import redaction
from clevertap_mcp.membrane.auth import MintedToken, StaticToken

from helpers import call, error_text, mcp_client, ok
from leakcheck import LEAK_SECRET, LEAK_TOKEN

pytestmark = pytest.mark.anyio


async def test_a_whole_session_with_a_recognisable_workspace_secret(sandbox_factory: Any) -> None:
    sandbox = sandbox_factory(workspace_secret=LEAK_SECRET, auto_connect=True)
    token = MintedToken("sandbox-workspace", LEAK_SECRET, "sandbox-tenant")
    assert_registered(LEAK_SECRET)
    async with mcp_client(sandbox.base_url, token) as client:
        ok(await call(client, "ensure_connection"))
        ok(await call(client, "search_actions", {"intent": "upload events"}))
        ok(
            await call(
                client,
                "run_action",
                {"action_id": "get-event-count", "input": {"event_name": "Charged", "from": 20200101, "to": 20200102}},
            )
        )
        ok(await call(client, "proxy_request", {"path": "/1/now.json", "method": "POST", "body": {}}))
        error_text(await call(client, "run_action", {"action_id": "get-event-count", "input": {"event_name": 1}}))
        error_text(await call(client, "proxy_request", {"path": "https://attacker.example/x"}))
    # The token the session was minted and sent with, not only the secret it was signed with.
    assert_registered(LEAK_SECRET, token.token())


async def test_a_rejected_static_token_is_never_echoed(sandbox: Any) -> None:
    async with mcp_client(sandbox.base_url, StaticToken(LEAK_TOKEN, origin="MEMBRANE_TOKEN")) as client:
        for tool, args in [("ensure_connection", {}), ("search_actions", {"intent": "x", "connection_id": "c"})]:
            text = error_text(await call(client, tool, args))
            assert "401" in text
    assert_registered(LEAK_TOKEN)


def assert_registered(*values: str) -> None:
    """Registered, and so masked in any log line: the behaviour the final scan relies on, checked directly."""
    for value in values:
        assert value in redaction.registered_values()
        assert redaction.redact(f"Bearer {value}.") == f"Bearer {redaction.REDACTED}."
