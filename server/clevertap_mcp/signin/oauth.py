"""Membrane's OAuth 2.1 server as a public client sees it: discovery, registration, PKCE, tokens, revocation.

Contract: membrane-api.md §11 "Signing in". This project registers itself (RFC 7591) as its own public client, one
registration per sign-in, never using the Membrane CLI's client id, and always asks for exactly one scope (`tenant`).
Error messages carry the server's description, never a token, code or verifier.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from dataclasses import dataclass
from typing import Any, cast
from urllib.parse import urlencode

import httpx2

from clevertap_mcp import __version__, redaction

__all__ = [
    "CLIENT_NAME",
    "SCOPE",
    "Endpoints",
    "OAuthClient",
    "SignInError",
    "TokenSet",
    "pkce_pair",
]

CLIENT_NAME = "clevertap-mcp"
SCOPE = "tenant"
TIMEOUT_SECONDS = 30.0
CONNECT_TIMEOUT_SECONDS = 10.0


class SignInError(Exception):
    """Signing in, refreshing or revoking failed; the message says why and what to do. `error` is the OAuth code."""

    def __init__(self, message: str, *, error: str | None = None) -> None:
        super().__init__(message)
        self.error = error


def pkce_pair() -> tuple[str, str]:
    """A fresh code verifier and its S256 challenge (RFC 7636)."""
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


@dataclass(frozen=True)
class Endpoints:
    authorize: str
    token: str
    register: str
    revoke: str | None

    @classmethod
    def conventional(cls, api_url: str) -> Endpoints:
        """The paths §11 names, for a server whose metadata cannot be read."""
        return cls(
            f"{api_url}/oauth/authorize",
            f"{api_url}/oauth/token",
            f"{api_url}/oauth/register",
            f"{api_url}/oauth/revoke",
        )


@dataclass(frozen=True)
class TokenSet:
    """A token response (§11), with `expires_in` turned into an absolute time."""

    access_token: str
    refresh_token: str | None
    expires_at: float | None
    scope: str | None = None
    workspace_key: str | None = None
    tenant_key: str | None = None
    email: str | None = None
    org_id: str | None = None

    def __repr__(self) -> str:
        return f"TokenSet(workspace_key={self.workspace_key!r}, tenant_key={self.tenant_key!r}, expires_at={self.expires_at})"


def _opt_str(body: dict[str, Any], name: str) -> str | None:
    value = body.get(name)
    return value if isinstance(value, str) and value else None


def _error_of(response: httpx2.Response) -> tuple[str | None, str]:
    try:
        body: Any = response.json()
    except ValueError:
        return None, f"HTTP {response.status_code}"
    if not isinstance(body, dict):
        return None, f"HTTP {response.status_code}"
    fields = cast(dict[str, Any], body)
    code = _opt_str(fields, "error")
    text = (
        _opt_str(fields, "error_description") or _opt_str(fields, "message") or code or f"HTTP {response.status_code}"
    )
    return code, redaction.redact(text[:300])


class OAuthClient:
    """Talks to the authorization server at `api_url` (Membrane's API base URL)."""

    def __init__(self, api_url: str, *, transport: httpx2.AsyncBaseTransport | None = None) -> None:
        self.api_url = api_url.rstrip("/")
        self._transport = transport
        self._endpoints: Endpoints | None = None

    def _http(self) -> httpx2.AsyncClient:
        return httpx2.AsyncClient(
            transport=self._transport,
            timeout=httpx2.Timeout(TIMEOUT_SECONDS, connect=CONNECT_TIMEOUT_SECONDS),
            headers={"user-agent": f"clevertap-mcp/{__version__}", "accept": "application/json"},
            follow_redirects=False,
        )

    async def endpoints(self) -> Endpoints:
        if self._endpoints is not None:
            return self._endpoints
        found = Endpoints.conventional(self.api_url)
        try:
            async with self._http() as http:
                response = await http.get(f"{self.api_url}/.well-known/oauth-authorization-server")
            meta: Any = response.json() if response.status_code == 200 else None
        except (httpx2.HTTPError, ValueError):
            meta = None
        if isinstance(meta, dict):
            m = cast(dict[str, Any], meta)
            found = Endpoints(
                _opt_str(m, "authorization_endpoint") or found.authorize,
                _opt_str(m, "token_endpoint") or found.token,
                _opt_str(m, "registration_endpoint") or found.register,
                _opt_str(m, "revocation_endpoint") or found.revoke,
            )
        self._endpoints = found
        return found

    async def _post(self, url: str, *, form: dict[str, str] | None = None, json_body: Any = None) -> httpx2.Response:
        try:
            async with self._http() as http:
                if form is not None:
                    return await http.post(url, data=form)
                return await http.post(url, json=json_body)
        except httpx2.HTTPError as exc:
            raise SignInError(
                f"Could not reach Membrane's sign-in server at {self.api_url} ({type(exc).__name__}). Check the "
                "network and MEMBRANE_API_URL, then try again."
            ) from None

    async def register(self, redirect_uri: str) -> str:
        """A client id for this project, registered with `redirect_uri` (RFC 7591)."""
        endpoints = await self.endpoints()
        response = await self._post(
            endpoints.register,
            json_body={
                "client_name": CLIENT_NAME,
                "redirect_uris": [redirect_uri],
                "grant_types": ["authorization_code", "refresh_token"],
                "response_types": ["code"],
                "token_endpoint_auth_method": "none",
                "scope": SCOPE,
            },
        )
        if response.status_code not in (200, 201):
            _, text = _error_of(response)
            raise SignInError(f"Membrane refused to register this app for sign-in: {text}.")
        client_id = response.json().get("client_id")
        if not isinstance(client_id, str) or not client_id:
            raise SignInError("Membrane's registration answer carried no client_id.")
        return client_id

    async def authorize_url(self, *, client_id: str, redirect_uri: str, challenge: str, state: str) -> str:
        endpoints = await self.endpoints()
        query = {
            "response_type": "code",
            "client_id": client_id,
            "redirect_uri": redirect_uri,
            "scope": SCOPE,  # exactly one: Membrane refuses a space-separated list (§11)
            "state": state,
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        }
        return f"{endpoints.authorize}?{urlencode(query)}"

    async def exchange(self, *, client_id: str, code: str, verifier: str, redirect_uri: str) -> TokenSet:
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect_uri,
            "client_id": client_id,
            "code_verifier": verifier,
        }
        return await self._tokens(form, what="finish signing in")

    async def refresh(self, *, client_id: str, refresh_token: str) -> TokenSet:
        form = {"grant_type": "refresh_token", "refresh_token": refresh_token, "client_id": client_id}
        return await self._tokens(form, what="renew the sign-in", previous_refresh=refresh_token)

    async def _tokens(self, form: dict[str, str], *, what: str, previous_refresh: str | None = None) -> TokenSet:
        endpoints = await self.endpoints()
        started = time.time()
        response = await self._post(endpoints.token, form=form)
        if response.status_code != 200:
            code, text = _error_of(response)
            raise SignInError(f"Membrane refused to {what}: {text}.", error=code)
        try:
            body = cast(dict[str, Any], response.json())
            access = body["access_token"]
            assert isinstance(access, str) and access
        except (ValueError, KeyError, AssertionError, TypeError):
            raise SignInError(f"Membrane's answer when asked to {what} carried no access token.") from None
        expires_in = body.get("expires_in")
        expires_at = started + float(expires_in) if isinstance(expires_in, int | float) and expires_in > 0 else None
        return TokenSet(
            access_token=access,
            # Without rotation the answer may carry none: the one we have stays good (RFC 6749 §6).
            refresh_token=_opt_str(body, "refresh_token") or previous_refresh,
            expires_at=expires_at,
            scope=_opt_str(body, "scope"),
            workspace_key=_opt_str(body, "default_workspace_key"),
            tenant_key=_opt_str(body, "default_tenant_key"),
            email=_opt_str(body, "email"),
            org_id=_opt_str(body, "org_id"),
        )

    async def revoke(self, *, client_id: str, token: str) -> bool:
        """RFC 7009; True when the server confirmed it (or has no revocation endpoint to ask)."""
        endpoints = await self.endpoints()
        if endpoints.revoke is None:
            return True
        response = await self._post(endpoints.revoke, form={"token": token, "client_id": client_id})
        return response.status_code == 200
