"""Streamable HTTP: the same tools for a team, stateless so that any worker or replica can answer any request.

`clevertap-mcp --transport http` serves the SDK's Streamable HTTP app at /mcp in stateless mode (every POST is a
whole exchange; nothing lives between requests except each caller's remembered connection, which is only a
default), wrapped in a thin ASGI layer that

- answers GET /healthz without a token (and without the Host check: load balancers probe by IP);
- reads each request's `Authorization: Bearer <Membrane token>` and binds it to the request (state.py), so one
  deployment serves many users without mixing their connections; no header means the server's own credentials,
  unless `--require-client-token` forbids that.

DNS-rebinding protection (the SDK's Host/Origin check) is always on: loopback names are always allowed, plus the
bound address and every `--allowed-host`. Binding beyond loopback while lending the server's own credentials to
anyone who can reach the port is refused unless it is asked for explicitly (`--allow-shared-credentials`).

With `--workers N`, uvicorn starts N processes that each build the app with `app_from_env`, from the environment the
command line exported (`CLEVERTAP_MCP_HTTP_*`); the key sealing multi-round-trip request state is shared the same way
(`CLEVERTAP_MCP_STATE_KEY`), so a retry may land on any worker, and so is a private directory for the pages of cut
results (`CLEVERTAP_MCP_RESULTS_DIR`), so any worker can serve any page.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import logging
import os
import secrets
import shutil
import sys
import tempfile
from collections.abc import Generator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mcp.server.transport_security import TransportSecuritySettings
from starlette.datastructures import Headers
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from clevertap_mcp import __version__, heap, http_guard, logs, redaction
from clevertap_mcp.config import DEFAULT_MAX_TOKEN_CLIENTS, Settings, safety_env, settings_from_env, with_safety
from clevertap_mcp.http_auth import OAUTH_MODES, ProtectedResource
from clevertap_mcp.server import TransportFactory, build_server
from clevertap_mcp.state import RequestCredentials, request_credentials, token_rejected

logger = logging.getLogger(__name__)

MCP_PATH = "/mcp"
HEALTH_PATH = "/healthz"
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000
# AES-256-GCM keys of the SDK's request-state codec must carry at least this much secret material.
MIN_STATE_KEY_LENGTH = 32
FALLBACK_NOTE = "requests without a token use this server's credentials"

ENV_HOST = "CLEVERTAP_MCP_HTTP_HOST"
ENV_PORT = "CLEVERTAP_MCP_HTTP_PORT"
ENV_ALLOWED_HOSTS = "CLEVERTAP_MCP_ALLOWED_HOSTS"
ENV_ALLOWED_ORIGINS = "CLEVERTAP_MCP_ALLOWED_ORIGINS"
ENV_JSON_RESPONSE = "CLEVERTAP_MCP_JSON_RESPONSE"
ENV_REQUIRE_CLIENT_AUTH = "CLEVERTAP_MCP_REQUIRE_CLIENT_TOKEN"
ENV_MAX_CALLERS = "CLEVERTAP_MCP_MAX_TOKEN_CLIENTS"
ENV_STATE_KEY = "CLEVERTAP_MCP_STATE_KEY"
ENV_VERBOSITY = "CLEVERTAP_MCP_VERBOSITY"
ENV_RESULTS_DIR = "CLEVERTAP_MCP_RESULTS_DIR"
ENV_HEADER_TIMEOUT = "CLEVERTAP_MCP_HEADER_TIMEOUT"
ENV_BODY_TIMEOUT = "CLEVERTAP_MCP_BODY_TIMEOUT"
ENV_MAX_CONNECTIONS = "CLEVERTAP_MCP_MAX_CONNECTIONS"
ENV_OAUTH = "CLEVERTAP_MCP_OAUTH"
ENV_PUBLIC_URL = "CLEVERTAP_MCP_PUBLIC_URL"

LOOPBACK_HOSTS = ("127.0.0.1:*", "localhost:*", "[::1]:*", "127.0.0.1", "localhost", "[::1]")
LOOPBACK_ORIGINS = ("http://127.0.0.1:*", "http://localhost:*", "http://[::1]:*")


class HttpConfigError(ValueError):
    """A setting that cannot work; the message names the flag or variable to change."""


@dataclass(frozen=True)
class HttpSettings:
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    workers: int = 1
    allowed_hosts: tuple[str, ...] = ()
    allowed_origins: tuple[str, ...] = ()
    # SSE answers carry progress notifications while ensure_connection waits; plain JSON suits simple proxies.
    json_response: bool = False
    require_client_token: bool = False
    allow_shared_credentials: bool = False
    max_token_clients: int = DEFAULT_MAX_TOKEN_CLIENTS
    state_keys: tuple[str, ...] = ()
    verbosity: int = 0
    # Where cut results are kept for paging when several processes answer (budget.DirectoryResultStore).
    results_dir: str = ""
    # Slow clients and crowds (http_guard.py): seconds for a request's headers, then its body; open connections.
    header_timeout: float = http_guard.DEFAULT_HEADER_TIMEOUT
    body_timeout: float = http_guard.DEFAULT_BODY_TIMEOUT
    max_connections: int = http_guard.DEFAULT_MAX_CONNECTIONS
    # MCP authorization (http_auth.py): "on" answers token-less requests 401 with OAuth discovery; "auto" does so
    # only when token-less requests could not work anyway (no credentials of the server's own).
    oauth: str = "auto"
    # The address clients use to reach this server, for the OAuth metadata (default: from each request's Host).
    public_url: str = ""

    def transport_security(self) -> TransportSecuritySettings:
        hosts: list[str] = list(LOOPBACK_HOSTS)
        bound = _host_header_name(self.host)
        if bound is not None:
            hosts += [bound, f"{bound}:*"]
        for name in self.allowed_hosts:
            hosts += [name] if _has_port(name) else [name, f"{name}:*"]
        return TransportSecuritySettings(
            enable_dns_rebinding_protection=True,
            allowed_hosts=hosts,
            allowed_origins=[*LOOPBACK_ORIGINS, *self.allowed_origins],
        )

    def to_env(self) -> dict[str, str]:
        """What worker processes need to rebuild these settings (`from_env`)."""
        return {
            ENV_HOST: self.host,
            ENV_PORT: str(self.port),
            ENV_ALLOWED_HOSTS: ",".join(self.allowed_hosts),
            ENV_ALLOWED_ORIGINS: ",".join(self.allowed_origins),
            ENV_JSON_RESPONSE: "1" if self.json_response else "",
            ENV_REQUIRE_CLIENT_AUTH: "1" if self.require_client_token else "",
            ENV_MAX_CALLERS: str(self.max_token_clients),
            ENV_STATE_KEY: ",".join(self.state_keys),
            ENV_VERBOSITY: str(self.verbosity),
            ENV_RESULTS_DIR: self.results_dir,
            ENV_HEADER_TIMEOUT: repr(self.header_timeout),
            ENV_BODY_TIMEOUT: repr(self.body_timeout),
            ENV_MAX_CONNECTIONS: str(self.max_connections),
            ENV_OAUTH: self.oauth,
            ENV_PUBLIC_URL: self.public_url,
        }

    @classmethod
    def from_env(cls, env: Mapping[str, str], **overrides: object) -> HttpSettings:
        """Settings from the environment; `overrides` (command-line flags) win where given."""
        values: dict[str, object] = {
            "host": env.get(ENV_HOST, "").strip() or DEFAULT_HOST,
            "port": _int(env, ENV_PORT, DEFAULT_PORT, minimum=0),
            "allowed_hosts": _list(env, ENV_ALLOWED_HOSTS),
            "allowed_origins": _list(env, ENV_ALLOWED_ORIGINS),
            "json_response": _flag(env, ENV_JSON_RESPONSE),
            "require_client_token": _flag(env, ENV_REQUIRE_CLIENT_AUTH),
            "max_token_clients": _int(env, ENV_MAX_CALLERS, DEFAULT_MAX_TOKEN_CLIENTS, minimum=1),
            "state_keys": _list(env, ENV_STATE_KEY),
            "verbosity": _int(env, ENV_VERBOSITY, 0, minimum=0),
            "results_dir": env.get(ENV_RESULTS_DIR, "").strip(),
            "header_timeout": _seconds(env, ENV_HEADER_TIMEOUT, http_guard.DEFAULT_HEADER_TIMEOUT),
            "body_timeout": _seconds(env, ENV_BODY_TIMEOUT, http_guard.DEFAULT_BODY_TIMEOUT),
            "max_connections": _int(env, ENV_MAX_CONNECTIONS, http_guard.DEFAULT_MAX_CONNECTIONS, minimum=1),
            "oauth": env.get(ENV_OAUTH, "").strip().lower() or "auto",
            "public_url": env.get(ENV_PUBLIC_URL, "").strip(),
        }
        values.update({k: v for k, v in overrides.items() if v is not None})
        settings = cls(**values)  # pyright: ignore[reportArgumentType]
        if settings.results_dir and not Path(settings.results_dir).is_dir():
            raise HttpConfigError(
                f"{ENV_RESULTS_DIR} is {settings.results_dir!r}, which is not a directory. Create it (readable only "
                "by this server's user: it holds tool results) or unset the variable."
            )
        if settings.oauth not in OAUTH_MODES:
            raise HttpConfigError(f"{ENV_OAUTH} must be one of {', '.join(OAUTH_MODES)}, not {settings.oauth!r}.")
        for key in settings.state_keys:
            if len(key) < MIN_STATE_KEY_LENGTH:
                raise HttpConfigError(
                    f"{ENV_STATE_KEY} holds a key shorter than {MIN_STATE_KEY_LENGTH} characters. Use random keys "
                    "(e.g. `python -c 'import secrets; print(secrets.token_urlsafe(32))'`), comma-separated, the "
                    "newest first."
                )
        return settings


def _flag(env: Mapping[str, str], name: str) -> bool:
    return env.get(name, "").strip().lower() in ("1", "true", "yes", "on")


def _list(env: Mapping[str, str], name: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in env.get(name, "").split(",") if item.strip())


def _int(env: Mapping[str, str], name: str, default: int, *, minimum: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        value = minimum - 1
    if value < minimum:
        raise HttpConfigError(f"{name} must be a whole number of at least {minimum}, not {raw!r}.")
    return value


def _seconds(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = 0.0
    if not value > 0:
        raise HttpConfigError(f"{name} must be a number of seconds above 0, not {raw!r}.")
    return value


def _has_port(host_header: str) -> bool:
    return ":" in host_header.rpartition("]")[2]


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _host_header_name(host: str) -> str | None:
    """How the bound address appears in a Host header; None for wildcards (the names in use are unknowable)."""
    bare = host.strip("[]")
    try:
        address = ipaddress.ip_address(bare)
    except ValueError:
        return host
    if address.is_unspecified:
        return None
    return f"[{bare}]" if address.version == 6 else bare


def exposure_problem(settings: Settings, http: HttpSettings) -> str | None:
    """Why serving as configured would hand the server's credentials to the network; None when it would not."""
    if is_loopback(http.host) or http.require_client_token or http.allow_shared_credentials:
        return None
    if settings.token_source is None and settings.sandbox is None:
        return None
    return (
        f"Refusing to serve on {http.host}: that is reachable from other machines, and requests without their own "
        "token would act with this server's Membrane credentials. Add --require-client-token (each user sends "
        "`Authorization: Bearer <their Membrane token>`), or --allow-shared-credentials if something in front of "
        "this server already authenticates every request, or bind to 127.0.0.1."
    )


class HttpApp:
    """The SDK's Streamable HTTP app, plus the health endpoint and each request's own credentials."""

    def __init__(
        self,
        inner: ASGIApp,
        *,
        mcp_path: str = MCP_PATH,
        oauth: ProtectedResource | None = None,
        token_needed: bool = False,
    ) -> None:
        self._inner = inner
        self._mcp_path = mcp_path
        # OAuth protected resource (http_auth.py): its metadata, and a 401 challenge for token-less requests.
        self._oauth = oauth
        self._token_needed = token_needed

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._inner(scope, receive, send)
            return
        if scope["path"] == HEALTH_PATH:
            await self._health(scope, receive, send)
            return
        if self._oauth is not None and scope["path"] in self._oauth.paths():
            await self._oauth.answer(scope)(scope, receive, send)
            return
        credentials = RequestCredentials.from_authorization(Headers(scope=scope).get("authorization"))
        if self._oauth is not None and self._token_needed and credentials.token is None and credentials.problem is None:
            challenge = self._oauth.challenge(scope, "Sign in with Membrane: this server needs your Membrane token.")
            await challenge(scope, receive, send)
            return
        if self._oauth is not None and credentials.token is not None and token_rejected(credentials.token):
            challenge = self._oauth.challenge(
                scope, "Membrane refused this token (expired or revoked): renew it.", invalid_token=True
            )
            await challenge(scope, receive, send)
            return
        # The caller's token is masked for as long as its own request runs, and only there: a token (valid or not)
        # never masks another caller's text, and a request that never finishes sending holds nothing beyond itself.
        with redaction.scope(*filter(None, [credentials.token])), request_credentials(credentials):
            await self._inner(scope, *_noting_departure(scope, receive, send))

    async def _health(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["method"] not in ("GET", "HEAD"):
            response = PlainTextResponse("Use GET.", status_code=405, headers={"Allow": "GET, HEAD"})
        else:
            response = JSONResponse({"status": "ok", "version": __version__, "mcp_path": self._mcp_path})
        await response(scope, receive, send)


def _noting_departure(scope: Scope, receive: Receive, send: Send) -> tuple[Receive, Send]:
    """`receive` and `send` that log one INFO line when the client leaves before its answer is complete: an
    ordinary event (a closed laptop, a cancelled call), not an error."""
    answered = False
    noted = False

    async def watched_send(message: Message) -> None:
        nonlocal answered
        if message["type"] == "http.response.body" and not message.get("more_body", False):
            answered = True
        await send(message)

    async def watched_receive() -> Message:
        nonlocal noted
        message = await receive()
        if message["type"] == "http.disconnect" and not answered and not noted:
            noted = True
            logger.info("The client left before its answer to %s %s was complete.", scope["method"], scope["path"])
        return message

    return watched_receive, watched_send


def build_http_app(settings: Settings, http: HttpSettings, *, transport: TransportFactory | None = None) -> HttpApp:
    for key in http.state_keys:
        redaction.register(key)
    settings = dataclasses.replace(
        settings,
        require_request_token=http.require_client_token,
        max_token_clients=http.max_token_clients,
        request_state_keys=http.state_keys,
    )
    server = build_server(
        settings, transport=transport, results_dir=Path(http.results_dir) if http.results_dir else None
    )
    inner = server.streamable_http_app(
        streamable_http_path=MCP_PATH,
        stateless_http=True,
        json_response=http.json_response,
        transport_security=http.transport_security(),
    )
    return HttpApp(inner, **_oauth(settings, http))


def _oauth(settings: Settings, http: HttpSettings) -> dict[str, Any]:
    """HttpApp's OAuth arguments: with no credentials of its own the server needs every caller's token anyway."""
    if http.oauth == "off" or not settings.api_url:
        return {}
    own = settings.token_source is not None or settings.sandbox is not None
    needed = (http.oauth == "on" and http.require_client_token) or (http.oauth != "off" and not own)
    resource = ProtectedResource(settings.api_url, mcp_path=MCP_PATH, public_url=http.public_url or None)
    return {"oauth": resource, "token_needed": needed}


def _quiet_per_request_chatter(verbosity: int) -> None:
    # Stateless mode ends a "session" per request, and the SDK says so at INFO each time: noise below -vv.
    if verbosity < 2:
        logging.getLogger("mcp.server.streamable_http").setLevel(logging.WARNING)


def worker_env(settings: Settings, http: HttpSettings) -> dict[str, str]:
    """Everything a worker process needs to rebuild the command line's settings (`settings_for_worker`)."""
    return {**safety_env(settings), **http.to_env()}


def settings_for_worker(env: Mapping[str, str]) -> tuple[Settings, HttpSettings]:
    """The settings a worker process serves with, from the environment `worker_env` filled: the same as its parent's,
    safety settings included (a worker that dropped --read-only would write under it)."""
    return with_safety(settings_from_env(env), env), HttpSettings.from_env(env)


def app_from_env() -> HttpApp:
    """uvicorn's app factory in each worker process: everything comes from the environment the parent exported."""
    settings, http = settings_for_worker(os.environ)
    logs.configure(http.verbosity)
    _quiet_per_request_chatter(http.verbosity)
    http_guard.configure(http)
    app = build_http_app(settings, http)
    heap.freeze_start_up_objects()
    return app


@contextmanager
def shared_by_workers(http: HttpSettings) -> Generator[HttpSettings]:
    """`http` with what N workers of one command must share: the key sealing request state, and a private
    directory for cut results (removed afterwards), since any worker may be asked for any page."""
    if not http.state_keys:
        # One key for every worker of this command; replicas on other machines need CLEVERTAP_MCP_STATE_KEY.
        http = dataclasses.replace(http, state_keys=(secrets.token_urlsafe(32),))
    if http.results_dir:
        yield http
        return
    directory = tempfile.mkdtemp(prefix="clevertap-mcp-results-")  # mode 0700: results hold personal data
    try:
        yield dataclasses.replace(http, results_dir=directory)
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def serve(settings: Settings, http: HttpSettings) -> int:
    """Runs the HTTP server until interrupted; the exit status for the command line."""
    import uvicorn

    problem = exposure_problem(settings, http)
    if problem is None and http.workers > 1 and settings.sandbox is not None:
        problem = (
            "--sandbox with --workers above 1 would give each worker a sandbox of its own, so connections made "
            "through one worker would be unknown to the others. Run `clevertap-mcp sandbox` once and point "
            "MEMBRANE_API_URL at it instead, or use one worker."
        )
    if problem is not None:
        sys.stderr.write(f"clevertap-mcp: {problem}\n")
        return 2
    _quiet_per_request_chatter(http.verbosity)
    if _host_header_name(http.host) is None and not http.allowed_hosts:
        logger.warning(
            "Listening on every interface, but only loopback Host names are accepted (DNS-rebinding protection). "
            "Add --allowed-host for each name clients use to reach this server."
        )
    origin_host = f"[{http.host}]" if ":" in http.host else http.host
    sys.stderr.write(
        f"clevertap-mcp {__version__}: MCP over Streamable HTTP at http://{origin_host}:{http.port}{MCP_PATH} "
        f"(health: {HEALTH_PATH}; {http.workers} worker{'s' if http.workers > 1 else ''}; "
        f"{'every request must carry its own token' if http.require_client_token else FALLBACK_NOTE})\n"
    )
    uvicorn_log_level = "info" if http.verbosity else "warning"
    try:
        if http.workers > 1:
            with shared_by_workers(http) as shared:
                os.environ.update(worker_env(settings, shared))
                uvicorn.run(
                    "clevertap_mcp.http:app_from_env",
                    factory=True,
                    host=shared.host,
                    port=shared.port,
                    workers=shared.workers,
                    log_config=None,
                    log_level=uvicorn_log_level,
                    timeout_graceful_shutdown=5,
                    http=http_guard.WORKER_PROTOCOL,
                    timeout_keep_alive=http_guard.KEEP_ALIVE_TIMEOUT,
                )
        else:
            app = build_http_app(settings, http)
            heap.freeze_start_up_objects()
            uvicorn.run(
                app,
                host=http.host,
                port=http.port,
                log_config=None,
                log_level=uvicorn_log_level,
                timeout_graceful_shutdown=5,
                **http_guard.uvicorn_options(http),
            )
    except KeyboardInterrupt:
        pass
    return 0
