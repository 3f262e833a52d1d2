"""Connections: ensure, the state machine, the connection object, listing and tenant isolation (§3.1, §3.2, §4)."""

from __future__ import annotations

from typing import Any

import httpx2
import pytest
from membrane_sandbox_support import PINNED_CLOCK, ROOT, InProcessSandbox, open_sandbox, sdk_token

from clevertap_mcp.sandbox.membrane.apps import normalize_app_url
from clevertap_mcp.sandbox.membrane.errors import MembraneError
from clevertap_mcp.sandbox.settings import DEMO_CLEVERTAP_PASSCODE, SandboxSettings


async def _ensure(client: httpx2.AsyncClient, app_url: Any, **extra: Any) -> httpx2.Response:
    return await client.post("/connections/ensure", json={"appUrl": app_url, **extra})


@pytest.mark.anyio
async def test_ensuring_clevertap_answers_a_connect_client_action_with_the_sandbox_connect_page() -> None:
    async with open_sandbox(SandboxSettings(clock=PINNED_CLOCK, ensure_sets_integration=True)) as sandbox:
        response = await _ensure(sandbox.client, "clevertap.com")
    assert response.status_code == 200
    assert response.json() == {
        "id": "conn_0001",
        "name": "CleverTap",
        "userId": "tenant_0001",
        "tenantId": "tenant_0001",
        "createdAt": "2026-01-05T10:00:00.000Z",
        "updatedAt": "2026-01-05T10:00:00.000Z",
        "state": "CLIENT_ACTION_REQUIRED",
        "connected": False,
        "disconnected": True,
        "isDefunct": False,
        "isTest": False,
        "errors": [],
        "integrationId": "intg_clevertap",
        "connectorId": "cntr_clevertap",
        "externalAppId": "app_clevertap",
        "clientAction": {
            "type": "connect",
            "description": "Connect your CleverTap account to continue.",
            "uiUrl": f"{ROOT}/ui/connect/conn_0001",
        },
    }


@pytest.mark.anyio
async def test_ensuring_again_returns_the_same_connection_for_every_spelling_of_the_app(
    api: httpx2.AsyncClient,
) -> None:
    first = (await _ensure(api, "clevertap.com", name="Marketing")).json()
    spellings = ["https://www.clevertap.com/pricing?x=1", "EU1.Dashboard.CleverTap.com", "http://clevertap.com:8080/"]
    for spelling in spellings:
        again = await _ensure(api, spelling, name="Ignored")
        assert again.status_code == 200
        assert (again.json()["id"], again.json()["name"]) == (first["id"], "Marketing")


@pytest.mark.parametrize(
    ("app_url", "domain"),
    [
        ("clevertap.com", "clevertap.com"),
        ("https://www.clevertap.com/pricing", "clevertap.com"),
        ("HTTP://Example.COM:8443/a/b?c=d#e", "example.com"),
        ("www.shop.example.org", "shop.example.org"),
        ("user@app.example.io", "app.example.io"),
    ],
)
def test_an_app_url_reduces_to_its_domain(app_url: str, domain: str) -> None:
    assert normalize_app_url(app_url) == domain


@pytest.mark.parametrize(
    "app_url",
    ["", "localhost", "1.2.3.4", "www.1.2.3.4", "https://10.0.0.1/x", "ftp://clevertap.com", "not a url",
     "http://", "clevertap..com", "https://clevertap.com:99999", "a" * 1990 + ".example.com", 42, None],
)  # fmt: skip
def test_an_invalid_app_url_is_refused(app_url: object) -> None:
    with pytest.raises(MembraneError, match=r"^Must be a valid URL or domain"):
        normalize_app_url(app_url)


@pytest.mark.anyio
async def test_ensure_with_an_invalid_app_url_is_400_bad_request(api: httpx2.AsyncClient) -> None:
    response = await _ensure(api, "1.2.3.4")
    assert response.status_code == 400
    body = response.json()
    assert body["type"] == "bad_request"
    assert body["message"].startswith("Must be a valid URL or domain")
    assert "key" not in body


@pytest.mark.anyio
@pytest.mark.parametrize("body", [b"", b"[]", b"{not json", b'{"appUrl": "clevertap.com", "name": 7}'])
async def test_ensure_with_a_malformed_body_is_400(api: httpx2.AsyncClient, body: bytes) -> None:
    response = await api.post("/connections/ensure", content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert response.json()["type"] == "bad_request"


@pytest.mark.anyio
async def test_a_clevertap_connection_builds_for_the_configured_polls_then_asks_the_user() -> None:
    async with open_sandbox(SandboxSettings(building_polls=2)) as sandbox:
        created = (await _ensure(sandbox.client, "clevertap.com")).json()
        states = [created["state"]]
        for _ in range(3):
            states.append((await sandbox.client.get(f"/connections/{created['id']}")).json()["state"])
    assert states == ["BUILDING", "BUILDING", "BUILDING", "CLIENT_ACTION_REQUIRED"]
    assert created["buildingAgentSessionId"] == f"build_{created['id']}"
    assert "clientAction" not in created


@pytest.mark.anyio
async def test_an_unknown_app_builds_and_then_fails_setup_with_an_error(api: httpx2.AsyncClient) -> None:
    created = (await _ensure(api, "https://www.example.com/app")).json()
    assert (created["state"], "integrationId" in created) == ("BUILDING", False)
    after = (await api.get(f"/connections/{created['id']}", params={"wait": "true", "timeout": "1"})).json()
    assert after["state"] == "SETUP_FAILED"
    assert after["errors"][0]["message"].startswith("No connector could be built for 'example.com'")
    assert (await _ensure(api, "example.com")).json()["id"] == created["id"]


@pytest.mark.anyio
async def test_auto_connect_makes_a_new_clevertap_connection_ready_at_once() -> None:
    async with open_sandbox(SandboxSettings(auto_connect=True)) as sandbox:
        created = (await _ensure(sandbox.client, "clevertap.com")).json()
        secrets = (await sandbox.client.get(f"/connections/{created['id']}", params={"includeSecrets": "true"})).json()
    assert (created["state"], created["connected"], "clientAction" in created) == ("READY", True, False)
    assert secrets["credentials"]["passcode"] == DEMO_CLEVERTAP_PASSCODE


@pytest.mark.anyio
async def test_credentials_appear_only_with_include_secrets_true(sandbox: InProcessSandbox) -> None:
    conn = await sandbox.ready_connection()
    for params in ({}, {"includeSecrets": "false"}, {"includeSecrets": "0"}):
        plain = await sandbox.client.get(f"/connections/{conn['id']}", params=params)
        assert DEMO_CLEVERTAP_PASSCODE not in plain.text
    listed = await sandbox.client.get("/connections")
    assert DEMO_CLEVERTAP_PASSCODE not in listed.text
    assert DEMO_CLEVERTAP_PASSCODE not in str(conn)
    secret = (await sandbox.client.get(f"/connections/{conn['id']}", params={"includeSecrets": "1"})).json()
    assert secret["credentials"] == {
        "accountId": "TEST-R78-ZZ6-5Z7Z",
        "passcode": DEMO_CLEVERTAP_PASSCODE,
        "region": "eu1",
    }


@pytest.mark.anyio
async def test_another_tenants_connection_is_not_found(sandbox: InProcessSandbox) -> None:
    theirs = await sandbox.ready_connection("someone-else", key="their-key")
    for path in (f"/connections/{theirs['id']}", "/connections/their-key"):
        response = await sandbox.client.get(path)
        assert response.status_code == 404
        assert response.json() == {
            "type": "bad_request",
            "key": "not_found",
            "message": response.json()["message"],
        }
    assert (await sandbox.client.get("/connections")).json() == {"items": []}
    async with sandbox.client_for(sdk_token("someone-else")) as them:
        assert (await them.get(f"/connections/{theirs['id']}")).status_code == 200


@pytest.mark.anyio
async def test_a_connection_is_found_by_its_key_too(sandbox: InProcessSandbox) -> None:
    conn = await sandbox.ready_connection(key="ct-main")
    assert (await sandbox.client.get("/connections/ct-main")).json()["id"] == conn["id"]


@pytest.mark.anyio
async def test_listing_connections_pages_with_a_decimal_cursor_and_filters(
    integration_sandbox: InProcessSandbox,
) -> None:
    sandbox = integration_sandbox
    ids = [(await sandbox.ready_connection(key=f"k{i}"))["id"] for i in range(3)]
    await _ensure(sandbox.client, "example.com")
    first = (await sandbox.client.get("/connections", params={"limit": 2, "cursor": "0"})).json()
    second = (await sandbox.client.get("/connections", params={"limit": 2, "cursor": first["cursor"]})).json()
    assert first["cursor"] == "2"
    assert "cursor" not in second
    assert [c["id"] for c in first["items"] + second["items"]] == [*ids, "conn_0004"]
    ready = (await sandbox.client.get("/connections", params={"connected": "true"})).json()
    assert [c["id"] for c in ready["items"]] == ids
    clevertap = (await sandbox.client.get("/connections", params={"integrationKey": "clevertap"})).json()
    assert [c["id"] for c in clevertap["items"]] == ids
    other = (await sandbox.client.get("/connections", params={"integrationKey": "hubspot"})).json()
    assert other == {"items": []}


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("params", "found"),
    [
        ({"connectorId": "cntr_clevertap"}, True),
        ({"connectorId": "cntr_other"}, False),
        ({"externalAppId": "app_clevertap"}, True),
        ({"externalAppId": "app_other"}, False),
        ({"integrationId": "intg_clevertap", "connected": "true"}, True),
        ({"search": "CLEVER"}, True),
        ({"search": "zendesk"}, False),
        ({"isTest": "true"}, False),
        ({"isTest": "false"}, True),
    ],
)
async def test_each_listing_filter_keeps_only_the_connections_it_names(
    integration_sandbox: InProcessSandbox, params: dict[str, str], found: bool
) -> None:
    sandbox = integration_sandbox
    conn = await sandbox.ready_connection(key="ct-main")
    listed = (await sandbox.client.get("/connections", params=params)).json()
    assert [c["id"] for c in listed["items"]] == ([conn["id"]] if found else [])


@pytest.mark.anyio
@pytest.mark.parametrize(
    "params",
    [{"limit": "0"}, {"limit": "1001"}, {"limit": "ten"}, {"limit": "1.5"}, {"cursor": "abc"}, {"cursor": "-1"},
     {"cursor": "99"}, {"connected": "maybe"}],
)  # fmt: skip
async def test_listing_connections_with_a_bad_page_parameter_is_400(
    api: httpx2.AsyncClient, params: dict[str, str]
) -> None:
    response = await api.get("/connections", params=params)
    assert response.status_code == 400
    assert response.json()["type"] == "bad_request"


@pytest.mark.anyio
async def test_an_unknown_connection_is_404_not_found(api: httpx2.AsyncClient) -> None:
    response = await api.get("/connections/conn_9999")
    assert response.status_code == 404
    assert response.json() == {
        "type": "bad_request",
        "key": "not_found",
        "message": "Connection 'conn_9999' was not found",
    }


@pytest.mark.anyio
async def test_two_sandboxes_fed_the_same_requests_answer_the_same() -> None:
    answers: list[list[Any]] = []
    for _ in range(2):
        async with open_sandbox(SandboxSettings(clock=PINNED_CLOCK)) as sandbox:
            a = (await _ensure(sandbox.client, "clevertap.com")).json()
            b = (await _ensure(sandbox.client, "example.com")).json()
            c = await sandbox.ready_connection("tenant-b")
            answers.append([a, b, c])
    assert answers[0] == answers[1]
    assert [conn["id"] for conn in answers[0]] == ["conn_0001", "conn_0002", "conn_0003"]
