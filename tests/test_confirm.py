"""Confirmations: deletes, stops and sends ask the user first, in both protocol eras; only a ticked "accept" sends
anything; a client that cannot ask is handled by the confirm mode."""

from __future__ import annotations

import json
from typing import Any

import pytest
from mcp import Client, MCPError
from mcp.client.context import ClientRequestContext
from mcp_types import (
    CallToolResult,
    ElicitRequestFormParams,
    ElicitRequestParams,
    ElicitResult,
    ErrorData,
    InputRequiredResult,
    InputResponses,
)

from clevertap_mcp import confirm, policy
from clevertap_mcp.config import ConfirmMode, Settings, SettingsError, with_safety
from clevertap_mcp.sandbox.server import SandboxServer

from helpers import CAMPAIGN, CLOCK, call, control, demo_token, error_text, mcp_client, ok
from leakcheck import WRITTEN

pytestmark = pytest.mark.anyio

ERAS = ["legacy", "auto"]  # handshake era (elicitation/create) and 2026-07-28 (InputRequiredResult)
DELETE = {"action_id": "delete-user-profile", "input": {"identity": ["u-1", "u-2"]}}


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
    # create-campaign declares estimate_only here; test_real_membrane.py runs the confirmations under both readings.
    sandbox: SandboxServer = sandbox_factory(auto_connect=True, clock=CLOCK, create_campaign_estimate_only="declared")
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
    assert 'Delete CleverTap user profiles: identity "u-1", "u-2" (2 in all)' in asked.message
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
    assert 'campaign "Spring sale"' in asked.message and 'users who did "App Launched"' in asked.message
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
    assert 'guid "__g1" (1 in all)' in accepting.asked[0].message
    assert "proxy_request POST /1/delete/profiles.json" in accepting.asked[0].message
    assert len(await upstream(ready_sandbox, "/1/delete/profiles.json")) == 1


# (method, path, body, raw_body, effect or None when not asked about), for every endpoint in clevertap-api.md.
RISKY_PROXY_TABLE: list[tuple[str, str, Any, str, str | None]] = [
    ("POST", "/1/delete/profiles.json", {"identity": "u-1"}, "", "delete"),
    ("POST", "/1/demerge/profiles.json", {"identities": ["u-1"]}, "", "delete"),
    ("POST", "/1/targets/stop.json", {"id": 1}, "", "stop"),
    ("POST", "/1/targets/create.json", CAMPAIGN, "", "send"),
    ("POST", "/1/targets/create.json", {**CAMPAIGN, "estimate_only": "true"}, "", "send"),
    ("POST", "/1/targets/create.json", None, '{"estimate_only": true}', None),
    # Python keeps the last of two equal keys, a backend may keep the first: never taken as an estimate.
    ("POST", "/1/targets/create.json", None, '{"estimate_only": false, "estimate_only": true}', "send"),
    ("POST", "/1/targets/create.json", None, "estimate_only=true", "send"),
    ("POST", "/1/send/push.json", {"to": {"Identity": ["u-1"]}}, "", "send"),
    ("POST", "/1/send/email.json", {}, "", "send"),
    ("POST", "/1/send/sms.json", {}, "", "send"),
    ("POST", "/1/send/webpush.json", {}, "", "send"),
    ("POST", "/1/Delete/Profiles.json", {}, "", "delete"),
    ("POST", "/1/TARGETS/stop.json?id=1", {}, "", "stop"),
    ("PUT", "/1/targets/stop.json", {}, "", "stop"),
    ("GET", "/1/delete/profiles.json", None, "", "delete"),
    ("POST", "/1/some/new/endpoint.json", {}, "", "unknown"),
    ("POST", "/2/targets/create.json", CAMPAIGN, "", "unknown"),
    ("DELETE", "/1/profile.json", None, "", "unknown"),
    ("POST", "/1/upload", {"d": []}, "", None),
    ("POST", "/1/upload?dryRun=1", {"d": []}, "", None),
    ("GET", "/1/profile.json?identity=u-1", None, "", None),
    ("POST", "/1/events.json", {}, "", None),
    ("POST", "/1/profiles.json", {}, "", None),
    ("POST", "/1/counts/events.json", {}, "", None),
    ("POST", "/1/counts/profiles.json", {}, "", None),
    ("POST", "/1/counts/trends.json", {}, "", None),
    ("POST", "/1/counts/top.json", {}, "", None),
    ("POST", "/1/now.json", {}, "", None),
    ("POST", "/1/targets/list.json", {}, "", None),
    ("POST", "/1/targets/result.json", {}, "", None),
    ("POST", "/1/message/report.json", {}, "", None),
]


@pytest.mark.parametrize(("method", "path", "body", "raw_body", "effect"), RISKY_PROXY_TABLE)
def test_proxied_deletes_stops_sends_and_unknown_writes_are_asked_about_in_any_form(
    method: str, path: str, body: Any, raw_body: str, effect: str | None
) -> None:
    risky = policy.risky_proxy(method, path, body, raw_body)
    assert (risky.effect if risky else None) == effect


@pytest.mark.parametrize(
    ("key", "action_input", "effect"),
    [
        ("delete-user-profile", {"identity": "u-1"}, "delete"),
        ("stop-campaign", {"id": 1}, "stop"),
        ("create-campaign", CAMPAIGN, "send"),
        ("create-campaign", {**CAMPAIGN, "estimate_only": True}, None),
        ("create-campaign", {**CAMPAIGN, "estimate_only": "true"}, "send"),
        # An estimate_only the action's schema does not declare is dropped by Membrane: a real create (§11 R1).
        ("create-campaign#undeclared", {**CAMPAIGN, "estimate_only": True}, "send"),
        ("Delete-User-Profile", {"identity": "u-1"}, "unknown"),
        ("act_09", {}, "unknown"),
        ("upload-events", {}, None),
        ("get-events", {}, None),
    ],
)
def test_actions_that_delete_stop_send_or_are_unknown_are_asked_about(
    key: str, action_input: dict[str, Any], effect: str | None
) -> None:
    key, _, reading = key.partition("#")
    risky = policy.risky_action(key, action_input, estimate_only_honoured=reading != "undeclared")
    assert (risky.effect if risky else None) == effect


def test_the_question_stays_readable_whatever_the_agent_sends() -> None:
    huge = "x" * 100_000
    campaign = {**CAMPAIGN, "name": huge, "when": huge, "where": {"event_name": huge, "from": huge, "to": huge}}
    sends = {"to": {f"Identity{i}": [huge] * 50 for i in range(50)}}
    risky_calls = [
        policy.risky_action("create-campaign", campaign),
        policy.risky_action("stop-campaign", {"id": huge}),
        policy.risky_action("delete-user-profile", {"identity": [huge] * 1000}),
        policy.risky_action("act_09", {"anything": huge}),
        policy.risky_proxy("POST", "/1/send/push.json", sends, ""),
    ]
    for risky in risky_calls:
        assert risky is not None
        text = confirm.question(risky, call="run_action", connection="conn_1", estimates={"android": 1})
        assert len(text) < 5000 and "Tick the box" in text


async def test_a_mis_cased_proxied_delete_is_asked_about_and_declining_sends_nothing(
    ready_sandbox: SandboxServer,
) -> None:
    user = User("decline")
    request = {"path": "/1/Delete/profiles.json", "method": "POST", "body": {"identity": "u-1"}}
    async with mcp_client(ready_sandbox.base_url, demo_token(), elicitation_callback=user) as client:
        await connected(client)
        text = error_text(await call(client, "proxy_request", request))
    assert "did not confirm" in text
    assert 'Delete CleverTap user profiles: identity "u-1"' in user.asked[0].message
    log = await control(ready_sandbox, "GET", "/requests")
    assert not [e for e in log["items"] if "/proxy/" in e["path"]]


async def test_a_proxied_write_to_an_endpoint_this_server_does_not_know_is_asked_about(
    ready_sandbox: SandboxServer,
) -> None:
    user = User("decline")
    request = {"path": "/1/profiles/purge.json", "method": "POST", "body": {"all": True}}
    async with mcp_client(ready_sandbox.base_url, demo_token(), elicitation_callback=user) as client:
        await connected(client)
        error_text(await call(client, "proxy_request", request))
    assert "a CleverTap request to an endpoint this server does not know" in user.asked[0].message
    assert "proxy_request POST /1/profiles/purge.json" in user.asked[0].message
    log = await control(ready_sandbox, "GET", "/requests")
    assert not [e for e in log["items"] if "/proxy/" in e["path"]]


async def test_a_campaign_body_that_reads_two_ways_is_shown_as_sent_and_never_previewed(
    ready_sandbox: SandboxServer,
) -> None:
    user = User("decline")
    raw = '{"name": "Two ways", "target_mode": "push", "estimate_only": false, "estimate_only": true}'
    request = {"path": "/1/targets/create.json", "method": "POST", "raw_body": raw}
    async with mcp_client(ready_sandbox.base_url, demo_token(), elicitation_callback=user) as client:
        await connected(client)
        error_text(await call(client, "proxy_request", request))
    (asked,) = user.asked
    assert "cannot read as one JSON object" in asked.message and json.dumps(raw) in asked.message
    assert "Estimated reach" not in asked.message
    assert not await upstream(ready_sandbox, "/1/targets/create.json")  # no preview run on a guess, nothing sent


async def test_a_get_with_a_body_is_refused_before_anything_is_sent(ready_sandbox: SandboxServer) -> None:
    request = {"path": "/1/delete/profiles.json", "method": "GET", "body": {"identity": "u-1"}}
    async with mcp_client(ready_sandbox.base_url, demo_token(), confirm="never") as client:
        await connected(client)
        text = error_text(await call(client, "proxy_request", request))
    assert "A GET carries no body" in text and "use POST" in text
    log = await control(ready_sandbox, "GET", "/requests")
    assert not [e for e in log["items"] if "/proxy/" in e["path"]]


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


async def resume_accepted(client: Client, arguments: dict[str, Any], request_state: str) -> str:
    """Calls run_action again as a 2026-07-28 client resuming with a ticked "accept"; the refusal text."""
    accepted: InputResponses = {"confirm": ElicitResult(action="accept", content={"confirm": True})}
    try:
        result = await client.session.call_tool(
            "run_action", arguments, input_responses=accepted, request_state=request_state, allow_input_required=True
        )
    except MCPError as exc:
        return exc.error.message
    assert isinstance(result, CallToolResult)
    return error_text(result)


async def test_a_confirmation_given_for_one_call_cannot_let_another_through(ready_sandbox: SandboxServer) -> None:
    user = User("accept")
    async with mcp_client(ready_sandbox.base_url, demo_token(), elicitation_callback=user) as client:
        await connected(client)
        pending = await client.session.call_tool("run_action", DELETE, allow_input_required=True)
        assert isinstance(pending, InputRequiredResult) and pending.request_state
        other = {**DELETE, "input": {"identity": ["u-1", "u-2", "u-3"]}}
        # The SDK binds the sealed state to the arguments; the server's digest would refuse it too.
        refusal = await resume_accepted(client, other, pending.request_state)
    assert "Invalid or expired requestState" in refusal
    assert not await upstream(ready_sandbox, "/1/delete/profiles.json")


async def test_a_confirmation_does_not_carry_over_to_another_default_connection(ready_sandbox: SandboxServer) -> None:
    user = User("accept")
    async with mcp_client(ready_sandbox.base_url, demo_token(), elicitation_callback=user) as client:
        await connected(client)
        pending = await client.session.call_tool("run_action", DELETE, allow_input_required=True)
        assert isinstance(pending, InputRequiredResult) and pending.request_state
        # Same arguments, but the default connection (used when none is given) is now another one.
        second = await control(ready_sandbox, "POST", "/connections", {"name": "Second account"})
        ok(await call(client, "ensure_connection", {"connection_id": second["id"]}))
        refusal = await resume_accepted(client, DELETE, pending.request_state)
    assert "confirmation given for a different call" in refusal and "nothing was sent" in refusal
    assert not await upstream(ready_sandbox, "/1/delete/profiles.json")
