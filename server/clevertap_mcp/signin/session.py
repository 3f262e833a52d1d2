"""A stored sign-in as the server's token source: OAuth tokens renewed with the refresh token and written back to the
store (under its lock, so processes sharing it never spend a rotated refresh token twice), or an imported workspace
key and secret that mint tokens as the SDK does."""

from __future__ import annotations

import time
from collections.abc import Mapping

import anyio
import httpx2

from clevertap_mcp.membrane.auth import MintedToken, OAuthToken, TokenSource
from clevertap_mcp.membrane.errors import CredentialsError
from clevertap_mcp.signin.oauth import OAuthClient, SignInError
from clevertap_mcp.signin.store import SignIn, StoreError, TokenStore, store_from_env

__all__ = ["SIGN_IN_AGAIN", "stored_token_source", "token_source_for"]

SIGN_IN_AGAIN = (
    "Sign in again: run `clevertap-mcp login` in a terminal (or call ensure_connection for a sign-in link), then "
    "call the tool again."
)
# A token another process stored is adopted only if it has at least this long to live.
ADOPT_MARGIN_SECONDS = 120


def token_source_for(
    sign_in: SignIn, store: TokenStore, *, transport: httpx2.AsyncBaseTransport | None = None
) -> TokenSource:
    if sign_in.kind == "workspace-secret":
        if not (sign_in.workspace_key and sign_in.workspace_secret):
            raise StoreError(f"The sign-in stored in {store.path} lacks its workspace key or secret. {SIGN_IN_AGAIN}")
        return MintedToken(sign_in.workspace_key, sign_in.workspace_secret, sign_in.tenant_key)
    if not sign_in.access_token:
        raise StoreError(f"The sign-in stored in {store.path} has no access token. {SIGN_IN_AGAIN}")
    oauth = OAuthClient(sign_in.api_url, transport=transport)
    api_url = sign_in.api_url

    async def renew(current: str) -> tuple[str, float | None]:
        lock = await anyio.to_thread.run_sync(store.acquire)
        try:
            return await _renew(store, oauth, api_url, current)
        finally:
            store.release(lock)

    return OAuthToken(
        sign_in.access_token,
        sign_in.expires_at,
        renew,
        description=f"signed in as {sign_in.who()} (clevertap-mcp login)",
    )


async def _renew(store: TokenStore, oauth: OAuthClient, api_url: str, current: str) -> tuple[str, float | None]:
    try:
        latest = store.load(api_url)
    except StoreError as exc:
        raise CredentialsError(f"{exc}") from None
    if latest is None or latest.kind != "oauth" or not latest.access_token:
        raise CredentialsError(
            f"You are signed out of Membrane (`clevertap-mcp logout` removed the sign-in). {SIGN_IN_AGAIN}"
        )
    fresh_enough = latest.expires_at is None or latest.expires_at - time.time() > ADOPT_MARGIN_SECONDS
    if latest.access_token != current and fresh_enough:
        return latest.access_token, latest.expires_at  # another process renewed it already
    if not latest.refresh_token or not latest.client_id:
        raise CredentialsError(f"Your Membrane sign-in has expired and cannot be renewed. {SIGN_IN_AGAIN}")
    try:
        tokens = await oauth.refresh(client_id=latest.client_id, refresh_token=latest.refresh_token)
    except SignInError as exc:
        if exc.error in ("invalid_grant", "invalid_client", "unauthorized_client"):
            raise CredentialsError(
                f"Your Membrane sign-in has expired or was revoked ({exc}). {SIGN_IN_AGAIN}"
            ) from None
        raise CredentialsError(f"{exc} The sign-in is kept; try again shortly.") from None
    store.save(
        SignIn(
            api_url=latest.api_url,
            kind="oauth",
            client_id=latest.client_id,
            access_token=tokens.access_token,
            refresh_token=tokens.refresh_token,
            expires_at=tokens.expires_at,
            workspace_key=tokens.workspace_key or latest.workspace_key,
            tenant_key=tokens.tenant_key or latest.tenant_key,
            email=tokens.email or latest.email,
            org_id=tokens.org_id or latest.org_id,
            signed_in_at=latest.signed_in_at,
        )
    )
    return tokens.access_token, tokens.expires_at


def stored_token_source(env: Mapping[str, str], api_url: str) -> tuple[TokenSource | None, str | None]:
    """The stored sign-in for `api_url` as a token source; or None and why a stored sign-in cannot be used (None
    when there simply is none)."""
    try:
        store = store_from_env(env)
        sign_in = store.load(api_url) if store is not None else None
        if store is None or sign_in is None:
            return None, None
        return token_source_for(sign_in, store), None
    except StoreError as exc:
        return None, str(exc)
