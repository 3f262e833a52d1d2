"""Bearer authentication of the sandbox's Membrane API (membrane-api.md §2)."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Mapping

import pytest
from membrane_sandbox_support import InProcessSandbox, docs_token, sdk_token, sign

from clevertap_mcp.sandbox.membrane.auth import Principal, authenticate
from clevertap_mcp.sandbox.membrane.errors import NotAuthenticated
from clevertap_mcp.sandbox.settings import DEMO_TENANT_KEY, DEMO_WORKSPACE_KEY, DEMO_WORKSPACE_SECRET

WORKSPACES = {DEMO_WORKSPACE_KEY: DEMO_WORKSPACE_SECRET}
NOT_AUTHENTICATED = {"type": "bad_request", "key": "not_authenticated"}


def _b64(value: Mapping[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()


async def _status_and_error(sandbox: InProcessSandbox, token: str | None) -> tuple[int, dict[str, object]]:
    async with sandbox.client_for(token) as client:
        response = await client.get("/connections")
    return response.status_code, response.json()


@pytest.mark.anyio
async def test_an_sdk_minted_hs256_token_opens_the_api(sandbox: InProcessSandbox) -> None:
    status, body = await _status_and_error(sandbox, sdk_token())
    assert (status, body) == (200, {"items": []})


@pytest.mark.anyio
@pytest.mark.parametrize("algorithm", ["HS256", "HS512"])
async def test_a_docs_form_token_opens_the_api_with_either_hmac_algorithm(
    sandbox: InProcessSandbox, algorithm: str
) -> None:
    status, _ = await _status_and_error(sandbox, docs_token(algorithm=algorithm))
    assert status == 200


@pytest.mark.anyio
async def test_both_claim_styles_reach_the_same_tenant(sandbox: InProcessSandbox) -> None:
    created = await sandbox.ready_connection(DEMO_TENANT_KEY)
    for token in (sdk_token(), docs_token()):
        async with sandbox.client_for(token) as client:
            listed = (await client.get("/connections")).json()
        assert [item["id"] for item in listed["items"]] == [created["id"]]


@pytest.mark.anyio
async def test_a_token_without_exp_is_accepted(sandbox: InProcessSandbox) -> None:
    token = sign({"iss": DEMO_WORKSPACE_KEY, "id": DEMO_TENANT_KEY})
    status, _ = await _status_and_error(sandbox, token)
    assert status == 200


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("case", "token"),
    [
        ("expired", sdk_token(exp=int(time.time()) - 5)),
        ("bad signature", sdk_token(secret="not-the-workspace-secret")),
        ("unknown workspace", sign({"iss": "someone-else", "id": DEMO_TENANT_KEY})),
        ("no workspace claim", sign({"id": DEMO_TENANT_KEY})),
        ("alg none", f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64({'iss': DEMO_WORKSPACE_KEY, 'id': 't'})}."),
        ("not a jwt", "definitely-not-a-jwt"),
        ("exp not a number", sign({"iss": DEMO_WORKSPACE_KEY, "id": DEMO_TENANT_KEY, "exp": "tomorrow"})),
    ],
)
async def test_a_bad_token_gets_401_not_authenticated(sandbox: InProcessSandbox, case: str, token: str) -> None:
    status, body = await _status_and_error(sandbox, token)
    assert status == 401, case
    assert {k: body[k] for k in ("type", "key")} == NOT_AUTHENTICATED
    assert token not in json.dumps(body)


@pytest.mark.anyio
async def test_an_asymmetric_token_gets_401_because_it_is_not_emulated(sandbox: InProcessSandbox) -> None:
    # The sandbox refuses on the header's algorithm before any key is needed, so the signature can be anything.
    claims = {"workspaceKey": DEMO_WORKSPACE_KEY, "tenantKey": DEMO_TENANT_KEY}
    token = f"{_b64({'alg': 'RS256', 'typ': 'JWT'})}.{_b64(claims)}.c2lnbmF0dXJl"
    status, body = await _status_and_error(sandbox, token)
    assert status == 401
    assert "RS256" in str(body["message"])


@pytest.mark.anyio
async def test_a_missing_authorization_header_gets_401(sandbox: InProcessSandbox) -> None:
    status, body = await _status_and_error(sandbox, None)
    assert status == 401
    assert body == {**NOT_AUTHENTICATED, "message": body["message"]}
    assert "Authorization" in str(body["message"])


@pytest.mark.anyio
@pytest.mark.parametrize("header", ["Basic abc", "Bearer", "Bearer a b", "Token " + sdk_token()])
async def test_a_malformed_authorization_header_gets_401(sandbox: InProcessSandbox, header: str) -> None:
    async with sandbox.client_for(None) as client:
        response = await client.get("/connections", headers={"Authorization": header})
    assert response.status_code == 401
    assert response.json()["key"] == "not_authenticated"


@pytest.mark.anyio
async def test_a_token_in_the_query_string_is_not_read(sandbox: InProcessSandbox) -> None:
    async with sandbox.client_for(None) as client:
        response = await client.get("/connections", params={"token": sdk_token()})
    assert response.status_code == 401


@pytest.mark.anyio
async def test_a_workspace_token_without_a_tenant_gets_403_on_tenant_routes(sandbox: InProcessSandbox) -> None:
    status, body = await _status_and_error(sandbox, sdk_token(tenant=None, isAdmin=True))
    assert status == 403
    assert (body["type"], body["key"]) == ("bad_request", "access_denied")


def test_the_docs_claims_win_over_the_sdk_claims_and_admin_needs_true() -> None:
    token = sign(
        {"workspaceKey": DEMO_WORKSPACE_KEY, "iss": "ignored", "tenantKey": "t-docs", "id": "t-sdk", "isAdmin": 1}
    )
    principal = authenticate(f"Bearer {token}", WORKSPACES, now=time.time())
    assert principal == Principal(workspace_key=DEMO_WORKSPACE_KEY, tenant_key="t-docs", is_admin=False)


def test_expiry_is_judged_against_the_injected_clock() -> None:
    token = sdk_token(exp=1_000)
    assert authenticate(f"Bearer {token}", WORKSPACES, now=999).tenant_key == DEMO_TENANT_KEY
    with pytest.raises(NotAuthenticated, match="expired"):
        authenticate(f"Bearer {token}", WORKSPACES, now=1_000)
