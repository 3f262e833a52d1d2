"""`clevertap-mcp login`: sign in to Membrane in a browser and keep the tokens in the token store (docs/sign-in.md).

With a browser on this machine the sign-in page opens and comes back to a loopback address; without one (`--no-browser`,
or none to open) the URL is printed and the address the browser ends on (or just its code) is pasted back, as
`membrane login` offers. `--from-membrane-cli` instead imports what `membrane credentials --json` prints: a workspace
key and *secret*, which is then what the store holds.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
import webbrowser
from typing import Any, TextIO, cast

import anyio

from clevertap_mcp.config import api_url_problem, resolve_api_url
from clevertap_mcp.signin.flow import PendingSignIn, complete
from clevertap_mcp.signin.loopback import LoopbackReceiver
from clevertap_mcp.signin.oauth import OAuthClient, SignInError
from clevertap_mcp.signin.store import SignIn, StoreError, TokenStore, store_from_env

__all__ = ["run"]

DEFAULT_TIMEOUT_SECONDS = 300
MEMBRANE_CLI_TIMEOUT_SECONDS = 30


def _say(text: str, out: TextIO) -> None:
    out.write(text + "\n")
    out.flush()


def _store() -> TokenStore:
    store = store_from_env(os.environ)
    if store is None:
        raise StoreError(
            "No config directory: set HOME (or CLEVERTAP_MCP_CONFIG_DIR) so the sign-in has somewhere to be kept."
        )
    return store


def _signed_in(sign_in: SignIn, store: TokenStore, out: TextIO) -> None:
    expiry = ""
    if sign_in.expires_at is not None:
        minutes = max(0, round((sign_in.expires_at - time.time()) / 60))
        expiry = f" The access token lasts {minutes} min and is renewed automatically."
    _say(f"Signed in to Membrane as {sign_in.who()}.{expiry} Kept in {store.where}.", out)
    _say("Next: `clevertap-mcp config <host> --write`, then ask your agent about CleverTap.", out)


async def _browser_login(
    api_url: str, store: TokenStore, *, open_browser: bool, wait_seconds: float, out: TextIO
) -> int:
    oauth = OAuthClient(api_url)
    pending_state = os.urandom(16).hex()
    async with LoopbackReceiver(
        pending_state, done_text="You can close this tab and return to the terminal."
    ) as receiver:
        pending = await PendingSignIn.start(oauth, receiver.redirect_uri, state=pending_state)
        opened = open_browser and _open(pending.url)
        answer: dict[str, str] | str | None = None
        with anyio.move_on_after(wait_seconds):
            if opened:
                _say(f"Opened your browser to sign in to Membrane. If nothing opened, visit:\n\n  {pending.url}\n", out)
                answer = await receiver.wait()
            else:
                _say(
                    "Open this address in a browser (on any machine) and sign in to Membrane:\n\n"
                    f"  {pending.url}\n\n"
                    f"Your browser then goes to an address starting with {receiver.redirect_uri} (on another machine "
                    "it will not load; that is fine). Paste that whole address, or just its code, here:",
                    out,
                )
                answer = await _first_of(receiver, sys.stdin)
        if answer is None:
            _say(f"clevertap-mcp login: no sign-in within {wait_seconds:.0f} s. Run it again when ready.", out)
            return 1
        sign_in = await complete(pending, pending.code_from(answer), store)
    _signed_in(sign_in, store, out)
    return 0


def _open(url: str) -> bool:
    try:
        return webbrowser.open(url)
    except webbrowser.Error:
        return False


async def _first_of(receiver: LoopbackReceiver, stdin: TextIO) -> dict[str, str] | str:
    """Whichever comes first: the browser reaching the loopback address, or a pasted line."""
    result: dict[str, str] | str = ""
    async with anyio.create_task_group() as group:

        async def from_browser() -> None:
            nonlocal result
            result = await receiver.wait()
            group.cancel_scope.cancel()

        async def from_terminal() -> None:
            nonlocal result
            result = await anyio.to_thread.run_sync(stdin.readline, abandon_on_cancel=True)
            group.cancel_scope.cancel()

        group.start_soon(from_browser)
        group.start_soon(from_terminal)
    return result


def _from_membrane_cli(api_url_env: str | None, store: TokenStore, out: TextIO) -> int:
    found = shutil.which("membrane")
    if found is None:
        raise SignInError(
            "The Membrane CLI (`membrane`) is not on PATH. Install it and run `membrane login`, or use "
            "`clevertap-mcp login` to sign in in a browser."
        )
    try:
        done = subprocess.run(  # noqa: S603 - the user's own membrane CLI, found on PATH, fixed arguments
            [found, "credentials", "--json"], capture_output=True, timeout=MEMBRANE_CLI_TIMEOUT_SECONDS, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise SignInError(f"`membrane credentials --json` could not run ({type(exc).__name__}).") from None
    if done.returncode != 0:
        raise SignInError(
            f"`membrane credentials --json` failed (exit {done.returncode}). Run `membrane login` first, then try again."
        )
    try:
        printed: Any = json.loads(done.stdout)
        fields = cast(dict[str, Any], printed)
        key, secret = fields["workspaceKey"], fields["workspaceSecret"]
        assert isinstance(key, str) and key and isinstance(secret, str) and secret
    except (ValueError, KeyError, TypeError, AssertionError):
        raise SignInError(
            "`membrane credentials --json` did not print {apiUri, workspaceKey, workspaceSecret, tenantKey}; is the "
            "Membrane CLI up to date and signed in?"
        ) from None
    api_uri = fields.get("apiUri")
    api_url = (
        api_url_env or (api_uri if isinstance(api_uri, str) and api_uri else None) or resolve_api_url({})
    ).rstrip("/")
    tenant = fields.get("tenantKey")
    sign_in = SignIn(
        api_url=api_url,
        kind="workspace-secret",
        workspace_key=key,
        workspace_secret=secret,
        tenant_key=tenant if isinstance(tenant, str) and tenant else None,
        signed_in_at=time.time(),
    )
    with store.locked():
        store.save(sign_in)
    _say(
        f"Imported the Membrane CLI's credentials for {sign_in.who()} ({api_url}). Note: this stores the workspace "
        f"SECRET (it can mint tokens for any tenant of the workspace) in {store.where}. `clevertap-mcp logout` "
        "removes it.",
        out,
    )
    return 0


def run(args: argparse.Namespace) -> int:
    out = sys.stderr  # stdout stays clean for scripts; everything here is for the person
    env_url = os.environ.get("MEMBRANE_API_URL", "").strip() or os.environ.get("MEMBRANE_API_URI", "").strip() or None
    api_url = resolve_api_url(os.environ)
    problem = api_url_problem(api_url)
    if problem is not None:
        _say(f"clevertap-mcp login: {problem}", out)
        return 2
    try:
        store = _store()
        if args.from_membrane_cli:
            return _from_membrane_cli(env_url, store, out)
        return anyio.run(
            lambda: _browser_login(api_url, store, open_browser=not args.no_browser, wait_seconds=args.timeout, out=out)
        )
    except (SignInError, StoreError) as exc:
        _say(f"clevertap-mcp login: {exc}", out)
        return 1
