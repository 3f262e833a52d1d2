"""`clevertap-mcp doctor`: one line per check, ✓ or ✗, and the fix; exit status 0 only when all is well.

Checks, in order (a failed check stops the ones that depend on it): Python and package versions, the Membrane API
URL, which credential source is in use (never the secret), the token's expiry (read from the JWT without verifying
it), that Membrane answers and accepts the token, and the CleverTap connection's state with its connect link when it
needs one. `--sandbox` runs the same checks against an embedded sandbox whose connections connect on their own.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from typing import Any, TextIO, cast

import jwt

from clevertap_mcp.agent_errors import MAX_QUOTED_CHARS, quoted
from clevertap_mcp.cli.terminal import utf8_output
from clevertap_mcp.config import (
    NO_CREDENTIALS,
    api_url_problem,
    resolve_api_url,
    resolve_credentials,
    resolve_stored,
)
from clevertap_mcp.connections import clevertap_connections
from clevertap_mcp.membrane.auth import MintedToken, OAuthToken, TokenSource
from clevertap_mcp.membrane.client import MembraneClient
from clevertap_mcp.membrane.errors import (
    APIError,
    AuthenticationError,
    MembraneError,
    PermissionDeniedError,
    TransportError,
)
from clevertap_mcp.membrane.models import BUILDING, CLIENT_ACTION_REQUIRED, Connection
from clevertap_mcp.membrane.retry import NO_RETRY
from clevertap_mcp.tools import CLEVERTAP_DOMAIN

__all__ = ["Check", "run", "run_doctor"]

MIN_PYTHON = (3, 11)
MCP_RANGE = ((2, 3), (3, 0))
REQUEST_TIMEOUT_SECONDS = 15.0
# A token this close to expiry will fail mid-session; say so before it does.
EXPIRY_WARNING_SECONDS = 300


@dataclass(frozen=True)
class Check:
    ok: bool
    label: str
    detail: str
    fix: str = ""

    def line(self) -> str:
        mark = "✓" if self.ok else "✗"
        fix = f" — fix: {self.fix}" if self.fix and not self.ok else ""
        return f"{mark} {self.label}: {self.detail}{fix}"


def _version_tuple(version: str) -> tuple[int, ...]:
    parts: list[int] = []
    for piece in version.split(".")[:3]:
        digits = "".join(ch for ch in piece if ch.isdigit())
        if not digits:
            break
        parts.append(int(digits))
    return tuple(parts)


def python_check(version_info: tuple[int, ...] = tuple(sys.version_info[:3])) -> Check:
    shown = ".".join(str(n) for n in version_info)
    if tuple(version_info[:2]) >= MIN_PYTHON:
        return Check(True, "Python", f"{shown} at {sys.executable}")
    return Check(False, "Python", f"{shown} is too old", "install clevertap-mcp with Python 3.11 or newer.")


def packages_check(ours: str | None, mcp: str | None) -> Check:
    label = "Packages"
    if ours is None or mcp is None:
        missing = "clevertap-mcp" if ours is None else "mcp"
        return Check(False, label, f"{missing} is not installed in this Python", "run `pip install clevertap-mcp`.")
    low, high = MCP_RANGE
    if not low <= _version_tuple(mcp)[:2] < high:
        return Check(
            False,
            label,
            f"clevertap-mcp {ours} with mcp {mcp}, which it does not support",
            "run `pip install 'mcp>=2.3,<3'`.",
        )
    return Check(True, label, f"clevertap-mcp {ours}, mcp {mcp}")


def _installed(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def _when(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, tz=UTC).strftime("%Y-%m-%d %H:%M UTC")


def _span(seconds: float) -> str:
    seconds = abs(seconds)
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    if seconds < 172800:
        return f"{seconds / 3600:.0f} h"
    return f"{seconds / 86400:.0f} days"


def expiry_check(source: TokenSource, *, now: float | None = None) -> Check:
    label = "Token expiry"
    now = time.time() if now is None else now
    if isinstance(source, OAuthToken):
        exp = source.expires_at
        if exp is None:
            return Check(True, label, "the sign-in's token has no stated expiry; it is renewed after a 401")
        state = f"valid for {_span(exp - now)} more" if exp > now else f"expired {_span(exp - now)} ago"
        return Check(True, label, f"{state} ({_when(exp)}); renewed automatically with the stored sign-in")
    if isinstance(source, MintedToken):
        source.token()
        exp = source.expires_at
        return Check(True, label, f"minted on demand, each valid 1 h (this one until {_when(exp or now)})")
    try:
        claims: Any = jwt.decode(source.token(), options={"verify_signature": False})
    except jwt.PyJWTError:
        return Check(True, label, "the token is not a JWT, so its expiry cannot be read; Membrane's answer decides")
    exp = cast(dict[str, Any], claims).get("exp") if isinstance(claims, dict) else None
    if not isinstance(exp, int | float):
        return Check(True, label, "the token has no expiry")
    left = float(exp) - now
    fix = (
        "get a fresh Membrane token, or set MEMBRANE_WORKSPACE_KEY and MEMBRANE_WORKSPACE_SECRET so tokens are "
        "minted as needed."
    )
    if left <= 0:
        return Check(False, label, f"the token expired {_span(left)} ago ({_when(exp)})", fix)
    if left < EXPIRY_WARNING_SECONDS:
        return Check(False, label, f"the token expires in {_span(left)} ({_when(exp)})", fix)
    return Check(True, label, f"valid for {_span(left)} more (until {_when(exp)})")


def api_check(base_url: str, result: Any) -> Check:
    """`result` is what listing CleverTap connections gave: a list of them, or the Membrane error."""
    label = "Membrane API"
    if isinstance(result, list):
        return Check(True, label, f"{base_url} answers and accepts the token")
    if isinstance(result, AuthenticationError):
        return Check(
            False,
            label,
            f"{base_url} rejected the token (401: {result.message})",
            "check MEMBRANE_TOKEN, or the workspace key and secret, in the environment the server runs with.",
        )
    if isinstance(result, PermissionDeniedError):
        return Check(
            False,
            label,
            f"{base_url} refused access to connections (403: {result.message})",
            "use a token of a workspace (or tenant) that may manage connections. With MEMBRANE_WORKSPACE_KEY and "
            "MEMBRANE_WORKSPACE_SECRET, set MEMBRANE_TENANT_KEY too: a token minted without it names no tenant, and "
            "connections belong to a tenant.",
        )
    if isinstance(result, TransportError):
        return Check(
            False,
            label,
            f"no answer from {base_url} ({result})",
            "check MEMBRANE_API_URL and that this machine reaches it (proxy, VPN, firewall).",
        )
    if isinstance(result, APIError):
        return Check(False, label, f"{base_url} answered {result.status}: {result.message}", "try again later.")
    return Check(False, label, f"{base_url} gave an unexpected answer ({result})", "try again later.")


def connection_check(connections: list[Connection], *, created: bool = False) -> Check:
    label = "CleverTap connection"
    ready = [c for c in connections if c.is_ready]
    if ready:
        return Check(True, label, f"{ready[0].id} is READY")
    if not connections:
        return Check(
            False,
            label,
            "none yet",
            "ask your agent to call ensure_connection (it shows you a connect link), or run "
            "`clevertap-mcp doctor --connect` to create one and print its link.",
        )
    conn = connections[0]
    state = conn.effective_state
    verb = "created; it is" if created else "is"
    if state == CLIENT_ACTION_REQUIRED:
        link = conn.client_action.ui_url if conn.client_action else None
        where = f"open {link}" if link else "open the connect link ensure_connection gives"
        return Check(
            False,
            label,
            # The link is in the fix, once: the line stays short enough to read in a terminal.
            f"{conn.id} {verb} {state}, waiting for someone to connect CleverTap",
            f"{where} in a browser, connect CleverTap, then run doctor again.",
        )
    if state == BUILDING:
        return Check(False, label, f"{conn.id} {verb} still BUILDING", "run doctor again in a minute.")
    # Membrane's words inside doctor's line: quoted and bounded, never read as doctor's own advice.
    errors = "; ".join(quoted(e.message, MAX_QUOTED_CHARS) for e in conn.errors if e.message)
    return Check(
        False,
        label,
        f"{conn.id} {verb} {state}" + (f" ({errors})" if errors else ""),
        "ask your agent to call ensure_connection again, or reconnect CleverTap in Membrane's console.",
    )


async def _remote_checks(base_url: str, source: TokenSource, *, connect: bool) -> list[Check]:
    async with MembraneClient(base_url, source, timeout=REQUEST_TIMEOUT_SECONDS, retry=NO_RETRY) as client:
        try:
            # Found as the tools find it (§11 R2): never by the integration key alone.
            connections, _ = await clevertap_connections(client)
        except MembraneError as exc:
            return [api_check(base_url, exc)]
        checks = [api_check(base_url, connections)]
        if connections or not connect:
            return [*checks, connection_check(connections)]
        try:
            made = await client.ensure_connection(CLEVERTAP_DOMAIN)
        except MembraneError as exc:
            return [*checks, Check(False, "CleverTap connection", f"could not be created: {exc}", "try again later.")]
        return [*checks, connection_check([made], created=True)]


async def run_doctor(env: Mapping[str, str], out: TextIO, *, sandbox: bool = False, connect: bool = False) -> int:
    """Print every check; 0 when all passed, 1 otherwise."""
    checks: list[Check] = []

    def emit(new: list[Check]) -> None:
        checks.extend(new)
        for check in new:
            out.write(check.line() + "\n")
        out.flush()

    emit([python_check(), packages_check(_installed("clevertap-mcp"), _installed("mcp"))])
    if sandbox:
        from clevertap_mcp.sandbox.server import SandboxServer
        from clevertap_mcp.sandbox.settings import SandboxSettings

        settings = SandboxSettings(auto_connect=True)
        embedded = SandboxServer(settings)
        embedded.start()
        try:
            source = MintedToken(settings.workspace_key, settings.workspace_secret, settings.tenant_key)
            emit(
                [
                    Check(True, "Membrane API URL", f"{embedded.base_url} (embedded sandbox)"),
                    Check(True, "Credentials", "the sandbox's demo workspace (the environment's are not used)"),
                    expiry_check(source),
                ]
            )
            emit(await _remote_checks(embedded.base_url, source, connect=True))
        finally:
            embedded.stop()
        return 0 if all(c.ok for c in checks) else 1

    base_url = resolve_api_url(env)
    problem = api_url_problem(base_url)
    if problem is not None:
        emit([Check(False, "Membrane API URL", f"{base_url!r} is not usable", problem)])
        return 1
    emit([Check(True, "Membrane API URL", base_url)])
    source, credentials_problem = resolve_credentials(env)
    if source is None and credentials_problem == NO_CREDENTIALS:
        source, credentials_problem = resolve_stored(env, base_url)  # `clevertap-mcp login`
    if source is None:
        if credentials_problem == NO_CREDENTIALS:
            credentials_problem = (
                "run `clevertap-mcp login` (a browser sign-in), or set MEMBRANE_TOKEN, or MEMBRANE_WORKSPACE_KEY and MEMBRANE_WORKSPACE_SECRET (plus MEMBRANE_TENANT_KEY "
                'for a tenant token), in the environment the server runs with (a host\'s "env" block); or try '
                "`clevertap-mcp doctor --sandbox`."
            )
        emit([Check(False, "Credentials", "none set", credentials_problem or "")])
        return 1
    emit([Check(True, "Credentials", source.description), expiry_check(source)])
    emit(await _remote_checks(base_url, source, connect=connect))
    return 0 if all(c.ok for c in checks) else 1


def run(args: argparse.Namespace) -> int:
    import anyio

    sandbox = bool(args.doctor_sandbox or args.sandbox)
    utf8_output(sys.stdout)
    if args.contract:
        from clevertap_mcp.cli.contract import run_contract

        return anyio.run(lambda: run_contract(os.environ, sys.stdout, sandbox=sandbox))
    return anyio.run(lambda: run_doctor(os.environ, sys.stdout, sandbox=sandbox, connect=args.connect))
