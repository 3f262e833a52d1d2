"""The server over Streamable HTTP, served for real by uvicorn on 127.0.0.1 and driven by MCP clients over HTTP."""

from __future__ import annotations

import re
from collections.abc import AsyncGenerator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest
from mcp import MCPError

from clevertap_mcp import __version__, logs, redaction
from clevertap_mcp.budget import RESULTS_URI
from clevertap_mcp.cli import main
from clevertap_mcp.config import DEFAULT_MAX_OUTPUT_CHARS, Settings
from clevertap_mcp.http import HttpSettings, build_http_app, exposure_problem
from clevertap_mcp.membrane.auth import StaticToken
from clevertap_mcp.sandbox.server import SandboxServer
from clevertap_mcp.state import AppState, RequestCredentials, TokenCallers, request_credentials

from helpers import call, demo_token, error_text, http_client, ok, tenant_token, uvicorn_served

pytestmark = pytest.mark.anyio

MCP_HEADERS = {"content-type": "application/json", "accept": "application/json, text/event-stream"}
PING = {"jsonrpc": "2.0", "id": 1, "method": "ping"}


@pytest.fixture
def cli_main(monkeypatch: pytest.MonkeyPatch) -> Callable[[list[str]], int]:
    """The command line, minus its logging set-up, which would unhook the suite's log recorder."""
    monkeypatch.setattr(logs, "configure", _keep_the_suites_logging)
    return main


def _keep_the_suites_logging(verbosity: int) -> None:
    """Stands in for `logs.configure`: the suite's handlers stay as conftest installed them."""


@asynccontextmanager
async def http_server(
    sandbox: SandboxServer,
    http: HttpSettings | None = None,
    *,
    server_credentials: bool = True,
    max_output_chars: int = DEFAULT_MAX_OUTPUT_CHARS,
) -> AsyncGenerator[str]:
    """The HTTP app under uvicorn on a socket that listens before uvicorn starts, so no readiness wait is needed."""
    settings = Settings(
        api_url=sandbox.base_url,
        token_source=demo_token() if server_credentials else None,
        max_output_chars=max_output_chars,
    )
    app = build_http_app(settings, http or HttpSettings())
    async with uvicorn_served(app) as port:
        yield f"http://127.0.0.1:{port}"


async def test_concurrent_callers_with_their_own_tokens_never_see_each_others_connections(
    sandbox_factory: Any,
) -> None:
    sandbox: SandboxServer = sandbox_factory(auto_connect=True)
    token_a, token_b = tenant_token("tenant-a"), tenant_token("tenant-b")
    results: dict[str, Any] = {}
    async with http_server(sandbox) as url:

        async def tenant_a() -> None:
            async with http_client(url, token_a) as client:
                ensured = ok(await call(client, "ensure_connection"))
                assert ensured["state"] == "READY"
                results["a_connection"] = ensured["connection_id"]
                found = ok(await call(client, "search_actions", {"intent": "how many users are online now"}))
                ran = ok(await call(client, "run_action", {"action_id": found["actions"][0]["id"]}))
                results["a_count"] = ran["output"]["count"]

        async def tenant_b() -> None:
            async with http_client(url, token_b, mode="legacy") as client:
                # Whatever tenant A has ensured by now, B has no connection of its own to default to.
                results["b_without"] = error_text(await call(client, "search_actions", {"intent": "profiles"}))
                ensured = ok(await call(client, "ensure_connection"))
                results["b_connection"] = ensured["connection_id"]

        with anyio.fail_after(60):
            async with anyio.create_task_group() as tg:
                tg.start_soon(tenant_a)
                tg.start_soon(tenant_b)
            assert results["a_connection"] != results["b_connection"]
            assert isinstance(results["a_count"], int)
            assert "ensure_connection first" in results["b_without"]
            async with http_client(url, token_b) as client:
                # B may not use A's connection even by naming it.
                stolen = await call(
                    client,
                    "run_action",
                    {"action_id": "real-time-user-count", "connection_id": results["a_connection"]},
                )
                assert stolen.is_error
            async with http_client(url) as client:
                # The server's own tenant remembers nothing either caller ensured.
                assert "ensure_connection first" in error_text(await call(client, "search_actions", {"intent": "x"}))


async def test_a_result_kept_in_pages_is_readable_only_by_the_caller_whose_call_made_it(sandbox_factory: Any) -> None:
    sandbox: SandboxServer = sandbox_factory(auto_connect=True)
    async with http_server(sandbox, max_output_chars=2000) as url:
        with anyio.fail_after(60):
            async with http_client(url, tenant_token("owner-tenant")) as owner:
                ok(await call(owner, "ensure_connection"))
                shown = ok(await call(owner, "search_actions", {"intent": "profiles", "limit": 15}))
                uri = RESULTS_URI.format(result_id=shown["truncated"]["result_id"], page=1)
                assert (await owner.read_resource(uri)).contents
            async with http_client(url, tenant_token("other-tenant")) as other:
                with pytest.raises(MCPError, match="no longer kept"):
                    await other.read_resource(uri)
            async with http_client(url) as server_credentials:
                with pytest.raises(MCPError, match="no longer kept"):
                    await server_credentials.read_resource(uri)


async def test_a_request_without_a_token_acts_with_the_servers_credentials(sandbox_factory: Any) -> None:
    sandbox: SandboxServer = sandbox_factory(auto_connect=True)
    async with http_server(sandbox) as url, http_client(url) as client:
        with anyio.fail_after(30):
            ensured = ok(await call(client, "ensure_connection"))
            assert ensured["state"] == "READY"
            found = ok(await call(client, "search_actions", {"intent": "count profiles"}))
            assert found["actions"]


async def test_a_request_without_a_token_is_refused_when_the_server_requires_one(sandbox: SandboxServer) -> None:
    async with http_server(sandbox, HttpSettings(require_client_token=True)) as url, http_client(url) as client:
        with anyio.fail_after(30):
            names = {tool.name for tool in (await client.list_tools()).tools}
            assert names == {"ensure_connection", "search_actions", "run_action", "proxy_request"}
            refused = error_text(await call(client, "ensure_connection"))
            assert "Authorization: Bearer" in refused and "nothing was sent" in refused
    assert not [entry for entry in (await _requests(sandbox)) if entry["path"].startswith("/connections")]


async def test_a_server_without_credentials_tells_token_less_callers_to_send_their_own(
    sandbox_factory: Any,
) -> None:
    sandbox: SandboxServer = sandbox_factory(auto_connect=True)
    # With OAuth off (CLEVERTAP_MCP_OAUTH=off) the tools say it; by default the 401 does (test_http_oauth.py).
    async with http_server(sandbox, HttpSettings(oauth="off"), server_credentials=False) as url:
        with anyio.fail_after(30):
            async with http_client(url) as client:
                assert "Authorization: Bearer" in error_text(await call(client, "ensure_connection"))
            async with http_client(url, tenant_token("tenant-c")) as client:
                assert ok(await call(client, "ensure_connection"))["state"] == "READY"
    async with http_server(sandbox, server_credentials=False) as url, httpx2.AsyncClient() as http:
        refused = await http.post(f"{url}/mcp", json=PING, headers=MCP_HEADERS)
    assert refused.status_code == 401
    assert "resource_metadata=" in refused.headers["www-authenticate"]


async def test_a_malformed_authorization_header_gets_an_actionable_error(sandbox: SandboxServer) -> None:
    async with http_server(sandbox) as url, http_client(url, authorization="Basic dXNlcjpwdw==") as client:
        with anyio.fail_after(30):
            refused = error_text(await call(client, "ensure_connection"))
    assert "Bearer <Membrane token>" in refused


@pytest.mark.parametrize("mode", ["legacy", "auto"])
async def test_progress_and_the_connect_link_reach_the_caller_over_http(sandbox_factory: Any, mode: str) -> None:
    sandbox: SandboxServer = sandbox_factory(building_polls=1)
    messages: list[str | None] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        messages.append(message)

    async with http_server(sandbox) as url, http_client(url, tenant_token(f"tenant-{mode}"), mode=mode) as client:
        with anyio.fail_after(30):
            result = ok(await call(client, "ensure_connection", progress_callback=on_progress))
    assert result["state"] == "CLIENT_ACTION_REQUIRED"
    assert result["client_action"]["ui_url"] in result["message"]
    assert messages and all(m is not None and "BUILDING" in m for m in messages)


async def test_plain_json_answers_serve_the_same_tools(sandbox_factory: Any) -> None:
    sandbox: SandboxServer = sandbox_factory(auto_connect=True)
    async with http_server(sandbox, HttpSettings(json_response=True)) as url:
        async with http_client(url, tenant_token("tenant-json"), mode="legacy") as client:
            with anyio.fail_after(30):
                ok(await call(client, "ensure_connection"))
                proxied = ok(await call(client, "proxy_request", {"path": "/1/now.json", "method": "POST", "body": {}}))
                assert proxied["status"] == 200
        async with httpx2.AsyncClient() as http:
            answer = await http.post(f"{url}/mcp", json=PING, headers={"accept": "application/json, text/event-stream"})
    assert answer.headers["content-type"].startswith("application/json")
    assert answer.json()["result"] == {}


async def test_health_answers_without_a_token_and_whatever_host_a_load_balancer_uses(sandbox: SandboxServer) -> None:
    async with http_server(sandbox, HttpSettings(require_client_token=True)) as url, httpx2.AsyncClient() as http:
        health = await http.get(f"{url}/healthz", headers={"Host": "10.1.2.3:8000"})
        wrong_method = await http.post(f"{url}/healthz")
    assert health.status_code == 200
    assert health.json() == {"status": "ok", "version": __version__, "mcp_path": "/mcp"}
    assert wrong_method.status_code == 405


async def test_requests_naming_a_foreign_host_or_origin_are_refused(sandbox: SandboxServer) -> None:
    """DNS rebinding: a page on evil.example resolving to this server must not reach the tools."""
    http_settings = HttpSettings(allowed_hosts=("mcp.team.example",), allowed_origins=("https://agents.example",))
    async with http_server(sandbox, http_settings) as url, httpx2.AsyncClient() as http:

        async def ping(**headers: str) -> int:
            return (await http.post(f"{url}/mcp", json=PING, headers=MCP_HEADERS | headers)).status_code

        assert await ping(Host="evil.example") == 421
        assert await ping(Host="evil.example:8000") == 421
        assert await ping(Origin="http://evil.example") == 403
        assert await ping() == 200
        assert await ping(Host="mcp.team.example") == 200
        assert await ping(Host="mcp.team.example:8443", Origin="https://agents.example") == 200


def test_serving_beyond_loopback_while_lending_the_servers_credentials_is_refused(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, cli_main: Callable[[list[str]], int]
) -> None:
    monkeypatch.setenv("MEMBRANE_TOKEN", "a-membrane-token-for-this-test")
    StaticToken("a-membrane-token-for-this-test", origin="test")  # registered for the final secret scan
    status = cli_main(["--transport", "http", "--host", "0.0.0.0", "--port", "1"])  # noqa: S104
    assert status == 2
    assert "--require-client-token" in capsys.readouterr().err
    settings = Settings(api_url="https://api.getmembrane.com", token_source=demo_token())
    assert exposure_problem(settings, HttpSettings(host="0.0.0.0", require_client_token=True)) is None  # noqa: S104
    assert exposure_problem(settings, HttpSettings(host="10.0.0.5", allow_shared_credentials=True)) is None
    assert exposure_problem(settings, HttpSettings(host="::1")) is None
    assert exposure_problem(settings, HttpSettings(host="10.0.0.5")) is not None


def test_a_short_request_state_key_is_refused_with_how_to_make_one(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, cli_main: Callable[[list[str]], int]
) -> None:
    monkeypatch.setenv("CLEVERTAP_MCP_STATE_KEY", "short")
    assert cli_main(["--transport", "http", "--sandbox"]) == 2
    assert "secrets.token_urlsafe" in capsys.readouterr().err


def test_several_workers_with_an_embedded_sandbox_each_are_refused(
    capsys: pytest.CaptureFixture[str], cli_main: Callable[[list[str]], int]
) -> None:
    assert cli_main(["--transport", "http", "--sandbox", "--workers", "2"]) == 2
    assert "MEMBRANE_API_URL" in capsys.readouterr().err


def test_every_clevertap_mcp_variable_the_docs_name_is_one_the_server_reads() -> None:
    """A variable documented under a name the code does not read is silently ignored: a deployment that sets
    CLEVERTAP_MCP_REQUIRE_CLIENT_TOKEN's misspelling would lend the server's credentials to every caller."""
    root = Path(__file__).resolve().parent.parent
    # The server's own variables, and the test suite's (docs/development.md names those).
    sources = [*(root / "server" / "clevertap_mcp").rglob("*.py"), *(root / "tests").rglob("*.py")]
    source = "\n".join(path.read_text() for path in sources)
    read = set(re.findall(r"[\"'](CLEVERTAP_MCP_[A-Z0-9_]*[A-Z0-9])[\"']", source))
    docs = "\n".join(path.read_text() for path in [root / "README.md", *sorted((root / "docs").glob("*.md"))])
    documented = re.findall(r"(CLEVERTAP_MCP_[A-Z0-9_]*[A-Z0-9])(_\*)?", docs)
    assert documented
    for name, wildcard in documented:
        if wildcard:
            assert any(variable.startswith(f"{name}_") for variable in read), f"the docs name {name}_*: none is read"
        else:
            assert name in read, f"the docs name {name}, which the server never reads"


async def test_the_least_recently_used_callers_are_forgotten_beyond_the_bound() -> None:
    callers = TokenCallers("http://127.0.0.1:9", max_size=2)
    try:
        first = callers.get("token-number-one")
        first.last_connection_id = "conn_1"
        callers.get("token-number-two")
        assert callers.get("token-number-one") is first  # used again: now the most recent
        callers.get("token-number-three")
        assert len(callers) == 2
        assert callers.get("token-number-one") is first
        assert callers.get("token-number-two").last_connection_id is None
    finally:
        await callers.aclose()


async def test_a_callers_token_is_masked_only_inside_its_own_requests_so_many_callers_do_not_grow_the_list() -> None:
    callers = TokenCallers("http://127.0.0.1:9", max_size=1)
    try:
        for n in range(5):
            with redaction.scope(f"caller-token-number-{n}"):
                callers.get(f"caller-token-number-{n}")
                assert redaction.redact(f"x caller-token-number-{n} y") == "x *** y"
            assert f"caller-token-number-{n}" not in redaction.registered_values()
    finally:
        await callers.aclose()


def test_a_value_registered_twice_stays_redacted_until_both_holders_let_go() -> None:
    redaction.register("shared-value-abc")
    redaction.register("shared-value-abc")
    redaction.unregister("shared-value-abc")
    assert redaction.redact("x shared-value-abc y") == "x *** y"
    redaction.unregister("shared-value-abc")
    assert redaction.redact("x shared-value-abc y") == "x shared-value-abc y"


async def test_callers_with_different_tokens_keep_their_own_action_keys() -> None:
    state = AppState(
        client=None, credentials_problem=None, app_url="clevertap.com", token_callers=TokenCallers("http://127.0.0.1:9")
    )
    try:
        with request_credentials(RequestCredentials(token="first-caller-token")):
            state.remember_action_keys({"act_1": "delete-user-profile"})
            assert state.action_key("act_1") == "delete-user-profile"
        with request_credentials(RequestCredentials(token="second-caller-token")):
            assert state.action_key("act_1") == "act_1"
    finally:
        assert state.token_callers is not None
        await state.token_callers.aclose()


async def _requests(sandbox: SandboxServer) -> list[dict[str, Any]]:
    async with httpx2.AsyncClient(base_url=sandbox.base_url) as http:
        return (await http.get("/_sandbox/requests", params={"side": "membrane"})).json()["items"]
