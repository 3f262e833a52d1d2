"""`clevertap-mcp logout`: revoke the stored sign-in at Membrane and delete it from the token store."""

from __future__ import annotations

import argparse
import os
import sys

import anyio

from clevertap_mcp.config import resolve_api_url
from clevertap_mcp.signin.oauth import OAuthClient, SignInError
from clevertap_mcp.signin.store import SignIn, StoreError, store_from_env

__all__ = ["run"]


async def _revoke(sign_in: SignIn) -> str:
    """What happened at Membrane, for the person."""
    if sign_in.kind != "oauth" or not sign_in.client_id:
        return "It was a workspace key and secret from the Membrane CLI, which stays valid there."
    oauth = OAuthClient(sign_in.api_url)
    try:
        confirmed = True
        for token in (sign_in.refresh_token, sign_in.access_token):
            if token:
                confirmed = await oauth.revoke(client_id=sign_in.client_id, token=token) and confirmed
    except SignInError as exc:
        return f"Membrane could not be asked to revoke its tokens ({exc}); they expire on their own."
    return "Its tokens were revoked at Membrane." if confirmed else "Membrane did not confirm the revocation."


def run(args: argparse.Namespace) -> int:
    out = sys.stderr
    api_url = resolve_api_url(os.environ)
    try:
        store = store_from_env(os.environ)
        if store is None:
            out.write("clevertap-mcp logout: no config directory (HOME is not set), so nothing is stored.\n")
            return 0
        with store.locked():
            try:
                sign_in = store.load(api_url)
            except StoreError as exc:
                store.delete(api_url)
                out.write(f"Removed an unusable sign-in file ({exc}).\n")
                return 0
            if sign_in is None:
                out.write(f"Not signed in to {api_url}: nothing to remove.\n")
                return 0
            revoked = anyio.run(_revoke, sign_in)
            store.delete(api_url)
    except StoreError as exc:
        out.write(f"clevertap-mcp logout: {exc}\n")
        return 1
    out.write(f"Signed out of Membrane ({sign_in.who()}, {api_url}). {revoked} Removed from {store.where}.\n")
    return 0
