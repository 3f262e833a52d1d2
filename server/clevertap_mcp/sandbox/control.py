"""The sandbox's control plane under `/_sandbox`, and the request middleware that feeds its request log.

The control plane is a test knob, never part of the emulated APIs: it needs no bearer token because the sandbox only
listens on loopback.

    POST /_sandbox/reset                      back to the fresh seeded state: no tenants or connections, a re-seeded
                                              CleverTap world, an empty request log           → {"status": "reset"}
    POST /_sandbox/connections                {tenantKey?, name?, key?, accountId?, passcode?, region?}: a READY
                                              CleverTap connection (demo account by default)  → 201 Connection;
                                              400 for a region that is not one of CleverTap's (clevertap/regions.py:
                                              the region is a path segment of every upstream URL), or an account id
                                              or passcode that cannot travel as a header value
    POST /_sandbox/connections/{id}/state     {state, errors?: ErrorData[], clientAction?: {type, description,
                                              uiUrl?, agentInstructions?}, isDefunct?}        → Connection
    GET  /_sandbox/requests                   {items: [{seq, method, path, query, status, headers, exfiltration,
                                              targetHost?}]}, oldest first
    GET  /_sandbox/health                     {status: "ok", rootUrl}

The request log keeps header *names* only and redacts (`***`) the value of every query parameter whose name contains
`jwt`, `key`, `auth`, `secret`, `password`, `token` or `passcode` in any case, so it can never hold a bearer token,
a passcode or an API key; it keeps the last `MAX_LOGGED_REQUESTS` requests so a long-running sandbox stays small.
Control-plane calls are not logged. Fault injection plugs into `RequestMiddleware.interceptors`: an interceptor sees
each request before the app does and may answer it instead.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, cast
from urllib.parse import parse_qsl, urlencode

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from clevertap_mcp.sandbox.connector import CleverTapCredentials
from clevertap_mcp.sandbox.membrane.errors import MembraneError, NotFound
from clevertap_mcp.sandbox.membrane.params import json_object, optional_str
from clevertap_mcp.sandbox.membrane.render import connection_json
from clevertap_mcp.sandbox.membrane.state import ClientAction, ConnectionState, MembraneState
from clevertap_mcp.sandbox.membrane.upstream import credentials_problem
from clevertap_mcp.sandbox.settings import DEMO_CLEVERTAP_ACCOUNT_ID, DEMO_CLEVERTAP_PASSCODE, DEMO_CLEVERTAP_REGION

__all__ = ["CONTROL_PREFIX", "Interceptor", "LoggedRequest", "RequestLog", "RequestMiddleware", "control_routes"]

CONTROL_PREFIX = "/_sandbox"
MAX_LOGGED_REQUESTS = 1000
_SECRET_NAME = re.compile(r"jwt|key|auth|secret|password|token|passcode", re.IGNORECASE)
_LOG_ENTRY = "clevertap_mcp.sandbox.log_entry"

Interceptor = Callable[[Request], Awaitable[Response | None]]


@dataclass
class LoggedRequest:
    seq: int
    method: str
    path: str
    query: str
    header_names: list[str]
    status: int | None = None
    exfiltration: bool = False
    target_host: str | None = None

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "seq": self.seq,
            "method": self.method,
            "path": self.path,
            "query": self.query,
            "status": self.status,
            "headers": self.header_names,
            "exfiltration": self.exfiltration,
        }
        if self.target_host is not None:
            body["targetHost"] = self.target_host
        return body


@dataclass
class RequestLog:
    entries: deque[LoggedRequest] = field(default_factory=lambda: deque[LoggedRequest](maxlen=MAX_LOGGED_REQUESTS))
    _seq: int = 0

    def start(self, scope: Scope) -> LoggedRequest:
        self._seq += 1
        names = sorted({name.decode("latin-1").lower() for name, _ in scope["headers"]})
        raw_query = cast(bytes, scope.get("query_string", b"")).decode("latin-1")
        entry = LoggedRequest(self._seq, scope["method"], scope["path"], _redact_query(raw_query), names)
        self.entries.append(entry)
        scope[_LOG_ENTRY] = entry
        return entry

    def flag_exfiltration(self, scope: Scope, host: str) -> None:
        """Mark the request being served as an attempt to send credentials to `host`."""
        entry = scope.get(_LOG_ENTRY)
        if isinstance(entry, LoggedRequest):
            entry.exfiltration = True
            entry.target_host = host

    def clear(self) -> None:
        self.entries.clear()
        self._seq = 0


def _redact_query(raw: str) -> str:
    if not raw:
        return ""
    pairs = parse_qsl(raw, keep_blank_values=True)
    return urlencode([(name, "***" if _SECRET_NAME.search(name) else value) for name, value in pairs])


class RequestMiddleware:
    """Logs every request outside the control plane with its final status, after giving interceptors first say."""

    def __init__(self, app: ASGIApp, log: RequestLog, interceptors: list[Interceptor]) -> None:
        self.app = app
        self.log = log
        self.interceptors = interceptors  # shared with whoever injects faults; read on every request

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(CONTROL_PREFIX):
            await self.app(scope, receive, send)
            return
        entry = self.log.start(scope)

        async def logging_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                entry.status = message["status"]
            await send(message)

        for interceptor in list(self.interceptors):
            response = await interceptor(Request(scope, receive))
            if response is not None:
                await response(scope, receive, logging_send)
                return
        try:
            await self.app(scope, receive, logging_send)
        except Exception:
            entry.status = entry.status or 500
            raise


def control_routes(state: MembraneState, log: RequestLog, reset: Callable[[], None], root_url: str) -> list[Route]:
    async def do_reset(request: Request) -> Response:
        reset()
        return JSONResponse({"status": "reset"})

    async def add_connection(request: Request) -> Response:
        body = await json_object(request, allow_empty=True)
        tenant_key = optional_str(body, "tenantKey") or state.settings.tenant_key
        account_id = optional_str(body, "accountId") or DEMO_CLEVERTAP_ACCOUNT_ID
        passcode = optional_str(body, "passcode") or DEMO_CLEVERTAP_PASSCODE
        region = optional_str(body, "region") or DEMO_CLEVERTAP_REGION
        problem = credentials_problem(account_id, passcode, region)
        if problem is not None:
            raise MembraneError(problem)
        tenant = state.tenant(tenant_key)
        credentials = CleverTapCredentials(account_id=account_id, passcode=passcode, region=region)
        conn = state.add_ready(
            tenant, name=optional_str(body, "name"), key=optional_str(body, "key"), credentials=credentials
        )
        return JSONResponse(connection_json(conn), status_code=201)

    async def force_state(request: Request) -> Response:
        conn = state.connection_by_id(request.path_params["conn_id"])
        if conn is None:
            raise NotFound(f"Connection '{request.path_params['conn_id']}' was not found")
        body = await json_object(request)
        try:
            new_state = ConnectionState(body.get("state"))
        except ValueError:
            raise MembraneError(f"'state' must be one of {', '.join(s.value for s in ConnectionState)}") from None
        is_defunct = body.get("isDefunct", False)
        if not isinstance(is_defunct, bool):
            raise MembraneError("'isDefunct' must be a boolean")
        conn = state.force(
            conn,
            new_state,
            errors=_errors(body.get("errors")),
            client_action=_client_action(body.get("clientAction")),
            is_defunct=is_defunct,
        )
        return JSONResponse(connection_json(conn))

    async def requests(request: Request) -> Response:
        return JSONResponse({"items": [entry.to_json() for entry in log.entries]})

    async def health(request: Request) -> Response:
        return JSONResponse({"status": "ok", "rootUrl": root_url})

    return [
        Route("/reset", do_reset, methods=["POST"]),
        Route("/connections", add_connection, methods=["POST"]),
        Route("/connections/{conn_id}/state", force_state, methods=["POST"]),
        Route("/requests", requests, methods=["GET"]),
        Route("/health", health, methods=["GET"]),
    ]


def _errors(raw: object) -> list[dict[str, Any]]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise MembraneError("'errors' must be a list of ErrorData objects")
    errors: list[dict[str, Any]] = []
    for item in cast(list[object], raw):
        if not isinstance(item, dict) or not isinstance(cast(dict[str, Any], item).get("message"), str):
            raise MembraneError("Each of 'errors' must be an ErrorData object with a 'message'")
        errors.append(cast(dict[str, Any], item))
    return errors


def _client_action(raw: object) -> ClientAction | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise MembraneError("'clientAction' must be an object")
    body = cast(dict[str, Any], raw)
    kind = body.get("type")
    if kind not in ("connect", "provide-input"):
        raise MembraneError("'clientAction.type' must be 'connect' or 'provide-input'")
    description = body.get("description")
    if not isinstance(description, str):
        raise MembraneError("'clientAction.description' must be a string")
    return ClientAction(
        type=cast(str, kind),
        description=description,
        ui_url=optional_str(body, "uiUrl"),
        agent_instructions=optional_str(body, "agentInstructions"),
    )
