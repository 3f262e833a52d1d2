"""ensure_connection through an MCP client, against the sandbox on loopback."""

from __future__ import annotations

from typing import Any

import anyio
import httpx2
import pytest
from mcp.client.context import ClientRequestContext
from mcp.client.session import IncomingMessage
from mcp_types import ElicitCompleteNotification, ElicitRequestParams, ElicitRequestURLParams, ElicitResult, ErrorData

from clevertap_mcp.sandbox.server import SandboxServer

from helpers import call, complete_connect_page, control, demo_token, error_text, mcp_client, ok
from leakcheck import WRITTEN

pytestmark = pytest.mark.anyio


async def test_a_new_connection_asks_the_user_to_open_the_connect_link(sandbox: SandboxServer) -> None:
    async with mcp_client(sandbox.base_url, demo_token()) as client:
        result = ok(await call(client, "ensure_connection"))
    assert result["state"] == "CLIENT_ACTION_REQUIRED"
    action = result["client_action"]
    assert action["type"] == "connect"
    assert action["ui_url"].startswith(sandbox.base_url + "/")
    assert action["ui_url"] in result["message"]
    assert "open this link and sign in to your CleverTap account" in result["message"]
    assert f'connection_id="{result["connection_id"]}"' in result["message"]


async def test_the_connection_is_ready_after_the_user_submits_the_connect_page(sandbox: SandboxServer) -> None:
    async with mcp_client(sandbox.base_url, demo_token()) as client:
        first = ok(await call(client, "ensure_connection"))
        page = await complete_connect_page(first["client_action"]["ui_url"])
        assert page.status_code == 200
        again = ok(await call(client, "ensure_connection", {"connection_id": first["connection_id"]}))
    assert again["state"] == "READY"
    assert again["client_action"] is None
    assert "is ready" in again["message"]


async def test_ensure_returns_the_same_connection_when_called_twice(sandbox: SandboxServer) -> None:
    async with mcp_client(sandbox.base_url, demo_token()) as client:
        first = ok(await call(client, "ensure_connection"))
        second = ok(await call(client, "ensure_connection", {"app_url": "https://www.clevertap.com/"}))
    assert first["connection_id"] == second["connection_id"]


async def test_auto_connect_makes_a_new_connection_ready_at_once(sandbox_factory: Any) -> None:
    sandbox = sandbox_factory(auto_connect=True)
    async with mcp_client(sandbox.base_url, demo_token()) as client:
        result = ok(await call(client, "ensure_connection"))
    assert result["state"] == "READY"


async def test_ensure_waits_while_building_and_reports_progress(sandbox_factory: Any) -> None:
    sandbox = sandbox_factory(building_polls=1)
    messages: list[str | None] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        messages.append(message)

    async with mcp_client(sandbox.base_url, demo_token()) as client:
        with anyio.fail_after(10):
            result = ok(await call(client, "ensure_connection", progress_callback=on_progress))
    assert result["state"] == "CLIENT_ACTION_REQUIRED"
    assert messages and all(m is not None and "BUILDING" in m for m in messages)


async def test_still_building_at_the_end_of_the_wait_says_to_call_again(sandbox_factory: Any) -> None:
    sandbox = sandbox_factory(building_polls=5)
    async with mcp_client(sandbox.base_url, demo_token()) as client:
        result = ok(await call(client, "ensure_connection", {"wait_seconds": 0}))
    assert result["state"] == "BUILDING"
    assert f'call ensure_connection again with connection_id="{result["connection_id"]}"' in result["message"]


@pytest.mark.parametrize("state", ["CONFIGURATION_ERROR", "SETUP_FAILED"])
async def test_a_failed_connection_is_an_error_with_membranes_errors(sandbox: SandboxServer, state: str) -> None:
    async with mcp_client(sandbox.base_url, demo_token()) as client:
        conn = ok(await call(client, "ensure_connection"))
        await control(
            sandbox,
            "POST",
            f"/connections/{conn['connection_id']}/state",
            {"state": state, "errors": [{"type": "configuration", "message": "Region mismatch for account"}]},
        )
        text = error_text(await call(client, "ensure_connection", {"connection_id": conn["connection_id"]}))
    assert state in text
    assert "Region mismatch for account" in text


async def test_an_unknown_app_builds_then_fails_setup(sandbox: SandboxServer) -> None:
    messages: list[str] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        messages.append(message or "")

    async with mcp_client(sandbox.base_url, demo_token()) as client:
        text = error_text(
            await call(
                client,
                "ensure_connection",
                {"app_url": "unknown-app.example.org", "wait_seconds": 5},
                progress_callback=on_progress,
            )
        )
    assert any("BUILDING" in message for message in messages), messages
    assert "SETUP_FAILED" in text


async def test_provide_input_passes_membranes_agent_instructions_verbatim(sandbox: SandboxServer) -> None:
    instructions = "Ask the user which CleverTap region their account is in."
    async with mcp_client(sandbox.base_url, demo_token()) as client:
        conn = ok(await call(client, "ensure_connection"))
        await control(
            sandbox,
            "POST",
            f"/connections/{conn['connection_id']}/state",
            {
                "state": "CLIENT_ACTION_REQUIRED",
                "clientAction": {
                    "type": "provide-input",
                    "description": "Choose the account region.",
                    "agentInstructions": instructions,
                },
            },
        )
        result = ok(await call(client, "ensure_connection", {"connection_id": conn["connection_id"]}))
    assert result["client_action"]["type"] == "provide-input"
    assert result["client_action"]["agent_instructions"] == instructions
    assert instructions in result["message"]
    assert "Choose the account region." in result["message"]


async def test_an_invalid_app_url_quotes_membranes_validation_message(sandbox: SandboxServer) -> None:
    async with mcp_client(sandbox.base_url, demo_token()) as client:
        text = error_text(await call(client, "ensure_connection", {"app_url": "not a domain"}))
    assert "Must be a valid URL or domain" in text


async def test_an_unknown_connection_id_is_a_not_found_error(sandbox: SandboxServer) -> None:
    async with mcp_client(sandbox.base_url, demo_token()) as client:
        text = error_text(await call(client, "ensure_connection", {"connection_id": "conn_does_not_exist"}))
    assert "404" in text and "conn_does_not_exist" in text


class UrlElicitation:
    """A client that shows the link: it records what it was asked and answers like a user would."""

    def __init__(self, action: str, *, complete: bool) -> None:
        self.action = action
        self.complete = complete
        self.asked: list[ElicitRequestURLParams] = []

    async def __call__(self, context: ClientRequestContext, params: ElicitRequestParams) -> ElicitResult | ErrorData:
        assert isinstance(params, ElicitRequestURLParams)
        self.asked.append(params)
        WRITTEN.append(params.model_dump_json())  # what the user is shown joins the secret scan
        if self.complete:
            await complete_connect_page(params.url)
        return ElicitResult(action=self.action)  # type: ignore[arg-type]


@pytest.mark.parametrize("mode", ["legacy", "auto"])
async def test_url_elicitation_accepted_waits_until_the_user_finishes(sandbox: SandboxServer, mode: str) -> None:
    user = UrlElicitation("accept", complete=False)
    finished: list[str] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        # The user finishes only once the server is visibly waiting, so the wait itself is exercised.
        if message and "Waiting for you" in message and not finished:
            finished.append(message)
            await complete_connect_page(user.asked[0].url)

    async with mcp_client(sandbox.base_url, demo_token(), mode=mode, elicitation_callback=user) as client:
        with anyio.fail_after(10):
            result = ok(await call(client, "ensure_connection", progress_callback=on_progress))
    assert finished, "the server never waited for the user"
    assert result["state"] == "READY"
    assert len(user.asked) == 1
    assert user.asked[0].url.startswith(sandbox.base_url)
    assert "CleverTap" in user.asked[0].message


async def test_a_handshake_era_client_is_told_when_the_link_was_completed(sandbox: SandboxServer) -> None:
    user = UrlElicitation("accept", complete=True)
    completed: list[str] = []

    async def on_message(message: IncomingMessage) -> None:
        if isinstance(message, ElicitCompleteNotification):
            completed.append(message.params.elicitation_id)

    async with mcp_client(
        sandbox.base_url, demo_token(), mode="legacy", elicitation_callback=user, message_handler=on_message
    ) as client:
        with anyio.fail_after(10):
            result = ok(await call(client, "ensure_connection"))
    assert result["state"] == "READY"
    assert completed == [user.asked[0].elicitation_id]


@pytest.mark.parametrize("mode", ["legacy", "auto"])
async def test_url_elicitation_declined_falls_back_to_the_message(sandbox: SandboxServer, mode: str) -> None:
    user = UrlElicitation("decline", complete=False)
    async with mcp_client(sandbox.base_url, demo_token(), mode=mode, elicitation_callback=user) as client:
        result = ok(await call(client, "ensure_connection"))
    assert len(user.asked) == 1
    assert result["state"] == "CLIENT_ACTION_REQUIRED"
    assert result["client_action"]["ui_url"] in result["message"]


@pytest.mark.parametrize("mode", ["legacy", "auto"])
async def test_accepted_but_unfinished_link_reports_the_link_after_the_wait(sandbox: SandboxServer, mode: str) -> None:
    user = UrlElicitation("accept", complete=False)
    async with mcp_client(sandbox.base_url, demo_token(), mode=mode, elicitation_callback=user) as client:
        with anyio.fail_after(10):
            result = ok(await call(client, "ensure_connection", {"wait_seconds": 1}))
    assert result["state"] == "CLIENT_ACTION_REQUIRED"
    assert "shown to the user directly" in result["message"]


@pytest.mark.parametrize("mode", ["legacy", "auto"])
async def test_a_client_without_elicitation_gets_the_message_only(sandbox: SandboxServer, mode: str) -> None:
    async with mcp_client(sandbox.base_url, demo_token(), mode=mode) as client:
        result = ok(await call(client, "ensure_connection"))
    assert result["state"] == "CLIENT_ACTION_REQUIRED"
    assert "shown to the user directly" not in result["message"]


async def test_an_unanswered_elicitation_does_not_hold_the_call_past_wait_seconds(sandbox: SandboxServer) -> None:
    never = anyio.Event()

    async def user_who_never_answers(
        context: ClientRequestContext, params: ElicitRequestParams
    ) -> ElicitResult | ErrorData:
        await never.wait()
        return ElicitResult(action="cancel")

    async with mcp_client(
        sandbox.base_url, demo_token(), mode="legacy", elicitation_callback=user_who_never_answers
    ) as client:
        with anyio.fail_after(10):
            result = ok(await call(client, "ensure_connection", {"wait_seconds": 1}))
        never.set()
    assert result["state"] == "CLIENT_ACTION_REQUIRED"
    assert result["client_action"]["ui_url"] in result["message"]


def _silent_membrane(requests: list[httpx2.Request]) -> httpx2.MockTransport:
    """A Membrane that says BUILDING and then never answers a long-poll."""
    building = {
        "id": "conn_9",
        "name": "CleverTap",
        "state": "BUILDING",
        "userId": "u",
        "createdAt": "",
        "updatedAt": "",
    }

    async def handler(request: httpx2.Request) -> httpx2.Response:
        requests.append(request)
        if request.method == "POST":
            return httpx2.Response(200, json=building)
        await anyio.Event().wait()
        raise AssertionError("unreachable")

    return httpx2.MockTransport(handler)


async def test_a_long_poll_membrane_never_answers_ends_as_still_building_near_wait_seconds() -> None:
    requests: list[httpx2.Request] = []
    async with mcp_client("https://membrane.test", demo_token(), transport=_silent_membrane(requests)) as client:
        with anyio.fail_after(10):
            result = ok(await call(client, "ensure_connection", {"wait_seconds": 1}))
    assert result["state"] == "BUILDING"
    assert "call ensure_connection again" in result["message"]
    assert [r.method for r in requests] == ["POST", "GET"]


async def test_a_lost_ensure_answer_says_calling_again_is_safe() -> None:
    def handler(request: httpx2.Request) -> httpx2.Response:
        raise httpx2.ReadTimeout("slow", request=request)

    async with mcp_client("https://membrane.test", demo_token(), transport=httpx2.MockTransport(handler)) as client:
        text = error_text(await call(client, "ensure_connection"))
    assert "A connection may have been created; calling ensure_connection again is safe" in text


async def test_a_failed_ensure_of_another_app_does_not_become_the_default(sandbox_factory: Any) -> None:
    sandbox = sandbox_factory(auto_connect=True)
    async with mcp_client(sandbox.base_url, demo_token()) as client:
        ready = ok(await call(client, "ensure_connection"))
        text = error_text(
            await call(client, "ensure_connection", {"app_url": "unknown-app.example.org", "wait_seconds": 5})
        )
        ran = ok(await call(client, "run_action", {"action_id": "real-time-user-count"}))
    assert "SETUP_FAILED" in text
    assert "CleverTap connection" not in text
    assert ran["action_run_id"]
    log = await control(sandbox, "GET", "/requests")
    runs = [r for r in log["items"] if r["path"].endswith("/run")]
    assert [ready["connection_id"] in r["query"] for r in runs] == [True]
