"""Settings of the stdio server: command-line flags, then the environment, resolved once, here.

Credentials (membrane-api.md §2.5, the SDK's precedence; the table is docs/sign-in.md): a workspace key and secret
(plus an optional tenant key) mint tokens; otherwise MEMBRANE_TOKEN, then MEMBRANE_ACCESS_TOKEN, is used as is;
otherwise the sign-in `clevertap-mcp login` stored for the API URL (signin/). The base URL is
MEMBRANE_API_URL, then MEMBRANE_API_URI, then Membrane's public API. With no credential the server still starts,
so a host can list its tools, and every tool answers with `credentials_problem`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal
from urllib.parse import urlsplit

from clevertap_mcp.membrane.auth import MintedToken, StaticToken, TokenSource
from clevertap_mcp.membrane.client import DEFAULT_API_URL
from clevertap_mcp.membrane.retry import RetryPolicy

if TYPE_CHECKING:
    from clevertap_mcp.sandbox.settings import SandboxSettings
    from clevertap_mcp.signin.store import TokenStore

DEFAULT_APP_URL = "clevertap.com"

NO_CREDENTIALS = (
    "No Membrane credentials are configured, so nothing was sent. Sign in with `clevertap-mcp login` (a browser "
    "sign-in; no key to paste), or set MEMBRANE_TOKEN (a Membrane API token), or "
    "MEMBRANE_WORKSPACE_KEY and MEMBRANE_WORKSPACE_SECRET (plus MEMBRANE_TENANT_KEY for a tenant token), in this "
    "server's environment (the \"env\" block of the MCP host's config), then restart the server; or start it with "
    "--sandbox to try it against the built-in offline sandbox."
)


ConfirmMode = Literal["never", "elicit", "required", "writes"]
CONFIRM_MODES: tuple[ConfirmMode, ...] = ("never", "elicit", "required", "writes")
# Claude Desktop cannot show a form (no elicitation), but asks the user before each destructive tool call itself:
# "elicit" asks where the client can and leaves the rest to that host prompt, instead of refusing outright.
DEFAULT_CONFIRM_MODE: ConfirmMode = "elicit"
DEFAULT_MAX_OUTPUT_CHARS = 20_000
# HTTP transport: per-token Membrane clients kept at most (state.TokenCallers).
DEFAULT_MAX_TOKEN_CLIENTS = 256
# Below this a result cannot hold its own truncation notice and a useful part of the data.
MIN_MAX_OUTPUT_CHARS = 2_000
_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})


class SettingsError(ValueError):
    """A setting that cannot be used; the message names the variable or flag and the accepted values."""


@dataclass(frozen=True)
class Settings:
    api_url: str
    token_source: TokenSource | None
    credentials_problem: str | None = None
    # When set, the server starts the built-in sandbox and talks to it instead of `api_url`.
    sandbox: SandboxSettings | None = None
    # With `sandbox`: use the sandbox process shared by servers with the same settings (sandbox_share.py).
    sandbox_shared: bool = False
    app_url: str = DEFAULT_APP_URL
    # None: the client's default policy (membrane/retry.py). Tests pass one whose sleep records instead of waiting.
    retry: RetryPolicy | None = None
    # HTTP transport (http.py): refuse requests that carry no Membrane token of their own.
    require_request_token: bool = False
    # HTTP transport: how many per-token Membrane clients to keep (least recently used evicted).
    max_token_clients: int = DEFAULT_MAX_TOKEN_CLIENTS
    # HTTP transport: keys sealing multi-round-trip request state; replicas must share them ([] = per process).
    request_state_keys: tuple[str, ...] = ()
    # Safety (with_safety below): only reads run; when to ask the user before deletes, stops and sends; the size of
    # any one result an agent receives.
    read_only: bool = False
    confirm: ConfirmMode = DEFAULT_CONFIRM_MODE
    max_output_chars: int = DEFAULT_MAX_OUTPUT_CHARS
    # With no credential at all: where a sign-in offered by the first tool call is kept (signin_offer.py).
    sign_in_store: TokenStore | None = None


def _get(env: Mapping[str, str], name: str) -> str | None:
    value = env.get(name, "").strip()
    return value or None


def resolve_api_url(env: Mapping[str, str]) -> str:
    return (_get(env, "MEMBRANE_API_URL") or _get(env, "MEMBRANE_API_URI") or DEFAULT_API_URL).rstrip("/")


def api_url_problem(url: str) -> str | None:
    """Why the base URL cannot work, naming the variable to fix; None when it can."""
    try:
        parts = urlsplit(url)
        usable = parts.scheme in ("http", "https") and bool(parts.hostname) and not parts.query and not parts.fragment
        has_userinfo = "@" in parts.netloc
    except ValueError:
        usable, has_userinfo = False, False
    if has_userinfo:
        # A user name or password in the URL would ride along as Basic auth and be quoted in every connect error.
        return (
            "MEMBRANE_API_URL (or MEMBRANE_API_URI) carries a user name or password (`user:pass@`), so nothing was "
            "sent. Remove it: Membrane authenticates with MEMBRANE_TOKEN or MEMBRANE_WORKSPACE_KEY/SECRET. Then "
            "restart the server."
        )
    if usable:
        return None
    return (
        "MEMBRANE_API_URL (or MEMBRANE_API_URI) is not a usable http(s) base URL, so nothing was sent. Set it to "
        f"Membrane's API address, such as {DEFAULT_API_URL}, or unset it, then restart the server."
    )


def resolve_credentials(env: Mapping[str, str]) -> tuple[TokenSource | None, str | None]:
    """The token source, or None and a message naming the variable to set."""
    key, secret = _get(env, "MEMBRANE_WORKSPACE_KEY"), _get(env, "MEMBRANE_WORKSPACE_SECRET")
    if key and secret:
        return MintedToken(key, secret, _get(env, "MEMBRANE_TENANT_KEY")), None
    if key or secret:
        missing = "MEMBRANE_WORKSPACE_SECRET" if key else "MEMBRANE_WORKSPACE_KEY"
        if not (_get(env, "MEMBRANE_TOKEN") or _get(env, "MEMBRANE_ACCESS_TOKEN")):
            return None, (
                f"MEMBRANE_WORKSPACE_KEY and MEMBRANE_WORKSPACE_SECRET go together: {missing} is not set. "
                "Set it (or set MEMBRANE_TOKEN instead) in this server's environment and restart the server."
            )
    for name in ("MEMBRANE_TOKEN", "MEMBRANE_ACCESS_TOKEN"):
        token = _get(env, name)
        if token:
            return StaticToken(token, origin=name), None
    return None, NO_CREDENTIALS


def resolve_stored(env: Mapping[str, str], api_url: str) -> tuple[TokenSource | None, str | None]:
    """The sign-in `clevertap-mcp login` stored for `api_url`, when the environment sets no credential."""
    from clevertap_mcp.signin.session import stored_token_source

    source, problem = stored_token_source(env, api_url)
    if source is None and problem is None:
        return None, NO_CREDENTIALS
    return source, problem


def settings_from_env(env: Mapping[str, str], *, sandbox: SandboxSettings | None = None) -> Settings:
    if sandbox is not None:
        # The sandbox's own demo workspace; the real environment's credentials are never sent to it.
        demo = MintedToken(sandbox.workspace_key, sandbox.workspace_secret, sandbox.tenant_key)
        return Settings(api_url="", token_source=demo, sandbox=sandbox)
    api_url = resolve_api_url(env)
    token_source, problem = resolve_credentials(env)
    if token_source is None and problem == NO_CREDENTIALS:
        token_source, problem = resolve_stored(env, api_url)
    url_problem = api_url_problem(api_url)
    if url_problem is not None:
        token_source, problem = None, url_problem
    return Settings(
        api_url=api_url,
        token_source=token_source,
        credentials_problem=problem,
        sign_in_store=_sign_in_store(env) if problem == NO_CREDENTIALS else None,
    )


def _sign_in_store(env: Mapping[str, str]) -> TokenStore | None:
    from clevertap_mcp.signin.store import StoreError, store_from_env

    try:
        return store_from_env(env)
    except StoreError:
        return None


def with_safety(
    settings: Settings,
    env: Mapping[str, str],
    *,
    read_only: bool | None = None,
    confirm: str | None = None,
    max_output_chars: int | None = None,
) -> Settings:
    """`settings` with read-only mode, confirmations and the output budget: the flags when given, else the
    environment (CLEVERTAP_MCP_READ_ONLY, CLEVERTAP_MCP_CONFIRM, CLEVERTAP_MCP_MAX_OUTPUT_CHARS), else the defaults.

    A value that cannot be read is an error, never a silent default: a typo must not turn read-only mode off.
    """
    if read_only is None:
        raw = _get(env, "CLEVERTAP_MCP_READ_ONLY")
        if raw is not None and raw.lower() not in _TRUE | _FALSE:
            raise SettingsError(f"CLEVERTAP_MCP_READ_ONLY must be 1 or 0 (true/false, yes/no), not {raw!r}.")
        read_only = raw is not None and raw.lower() in _TRUE
    mode = confirm if confirm is not None else (_get(env, "CLEVERTAP_MCP_CONFIRM") or DEFAULT_CONFIRM_MODE)
    if mode not in CONFIRM_MODES:
        raise SettingsError(
            f"--confirm / CLEVERTAP_MCP_CONFIRM must be one of {', '.join(CONFIRM_MODES)}, not {mode!r}."
        )
    if max_output_chars is None:
        raw = _get(env, "CLEVERTAP_MCP_MAX_OUTPUT_CHARS")
        try:
            max_output_chars = int(raw) if raw is not None else DEFAULT_MAX_OUTPUT_CHARS
        except ValueError:
            raise SettingsError(f"CLEVERTAP_MCP_MAX_OUTPUT_CHARS must be a whole number, not {raw!r}.") from None
    if max_output_chars < MIN_MAX_OUTPUT_CHARS:
        raise SettingsError(
            f"--max-output-chars / CLEVERTAP_MCP_MAX_OUTPUT_CHARS must be at least {MIN_MAX_OUTPUT_CHARS}, "
            f"not {max_output_chars}."
        )
    return dataclasses.replace(settings, read_only=read_only, confirm=mode, max_output_chars=max_output_chars)


def safety_env(settings: Settings) -> dict[str, str]:
    """The variables `with_safety` reads, set to `settings`' values: what worker processes, which see only the
    environment, need to apply the same safety settings as the command line that started them."""
    return {
        "CLEVERTAP_MCP_READ_ONLY": "1" if settings.read_only else "0",
        "CLEVERTAP_MCP_CONFIRM": settings.confirm,
        "CLEVERTAP_MCP_MAX_OUTPUT_CHARS": str(settings.max_output_chars),
    }
