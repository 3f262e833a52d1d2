"""The control plane under /_sandbox and the request log it serves."""

from __future__ import annotations

import httpx2
import pytest
from membrane_sandbox_support import ROOT, InProcessSandbox, sdk_token
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from clevertap_mcp.sandbox.membrane.errors import RateLimited
from clevertap_mcp.sandbox.settings import DEMO_CLEVERTAP_PASSCODE


@pytest.mark.anyio
async def test_health_reports_ok_and_the_root_url(api: httpx2.AsyncClient) -> None:
    response = await api.get("/_sandbox/health")
    assert response.json() == {"status": "ok", "rootUrl": ROOT}


@pytest.mark.anyio
async def test_the_control_plane_needs_no_bearer_token(sandbox: InProcessSandbox) -> None:
    async with sandbox.client_for(None) as anonymous:
        created = await anonymous.post("/_sandbox/connections", json={})
    assert created.status_code == 201
    assert created.json()["state"] == "READY"
    assert created.json()["userId"] == "tenant_0001"


@pytest.mark.anyio
async def test_a_seeded_connection_key_must_be_unique_per_tenant(sandbox: InProcessSandbox) -> None:
    await sandbox.ready_connection(key="dup")
    again = await sandbox.client.post("/_sandbox/connections", json={"key": "dup"})
    elsewhere = await sandbox.client.post("/_sandbox/connections", json={"key": "dup", "tenantKey": "other"})
    assert (again.status_code, again.json()["key"]) == (400, "already_exists")
    assert elsewhere.status_code == 201


@pytest.mark.anyio
async def test_forcing_a_configuration_error_shows_its_errors_and_disconnects(sandbox: InProcessSandbox) -> None:
    conn = await sandbox.ready_connection()
    errors = [{"type": "configuration", "message": "The passcode was revoked"}]
    forced = await sandbox.force_state(conn["id"], state="CONFIGURATION_ERROR", errors=errors)
    seen = (await sandbox.client.get(f"/connections/{conn['id']}")).json()
    assert forced == seen
    assert (seen["state"], seen["connected"], seen["errors"], "clientAction" in seen) == (
        "CONFIGURATION_ERROR",
        False,
        errors,
        False,
    )


@pytest.mark.anyio
async def test_forcing_client_action_required_without_an_action_uses_the_connect_page(
    sandbox: InProcessSandbox,
) -> None:
    conn = await sandbox.ready_connection()
    forced = await sandbox.force_state(conn["id"], state="CLIENT_ACTION_REQUIRED")
    assert forced["clientAction"]["uiUrl"] == f"{ROOT}/ui/connect/{conn['id']}"


@pytest.mark.anyio
@pytest.mark.parametrize(
    "body",
    [
        {"state": "ASLEEP"},
        {"state": "READY", "errors": "bad"},
        {"state": "READY", "errors": [{"type": "x"}]},
        {"state": "CLIENT_ACTION_REQUIRED", "clientAction": {"type": "dance", "description": "x"}},
        {"state": "READY", "isDefunct": "yes"},
    ],
)
async def test_forcing_a_malformed_state_is_400(sandbox: InProcessSandbox, body: dict[str, object]) -> None:
    conn = await sandbox.ready_connection()
    response = await sandbox.client.post(f"/_sandbox/connections/{conn['id']}/state", json=body)
    assert response.status_code == 400


@pytest.mark.anyio
async def test_forcing_the_state_of_an_unknown_connection_is_404(api: httpx2.AsyncClient) -> None:
    response = await api.post("/_sandbox/connections/conn_0404/state", json={"state": "READY"})
    assert response.status_code == 404


@pytest.mark.anyio
async def test_reset_forgets_connections_and_requests_and_reseeds_clevertap(sandbox: InProcessSandbox) -> None:
    conn = await sandbox.ready_connection()
    await sandbox.client.get(f"/connections/{conn['id']}")
    world_before = sandbox.parts.clevertap.world
    assert (await sandbox.client.post("/_sandbox/reset")).json() == {"status": "reset"}
    assert (await sandbox.client.get("/_sandbox/requests")).json() == {"items": []}
    assert (await sandbox.client.get(f"/connections/{conn['id']}")).status_code == 404
    assert sandbox.parts.clevertap.world is not world_before
    again = await sandbox.ready_connection()
    assert again["id"] == "conn_0001"


@pytest.mark.anyio
async def test_the_request_log_records_calls_without_credentials(sandbox: InProcessSandbox) -> None:
    token = sdk_token()
    conn = await sandbox.ready_connection()
    await sandbox.client.post(f"/connections/{conn['id']}/proxy/1/now.json", json={})
    await sandbox.client.get("/connections", params={"search": "x", "passcode": "hunter2", "api_key": "k"})
    log = await sandbox.client.get("/_sandbox/requests")
    entries = log.json()["items"]
    assert [(e["method"], e["path"], e["status"]) for e in entries] == [
        ("POST", f"/connections/{conn['id']}/proxy/1/now.json", 200),
        ("POST", "/clevertap/eu1/1/now.json", 200),
        ("GET", "/connections", 200),
    ]
    assert entries[2]["query"] == "search=x&passcode=%2A%2A%2A&api_key=%2A%2A%2A"
    assert "authorization" in entries[0]["headers"]
    for secret in (token, DEMO_CLEVERTAP_PASSCODE, "hunter2", "Bearer"):
        assert secret not in log.text


@pytest.mark.anyio
async def test_an_interceptor_can_answer_a_request_instead_of_the_app(sandbox: InProcessSandbox) -> None:
    async def rate_limit(request: Request) -> Response | None:
        if request.url.path == "/connections":
            error = RateLimited("Too many requests (injected)")
            return JSONResponse(error.body(), status_code=error.status)
        return None

    sandbox.parts.interceptors.append(rate_limit)
    limited = await sandbox.client.get("/connections")
    other = await sandbox.client.get("/actions")
    assert limited.status_code == 429
    assert limited.json() == {
        "type": "bad_request",
        "key": "rate_limit_exceeded",
        "message": "Too many requests (injected)",
    }
    assert other.status_code == 200
    statuses = [e["status"] for e in (await sandbox.client.get("/_sandbox/requests")).json()["items"]]
    assert statuses == [429, 200]


@pytest.mark.anyio
async def test_an_unknown_route_is_404_error_data(api: httpx2.AsyncClient) -> None:
    for response in (await api.get("/flows"), await api.delete("/connections/ensure")):
        assert response.status_code == 404
        assert response.json()["key"] == "not_found"


@pytest.mark.anyio
@pytest.mark.parametrize("region", ["../..", "eu1/../..", "mars1", "EU1", "eu1 ", "api"])
async def test_seeding_a_connection_in_a_region_clevertap_does_not_have_is_400(
    sandbox: InProcessSandbox, region: str
) -> None:
    response = await sandbox.client.post("/_sandbox/connections", json={"region": region})
    assert (response.status_code, response.json()["type"]) == (400, "bad_request")
    assert "eu1" in response.json()["message"]
    assert (await sandbox.client.get("/connections")).json()["items"] == []


@pytest.mark.anyio
@pytest.mark.parametrize("region", ["eu1", "in1", "sg1", "us1", "aps3", "mec1"])
async def test_every_clevertap_region_can_be_seeded(sandbox: InProcessSandbox, region: str) -> None:
    conn = await sandbox.ready_connection(region=region)
    secrets = (await sandbox.client.get(f"/connections/{conn['id']}", params={"includeSecrets": "true"})).json()
    assert secrets["credentials"]["region"] == region


@pytest.mark.anyio
@pytest.mark.parametrize("fields", [{"accountId": "caf\u00e9"}, {"passcode": "a b"}, {"passcode": "x\r\ny"}])
async def test_seeding_credentials_that_cannot_travel_as_headers_is_400(
    sandbox: InProcessSandbox, fields: dict[str, str]
) -> None:
    response = await sandbox.client.post("/_sandbox/connections", json=fields)
    assert (response.status_code, response.json()["type"]) == (400, "bad_request")


@pytest.mark.anyio
@pytest.mark.parametrize(
    "name",
    ["jwt", "key", "auth", "secret", "password", "token", "passcode", "apiKey", "X-JWT", "oauth_state", "ClientSecret"],
)
async def test_the_request_log_redacts_query_values_whose_name_looks_secret(
    sandbox: InProcessSandbox, name: str
) -> None:
    await sandbox.client.get("/connections", params={"search": "visible", name: "hunter2"})
    entries = (await sandbox.client.get("/_sandbox/requests")).json()["items"]
    assert entries[-1]["query"] == f"search=visible&{name}=%2A%2A%2A"
