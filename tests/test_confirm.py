"""Confirmations: deletes, stops and sends ask the user first, in both protocol eras; only a ticked "accept" sends
anything; a client that cannot ask is handled by the confirm mode."""

from __future__ import annotations

from typing import Any

import pytest
from mcp import Client
from mcp.client.context import ClientRequestContext
from mcp_types import ElicitRequestFormParams, ElicitRequestParams, ElicitResult, ErrorData

from clevertap_mcp.config import ConfirmMode, Settings, SettingsError, with_safety
from clevertap_mcp.sandbox.server import SandboxServer

from helpers import call, control, demo_token, error_text, mcp_client, ok
from leakcheck import WRITTEN

pytestmark = pytest.mark.anyio

ERAS = ["legacy", "auto"]  # handshake era (elicitation/create) and 2026-07-28 (InputRequiredResult)
CLOCK = 1767607200  # 2026-01-05 10:00 UTC
DELETE = {"action_id": "delete-user-profile", "input": {"identity": ["u-1", "u-2"]}}
CAMPAIGN = {
    "name": "Spring sale",
    "target_mode": "push",
    "content": {"title": "Hi", "body": "20% off today"},
    "when": "now",
    "where": {"event_name": "App Launched", "from": 20251201, "to": 20260105},
}


class User:
    """A client that shows the confirmation form and answers like a user would."""

    def __init__(self, action: str = "accept", *, tick: bool = True) -> None:
        self.action = action
        self.tick = tick
        self.asked: list[ElicitRequestFormParams] = []

    async def __call__(self, context: ClientRequestContext, params: ElicitRequestParams) -> ElicitResult | ErrorData:
        assert isinstance(params, ElicitRequestFormParams)
        self.asked.append(params)
        WRITTEN.append(params.model_dump_json())  # what the user is shown joins the secret scan
        content = {"confirm": self.tick} if self.action == "accept" else None
        return ElicitResult(action=self.action, content=content)  # type: ignore[arg-type]


@pytest.fixture
def ready_sandbox(sandbox_factory: Any) -> SandboxServer:
    sandbox: SandboxServer = sandbox_factory(auto_connect=True, clock=CLOCK)
    return sandbox


async def upstream(sandbox: SandboxServer, suffix: str) -> list[dict[str, Any]]:
    """The requests that reached the CleverTap emulator at a path ending in `suffix`."""
    log = await control(sandbox, "GET", "/requests")
    return [e for e in log["items"] if "/proxy/" not in e["path"] and e["path"].endswith(suffix)]


async def connected(client: Client) -> str:
    return str(ok(await call(client, "ensure_connection"))["connection_id"])


@pytest.mark.parametrize("mode", ERAS)
async def test_an_accepted_delete_is_sent_after_the_user_saw_what_it_deletes(
    ready_sandbox: SandboxServer, mode: str
) -> None:
    user = User("accept")
    async with mcp_client(ready_sandbox.base_url, demo_token(), mode=mode, elicitation_callback=user) as client:
        conn_id = await connected(client)
        result = ok(await call(client, "run_action", DELETE))
    assert result["output"]["status"] == "success"
    (asked,) = user.asked
    assert "Delete CleverTap user profiles: identity u-1, u-2 (2 in all)" in asked.message
    assert conn_id in asked.message and "run_action delete-user-profile" in asked.message
    assert len(await upstream(ready_sandbox, "/1/delete/profiles.json")) == 1


@pytest.mark.parametrize("mode", ERAS)
@pytest.mark.parametrize(("action", "tick"), [("decline", False), ("cancel", False), ("accept", False)])
async def test_a_delete_the_user_did_not_confirm_sends_nothing(
    ready_sandbox: SandboxServer, mode: str, action: str, tick: bool
) -> None:
    user = User(action, tick=tick)
    async with mcp_client(ready_sandbox.base_url, demo_token(), mode=mode, elicitation_callback=user) as client:
        await connected(client)
        text = error_text(await call(client, "run_action", DELETE))
    assert len(user.asked) == 1
    assert "did not confirm" in text and "nothing was sent" in text
    log = await control(ready_sandbox, "GET", "/requests")
    assert not [e for e in log["items"] if e["path"].endswith("/run") or "/delete/" in e["path"]]


@pytest.mark.parametrize("mode", ERAS)
async def test_a_campaign_shows_its_estimated_reach_and_a_declined_one_is_never_created(
    ready_sandbox: SandboxServer, mode: str
) -> None:
    user = User("decline")
    async with mcp_client(ready_sandbox.base_url, demo_token(), mode=mode, elicitation_callback=user) as client:
        await connected(client)
        preview = ok(
            await call(
                client, "run_action", {"action_id": "create-campaign", "input": {**CAMPAIGN, "estimate_only": True}}
            )
        )
        error_text(await call(client, "run_action", {"action_id": "create-campaign", "input": CAMPAIGN}))
        listed = ok(
            await call(
                client, "run_action", {"action_id": "get-campaigns", "input": {"from": 20251201, "to": 20260131}}
            )
        )
    estimates = preview["output"]["estimates"]
    total = sum(estimates.values())
    (asked,) = user.asked  # the agent's own estimate-only call was not asked about
    assert f"Estimated reach: {total:g} users" in asked.message
    assert "'Spring sale'" in asked.message and "users who did 'App Launched'" in asked.message
    # Two previews reached CleverTap (the agent's and the one behind the question), and no campaign was created.
    assert len(await upstream(ready_sandbox, "/1/targets/create.json")) == 2
    assert not [t for t in listed["output"]["targets"] if t["name"] == "Spring sale"]


@pytest.mark.parametrize("mode", ERAS)
async def test_an_accepted_campaign_is_created_once(ready_sandbox: SandboxServer, mode: str) -> None:
    user = User("accept")
    async with mcp_client(ready_sandbox.base_url, demo_token(), mode=mode, elicitation_callback=user) as client:
        await connected(client)
        created = ok(await call(client, "run_action", {"action_id": "create-campaign", "input": CAMPAIGN}))
        listed = ok(
            await call(
                client, "run_action", {"action_id": "get-campaigns", "input": {"from": 20260105, "to": 20260105}}
            )
        )
    assert isinstance(created["output"]["id"], int)
    assert [t["id"] for t in listed["output"]["targets"] if t["name"] == "Spring sale"] == [created["output"]["id"]]
    assert len(await upstream(ready_sandbox, "/1/targets/create.json")) == 2  # the preview, then the campaign


@pytest.mark.parametrize("mode", ERAS)
async def test_stopping_a_campaign_names_it_and_waits_for_the_user(ready_sandbox: SandboxServer, mode: str) -> None:
    user = User("decline")
    async with mcp_client(ready_sandbox.base_url, demo_token(), mode=mode, elicitation_callback=user) as client:
        await connected(client)
        error_text(await call(client, "run_action", {"action_id": "stop-campaign", "input": {"id": 1457433898}}))
    (asked,) = user.asked
    assert "Stop CleverTap campaign 1457433898." in asked.message
    assert not await upstream(ready_sandbox, "/1/targets/stop.json")


@pytest.mark.parametrize("mode", ERAS)
async def test_the_proxy_equivalent_of_a_delete_is_confirmed_too(ready_sandbox: SandboxServer, mode: str) -> None:
    request = {"path": "/1/delete/profiles.json", "method": "POST", "body": {"guid": "__g1"}}
    declining, accepting = User("decline"), User("accept")
    async with mcp_client(ready_sandbox.base_url, demo_token(), mode=mode, elicitation_callback=declining) as client:
        await connected(client)
        error_text(await call(client, "proxy_request", request))
    assert not await upstream(ready_sandbox, "/1/delete/profiles.json")
    async with mcp_client(ready_sandbox.base_url, demo_token(), mode=mode, elicitation_callback=accepting) as client:
        await connected(client)
        result = ok(await call(client, "proxy_request", request))
    assert result["status"] == 200
    assert "guid __g1 (1 in all)" in accepting.asked[0].message
    assert "proxy_request POST /1/delete/profiles.json" in accepting.asked[0].message
    assert len(await upstream(ready_sandbox, "/1/delete/profiles.json")) == 1


async def test_reads_uploads_and_estimates_are_never_asked_about(ready_sandbox: SandboxServer) -> None:
    user = User("decline")
    async with mcp_client(ready_sandbox.base_url, demo_token(), elicitation_callback=user) as client:
        await connected(client)
        ok(await call(client, "run_action", {"action_id": "real-time-user-count"}))
        ok(
            await call(
                client, "run_action", {"action_id": "create-campaign", "input": {**CAMPAIGN, "estimate_only": True}}
            )
        )
        ok(await call(client, "proxy_request", {"path": "/1/now.json", "method": "POST", "body": {}}))
        event: dict[str, Any] = {"identity": "u-1", "evtName": "Searched", "evtData": {}}
        ok(await call(client, "run_action", {"action_id": "upload-events", "input": {"events": [event]}}))
    assert user.asked == []


async def test_an_action_this_server_does_not_know_is_asked_about(ready_sandbox: SandboxServer) -> None:
    user = User("decline")
    async with mcp_client(ready_sandbox.base_url, demo_token(), elicitation_callback=user) as client:
        await connected(client)
        error_text(await call(client, "run_action", {"action_id": "act_09", "input": {"identity": "u-1"}}))
    assert "does not know" in user.asked[0].message
    log = await control(ready_sandbox, "GET", "/requests")
    assert not [e for e in log["items"] if e["path"].endswith("/run")]


@pytest.mark.parametrize("mode", ERAS)
@pytest.mark.parametrize(("confirm", "sent"), [("never", True), ("elicit", True), ("required", False)])
async def test_a_client_that_cannot_ask_follows_the_confirm_mode(
    ready_sandbox: SandboxServer, mode: str, confirm: ConfirmMode, sent: bool
) -> None:
    async with mcp_client(ready_sandbox.base_url, demo_token(), mode=mode, confirm=confirm) as client:
        await connected(client)
        result = await call(client, "run_action", DELETE)
    deletes = await upstream(ready_sandbox, "/1/delete/profiles.json")
    if sent:
        assert ok(result)["output"]["status"] == "success" and len(deletes) == 1
    else:
        text = error_text(result)
        assert "--confirm=required" in text and "CLEVERTAP_MCP_CONFIRM=elicit" in text and "nothing was sent" in text
        assert not deletes


async def test_confirm_never_does_not_ask_even_a_client_that_could(ready_sandbox: SandboxServer) -> None:
    user = User("decline")
    async with mcp_client(ready_sandbox.base_url, demo_token(), elicitation_callback=user, confirm="never") as client:
        await connected(client)
        ok(await call(client, "run_action", DELETE))
    assert user.asked == []


BASE = Settings(api_url="http://127.0.0.1:9", token_source=None)


def test_the_default_confirm_mode_asks_where_the_client_can() -> None:
    assert with_safety(BASE, {}).confirm == "elicit"
    assert with_safety(BASE, {"CLEVERTAP_MCP_CONFIRM": "required"}).confirm == "required"
    assert with_safety(BASE, {"CLEVERTAP_MCP_CONFIRM": "required"}, confirm="never").confirm == "never"


def test_an_unknown_confirm_mode_is_an_error_naming_the_choices() -> None:
    with pytest.raises(SettingsError, match="one of never, elicit, required"):
        with_safety(BASE, {"CLEVERTAP_MCP_CONFIRM": "sometimes"})
