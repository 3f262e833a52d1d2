"""Driving the sandbox's sign-in server the way a browser and an OAuth client would, over any httpx2 client."""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx2

from clevertap_mcp.sandbox.settings import DEMO_OAUTH_EMAIL, DEMO_OAUTH_PASSWORD, DEMO_TENANT_KEY, DEMO_WORKSPACE_KEY
from clevertap_mcp.signin.flow import PendingSignIn, complete
from clevertap_mcp.signin.oauth import OAuthClient
from clevertap_mcp.signin.store import SignIn, TokenStore

REDIRECT_URI = "http://127.0.0.1:5555/callback"


def challenge_of(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


@dataclass
class Authorization:
    client_id: str
    verifier: str
    params: dict[str, str]


async def register(http: httpx2.AsyncClient, redirect_uri: str = REDIRECT_URI) -> str:
    response = await http.post("/oauth/register", json={"redirect_uris": [redirect_uri], "client_name": "Tests"})
    assert response.status_code == 201, response.text
    return str(response.json()["client_id"])


async def start(
    http: httpx2.AsyncClient, *, scope: str = "tenant", redirect_uri: str = REDIRECT_URI, client_id: str | None = None
) -> Authorization:
    client_id = client_id or await register(http, redirect_uri)
    verifier = secrets.token_urlsafe(48)
    params = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": redirect_uri,
        "scope": scope,
        "state": "st-1",
        "code_challenge": challenge_of(verifier),
        "code_challenge_method": "S256",
    }
    return Authorization(client_id, verifier, params)


async def sign_in(
    http: httpx2.AsyncClient, auth: Authorization, *, password: str = DEMO_OAUTH_PASSWORD, tenant: str = DEMO_TENANT_KEY
) -> httpx2.Response:
    """Submit the sign-in page as a person would (the page is fetched first, as a browser does)."""
    page = await http.get("/oauth/authorize", params=auth.params)
    assert page.status_code == 200, page.text
    form = {
        **auth.params,
        "email": DEMO_OAUTH_EMAIL,
        "password": password,
        "workspace": DEMO_WORKSPACE_KEY,
        "tenant_key": tenant,
        "decision": "allow",
    }
    return await http.post("/oauth/authorize", data=form)


def redirected_params(response: httpx2.Response) -> dict[str, str]:
    assert response.status_code == 302, response.text
    query = parse_qs(urlsplit(response.headers["location"]).query)
    return {name: values[0] for name, values in query.items()}


async def tokens(http: httpx2.AsyncClient, auth: Authorization, **signin: Any) -> dict[str, Any]:
    """A whole code flow: sign in, exchange the code; the token response."""
    code = redirected_params(await sign_in(http, auth, **signin))["code"]
    response = await http.post(
        "/oauth/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": auth.params["redirect_uri"],
            "client_id": auth.client_id,
            "code_verifier": auth.verifier,
        },
    )
    assert response.status_code == 200, response.text
    return response.json()


async def browser_signin(authorize_url: str, *, password: str = DEMO_OAUTH_PASSWORD) -> httpx2.Response:
    """A person on another machine: open the authorize URL, sign in, and stop at the redirect (not followed)."""
    parts = urlsplit(authorize_url)
    params = {name: values[0] for name, values in parse_qs(parts.query).items()}
    async with httpx2.AsyncClient(base_url=f"{parts.scheme}://{parts.netloc}", trust_env=False) as http:
        auth = Authorization(params["client_id"], "", params)
        return await sign_in(http, auth, password=password)


async def signed_in_store(api_url: str, directory: Path) -> tuple[TokenStore, SignIn]:
    """A token store holding a fresh sign-in to the sandbox at `api_url`, made through the real flow."""
    store = TokenStore(directory, use_keyring="file")
    pending = await PendingSignIn.start(OAuthClient(api_url), REDIRECT_URI)
    code = pending.code_from(redirected_params(await browser_signin(pending.url)))
    return store, await complete(pending, code, store)
