"""The sandbox's control plane under `/_sandbox`, and the request middleware that feeds its request log and faults.

The control plane is a test knob for tests and eval harnesses, never part of the emulated APIs: it needs no bearer
token because the sandbox only listens on loopback. Bad input is a 400 with Membrane's ErrorData body naming the field.

    POST   /_sandbox/reset                    back to the fresh seeded state: no tenants or connections, a re-seeded
                                              CleverTap world, no faults, an empty request log  → {"status": "reset"}
    POST   /_sandbox/reset {tenant}           (or ?tenant=) that tenant only, back to never seen: its connections
                                              go and its CleverTap world is fresh; other tenants, faults and the
                                              log stay
                                                                                  → {"status": "reset", "tenant"}
    POST   /_sandbox/connections              {tenantKey?, name?, key?, accountId?, passcode?, region?}: a READY
                                              CleverTap connection (demo account by default)  → 201 Connection;
                                              400 for a region that is not one of CleverTap's (clevertap/regions.py:
                                              the region is a path segment of every upstream URL), or an account id
                                              or passcode that cannot travel as a header value
    POST   /_sandbox/connections/{id}/state   {state, errors?: ErrorData[], clientAction?: {type, description,
                                              uiUrl?, agentInstructions?}, isDefunct?}        → Connection
    POST   /_sandbox/faults                   {side, kind, method?, path? | pathPrefix?, region?, count?, ...}: fault
                                              the next `count` matching requests (faults.py has the kinds and their
                                              fields)                                         → 201 Fault
    GET    /_sandbox/faults                   {items: [Fault]}: the pending faults, oldest first, each with
                                              `remaining` and `applied` counts
    DELETE /_sandbox/faults                   forget every pending fault                     → {"cleared": n}
    DELETE /_sandbox/faults/{id}              forget one                                     → {"cleared": 1}; 404
    GET    /_sandbox/requests[?side=&since=]  {items: [{seq, side, method, path, query, status, headers,
                                              exfiltration, targetHost?, fault?, bodyBytes?, body?}]}, oldest first;
                                              `side` keeps one side ("membrane" or "clevertap"), `since` the entries
                                              after that seq
    GET    /_sandbox/health                   {status: "ok", rootUrl}
    GET    /_sandbox/snapshot, /_sandbox/diff a tenant's CleverTap world for graders (grading.py)

The request log covers both emulators: Membrane's API and connect page (`side: "membrane"`), and every call that
reached the CleverTap emulator (`side: "clevertap"`, its path under `/clevertap/{region}`, or
`/clevertap/tenant/{segment}/{region}` for a tenant other than the sandbox's own: tenant_worlds.py), which is where the Membrane
emulator's upstream calls land, so a harness can assert what an agent did and what that made Membrane send
CleverTap. A faulted request's entry names its fault (`{id, kind}`); `status` is what the client was sent, and stays
null for a connection dropped before any answer.

The log keeps header *names* only and redacts (`***`) the value of every query parameter whose name contains `jwt`,
`key`, `auth`, `secret`, `password`, `token` or `passcode` in any case, so it can never hold a bearer token, a passcode
or an API key. JSON request bodies (a JSON content type) are kept up to `MAX_LOGGED_BODY_BYTES` as `body`, with every
field whose name contains `passcode`, `password`, `secret`, `authorization`, `jwt`, `access_token` or `api_key`
redacted at any depth; `bodyBytes` is their size, also for bodies too large to keep. Other bodies (the connect page's
form, which carries a passcode) are never read. The log keeps the last `MAX_LOGGED_REQUESTS` requests so a long-running sandbox stays small. Control-plane
calls are neither logged nor faulted. Tests may also plug into `RequestMiddleware.interceptors`: an interceptor sees
each request before faults and the app do, and may answer it instead.
"""

from __future__ import annotations

import contextlib
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
from clevertap_mcp.sandbox.fault_injection import DroppedConnection, apply_fault, transport_of
from clevertap_mcp.sandbox.faults import Fault, FaultBook, Side, target_of
from clevertap_mcp.sandbox.membrane.errors import MembraneError, NotFound
from clevertap_mcp.sandbox.membrane.params import json_object, loads_strict, optional_str
from clevertap_mcp.sandbox.membrane.render import connection_json
from clevertap_mcp.sandbox.membrane.state import ClientAction, ConnectionState, MembraneState
from clevertap_mcp.sandbox.membrane.upstream import credentials_problem
from clevertap_mcp.sandbox.settings import DEMO_CLEVERTAP_ACCOUNT_ID, DEMO_CLEVERTAP_PASSCODE, DEMO_CLEVERTAP_REGION

__all__ = ["CONTROL_PREFIX", "Interceptor", "LoggedRequest", "RequestLog", "RequestMiddleware", "control_routes"]

CONTROL_PREFIX = "/_sandbox"
MAX_LOGGED_REQUESTS = 1000
MAX_LOGGED_BODY_BYTES = 64 * 1024
_SECRET_NAME = re.compile(r"jwt|key|auth|secret|password|token|passcode", re.IGNORECASE)
# Narrower than _SECRET_NAME: bodies are full of harmless `key`s (action keys, connection keys) and device tokens.
_SECRET_FIELD = re.compile(r"passcode|password|secret|authori[sz]ation|jwt|access[-_]?token|api[-_]?key", re.IGNORECASE)
_LOG_ENTRY = "clevertap_mcp.sandbox.log_entry"

Interceptor = Callable[[Request], Awaitable[Response | None]]


@dataclass
class LoggedRequest:
    seq: int
    side: Side
    method: str
    path: str
    query: str
    header_names: list[str]
    status: int | None = None
    exfiltration: bool = False
    target_host: str | None = None
    fault: Fault | None = None
    body_size: int | None = None
    raw_body: bytes | None = None  # JSON bodies up to MAX_LOGGED_BODY_BYTES, parsed only when the log is read

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "seq": self.seq,
            "side": self.side.value,
            "method": self.method,
            "path": self.path,
            "query": self.query,
            "status": self.status,
            "headers": self.header_names,
            "exfiltration": self.exfiltration,
        }
        if self.target_host is not None:
            body["targetHost"] = self.target_host
        if self.fault is not None:
            body["fault"] = {"id": self.fault.id, "kind": self.fault.kind.value}
        if self.body_size is not None:
            body["bodyBytes"] = self.body_size
        if self.raw_body is not None:
            with contextlib.suppress(ValueError, RecursionError):  # not JSON after all: `bodyBytes` says one came
                body["body"] = _redact_fields(loads_strict(self.raw_body))
        return body


@dataclass
class RequestLog:
    entries: deque[LoggedRequest] = field(default_factory=lambda: deque[LoggedRequest](maxlen=MAX_LOGGED_REQUESTS))
    _seq: int = 0

    def start(self, scope: Scope, side: Side) -> LoggedRequest:
        self._seq += 1
        names = sorted({name.decode("latin-1").lower() for name, _ in scope["headers"]})
        raw_query = cast(bytes, scope.get("query_string", b"")).decode("latin-1")
        entry = LoggedRequest(self._seq, side, scope["method"], scope["path"], _redact_query(raw_query), names)
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


def _redact_fields(value: Any) -> Any:
    if isinstance(value, dict):
        fields = cast(dict[str, Any], value)
        return {name: "***" if _SECRET_FIELD.search(name) else _redact_fields(item) for name, item in fields.items()}
    if isinstance(value, list):
        return [_redact_fields(item) for item in cast(list[Any], value)]
    return value


def _is_json(scope: Scope) -> bool:
    for name, value in scope["headers"]:
        if name.lower() == b"content-type":
            media_type = value.split(b";", 1)[0].strip().lower()
            return media_type == b"application/json" or media_type.endswith(b"+json")
    return False


async def _buffered(receive: Receive) -> tuple[bytes, Receive]:
    """The whole request body, and a `receive` that hands it to the app again before going on with the real one."""
    chunks: list[bytes] = []
    replay: list[Message] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            replay.append(message)  # the client went away before the body was complete
            break
        chunks.append(cast(bytes, message.get("body", b"")))
        if not message.get("more_body", False):
            break
    body = b"".join(chunks)
    replay.insert(0, {"type": "http.request", "body": body, "more_body": False})

    async def replaying() -> Message:
        return replay.pop(0) if replay else await receive()

    return body, replaying


def _redact_query(raw: str) -> str:
    if not raw:
        return ""
    pairs = parse_qsl(raw, keep_blank_values=True)
    return urlencode([(name, "***" if _SECRET_NAME.search(name) else value) for name, value in pairs])


class RequestMiddleware:
    """Logs every request outside the control plane with its final status; interceptors, then faults, come first."""

    def __init__(self, app: ASGIApp, log: RequestLog, interceptors: list[Interceptor], faults: FaultBook) -> None:
        self.app = app
        self.log = log
        self.interceptors = interceptors  # a seam for tests; read on every request
        self.faults = faults

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(CONTROL_PREFIX):
            await self.app(scope, receive, send)
            return
        target = target_of(scope)
        entry = self.log.start(scope, target.side)
        transport = transport_of(receive)  # uvicorn's own `receive` knows the connection; a replaying one does not
        if _is_json(scope):
            body, receive = await _buffered(receive)
            entry.body_size = len(body)
            entry.raw_body = body if len(body) <= MAX_LOGGED_BODY_BYTES else None

        async def logging_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                entry.status = message["status"]
            await send(message)

        for interceptor in list(self.interceptors):
            response = await interceptor(Request(scope, receive))
            if response is not None:
                await response(scope, receive, logging_send)
                return
        fault = self.faults.take(target) if self.faults else None
        entry.fault = fault
        try:
            if fault is None:
                await self.app(scope, receive, logging_send)
            else:
                await apply_fault(fault, target, self.app, scope, receive, logging_send, transport)
        except DroppedConnection:
            raise  # the client got no answer (or half of one); nothing to add to the entry
        except Exception:
            entry.status = entry.status or 500
            raise


def control_routes(
    state: MembraneState,
    log: RequestLog,
    faults: FaultBook,
    reset: Callable[[str | None], None],
    root_url: str,
) -> list[Route]:
    async def do_reset(request: Request) -> Response:
        body = await json_object(request, allow_empty=True)
        tenant = optional_str(body, "tenant") or request.query_params.get("tenant") or None
        reset(tenant)
        return JSONResponse({"status": "reset"} if tenant is None else {"status": "reset", "tenant": tenant})

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
        side = request.query_params.get("side")
        if side is not None and side not in tuple(Side):
            raise MembraneError("'side' must be 'membrane' or 'clevertap'")
        since = request.query_params.get("since", "0")
        if not since.isascii() or not since.isdigit() or len(since) > 18:
            raise MembraneError("'since' must be the seq of a logged request (a non-negative integer)")
        entries = [e for e in log.entries if e.seq > int(since) and (side is None or e.side == side)]
        return JSONResponse({"items": [entry.to_json() for entry in entries]})

    async def add_fault(request: Request) -> Response:
        fault = faults.add(await json_object(request))
        return JSONResponse(fault.to_json(), status_code=201)

    async def list_faults(request: Request) -> Response:
        return JSONResponse({"items": [fault.to_json() for fault in faults.pending()]})

    async def clear_faults(request: Request) -> Response:
        return JSONResponse({"cleared": faults.clear()})

    async def remove_fault(request: Request) -> Response:
        fault_id = request.path_params["fault_id"]
        if not faults.remove(fault_id):
            raise NotFound(f"Fault '{fault_id[:40]}' is not pending: it was never added, was used up, or was cleared")
        return JSONResponse({"cleared": 1})

    async def health(request: Request) -> Response:
        return JSONResponse({"status": "ok", "rootUrl": root_url})

    return [
        Route("/reset", do_reset, methods=["POST"]),
        Route("/connections", add_connection, methods=["POST"]),
        Route("/connections/{conn_id}/state", force_state, methods=["POST"]),
        Route("/faults", add_fault, methods=["POST"]),
        Route("/faults", list_faults, methods=["GET"]),
        Route("/faults", clear_faults, methods=["DELETE"]),
        Route("/faults/{fault_id}", remove_fault, methods=["DELETE"]),
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
