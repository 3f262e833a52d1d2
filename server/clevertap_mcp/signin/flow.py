"""One browser sign-in from start to stored tokens: a registered client, PKCE, the authorize URL, then the code
(from the loopback redirect, or pasted back by a person on a machine without a browser) exchanged and stored."""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlsplit

import httpx2

from clevertap_mcp.membrane.auth import StaticToken
from clevertap_mcp.membrane.client import MembraneClient
from clevertap_mcp.membrane.errors import AuthenticationError, MembraneError
from clevertap_mcp.membrane.retry import NO_RETRY
from clevertap_mcp.signin.oauth import OAuthClient, SignInError, TokenSet, pkce_pair
from clevertap_mcp.signin.store import SignIn, TokenStore

__all__ = ["PendingSignIn", "complete"]


@dataclass
class PendingSignIn:
    oauth: OAuthClient
    client_id: str
    redirect_uri: str
    verifier: str
    state: str
    url: str

    @classmethod
    async def start(cls, oauth: OAuthClient, redirect_uri: str, *, state: str | None = None) -> PendingSignIn:
        client_id = await oauth.register(redirect_uri)
        verifier, challenge = pkce_pair()
        state = state or secrets.token_urlsafe(16)
        url = await oauth.authorize_url(
            client_id=client_id, redirect_uri=redirect_uri, challenge=challenge, state=state
        )
        return cls(oauth, client_id, redirect_uri, verifier, state, url)

    def code_from(self, answer: dict[str, str] | str) -> str:
        """The code from the redirect's query, or from what a person pasted: the whole address, or the code alone."""
        if isinstance(answer, str):
            pasted = answer.strip()
            if not pasted:
                raise SignInError("Nothing was pasted. Run `clevertap-mcp login` again.")
            if "://" not in pasted and "=" not in pasted:
                return pasted
            query = urlsplit(pasted).query if "://" in pasted else pasted.lstrip("?")
            answer = dict(parse_qsl(query, keep_blank_values=True))
        if "error" in answer:
            reason = answer.get("error_description") or answer["error"]
            raise SignInError(
                f"The sign-in did not complete: Membrane said {reason!r}. Run `clevertap-mcp login` again."
            )
        if answer.get("state") != self.state:
            raise SignInError(
                "That address belongs to another sign-in (its state does not match), so it was not used. Paste the "
                "address your browser reached after this sign-in."
            )
        code = answer.get("code", "")
        if not code:
            raise SignInError("The address carries no code. Paste the whole address your browser reached.")
        return code

    async def finish(self, code: str) -> TokenSet:
        return await self.oauth.exchange(
            client_id=self.client_id, code=code, verifier=self.verifier, redirect_uri=self.redirect_uri
        )


async def complete(
    pending: PendingSignIn, code: str, store: TokenStore, *, transport: httpx2.AsyncBaseTransport | None = None
) -> SignIn:
    """Exchange the code, check that Membrane's API takes the token, and store the sign-in."""
    tokens = await pending.finish(code)
    api_url = pending.oauth.api_url
    async with MembraneClient(
        api_url, StaticToken(tokens.access_token, origin="the new sign-in"), transport=transport, retry=NO_RETRY
    ) as client:
        try:
            await client.list_connections(limit=1)
        except AuthenticationError as exc:
            await pending.oauth.revoke(client_id=pending.client_id, token=tokens.refresh_token or tokens.access_token)
            raise SignInError(
                f"You signed in, but Membrane's API does not accept the token it issued to this app ({exc.message}). "
                "Use `clevertap-mcp login --from-membrane-cli` (imports the Membrane CLI's workspace credentials), or "
                "set MEMBRANE_WORKSPACE_KEY and MEMBRANE_WORKSPACE_SECRET instead. Nothing was stored."
            ) from None
        except MembraneError:
            pass  # reachable but unwell: the sign-in itself is good, the server will say what goes wrong later
    sign_in = SignIn(
        api_url=api_url,
        kind="oauth",
        client_id=pending.client_id,
        access_token=tokens.access_token,
        refresh_token=tokens.refresh_token,
        expires_at=tokens.expires_at,
        workspace_key=tokens.workspace_key,
        tenant_key=tokens.tenant_key,
        email=tokens.email,
        org_id=tokens.org_id,
        signed_in_at=time.time(),
    )
    with store.locked():
        store.save(sign_in)
    return sign_in
