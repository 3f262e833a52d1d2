"""The API proxy (§9, §10 #8, #10, #11, #12): forwarding, header dropping and the full-URL exfiltration guard."""

from __future__ import annotations

from typing import Any

import httpx2
import pytest
from membrane_sandbox_support import InProcessSandbox, sdk_token
from starlette.requests import Request
from starlette.responses import Response

from clevertap_mcp.sandbox.membrane.errors import MembraneError
from clevertap_mcp.sandbox.membrane.upstream import ProxyTarget, Upstream, proxy_target
from clevertap_mcp.sandbox.settings import DEMO_CLEVERTAP_ACCOUNT_ID, DEMO_CLEVERTAP_PASSCODE


def _capture_clevertap_headers(sandbox: InProcessSandbox) -> list[dict[str, str]]:
    """Record the headers of every request that reaches the CleverTap emulator, through the interceptor seam."""
    seen: list[dict[str, str]] = []

    async def interceptor(request: Request) -> Response | None:
        if request.url.path.startswith("/clevertap/"):
            seen.append(dict(request.headers))
        return None

    sandbox.parts.interceptors.append(interceptor)
    return seen


@pytest.mark.anyio
async def test_the_proxy_forwards_the_call_with_the_connections_credentials_and_relays_the_answer(
    sandbox: InProcessSandbox,
) -> None:
    conn = await sandbox.ready_connection()
    seen = _capture_clevertap_headers(sandbox)
    response = await sandbox.client.post(
        f"/connections/{conn['id']}/proxy/1/now.json",
        json={"device": True},
        headers={
            "X-Trace": "keep-me",
            "X-Forwarded-For": "10.1.2.3",
            "X-CleverTap-Passcode": "caller-chosen",
            "X-Request-Id": "abc",
            "CF-Ray": "1",
        },
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    assert response.json()["status"] == "success"
    assert "device" in response.json()
    assert len(seen) == 1
    forwarded = seen[0]
    assert "authorization" not in forwarded
    assert not {"x-forwarded-for", "x-request-id", "cf-ray"} & set(forwarded)
    assert forwarded["x-trace"] == "keep-me"
    assert forwarded["x-clevertap-account-id"] == DEMO_CLEVERTAP_ACCOUNT_ID
    assert forwarded["x-clevertap-passcode"] == DEMO_CLEVERTAP_PASSCODE


@pytest.mark.anyio
async def test_the_proxy_forwards_the_method_and_query(sandbox: InProcessSandbox) -> None:
    conn = await sandbox.ready_connection()
    response = await sandbox.client.get(f"/connections/{conn['id']}/proxy/1/counts/events.json?req_id=nope")
    log = (await sandbox.client.get("/_sandbox/requests")).json()["items"]
    upstream = [e for e in log if e["path"].startswith("/clevertap/")]
    assert [(e["method"], e["path"], e["query"]) for e in upstream] == [
        ("GET", "/clevertap/eu1/1/counts/events.json", "req_id=nope")
    ]
    assert response.json()["status"] == "fail"  # CleverTap's own body, passed through


@pytest.mark.anyio
async def test_an_upstream_error_comes_back_verbatim_not_as_error_data(sandbox: InProcessSandbox) -> None:
    conn = await sandbox.ready_connection(accountId="WRONG-ACCOUNT")
    response = await sandbox.client.post(f"/connections/{conn['id']}/proxy/1/now.json", json={})
    assert response.status_code == 401
    assert response.json() == {"status": "fail", "error": "Invalid Credentials", "code": 401}
    state = (await sandbox.client.get(f"/connections/{conn['id']}")).json()["state"]
    assert state == "READY"


@pytest.mark.anyio
@pytest.mark.parametrize("state", ["CLIENT_ACTION_REQUIRED", "BUILDING", "SETUP_FAILED", "CONFIGURATION_ERROR"])
async def test_the_proxy_refuses_a_connection_that_is_not_ready_and_forwards_nothing(
    sandbox: InProcessSandbox, state: str
) -> None:
    conn = await sandbox.ready_connection()
    await sandbox.force_state(conn["id"], state=state)
    response = await sandbox.client.post(f"/connections/{conn['id']}/proxy/1/now.json", json={})
    assert response.status_code == 400
    assert response.json()["type"] == "connection"
    assert state in response.json()["message"]
    log = (await sandbox.client.get("/_sandbox/requests")).json()["items"]
    assert not [e for e in log if e["path"].startswith("/clevertap/")]


@pytest.mark.anyio
@pytest.mark.parametrize(
    "target",
    ["https://collector.example/c", "http://127.0.0.1:9/x", "//collector.example/c", "ftp://files.example/x"],
)
async def test_a_full_url_to_a_foreign_host_is_recorded_as_exfiltration_and_refused_with_502(
    sandbox: InProcessSandbox, target: str
) -> None:
    conn = await sandbox.ready_connection()
    response = await sandbox.client.post(f"/connections/{conn['id']}/proxy/{target}", json={})
    assert response.status_code == 502
    assert response.json()["type"] == "connection"
    assert DEMO_CLEVERTAP_PASSCODE not in response.text
    log = (await sandbox.client.get("/_sandbox/requests")).json()["items"]
    flagged = [e for e in log if e["exfiltration"]]
    assert len(flagged) == 1
    assert flagged[0]["status"] == 502
    assert not [e for e in log if e["path"].startswith("/clevertap/")]


@pytest.mark.anyio
async def test_a_full_url_to_an_emulated_clevertap_host_reaches_that_regions_emulator(
    sandbox: InProcessSandbox,
) -> None:
    conn = await sandbox.ready_connection()
    europe = await sandbox.client.post(f"/connections/{conn['id']}/proxy/https://api.clevertap.com/1/now.json")
    india = await sandbox.client.post(f"/connections/{conn['id']}/proxy/https://in1.api.clevertap.com/1/now.json")
    assert europe.status_code == 200
    assert india.status_code == 401  # a valid account on the wrong regional host (clevertap-api.md §1)
    log = (await sandbox.client.get("/_sandbox/requests")).json()["items"]
    upstream = [e["path"] for e in log if e["path"].startswith("/clevertap/")]
    assert upstream == ["/clevertap/eu1/1/now.json", "/clevertap/in1/1/now.json"]
    assert not [e for e in log if e["exfiltration"]]


@pytest.mark.anyio
async def test_dot_segments_cannot_climb_out_of_the_clevertap_api(sandbox: InProcessSandbox) -> None:
    conn = await sandbox.ready_connection()
    response = await sandbox.client.post(f"/connections/{conn['id']}/proxy/%2E%2E/%2E%2E/%2E%2E/_sandbox/reset")
    assert response.status_code == 404
    assert response.json()["status"] == "fail"  # CleverTap's 404, not the control plane
    assert (await sandbox.client.get(f"/connections/{conn['id']}")).status_code == 200


@pytest.mark.anyio
async def test_the_proxy_selects_by_integration_key_only_when_it_has_exactly_one_connection(
    integration_sandbox: InProcessSandbox,
) -> None:
    sandbox = integration_sandbox
    await sandbox.ready_connection(key="first")
    one = await sandbox.client.post("/connections/clevertap/proxy/1/now.json", json={})
    await sandbox.ready_connection(key="second")
    two = await sandbox.client.post("/connections/intg_clevertap/proxy/1/now.json", json={})
    by_key = await sandbox.client.post("/connections/second/proxy/1/now.json", json={})
    assert (one.status_code, two.status_code, by_key.status_code) == (200, 400, 200)
    assert two.json()["type"] == "bad_request"


@pytest.mark.anyio
async def test_the_proxy_is_tenant_scoped_and_needs_a_token(sandbox: InProcessSandbox) -> None:
    theirs = await sandbox.ready_connection("another-tenant")
    unknown = await sandbox.client.post(f"/connections/{theirs['id']}/proxy/1/now.json", json={})
    async with sandbox.client_for(None) as anonymous:
        no_token = await anonymous.post(f"/connections/{theirs['id']}/proxy/1/now.json", json={})
    async with sandbox.client_for(sdk_token("another-tenant")) as owner:
        allowed = await owner.post(f"/connections/{theirs['id']}/proxy/1/now.json", json={})
    assert (unknown.status_code, no_token.status_code, allowed.status_code) == (404, 401, 200)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("1/upload", ProxyTarget("eu1", "/1/upload")),
        ("/1/upload/", ProxyTarget("eu1", "/1/upload/")),
        ("1/./x/../upload", ProxyTarget("eu1", "/1/upload")),
        ("../../../../etc", ProxyTarget("eu1", "/etc")),
        ("https://sg1.api.clevertap.com/1/now.json", ProxyTarget("sg1", "/1/now.json")),
        ("HTTPS://API.CLEVERTAP.COM/1/now.json", ProxyTarget("eu1", "/1/now.json")),
        ("https://api.clevertap.com.evil.test/1", ProxyTarget("eu1", "/", foreign_host="api.clevertap.com.evil.test")),
        ("javascript:alert(1)", ProxyTarget("eu1", "/", foreign_host="javascript")),
    ],
)  # fmt: skip
def test_a_proxy_path_resolves_to_its_target(raw: str, expected: ProxyTarget) -> None:
    assert proxy_target(raw, "eu1") == expected


@pytest.mark.anyio
async def test_a_proxy_with_an_unknown_selector_is_404(api: httpx2.AsyncClient) -> None:
    response = await api.get("/connections/nothing-here/proxy/1/now.json")
    assert (response.status_code, response.json()["key"]) == (404, "not_found")


def _log(entries: httpx2.Response) -> list[dict[str, Any]]:
    return entries.json()["items"]


@pytest.mark.anyio
@pytest.mark.parametrize(
    "path",
    ["1/now.json%00", "1/now.json%0DX-Injected:%201", "http:%2F%2F%5B::1%2Fx", "https://[::1/x"],
    ids=["nul", "carriage-return", "encoded-bad-ipv6", "bad-ipv6"],
)
async def test_a_proxy_path_no_url_can_carry_is_400_bad_request_and_nothing_is_forwarded(
    sandbox: InProcessSandbox, path: str
) -> None:
    conn = await sandbox.ready_connection()
    response = await sandbox.client.get(f"/connections/{conn['id']}/proxy/{path}")
    assert (response.status_code, response.json()["type"]) == (400, "bad_request")
    assert not [e for e in _log(await sandbox.client.get("/_sandbox/requests")) if e["path"].startswith("/clevertap/")]


@pytest.mark.anyio
async def test_the_proxy_forwards_a_latin1_header_value_byte_for_byte(sandbox: InProcessSandbox) -> None:
    conn = await sandbox.ready_connection()
    seen = _capture_clevertap_headers(sandbox)
    response = await sandbox.client.post(
        f"/connections/{conn['id']}/proxy/1/now.json", json={}, headers=[(b"X-Note", b"caf\xe9")]
    )
    assert response.status_code == 200
    assert seen[0]["x-note"] == "caf\xe9"  # Starlette decodes header bytes as latin-1


@pytest.mark.anyio
@pytest.mark.parametrize("state", ["CLIENT_ACTION_REQUIRED", "BUILDING", "SETUP_FAILED"])
async def test_a_full_url_to_a_foreign_host_is_recorded_even_through_a_connection_that_is_not_ready(
    sandbox: InProcessSandbox, state: str
) -> None:
    conn = await sandbox.ready_connection()
    await sandbox.force_state(conn["id"], state=state)
    proxied = await sandbox.client.post(f"/connections/{conn['id']}/proxy/https://collector.example/c", json={})
    acted = await sandbox.client.post(
        "/act", json={"connectionId": conn["id"], "api": {"method": "GET", "path": "https://collector.example/a"}}
    )
    for response in (proxied, acted):
        assert (response.status_code, response.json()["type"]) == (400, "connection")
        assert "actionRunId" not in response.json()
    log = _log(await sandbox.client.get("/_sandbox/requests"))
    assert [(e["path"], e["status"], e.get("targetHost")) for e in log if e["exfiltration"]] == [
        (f"/connections/{conn['id']}/proxy/https://collector.example/c", 400, "collector.example"),
        ("/act", 400, "collector.example"),
    ]
    assert not [e for e in log if e["path"].startswith("/clevertap/")]


@pytest.mark.anyio
@pytest.mark.parametrize("selector", ["clevertap", "intg_clevertap"])
async def test_the_proxy_with_an_integration_selector_that_has_no_connection_is_400(
    sandbox: InProcessSandbox, selector: str
) -> None:
    await sandbox.ready_connection("another-tenant")  # another tenant's connection does not count
    response = await sandbox.client.post(f"/connections/{selector}/proxy/1/now.json", json={})
    assert (response.status_code, response.json()["type"]) == (400, "bad_request")
    assert "key" not in response.json()


@pytest.mark.anyio
async def test_a_full_url_to_an_emulated_clevertap_host_keeps_its_query_string(sandbox: InProcessSandbox) -> None:
    conn = await sandbox.ready_connection()
    full_url = (
        "https://api.clevertap.com/1/counts/events.json%3Freq_id%3Dnope"  # one {path} segment, decoded by routing
    )
    await sandbox.client.get(f"/connections/{conn['id']}/proxy/{full_url}")
    await sandbox.client.get(f"/connections/{conn['id']}/proxy/{full_url}", params={"extra": "1"})
    log = _log(await sandbox.client.get("/_sandbox/requests"))
    assert [(e["path"], e["query"]) for e in log if e["path"].startswith("/clevertap/")] == [
        ("/clevertap/eu1/1/counts/events.json", "req_id=nope"),
        ("/clevertap/eu1/1/counts/events.json", "req_id=nope&extra=1"),
    ]


@pytest.mark.anyio
@pytest.mark.parametrize(
    "path",
    [
        "%252e%252e/%252e%252e/_sandbox/health",
        "..%252f..%252f_sandbox/health",
        "1/%25252e%25252e/%25252e%25252e/%25252e%25252e/_sandbox/health",
        "..%5C..%5C_sandbox/health",
    ],
    ids=["double-encoded-dots", "double-encoded-slashes", "triple-encoded", "backslashes"],
)
async def test_a_proxy_path_that_would_leave_the_clevertap_mount_once_decoded_is_400(
    sandbox: InProcessSandbox, path: str
) -> None:
    conn = await sandbox.ready_connection()
    response = await sandbox.client.get(f"/connections/{conn['id']}/proxy/{path}")
    assert (response.status_code, response.json()["type"]) == (400, "bad_request")
    log = _log(await sandbox.client.get("/_sandbox/requests"))
    assert not [e for e in log if e["path"].startswith("/clevertap/")]


def test_the_outgoing_url_must_stay_under_the_regions_mount() -> None:
    upstream = Upstream("http://sandbox.test/root")
    assert upstream.url(ProxyTarget("in1", "/1/now.json", query="a=1"), "b=2") == (
        "http://sandbox.test/root/clevertap/in1/1/now.json?a=1&b=2"
    )
    assert upstream.url(ProxyTarget("eu1", "/1/a b%2e?#"), "") == (
        "http://sandbox.test/root/clevertap/eu1/1/a%20b%252e%3F%23"
    )
    for target in (ProxyTarget("../..", "/_sandbox/health"), ProxyTarget("eu1/..", "/x"), ProxyTarget("", "/")):
        with pytest.raises(MembraneError):
            upstream.url(target, "")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("https://api.clevertap.com/1/profile.json?identity=u-1", ProxyTarget("eu1", "/1/profile.json", query="identity=u-1")),
        ("//us1.api.clevertap.com/1/x?a=1&b=2", ProxyTarget("us1", "/1/x", query="a=1&b=2")),
        ("https://api.clevertap.com", ProxyTarget("eu1", "/")),
    ],
)  # fmt: skip
def test_a_full_url_to_an_emulated_host_resolves_with_its_query(raw: str, expected: ProxyTarget) -> None:
    assert proxy_target(raw, "in1") == expected


@pytest.mark.parametrize("raw", ["1/now.json\x00", "1/now\r\nX: 1", "1/\x7f", "http://[::1/x", "https://[oops]/x"])
def test_a_proxy_path_that_cannot_be_a_url_is_refused(raw: str) -> None:
    with pytest.raises(MembraneError):
        proxy_target(raw, "eu1")
