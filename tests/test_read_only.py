"""Read-only mode: only reads run, everything else is refused before anything is sent, and the tool list says so."""

from __future__ import annotations

from typing import Any

import pytest

from clevertap_mcp import cli, logs, policy
from clevertap_mcp.config import Settings, SettingsError, with_safety
from clevertap_mcp.sandbox.connector import ACTIONS
from clevertap_mcp.sandbox.server import SandboxServer

from helpers import call, control, demo_token, error_text, mcp_client, ok

pytestmark = pytest.mark.anyio

WRITE_KEYS = [spec.key for spec in ACTIONS if not spec.read_only]

# (method, path, reads?) as clevertap-api.md describes each endpoint.
PROXY_TABLE = [
    ("GET", "/1/profile.json?identity=u-1", True),
    ("GET", "/1/events.json?cursor=abc%3D%3D", True),
    ("GET", "/1/counts/events.json?req_id=12", True),
    ("HEAD", "/1/now.json", True),
    ("POST", "/1/events.json", True),
    ("POST", "/1/profiles.json?batch_size=50", True),
    ("POST", "/1/counts/events.json", True),
    ("POST", "/1/counts/profiles.json", True),
    ("POST", "/1/counts/trends.json", True),
    ("POST", "/1/counts/top.json", True),
    ("POST", "/1/now.json", True),
    ("POST", "/1/targets/list.json", True),
    ("POST", "/1/targets/result.json", True),
    ("POST", "/1/message/report.json", True),
    ("POST", "/1/upload", False),
    ("POST", "/1/upload?dryRun=1", False),
    ("POST", "/1/delete/profiles.json", False),
    ("POST", "/1/demerge/profiles.json", False),
    ("POST", "/1/targets/create.json", False),
    ("POST", "/1/targets/stop.json", False),
    ("POST", "/1/send/push.json", False),
    ("POST", "/1/some/new/endpoint.json", False),
    ("PUT", "/1/now.json", False),
    ("PATCH", "/1/profiles.json", False),
    ("DELETE", "/1/profile.json", False),
    # Odd forms of write paths stay writes: another case, a query, a GET or HEAD to a known write path.
    ("POST", "/1/Delete/Profiles.json", False),
    ("POST", "/1/SEND/PUSH.JSON?x=1", False),
    ("GET", "/1/delete/profiles.json?identity=u-1", False),
    ("HEAD", "/1/targets/stop.json", False),
    ("GET", "/1/UPLOAD", False),
    # A read path in another case is not taken as a read: only the exact documented form is.
    ("POST", "/1/EVENTS.json", False),
]


@pytest.fixture
def ready_sandbox(sandbox_factory: Any) -> SandboxServer:
    sandbox: SandboxServer = sandbox_factory(auto_connect=True)
    return sandbox


async def sent_paths(sandbox: SandboxServer) -> list[str]:
    log = await control(sandbox, "GET", "/requests")
    return [str(entry["path"]) for entry in log["items"]]


@pytest.mark.parametrize("spec", ACTIONS, ids=lambda spec: spec.key)
def test_every_sandbox_action_is_classified_as_its_connector_says(spec: Any) -> None:
    assert policy.action_is_read(spec.key) is spec.read_only


@pytest.mark.parametrize("key", ["export-everything", "get-user-profiles ", "GET-EVENTS", "act_07", ""])
def test_an_action_this_server_does_not_know_counts_as_a_write(key: str) -> None:
    assert not policy.action_is_read(key)


@pytest.mark.parametrize(("method", "path", "reads"), PROXY_TABLE)
def test_proxy_calls_are_classified_by_method_and_path(method: str, path: str, reads: bool) -> None:
    assert policy.proxy_is_read(method, path) is reads


async def test_read_only_mode_runs_read_actions(ready_sandbox: SandboxServer) -> None:
    async with mcp_client(ready_sandbox.base_url, demo_token(), read_only=True) as client:
        ok(await call(client, "ensure_connection"))
        result = ok(await call(client, "run_action", {"action_id": "real-time-user-count"}))
    assert isinstance(result["output"]["count"], int)


@pytest.mark.parametrize("key", [*WRITE_KEYS, "an-unknown-action"])
async def test_read_only_mode_refuses_every_write_action_before_anything_is_sent(
    ready_sandbox: SandboxServer, key: str
) -> None:
    async with mcp_client(ready_sandbox.base_url, demo_token(), read_only=True) as client:
        ok(await call(client, "ensure_connection"))
        text = error_text(await call(client, "run_action", {"action_id": key, "input": {"id": 1}}))
    assert "read-only mode" in text and "--read-only" in text and "CLEVERTAP_MCP_READ_ONLY" in text
    assert key in text and "nothing was sent" in text
    assert not [p for p in await sent_paths(ready_sandbox) if p.endswith("/run")]


async def test_read_only_mode_classifies_an_action_id_by_the_key_search_showed(ready_sandbox: SandboxServer) -> None:
    async with mcp_client(ready_sandbox.base_url, demo_token(), read_only=True) as client:
        ok(await call(client, "ensure_connection"))
        found = ok(await call(client, "search_actions", {"intent": "delete user profiles", "limit": 50}))
        ids = {a["key"]: a["id"] for a in found["actions"]}
        read = ok(await call(client, "run_action", {"action_id": ids["real-time-user-count"]}))
        refused = error_text(await call(client, "run_action", {"action_id": ids["delete-user-profile"]}))
    assert isinstance(read["output"]["count"], int)
    assert f"{ids['delete-user-profile']} (delete-user-profile)" in refused


async def test_read_only_mode_lets_reads_through_the_proxy_and_refuses_writes_unsent(
    ready_sandbox: SandboxServer,
) -> None:
    upload: dict[str, Any] = {"d": [{"type": "event", "identity": "u-1", "evtName": "Searched", "evtData": {}}]}
    async with mcp_client(ready_sandbox.base_url, demo_token(), read_only=True) as client:
        ok(await call(client, "ensure_connection"))
        now = ok(await call(client, "proxy_request", {"path": "/1/now.json", "method": "POST", "body": {}}))
        refused = error_text(
            await call(client, "proxy_request", {"path": "/1/upload", "method": "POST", "body": upload})
        )
    assert now["status"] == 200 and now["body"]["status"] == "success"
    assert "POST /1/upload may change data" in refused and "read-only mode" in refused
    proxied = [p for p in await sent_paths(ready_sandbox) if "/proxy/" in p]
    assert len(proxied) == 1 and proxied[0].endswith("/1/now.json")


@pytest.mark.parametrize(
    "request_",
    [
        {"path": "/1/Delete/profiles.json", "method": "POST", "body": {"identity": "u-1"}},
        {"path": "/1/{a}/{b}", "method": "POST", "path_params": {"a": "targets", "b": "stop.json"}, "body": {"id": 1}},
        {"path": "/1/send/push.json", "method": "PUT", "body": {"to": {"Identity": ["u-1"]}}},
        {"path": "/1/delete/profiles.json?identity=u-1", "method": "GET"},
        {"path": "/1/now.json", "method": "POST", "headers": {"X-HTTP-Method-Override": "DELETE"}, "body": {}},
    ],
    ids=["mis-cased path", "path_params", "another method", "GET to a write path", "method override header"],
)
async def test_read_only_mode_cannot_be_slipped_past_through_the_proxy(
    ready_sandbox: SandboxServer, request_: dict[str, Any]
) -> None:
    async with mcp_client(ready_sandbox.base_url, demo_token(), read_only=True) as client:
        ok(await call(client, "ensure_connection"))
        text = error_text(await call(client, "proxy_request", request_))
    assert "Refused" in text
    assert not [p for p in await sent_paths(ready_sandbox) if "/proxy/" in p]


async def test_read_only_mode_refuses_a_mis_cased_action_key(ready_sandbox: SandboxServer) -> None:
    async with mcp_client(ready_sandbox.base_url, demo_token(), read_only=True) as client:
        ok(await call(client, "ensure_connection"))
        text = error_text(await call(client, "run_action", {"action_id": "Delete-User-Profile", "input": {}}))
    assert "Delete-User-Profile is not a known read" in text
    assert not [p for p in await sent_paths(ready_sandbox) if p.endswith("/run")]


async def test_read_only_mode_is_advertised_in_the_tool_list() -> None:
    async with mcp_client("http://127.0.0.1:9", None, credentials_problem="none", read_only=True) as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
    for name in ("run_action", "proxy_request"):
        annotations = tools[name].annotations
        assert annotations is not None
        assert annotations.read_only_hint is True and annotations.destructive_hint is False
        assert "Read-only mode" in (tools[name].description or "")


async def test_without_read_only_mode_the_write_tools_say_they_may_destroy() -> None:
    async with mcp_client("http://127.0.0.1:9", None, credentials_problem="none") as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
    annotations = tools["run_action"].annotations
    assert annotations is not None and annotations.read_only_hint is False and annotations.destructive_hint is True
    assert "Read-only mode" not in (tools["run_action"].description or "")


BASE = Settings(api_url="http://127.0.0.1:9", token_source=None)


@pytest.mark.parametrize(("value", "expected"), [("1", True), ("true", True), ("YES", True), ("0", False), ("", False)])
def test_the_environment_turns_read_only_mode_on(value: str, expected: bool) -> None:
    assert with_safety(BASE, {"CLEVERTAP_MCP_READ_ONLY": value}).read_only is expected


def test_the_read_only_flag_wins_over_the_environment() -> None:
    assert with_safety(BASE, {"CLEVERTAP_MCP_READ_ONLY": "0"}, read_only=True).read_only is True


def test_an_unreadable_read_only_value_is_an_error_not_a_silent_default() -> None:
    with pytest.raises(SettingsError, match="CLEVERTAP_MCP_READ_ONLY must be 1 or 0"):
        with_safety(BASE, {"CLEVERTAP_MCP_READ_ONLY": "maybe"})


def test_the_command_line_refuses_to_start_with_an_unreadable_safety_setting(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CLEVERTAP_MCP_READ_ONLY", "perhaps")
    # Its logging set-up would unhook the suite's log recorder (conftest.py), and is not under test here.
    monkeypatch.setattr(logs, "configure", _keep_the_suites_logging)
    assert cli.main(["--sandbox"]) == 2
    assert "CLEVERTAP_MCP_READ_ONLY must be 1 or 0" in capsys.readouterr().err


def _keep_the_suites_logging(verbosity: int) -> None:
    """Stands in for `logs.configure`, whose handlers would replace the suite's log recorder."""
