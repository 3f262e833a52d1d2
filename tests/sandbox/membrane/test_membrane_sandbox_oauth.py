"""The sandbox's OAuth 2.1 server (membrane-api.md §11 "Signing in"), driven in-process as a client and a browser."""

from __future__ import annotations

from typing import Any

import httpx2
import pytest

from clevertap_mcp.sandbox.membrane.oauth_routes import SCOPE_ERROR
from clevertap_mcp.sandbox.settings import DEMO_TENANT_KEY, DEMO_WORKSPACE_KEY, SandboxSettings

from helpers import in_process_sandbox
from oauth_support import challenge_of, redirected_params, register, sign_in, start, tokens

pytestmark = pytest.mark.anyio


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def refresh(http: httpx2.AsyncClient, client_id: str, refresh_token: str) -> httpx2.Response:
    return await http.post(
        "/oauth/token", data={"grant_type": "refresh_token", "refresh_token": refresh_token, "client_id": client_id}
    )


async def test_metadata_names_every_endpoint_s256_public_clients_and_both_scopes() -> None:
    async with in_process_sandbox() as (_, http):
        meta = (await http.get("/.well-known/oauth-authorization-server")).json()
    assert meta["authorization_endpoint"].endswith("/oauth/authorize")
    assert meta["token_endpoint"].endswith("/oauth/token")
    assert meta["registration_endpoint"].endswith("/oauth/register")
    assert meta["revocation_endpoint"].endswith("/oauth/revoke")
    assert meta["code_challenge_methods_supported"] == ["S256"]
    assert meta["token_endpoint_auth_methods_supported"] == ["none"]
    assert meta["scopes_supported"] == ["platform-user", "tenant"]
    assert meta["client_id_metadata_document_supported"] is True


async def test_a_signed_in_tenant_token_works_on_the_api_and_names_workspace_and_tenant() -> None:
    async with in_process_sandbox() as (_, http):
        auth = await start(http)
        answer = await tokens(http, auth, tenant="tenant-from-signin")
        listed = await http.get("/connections", headers=bearer(answer["access_token"]))
    assert answer["token_type"] == "Bearer"
    assert answer["expires_in"] == 3600
    assert answer["default_workspace_key"] == DEMO_WORKSPACE_KEY
    assert answer["default_tenant_key"] == "tenant-from-signin"
    assert answer["refresh_token"]
    assert listed.status_code == 200, listed.text


async def test_a_wrong_password_is_refused_on_the_page_and_no_code_is_issued() -> None:
    async with in_process_sandbox() as (_, http):
        auth = await start(http)
        response = await sign_in(http, auth, password="not-it")
    assert response.status_code == 400
    assert "Wrong email or password." in response.text
    assert "not-it" not in response.text


async def test_a_space_separated_scope_gets_membranes_own_refusal() -> None:
    async with in_process_sandbox() as (_, http):
        auth = await start(http, scope="platform-user tenant")
        page = await http.get("/oauth/authorize", params=auth.params)
    assert page.status_code == 400
    assert page.json() == {"type": "bad_request", "message": SCOPE_ERROR}


async def test_a_wrong_code_verifier_is_refused_and_the_code_is_spent() -> None:
    async with in_process_sandbox() as (_, http):
        auth = await start(http)
        code = redirected_params(await sign_in(http, auth))["code"]
        exchange: dict[str, Any] = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": auth.params["redirect_uri"],
            "client_id": auth.client_id,
            "code_verifier": "x" * 50,
        }
        wrong = await http.post("/oauth/token", data=exchange)
        again = await http.post("/oauth/token", data={**exchange, "code_verifier": auth.verifier})
    assert wrong.status_code == 400
    assert wrong.json()["error"] == "invalid_grant"
    assert "PKCE" in wrong.json()["error_description"]
    assert again.json()["error"] == "invalid_grant"


async def test_a_plain_pkce_challenge_is_sent_back_to_the_client_as_invalid_request() -> None:
    async with in_process_sandbox() as (_, http):
        auth = await start(http)
        auth.params["code_challenge_method"] = "plain"
        page = await http.get("/oauth/authorize", params=auth.params)
    back = redirected_params(page)
    assert back["error"] == "invalid_request"
    assert back["state"] == "st-1"


async def test_an_unregistered_redirect_uri_is_said_on_the_page_not_followed() -> None:
    async with in_process_sandbox() as (_, http):
        auth = await start(http)
        auth.params["redirect_uri"] = "https://attacker.example/cb"
        page = await http.get("/oauth/authorize", params=auth.params)
    assert page.status_code == 400
    assert "not one this client registered" in page.text


@pytest.mark.parametrize(("match", "allowed"), [("loopback-any-port", True), ("exact", False)])
async def test_a_loopback_redirect_on_another_port_follows_the_redirect_match_setting(
    match: str, allowed: bool
) -> None:
    async with in_process_sandbox(SandboxSettings(oauth_redirect_match=match)) as (_, http):  # pyright: ignore[reportArgumentType]
        auth = await start(http)
        auth.params["redirect_uri"] = "http://127.0.0.1:6001/callback"
        page = await http.get("/oauth/authorize", params=auth.params)
    assert (page.status_code == 200) is allowed


async def test_cancel_sends_access_denied_back_with_the_state() -> None:
    async with in_process_sandbox() as (_, http):
        auth = await start(http)
        response = await http.post("/oauth/authorize", data={**auth.params, "decision": "deny"})
    assert redirected_params(response) == {
        "error": "access_denied",
        "error_description": "The user cancelled",
        "state": "st-1",
    }


async def test_expired_access_token_gets_401_and_a_refresh_rotates_the_refresh_token() -> None:
    async with in_process_sandbox(SandboxSettings(oauth_access_token_ttl=60)) as (_, http):
        auth = await start(http)
        first = await tokens(http, auth)
        await http.post("/_sandbox/oauth/advance", json={"seconds": 61})
        expired = await http.get("/connections", headers=bearer(first["access_token"]))
        renewed = (await refresh(http, auth.client_id, first["refresh_token"])).json()
        works = await http.get("/connections", headers=bearer(renewed["access_token"]))
        reused = await refresh(http, auth.client_id, first["refresh_token"])
        after_reuse = await http.get("/connections", headers=bearer(renewed["access_token"]))
    assert expired.status_code == 401
    assert expired.json()["key"] == "not_authenticated"
    assert renewed["refresh_token"] != first["refresh_token"]
    assert works.status_code == 200
    # A retired refresh token used again ends the whole sign-in (someone holds a copy).
    assert reused.json()["error"] == "invalid_grant"
    assert after_reuse.status_code == 401


async def test_without_rotation_the_refresh_answer_has_no_refresh_token_and_the_old_one_keeps_working() -> None:
    async with in_process_sandbox(SandboxSettings(oauth_rotate_refresh_tokens=False)) as (_, http):
        auth = await start(http)
        first = await tokens(http, auth)
        one = (await refresh(http, auth.client_id, first["refresh_token"])).json()
        two = await refresh(http, auth.client_id, first["refresh_token"])
    assert "refresh_token" not in one
    assert two.status_code == 200


async def test_revoking_the_refresh_token_ends_access_and_refresh() -> None:
    async with in_process_sandbox() as (_, http):
        auth = await start(http)
        first = await tokens(http, auth)
        revoked = await http.post("/oauth/revoke", data={"token": first["refresh_token"], "client_id": auth.client_id})
        api = await http.get("/connections", headers=bearer(first["access_token"]))
        again = await refresh(http, auth.client_id, first["refresh_token"])
    assert revoked.status_code == 200
    assert api.status_code == 401
    assert again.json()["error"] == "invalid_grant"


async def test_a_platform_user_token_is_refused_on_tenant_routes_with_403() -> None:
    async with in_process_sandbox() as (_, http):
        auth = await start(http, scope="platform-user")
        answer = await tokens(http, auth)
        listed = await http.get("/connections", headers=bearer(answer["access_token"]))
    assert "default_tenant_key" not in answer
    assert listed.status_code == 403


@pytest.mark.parametrize("accepted", [True, False])
async def test_third_party_tokens_on_the_rest_api_follow_the_setting(accepted: bool) -> None:
    async with in_process_sandbox(SandboxSettings(oauth_client_tokens_on_rest=accepted)) as (_, http):
        answer = await tokens(http, await start(http))
        listed = await http.get("/connections", headers=bearer(answer["access_token"]))
    assert listed.status_code == (200 if accepted else 401)


async def test_registration_refuses_a_plain_http_redirect_that_is_not_loopback() -> None:
    async with in_process_sandbox() as (_, http):
        refused = await http.post("/oauth/register", json={"redirect_uris": ["http://example.com/cb"]})
        client_id = await register(http)
    assert refused.status_code == 400
    assert refused.json()["error"] == "invalid_redirect_uri"
    assert client_id.startswith("client_")


async def test_the_control_plane_lists_sign_ins_without_tokens_and_advances_the_clock() -> None:
    async with in_process_sandbox() as (_, http):
        answer = await tokens(http, await start(http))
        listed = (await http.get("/_sandbox/oauth/sign-ins")).json()
        moved = (await http.post("/_sandbox/oauth/advance", json={"seconds": 10})).json()
    assert listed["items"][0]["tenantKey"] == DEMO_TENANT_KEY
    assert answer["access_token"] not in str(listed)
    assert moved == {"skew": 10.0}


def test_the_challenge_helper_is_rfc_7636s_example() -> None:
    # RFC 7636 Appendix B.
    assert challenge_of("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk") == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"


async def test_an_authorization_code_expires_after_its_lifetime() -> None:
    async with in_process_sandbox(SandboxSettings(oauth_code_ttl=30)) as (_, http):
        auth = await start(http)
        code = redirected_params(await sign_in(http, auth))["code"]
        await http.post("/_sandbox/oauth/advance", json={"seconds": 31})
        late = await http.post(
            "/oauth/token",
            data={
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": auth.params["redirect_uri"],
                "client_id": auth.client_id,
                "code_verifier": auth.verifier,
            },
        )
    assert late.json()["error"] == "invalid_grant"


async def test_a_reset_forgets_clients_and_sign_ins() -> None:
    async with in_process_sandbox() as (_, http):
        answer = await tokens(http, await start(http))
        await http.post("/_sandbox/reset")
        listed = await http.get("/connections", headers=bearer(answer["access_token"]))
        sign_ins = (await http.get("/_sandbox/oauth/sign-ins")).json()
    assert listed.status_code == 401
    assert sign_ins == {"items": []}
