"""§11 R2-R9 through the real server: each unconfirmed reading of Membrane is a sandbox setting, and the tools work
under every value (docs/real-membrane.md)."""

from __future__ import annotations

import io
from typing import Any, cast

import anyio
import httpx2
import pytest
from mcp.server.mcpserver import Context

from clevertap_mcp.cli.doctor import run_doctor
from clevertap_mcp.connect_flow import ConnectFlow
from clevertap_mcp.membrane.auth import MintedToken, StaticToken
from clevertap_mcp.membrane.client import MembraneClient
from clevertap_mcp.sandbox.server import SandboxServer
from clevertap_mcp.sandbox.settings import SandboxSettings

from helpers import FAKE_API_URL, FakeMembrane, call, control, demo_token, error_text, mcp_client, ok
from leakcheck import WRITTEN

pytestmark = pytest.mark.anyio

OTHER_APPS = ("hubspot.com", "slack.com", "zendesk.com", "notion.so")


async def membrane_log(sandbox: SandboxServer) -> list[dict[str, Any]]:
    log = await control(sandbox, "GET", "/requests", None)
    return [e for e in log["items"] if e["side"] == "membrane"]


async def _many_connections(sandbox: SandboxServer, count: int) -> None:
    """`count` connections of several other apps, a few of them READY, made through the emulated API."""
    headers = {"Authorization": f"Bearer {demo_token().token()}"}
    async with httpx2.AsyncClient(base_url=sandbox.base_url, headers=headers) as http:
        for i in range(count):
            app = OTHER_APPS[i % len(OTHER_APPS)]
            made = (await http.post("/connections/ensure", json={"appUrl": f"team{i}.{app}"})).json()
            if i % 10 == 0:
                await control(sandbox, "POST", f"/connections/{made['id']}/state", {"state": "READY"})


# --- R2: the default connection -------------------------------------------------------------------------------------


@pytest.mark.parametrize("integration", [False, True], ids=["no-integration", "clevertap-integration"])
@pytest.mark.parametrize("tool", ["search_actions", "run_action", "proxy_request"])
async def test_a_fresh_server_finds_the_ready_clevertap_connection_among_many_of_other_apps(
    sandbox_factory: Any, integration: bool, tool: str
) -> None:
    sandbox: SandboxServer = sandbox_factory(auto_connect=True, ensure_sets_integration=integration)
    await _many_connections(sandbox, 125)
    async with mcp_client(sandbox.base_url, demo_token()) as first:
        conn_id = ok(await call(first, "ensure_connection"))["connection_id"]
    calls: dict[str, dict[str, Any]] = {
        "search_actions": {"intent": "count events"},
        "run_action": {"action_id": "real-time-user-count"},
        "proxy_request": {"path": "/1/now.json", "method": "POST", "body": {}},
    }
    arguments = calls[tool]
    async with mcp_client(sandbox.base_url, demo_token()) as fresh:  # nothing remembered
        ok(await call(fresh, tool, arguments))
    used = [e for e in await membrane_log(sandbox) if conn_id in e["path"] + e["query"]]
    assert used, "the tool call went through the CleverTap connection"
    assert int(conn_id.split("_")[1]) > 100  # it was on the second page of connections


async def test_with_no_clevertap_connection_the_agent_is_told_to_call_ensure_connection(sandbox_factory: Any) -> None:
    sandbox: SandboxServer = sandbox_factory()
    await _many_connections(sandbox, 3)
    made = len(await membrane_log(sandbox))
    async with mcp_client(sandbox.base_url, demo_token()) as client:
        text = error_text(await call(client, "search_actions", {"intent": "count events"}))
    assert "Call ensure_connection" in text
    assert [e["path"] for e in (await membrane_log(sandbox))[made:]] == ["/connections", "/connections"]


async def test_a_clevertap_connection_that_is_not_ready_is_named_with_what_to_do(sandbox_factory: Any) -> None:
    sandbox: SandboxServer = sandbox_factory()
    async with mcp_client(sandbox.base_url, demo_token()) as first:
        conn_id = ok(await call(first, "ensure_connection"))["connection_id"]
    async with mcp_client(sandbox.base_url, demo_token()) as fresh:
        text = error_text(await call(fresh, "search_actions", {"intent": "count events"}))
    assert f"{conn_id} (CLIENT_ACTION_REQUIRED)" in text and f'connection_id="{conn_id}"' in text


# --- R3: links --------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("shape", ["ui_url", "agent_instructions", "bare"])
async def test_the_connect_message_always_carries_a_real_link_and_leads_with_membranes_instructions(
    sandbox_factory: Any, shape: str
) -> None:
    sandbox: SandboxServer = sandbox_factory(client_action_link=shape)
    async with mcp_client(sandbox.base_url, demo_token()) as client:
        result = ok(await call(client, "ensure_connection"))
    message = result["message"]
    link = f"{sandbox.base_url}/ui/connect/{result['connection_id']}"
    assert link in message and "None" not in message
    assert result["client_action"]["ui_url"] == link
    if shape == "agent_instructions":
        assert message.startswith("Membrane's instructions (follow them):")
    requested = [e for e in await membrane_log(sandbox) if e["path"] == "/connection-requests"]
    assert len(requested) == (0 if shape == "ui_url" else 1)


async def test_a_connection_that_must_be_reconnected_gets_a_reconnect_link(sandbox_factory: Any) -> None:
    sandbox: SandboxServer = sandbox_factory(auto_connect=True)
    async with mcp_client(sandbox.base_url, demo_token()) as client:
        conn_id = ok(await call(client, "ensure_connection"))["connection_id"]
        await control(sandbox, "POST", f"/connections/{conn_id}/state", {"state": "READY", "isDefunct": True})
        defunct = ok(await call(client, "ensure_connection", {"connection_id": conn_id}))
        reconnect = {"type": "connect", "description": "Reconnect CleverTap"}
        await control(
            sandbox,
            "POST",
            f"/connections/{conn_id}/state",
            {"state": "CLIENT_ACTION_REQUIRED", "clientAction": reconnect},
        )
        again = ok(await call(client, "ensure_connection", {"connection_id": conn_id}))
    link = f"{sandbox.base_url}/ui/connect/{conn_id}"
    assert "no longer works" in defunct["message"] and link in defunct["message"]
    assert link in again["message"] and "None" not in again["message"]


# --- R4: tokens without a tenant ----------------------------------------------------------------------------------


@pytest.mark.parametrize("reading", ["refuse", "default_tenant"])
async def test_a_token_without_a_tenant_works_or_says_to_set_the_tenant_key(
    sandbox_factory: Any, reading: str, caplog: pytest.LogCaptureFixture
) -> None:
    sandbox: SandboxServer = sandbox_factory(auto_connect=True, no_tenant_claim=reading)
    s = SandboxSettings()
    workspace_only = MintedToken(s.workspace_key, s.workspace_secret, None)
    async with mcp_client(sandbox.base_url, workspace_only) as client:
        result = await call(client, "ensure_connection")
    assert "MEMBRANE_TENANT_KEY is not set" in caplog.text  # warned at start-up, not refused (§11 R4)
    if reading == "default_tenant":
        assert ok(result)["state"] == "READY"
    else:
        text = error_text(result)
        assert "MEMBRANE_TENANT_KEY" in text and "403" in text


# --- R5: running by key ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("keys_in_path", [True, False])
@pytest.mark.parametrize("searched", [False, True])
async def test_an_action_runs_by_key_whether_or_not_the_run_path_takes_keys(
    sandbox_factory: Any, keys_in_path: bool, searched: bool
) -> None:
    sandbox: SandboxServer = sandbox_factory(auto_connect=True, run_path_accepts_keys=keys_in_path)
    async with mcp_client(sandbox.base_url, demo_token()) as client:
        ok(await call(client, "ensure_connection"))
        if searched:
            ok(await call(client, "search_actions", {"intent": "users active right now"}))
        result = ok(await call(client, "run_action", {"action_id": "real-time-user-count"}))
    assert isinstance(result["output"]["count"], int) and result["action_run_id"]
    runs = [e["path"] for e in await membrane_log(sandbox) if e["path"].endswith("/run") or e["path"] == "/act"]
    if searched:
        assert runs == ["/actions/act_01/run"]  # the id the search showed
    else:
        assert runs == (["/actions/real-time-user-count/run"] if keys_in_path else [
            "/actions/real-time-user-count/run", "/act"
        ])  # fmt: skip


async def test_a_failed_run_by_key_still_names_its_run_id(sandbox_factory: Any) -> None:
    sandbox: SandboxServer = sandbox_factory(auto_connect=True, run_path_accepts_keys=False)
    async with mcp_client(sandbox.base_url, demo_token()) as client:
        ok(await call(client, "ensure_connection"))
        text = error_text(await call(client, "run_action", {"action_id": "get-campaign-report", "input": {"id": 1}}))
    assert "actionRunId run_" in text


# --- R6: connection keys -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("keys_in_path", [True, False])
async def test_a_connection_key_is_resolved_once_to_its_id(sandbox_factory: Any, keys_in_path: bool) -> None:
    sandbox: SandboxServer = sandbox_factory(path_selector_accepts_keys=keys_in_path)
    made = await control(sandbox, "POST", "/connections", {"key": "ct-main"})
    async with mcp_client(sandbox.base_url, demo_token()) as client:
        for _ in range(2):
            ok(
                await call(
                    client,
                    "proxy_request",
                    {"path": "/1/now.json", "method": "POST", "body": {}, "connection_id": "ct-main"},
                )
            )
            ok(await call(client, "search_actions", {"intent": "count events", "connection_id": "ct-main"}))
    log = await membrane_log(sandbox)
    listings = [e for e in log if e["path"] == "/connections"]
    assert len(listings) == (0 if keys_in_path else 1)
    if not keys_in_path:
        proxied = [e["path"] for e in log if "/proxy/" in e["path"]]
        assert proxied[-1].startswith(f"/connections/{made['id']}/proxy/")


# --- R7: untyped errors --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("typed", [True, False])
async def test_membranes_own_error_on_a_proxied_call_is_told_from_clevertaps(sandbox_factory: Any, typed: bool) -> None:
    sandbox: SandboxServer = sandbox_factory(error_types=typed)
    async with mcp_client(sandbox.base_url, demo_token()) as client:
        conn_id = ok(await call(client, "ensure_connection"))["connection_id"]  # waits for the user: not READY
        result = await call(
            client, "proxy_request", {"path": "/1/now.json", "method": "POST", "body": {}, "connection_id": conn_id}
        )
    text = error_text(result)
    assert "not READY" in text


async def test_an_untyped_401_on_a_proxied_call_gets_one_fresh_token(sandbox_factory: Any) -> None:
    sandbox: SandboxServer = sandbox_factory(auto_connect=True, error_types=False)
    async with mcp_client(sandbox.base_url, demo_token()) as client:
        ok(await call(client, "ensure_connection"))
        untyped = {"key": "not_authenticated", "message": "Token expired"}
        await control(
            sandbox,
            "POST",
            "/faults",
            {
                "side": "membrane",
                "pathPrefix": "/connections/",
                "method": "POST",
                "kind": "status",
                "status": 401,
                "body": untyped,
            },
        )
        result = ok(await call(client, "proxy_request", {"path": "/1/now.json", "method": "POST", "body": {}}))
    assert result["status"] == 200
    assert len([e for e in await membrane_log(sandbox) if "/proxy/" in e["path"]]) == 2


# --- R9: parity and tolerance ----------------------------------------------------------------------------------------


async def test_connections_are_read_with_include_secrets_false_as_the_sdk_sends() -> None:
    membrane = FakeMembrane()
    async with mcp_client(FAKE_API_URL, StaticToken("t", origin="test"), transport=membrane) as client:
        ok(await call(client, "ensure_connection", {"connection_id": "conn_1"}))
    (get,) = [r for r in membrane.requests if r.url.path == "/connections/conn_1"]
    assert get.url.params.get("includeSecrets") == "false"


@pytest.mark.parametrize("nulls", [False, True])
@pytest.mark.parametrize("malformed", [False, True])
async def test_nulls_and_a_malformed_search_item_never_fail_a_whole_answer(
    sandbox_factory: Any, nulls: bool, malformed: bool
) -> None:
    sandbox: SandboxServer = sandbox_factory(null_optional_fields=nulls, malformed_search_item=malformed)
    async with mcp_client(sandbox.base_url, demo_token()) as client:
        pending = ok(await call(client, "ensure_connection"))
        await control(sandbox, "POST", f"/connections/{pending['connection_id']}/state", {"state": "READY"})
        ready = ok(await call(client, "ensure_connection", {"connection_id": pending["connection_id"]}))
        found = ok(await call(client, "search_actions", {"intent": "count events", "limit": 5}))
    assert pending["state"] == "CLIENT_ACTION_REQUIRED" and ready["state"] == "READY"
    assert len(found["actions"]) == (4 if malformed else 5)
    assert found.get("skipped") == (1 if malformed else None)


# --- R8: polite waiting -------------------------------------------------------------------------------------------


class _Progress:
    async def report_progress(self, progress: float, total: float | None = None, message: str | None = None) -> None:
        pass


@pytest.mark.parametrize("holds", [False, True])
async def test_waiting_300_seconds_for_the_user_makes_at_most_40_requests(sandbox_factory: Any, holds: bool) -> None:
    sandbox: SandboxServer = sandbox_factory(long_poll_holds_for_user=holds)
    now = [0.0]
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    async with MembraneClient(sandbox.base_url, demo_token()) as membrane:
        pending = await membrane.ensure_connection("clevertap.com")
        ctx = cast(Context[Any, Any], _Progress())
        flow = ConnectFlow(membrane, ctx, 300, clock=lambda: now[0], sleep=sleep)
        with anyio.fail_after(10):
            final = await flow.wait_for_user(pending)
    assert final.state == "CLIENT_ACTION_REQUIRED" and now[0] == pytest.approx(300)
    polls = [e for e in await membrane_log(sandbox) if e["path"] == f"/connections/{pending.id}"]
    assert len(polls) <= 40
    assert slept[:5] == [1.0, 2.0, 4.0, 8.0, 10.0]


# --- provide-input -------------------------------------------------------------------------------------------------


async def test_a_connector_that_asks_for_the_region_is_answered_and_then_gives_its_connect_link(
    sandbox_factory: Any,
) -> None:
    sandbox: SandboxServer = sandbox_factory(connect_asks_region=True)
    async with mcp_client(sandbox.base_url, demo_token()) as client:
        asked = ok(await call(client, "ensure_connection"))
        conn_id = asked["connection_id"]
        wrong = error_text(
            await call(
                client,
                "ensure_connection",
                {"connection_id": conn_id, "provide_input": [{"field": "region", "value": "mars"}]},
            )
        )
        answered = ok(
            await call(
                client,
                "ensure_connection",
                {"connection_id": conn_id, "provide_input": [{"field": "region", "value": "us1"}]},
            )
        )
        alone = error_text(
            await call(client, "ensure_connection", {"provide_input": [{"field": "region", "value": "us1"}]})
        )
    assert asked["client_action"]["type"] == "provide-input" and "region" in asked["message"]
    assert f'connection_id="{conn_id}" and provide_input=' in asked["message"]
    assert "'region' must be one of" in wrong
    assert answered["client_action"]["type"] == "connect"
    assert answered["client_action"]["ui_url"] in answered["message"]
    assert "pass its connection_id too" in alone
    async with httpx2.AsyncClient() as http:
        page = (await http.get(answered["client_action"]["ui_url"])).text
    assert '<option value="us1" selected>' in page
    patches = [e for e in await membrane_log(sandbox) if e["method"] == "PATCH"]
    assert [e["path"] for e in patches] == [f"/connections/{conn_id}"] * 2


# --- doctor -----------------------------------------------------------------------------------------------------------


async def _doctor(sandbox: SandboxServer, *, tenant: bool = True) -> tuple[int, str]:
    s = SandboxSettings()
    env = {
        "MEMBRANE_API_URL": sandbox.base_url,
        "MEMBRANE_WORKSPACE_KEY": s.workspace_key,
        "MEMBRANE_WORKSPACE_SECRET": s.workspace_secret,
    }
    if tenant:
        env["MEMBRANE_TENANT_KEY"] = s.tenant_key
    out = io.StringIO()
    code = await run_doctor(env, out)
    WRITTEN.append(out.getvalue())
    return code, out.getvalue()


@pytest.mark.parametrize("integration", [False, True])
async def test_doctor_finds_the_clevertap_connection_among_many_and_creates_nothing(
    sandbox_factory: Any, integration: bool
) -> None:
    sandbox: SandboxServer = sandbox_factory(auto_connect=True, ensure_sets_integration=integration)
    await _many_connections(sandbox, 120)
    await control(sandbox, "POST", "/connections", {})
    made = len(await membrane_log(sandbox))
    code, text = await _doctor(sandbox)
    assert code == 0, text
    assert "✓ CleverTap connection" in text
    assert all(e["method"] == "GET" for e in (await membrane_log(sandbox))[made:])


async def test_doctor_without_a_tenant_key_says_to_set_it(sandbox_factory: Any) -> None:
    sandbox: SandboxServer = sandbox_factory()
    code, text = await _doctor(sandbox, tenant=False)
    assert code == 1 and "workspace-level, no tenant key" in text and "set MEMBRANE_TENANT_KEY too" in text
