"""§11 R1 through the real server: whether or not create-campaign declares estimate_only, a confirmation never
creates anything before the user accepts, and an accepted campaign is created exactly once."""

from __future__ import annotations

from typing import Any, cast

import pytest
from mcp import Client
from mcp.client.context import ClientRequestContext
from mcp_types import ElicitRequestFormParams, ElicitRequestParams, ElicitResult, ErrorData

from clevertap_mcp.membrane.auth import StaticToken
from clevertap_mcp.sandbox.server import SandboxServer

from helpers import CAMPAIGN, CLOCK, FAKE_API_URL, FakeMembrane, call, control, demo_token, error_text, mcp_client, ok

pytestmark = pytest.mark.anyio

READINGS = ["declared", "undeclared"]


class User:
    def __init__(self, accept: bool) -> None:
        self.accept = accept
        self.asked: list[str] = []

    async def __call__(self, context: ClientRequestContext, params: ElicitRequestParams) -> ElicitResult | ErrorData:
        assert isinstance(params, ElicitRequestFormParams)
        self.asked.append(params.message)
        if self.accept:
            return ElicitResult(action="accept", content={"confirm": True})
        return ElicitResult(action="decline")


def _sandbox(sandbox_factory: Any, reading: str) -> SandboxServer:
    sandbox: SandboxServer = sandbox_factory(auto_connect=True, clock=CLOCK, create_campaign_estimate_only=reading)
    return sandbox


def _estimate_only(entry: dict[str, Any]) -> bool:
    body: Any = entry.get("body")
    return isinstance(body, dict) and cast(dict[str, Any], body).get("estimate_only") is True


async def creates(sandbox: SandboxServer) -> list[dict[str, Any]]:
    """The calls that reached CleverTap's create endpoint without estimate_only: each one created a campaign."""
    log = await control(sandbox, "GET", "/requests", None)
    return [
        e
        for e in log["items"]
        if e["side"] == "clevertap" and e["path"].endswith("/1/targets/create.json") and not _estimate_only(e)
    ]


async def estimates(sandbox: SandboxServer) -> int:
    log = await control(sandbox, "GET", "/requests", None)
    return sum(
        1
        for e in log["items"]
        if e["side"] == "clevertap" and e["path"].endswith("/1/targets/create.json") and _estimate_only(e)
    )


async def _search_first(client: Client, searched: bool) -> None:
    if searched:
        ok(await call(client, "search_actions", {"intent": "create a push campaign"}))


@pytest.mark.parametrize("reading", READINGS)
@pytest.mark.parametrize("searched", [False, True], ids=["schema-fetched", "schema-from-search"])
async def test_a_declined_campaign_creates_nothing_under_either_reading(
    sandbox_factory: Any, reading: str, searched: bool
) -> None:
    sandbox = _sandbox(sandbox_factory, reading)
    user = User(accept=False)
    async with mcp_client(sandbox.base_url, demo_token(), mode="legacy", elicitation_callback=user) as client:
        ok(await call(client, "ensure_connection"))
        await _search_first(client, searched)
        text = error_text(await call(client, "run_action", {"action_id": "create-campaign", "input": CAMPAIGN}))
    assert "did not confirm" in text
    (asked,) = user.asked
    assert "Estimated reach:" in asked and "users" in asked and "unknown" not in asked
    assert await creates(sandbox) == []
    assert await estimates(sandbox) == 1


@pytest.mark.parametrize("reading", READINGS)
async def test_an_accepted_campaign_is_created_exactly_once_under_either_reading(
    sandbox_factory: Any, reading: str
) -> None:
    sandbox = _sandbox(sandbox_factory, reading)
    user = User(accept=True)
    async with mcp_client(sandbox.base_url, demo_token(), mode="legacy", elicitation_callback=user) as client:
        ok(await call(client, "ensure_connection"))
        created = ok(await call(client, "run_action", {"action_id": "create-campaign", "input": CAMPAIGN}))
    assert created["output"]["created"] is True
    assert len(user.asked) == 1
    assert len(await creates(sandbox)) == 1


@pytest.mark.parametrize("confirm", ["elicit", "never"])
async def test_an_agents_own_preview_the_action_would_ignore_is_refused_before_anything_is_sent(
    sandbox_factory: Any, confirm: Any
) -> None:
    sandbox = _sandbox(sandbox_factory, "undeclared")
    user = User(accept=True)
    preview = {"action_id": "create-campaign", "input": {**CAMPAIGN, "estimate_only": True}}
    async with mcp_client(sandbox.base_url, demo_token(), elicitation_callback=user, confirm=confirm) as client:
        ok(await call(client, "ensure_connection"))
        text = error_text(await call(client, "run_action", preview))
    assert "does not declare estimate_only" in text and "proxy_request POST /1/targets/create.json" in text
    assert user.asked == [] and await creates(sandbox) == [] and await estimates(sandbox) == 0


async def test_an_upload_dry_run_the_action_would_ignore_is_refused_before_anything_is_sent() -> None:
    """The same rule for every flag that makes a call harmless: an action whose schema cannot be shown to declare
    dryRun is never run with it."""
    membrane = FakeMembrane()
    event: dict[str, Any] = {"identity": "u-1", "evtName": "Searched", "evtData": {}}
    arguments: dict[str, Any] = {"action_id": "upload-events", "input": {"events": [event], "dryRun": True}}
    async with mcp_client(FAKE_API_URL, StaticToken("t", origin="test"), transport=membrane) as client:
        text = error_text(await call(client, "run_action", arguments))
    assert "does not declare dryRun" in text and "/1/upload?dryRun=1" in text
    assert not [r for r in membrane.requests if r.url.path.endswith("/run") or r.url.path == "/act"]


async def test_an_upload_dry_run_the_action_declares_runs_as_a_dry_run(sandbox_factory: Any) -> None:
    sandbox = _sandbox(sandbox_factory, "undeclared")
    event: dict[str, Any] = {"identity": "u-1", "evtName": "Searched", "evtData": {}}
    async with mcp_client(sandbox.base_url, demo_token()) as client:
        ok(await call(client, "ensure_connection"))
        ran = ok(
            await call(
                client, "run_action", {"action_id": "upload-events", "input": {"events": [event], "dryRun": True}}
            )
        )
    assert ran["output"]["status"] == "success"
    log = await control(sandbox, "GET", "/requests", None)
    (upload,) = [e for e in log["items"] if e["side"] == "clevertap" and e["path"].endswith("/1/upload")]
    assert "dryRun=1" in upload["query"]


async def test_an_agents_own_preview_the_action_declares_runs_without_asking(sandbox_factory: Any) -> None:
    sandbox = _sandbox(sandbox_factory, "declared")
    user = User(accept=False)
    preview = {"action_id": "create-campaign", "input": {**CAMPAIGN, "estimate_only": True}}
    async with mcp_client(sandbox.base_url, demo_token(), mode="legacy", elicitation_callback=user) as client:
        ok(await call(client, "ensure_connection"))
        result = ok(await call(client, "run_action", preview))
    assert result["output"]["created"] is False and user.asked == []
    assert await creates(sandbox) == []


async def test_when_clevertap_gives_no_estimate_the_user_is_asked_without_a_reach_and_told_why(
    sandbox_factory: Any,
) -> None:
    sandbox = _sandbox(sandbox_factory, "undeclared")
    await control(
        sandbox,
        "POST",
        "/faults",
        {"side": "clevertap", "path": "/1/targets/create.json", "kind": "status", "status": 500},
    )
    user = User(accept=False)
    async with mcp_client(sandbox.base_url, demo_token(), mode="legacy", elicitation_callback=user) as client:
        ok(await call(client, "ensure_connection"))
        error_text(await call(client, "run_action", {"action_id": "create-campaign", "input": CAMPAIGN}))
    (asked,) = user.asked
    assert "Estimated reach: unknown (CleverTap gave no estimate (HTTP 500" in asked
    assert await creates(sandbox) == []
