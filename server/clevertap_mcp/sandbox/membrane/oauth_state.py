"""The sandbox's OAuth 2.1 authorization server with no HTTP in it: clients, codes, sign-ins and their tokens.

Contract: membrane-api.md §11 "Signing in". Public clients only (PKCE S256, no client secret); `scope` is exactly
`tenant` or `platform-user`. Tokens are opaque random strings kept as SHA-256 digests, so a dump of this state holds
none. The open points (§11) are sandbox settings: `oauth_redirect_match`, the `oauth_*_ttl` lifetimes,
`oauth_rotate_refresh_tokens` and `oauth_client_tokens_on_rest`.

Time is the real clock plus `skew`, which the control plane (`POST /_sandbox/oauth/advance`) moves forward so tests
expire tokens without waiting.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from clevertap_mcp.sandbox.membrane.auth import Principal
from clevertap_mcp.sandbox.membrane.errors import NotAuthenticated
from clevertap_mcp.sandbox.settings import SandboxSettings

__all__ = ["SCOPES", "AuthorizationRequest", "OAuthError", "OAuthState", "TokenGrant", "oauth_principal"]

SCOPES = ("platform-user", "tenant")
ACCESS_PREFIX = "mbr_at_"
REFRESH_PREFIX = "mbr_rt_"
SANDBOX_ORG_ID = "org_sandbox"
# Membrane's own CLI is a pre-registered public client (§11: "The CLI's client id is `membrane-cli`").
CLI_CLIENT_ID = "membrane-cli"
MAX_CLIENTS = 10_000


class OAuthError(Exception):
    """An RFC 6749 §5.2 error: `error` is the code, the message its description (never a token or secret)."""

    def __init__(self, error: str, description: str, *, status: int = 400) -> None:
        super().__init__(description)
        self.error = error
        self.description = description
        self.status = status


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def is_loopback_uri(uri: str) -> bool:
    parts = urlsplit(uri)
    host = (parts.hostname or "").strip("[]")
    if parts.scheme != "http":
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _without_port(uri: str) -> str:
    parts = urlsplit(uri)
    host = parts.hostname or ""
    host = f"[{host}]" if ":" in host else host
    return parts._replace(netloc=host).geturl()


@dataclass
class Client:
    client_id: str
    redirect_uris: tuple[str, ...]
    client_name: str
    issued_at: int
    first_party: bool = False


@dataclass(frozen=True)
class AuthorizationRequest:
    """A checked `/oauth/authorize` query, waiting for the user on the sign-in page."""

    client_id: str
    client_name: str
    redirect_uri: str
    scope: str
    state: str | None
    code_challenge: str
    resource: str | None


@dataclass
class TokenGrant:
    """One sign-in: who, for which client, and the digests of its live tokens."""

    grant_id: str
    client_id: str
    scope: str
    workspace_key: str
    tenant_key: str | None
    email: str
    resource: str | None
    refresh_digest: str | None = None
    refresh_expires_at: float = 0.0
    retired_refresh: set[str] = field(default_factory=set[str])
    access: dict[str, float] = field(default_factory=dict[str, float])  # digest -> expires at
    revoked: bool = False


@dataclass
class _Code:
    request: AuthorizationRequest
    workspace_key: str
    tenant_key: str | None
    email: str
    expires_at: float


class OAuthState:
    def __init__(self, settings: SandboxSettings, *, clock: Callable[[], float] = time.time) -> None:
        self.settings = settings
        self._clock = clock
        self.skew = 0.0
        self._fresh()

    def _fresh(self) -> None:
        self._clients: dict[str, Client] = {
            CLI_CLIENT_ID: Client(CLI_CLIENT_ID, (), "Membrane CLI", 0, first_party=True)
        }
        self._codes: dict[str, _Code] = {}
        self._grants: dict[str, TokenGrant] = {}
        self._by_access: dict[str, TokenGrant] = {}
        self._by_refresh: dict[str, TokenGrant] = {}
        self._counter = 0
        self.skew = 0.0

    def reset(self) -> None:
        self._fresh()

    def now(self) -> float:
        return self._clock() + self.skew

    def _next_id(self, prefix: str) -> str:
        self._counter += 1
        return f"{prefix}_{self._counter:04d}"

    # Registration (RFC 7591) ---------------------------------------------------------------------------------------

    def register(self, redirect_uris: object, client_name: object) -> Client:
        if not isinstance(redirect_uris, list) or not redirect_uris:
            raise OAuthError("invalid_redirect_uri", "redirect_uris must be a non-empty list of URIs")
        uris: list[str] = []
        for uri in redirect_uris:  # pyright: ignore[reportUnknownVariableType]
            if not isinstance(uri, str) or not (uri.startswith("https://") or is_loopback_uri(uri)):
                raise OAuthError(
                    "invalid_redirect_uri", "Each redirect URI must be https, or http on a loopback address"
                )
            if "#" in uri:
                raise OAuthError("invalid_redirect_uri", "A redirect URI must not carry a fragment")
            uris.append(uri)
        if len(self._clients) >= MAX_CLIENTS:
            raise OAuthError("invalid_client_metadata", "Too many registered clients in this sandbox; reset it")
        name = client_name if isinstance(client_name, str) and client_name.strip() else "Unnamed client"
        client = Client(f"client_{secrets.token_hex(8)}", tuple(uris), name[:100], int(self.now()))
        self._clients[client.client_id] = client
        return client

    def client(self, client_id: str | None) -> Client:
        if client_id is None or client_id not in self._clients:
            raise OAuthError("invalid_client", "Unknown client_id: register the client first (POST /oauth/register)")
        return self._clients[client_id]

    def redirect_allowed(self, client: Client, uri: str) -> bool:
        if client.first_party:
            return is_loopback_uri(uri)
        if uri in client.redirect_uris:
            return True
        if self.settings.oauth_redirect_match == "loopback-any-port" and is_loopback_uri(uri):
            return _without_port(uri) in {_without_port(r) for r in client.redirect_uris if is_loopback_uri(r)}
        return False

    # The authorization code flow --------------------------------------------------------------------------------

    def issue_code(self, request: AuthorizationRequest, *, workspace_key: str, tenant_key: str | None) -> str:
        code = secrets.token_urlsafe(24)
        email = self.settings.oauth_email
        expires = self.now() + self.settings.oauth_code_ttl
        self._codes[_digest(code)] = _Code(request, workspace_key, tenant_key, email, expires)
        return code

    def exchange_code(
        self, *, code: str | None, client_id: str | None, redirect_uri: str | None, code_verifier: str | None
    ) -> tuple[TokenGrant, str, str | None]:
        """The grant, its new access token and refresh token, for a code; each code works once."""
        pending = self._codes.pop(_digest(code or ""), None)
        if pending is None or pending.expires_at <= self.now():
            raise OAuthError("invalid_grant", "The authorization code is unknown, used or expired")
        request = pending.request
        if client_id != request.client_id:
            raise OAuthError("invalid_grant", "The authorization code was issued to another client")
        if redirect_uri != request.redirect_uri:
            raise OAuthError("invalid_grant", "redirect_uri does not match the one of the authorization request")
        if not code_verifier:
            raise OAuthError("invalid_request", "code_verifier is required (PKCE S256)")
        expected = base64.urlsafe_b64encode(hashlib.sha256(code_verifier.encode()).digest()).rstrip(b"=").decode()
        if not hmac.compare_digest(expected, request.code_challenge):
            raise OAuthError("invalid_grant", "code_verifier does not match the code_challenge (PKCE S256)")
        grant = TokenGrant(
            self._next_id("grant"),
            request.client_id,
            request.scope,
            pending.workspace_key,
            pending.tenant_key,
            pending.email,
            request.resource,
        )
        self._grants[grant.grant_id] = grant
        access, refresh = self._issue(grant, new_refresh=True)
        return grant, access, refresh

    def refresh(self, *, refresh_token: str | None, client_id: str | None) -> tuple[TokenGrant, str, str | None]:
        digest = _digest(refresh_token or "")
        grant = self._by_refresh.get(digest)
        if grant is None:
            reused = next((g for g in self._grants.values() if digest in g.retired_refresh), None)
            if reused is not None:
                # A retired refresh token came back: someone holds a copy; end the whole sign-in (OAuth 2.1 §4.3.1).
                self._revoke(reused)
            raise OAuthError("invalid_grant", "The refresh token is unknown, revoked or already used")
        if grant.revoked or grant.refresh_expires_at <= self.now():
            raise OAuthError("invalid_grant", "The refresh token has expired or was revoked: sign in again")
        if client_id != grant.client_id:
            raise OAuthError("invalid_grant", "The refresh token was issued to another client")
        rotate = self.settings.oauth_rotate_refresh_tokens
        if rotate:
            del self._by_refresh[digest]
            grant.retired_refresh.add(digest)
        access, refresh = self._issue(grant, new_refresh=rotate)
        return grant, access, refresh

    def _issue(self, grant: TokenGrant, *, new_refresh: bool) -> tuple[str, str | None]:
        now = self.now()
        access = ACCESS_PREFIX + secrets.token_urlsafe(32)
        access_digest = _digest(access)
        grant.access = {d: exp for d, exp in grant.access.items() if exp > now}
        grant.access[access_digest] = now + self.settings.oauth_access_token_ttl
        self._by_access[access_digest] = grant
        refresh: str | None = None
        if new_refresh:
            refresh = REFRESH_PREFIX + secrets.token_urlsafe(32)
            grant.refresh_digest = _digest(refresh)
            grant.refresh_expires_at = now + self.settings.oauth_refresh_token_ttl
            self._by_refresh[grant.refresh_digest] = grant
        return access, refresh

    def revoke(self, token: str | None) -> None:
        """RFC 7009: revoking either token of a sign-in ends the sign-in; an unknown token is not an error."""
        digest = _digest(token or "")
        grant = self._by_access.get(digest) or self._by_refresh.get(digest)
        if grant is not None:
            self._revoke(grant)

    def _revoke(self, grant: TokenGrant) -> None:
        grant.revoked = True
        for digest in grant.access:
            self._by_access.pop(digest, None)
        if grant.refresh_digest is not None:
            self._by_refresh.pop(grant.refresh_digest, None)

    # The REST API's view ---------------------------------------------------------------------------------------

    def owns(self, token: str) -> bool:
        return token.startswith(ACCESS_PREFIX) or token.startswith(REFRESH_PREFIX)

    def principal(self, token: str) -> Principal | str:
        """Who an access token speaks for, or why it is refused (a 401 message naming no token)."""
        digest = _digest(token)
        grant = self._by_access.get(digest)
        if grant is None or grant.revoked:
            return "The access token is unknown or was revoked: sign in again"
        if grant.access.get(digest, 0.0) <= self.now():
            return "The access token has expired: refresh it (grant_type=refresh_token)"
        if not self.settings.oauth_client_tokens_on_rest and not self._clients[grant.client_id].first_party:
            return "This token was issued to a third-party client and is not accepted on the REST API"
        if grant.scope != "tenant":
            return Principal(workspace_key=grant.workspace_key, tenant_key=None, is_admin=False)
        return Principal(workspace_key=grant.workspace_key, tenant_key=grant.tenant_key, is_admin=False)

    def sign_ins(self) -> list[TokenGrant]:
        return list(self._grants.values())


def oauth_principal(oauth: OAuthState | None, authorization: str | None) -> Principal | None:
    """The principal of a bearer token this server issued; None for any other token (the JWT check applies)."""
    if oauth is None or authorization is None:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not oauth.owns(token):
        return None
    found = oauth.principal(token)
    if isinstance(found, str):
        raise NotAuthenticated(found)
    return found
