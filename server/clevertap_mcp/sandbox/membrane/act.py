"""`POST /act`, the unified run (membrane-api.md §3.5).

The body is strict: a key outside `ACT_FIELDS` is 400, and exactly one of `id`, `key`, `api`, `code` must be given.
The connection is `connectionId`, else `connectionKey`, else the one connection of `integrationId` /
`integrationKey`, else the workspace default; none resolving is 400.

Open-point choices:
- The workspace default is the tenant's only connection; with none or several there is no default.
- `code` is not emulated (§10 #13): 400.
- `api` is `{method, path | url, body | data, headers?, query?}`; its path follows the proxy's rules exactly
  (relative paths, emulated CleverTap hosts, exfiltration attempts recorded and refused with 502). The path is read
  as written in a URL: a `?...` part joins `query` (before it), a `#...` part is dropped, and it is percent-decoded
  once, as the proxy's router decodes `{path}`.
- `api` answers `{output: <upstream JSON body, or its text>, actionRunId}` for a 2xx, and 400 `action_run` with
  `data: {status, body}` otherwise, so an agent sees CleverTap's refusal.

Run ids: everything that can refuse a call (the body, the connection, the target URL, headers and query, the
connection's state, the exfiltration guard) is checked before a run id is spent, so a refused call uses none and
its error has no `actionRunId`. Any error after that point carries the spent id (§3.5).
"""

from __future__ import annotations

import json
from typing import Any, cast
from urllib.parse import unquote, urlencode

from starlette.types import Scope

from clevertap_mcp.sandbox.control import RequestLog
from clevertap_mcp.sandbox.membrane.errors import ActionRunFailed, MembraneError
from clevertap_mcp.sandbox.membrane.params import loads_strict
from clevertap_mcp.sandbox.membrane.proxy import prepare, send
from clevertap_mcp.sandbox.membrane.runs import execute
from clevertap_mcp.sandbox.membrane.search import ActionCatalog
from clevertap_mcp.sandbox.membrane.state import Connection, MembraneState, Tenant
from clevertap_mcp.sandbox.membrane.upstream import Upstream

__all__ = ["ACT_FIELDS", "API_METHODS", "act"]

ACT_FIELDS = frozenset(
    {"id", "key", "api", "code", "input", "meta", "connectionId", "connectionKey", "integrationId", "integrationKey"}
)
API_METHODS = frozenset({"GET", "POST", "PATCH", "PUT", "DELETE"})
_DISPATCH = ("id", "key", "api", "code")
_API_FIELDS = frozenset({"method", "path", "url", "body", "data", "headers", "query"})


async def act(
    body: dict[str, Any],
    tenant: Tenant,
    *,
    state: MembraneState,
    catalog: ActionCatalog,
    upstream: Upstream,
    log: RequestLog,
    scope: Scope,
) -> dict[str, Any]:
    unknown = sorted(set(body) - ACT_FIELDS)
    if unknown:
        raise MembraneError(f"Unknown field(s) in the /act body: {', '.join(unknown)}")
    given = [name for name in _DISPATCH if body.get(name) is not None]
    if len(given) != 1:
        raise MembraneError("Give exactly one of id, key, api or code")
    if given[0] == "code":
        raise MembraneError("Running inline code is not emulated by the sandbox: run an action by id or key")
    conn = _connection(body, tenant, state)
    if given[0] == "api":
        return await _call_api(body["api"], conn, state=state, upstream=upstream, log=log, scope=scope)
    selector = body[given[0]]
    if not isinstance(selector, str):
        raise MembraneError(f"'{given[0]}' must be a string")
    if conn.app is None:
        raise MembraneError(f"Connection '{conn.id}' has no actions: its app has no connector")
    return await execute(state, upstream, catalog.find(selector), conn, body.get("input"))


def _connection(body: dict[str, Any], tenant: Tenant, state: MembraneState) -> Connection:
    for name in ("connectionId", "connectionKey"):
        value = body.get(name)
        if value is not None:
            if not isinstance(value, str):
                raise MembraneError(f"'{name}' must be a string")
            return state.connection(tenant, value)
    for name in ("integrationId", "integrationKey"):
        value = body.get(name)
        if value is not None:
            if not isinstance(value, str):
                raise MembraneError(f"'{name}' must be a string")
            conn = state.connection_for_integration(tenant, value)
            if conn is None:
                raise MembraneError(f"Integration '{value}' has no connection for this tenant")
            return conn
    connections = list(state.connections(tenant))
    if len(connections) != 1:
        raise MembraneError("No connection resolves: pass connectionId, connectionKey or integrationKey")
    return connections[0]


async def _call_api(
    raw: object, conn: Connection, *, state: MembraneState, upstream: Upstream, log: RequestLog, scope: Scope
) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise MembraneError("'api' must be an object")
    api = cast(dict[str, Any], raw)
    unknown = sorted(set(api) - _API_FIELDS)
    if unknown:
        raise MembraneError(f"Unknown field(s) in 'api': {', '.join(unknown)}")
    method = api.get("method")
    if not isinstance(method, str) or method.upper() not in API_METHODS:
        raise MembraneError(f"'api.method' must be one of {', '.join(sorted(API_METHODS))}")
    path = api.get("path", api.get("url"))
    if not isinstance(path, str) or not path:
        raise MembraneError("'api.path' must be a non-empty string")
    headers: object = api.get("headers") or {}
    if not isinstance(headers, dict) or not all(isinstance(v, str) for v in cast(dict[str, Any], headers).values()):
        raise MembraneError("'api.headers' must map names to strings")
    query: object = api.get("query") or {}
    if not isinstance(query, dict):
        raise MembraneError("'api.query' must be an object")
    # `path` is a URL path as written (percent-encoded, maybe with its own query); the proxy takes the decoded form
    # its router would have produced, so both channels resolve a path the same way.
    path_part, _, path_query = path.partition("#")[0].partition("?")
    encoded_query = "&".join(
        part
        for part in (path_query, urlencode({k: _query_value(v) for k, v in cast(dict[str, Any], query).items()}))
        if part
    )
    payload = api.get("body", api.get("data"))
    content = b"" if payload is None else json.dumps(payload).encode()
    sent_headers = [(str(k), str(v)) for k, v in cast(dict[str, str], headers).items()]
    if payload is not None and not any(k.lower() == "content-type" for k, _ in sent_headers):
        sent_headers.append(("Content-Type", "application/json"))
    outbound = prepare(
        upstream,
        log,
        scope,
        conn,
        method=method.upper(),
        path=unquote(path_part),
        query=encoded_query,
        headers=sent_headers,
        body=content,
    )
    run_id = state.next_run_id()  # only now: every refusal above spends none, like /actions/{id}/run
    try:
        response = await send(upstream, outbound)
    except MembraneError as exc:
        exc.action_run_id = run_id
        raise
    try:
        output: Any = loads_strict(response.content)
    except ValueError:
        output = response.text
    if response.is_success:
        return {"output": output, "actionRunId": run_id}
    raise ActionRunFailed(
        f"CleverTap answered HTTP {response.status_code}",
        action_run_id=run_id,
        data={"status": response.status_code, "body": output},
    )


def _query_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return str(value)
    raise MembraneError("'api.query' values must be strings, numbers or booleans")
