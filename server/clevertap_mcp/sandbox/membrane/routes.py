"""The route table of the sandbox's Membrane API (membrane-api.md §3): handlers parse, call the state, render.

    POST /connections/ensure                  {appUrl, name?}                    → Connection (200, new or existing)
    GET  /connections                         limit, cursor, search, integrationId, integrationKey, connectorId,
                                              connected, isTest, includeArchived → {items, cursor?}
    GET  /connections/{id}                    wait, timeout, includeSecrets      → Connection
    PATCH /connections/{id}                   {connectorParameters?, input?}     → Connection (provide-input)
    GET  /actions                             connectionId | connectionKey, intent, limit, cursor, search,
                                              integrationId, integrationKey, layer, includeArchived → {items, cursor?}
    GET  /actions/{id}                        connectionId?, wait, timeout       → Action
    POST /actions/{id}/run                    connectionId | connectionKey | integrationKey; {input, meta?}
                                                                                 → {output, actionRunId}
    POST /act                                 ActRequest                         → {output, actionRunId}
    POST /connection-requests                 {connectionId}                     → {id, connectionId, url}
    GET  /action-run-logs/{id}                details                            → the run's log (run_logs.py)
    *    /connections/{sel}/proxy/{path}      forwarded                          → the upstream response

Every route needs a bearer token (auth.py) that names a tenant, and sees only that tenant's connections.

Open-point choices:
- A workspace-level token (no tenant claim) gets 403 `access_denied` here: every route is tenant-scoped and such a
  token names no tenant (§11 R4; `no_tenant_claim="default_tenant"` serves it as the tenant `default` instead).
- The §11 readings (R1-R9) are settings; readings.py says what each changes.
- `layer` and `includeArchived` are validated and otherwise ignored: the catalog has one layer and nothing archived.
- Actions are never BUILDING, so `GET /actions/{id}?wait=true` answers at once.
- An unmatched path or method gets 404 `not_found` ErrorData, as Membrane's router answers it.
- A proxy selector that is no connection id or key but names a known integration (key or id) is 400 unless that
  integration has exactly one connection for the tenant (§10 #8); a selector that names nothing is 404.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any, cast

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from clevertap_mcp.sandbox.control import RequestLog
from clevertap_mcp.sandbox.membrane.act import act
from clevertap_mcp.sandbox.membrane.apps import CLEVERTAP, KNOWN_APPS
from clevertap_mcp.sandbox.membrane.auth import authenticate
from clevertap_mcp.sandbox.membrane.errors import AccessDenied, MembraneError, NotFound, error_response
from clevertap_mcp.sandbox.membrane.oauth_state import OAuthState, oauth_principal
from clevertap_mcp.sandbox.membrane.params import (
    json_object,
    optional_bool,
    page_body,
    page_of,
    page_params,
    wait_timeout,
)
from clevertap_mcp.sandbox.membrane.proxy import forward, relay
from clevertap_mcp.sandbox.membrane.readings import MALFORMED_SEARCH_ITEM
from clevertap_mcp.sandbox.membrane.render import action_json, connection_json
from clevertap_mcp.sandbox.membrane.runs import execute
from clevertap_mcp.sandbox.membrane.search import ActionCatalog
from clevertap_mcp.sandbox.membrane.state import CONNECTION_FILTERS, Connection, MembraneState, Tenant
from clevertap_mcp.sandbox.membrane.upstream import Upstream

__all__ = ["MAX_INTENT_LENGTH", "MembraneApi", "membrane_error_handler", "route_not_found_handler"]

MAX_INTENT_LENGTH = 200
PROXY_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]
_LAYERS = ("universal", "integration", "connection")
DEFAULT_TENANT_KEY = "default"


class MembraneApi:
    def __init__(
        self,
        state: MembraneState,
        catalog: ActionCatalog,
        upstream: Upstream,
        log: RequestLog,
        *,
        oauth: OAuthState | None = None,
    ) -> None:
        self.state = state
        self.oauth = oauth
        self.catalog = catalog
        self.upstream = upstream
        self.log = log

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/connections/ensure", self.ensure, methods=["POST"]),
            Route("/connections", self.list_connections, methods=["GET"]),
            Route("/connections/{conn_id}", self.get_connection, methods=["GET"]),
            Route("/connections/{conn_id}", self.patch_connection, methods=["PATCH"]),
            Route("/connections/{sel}/proxy/{path:path}", self.proxy, methods=PROXY_METHODS),
            Route("/actions", self.list_actions, methods=["GET"]),
            Route("/actions/{action_id}", self.get_action, methods=["GET"]),
            Route("/actions/{action_id}/run", self.run, methods=["POST"]),
            Route("/act", self.act, methods=["POST"]),
            Route("/connection-requests", self.connection_request, methods=["POST"]),
            Route("/action-run-logs/{run_id}", self.run_log, methods=["GET"]),
        ]

    def _tenant(self, request: Request) -> Tenant:
        settings = self.state.settings
        header = request.headers.get("authorization")
        principal = oauth_principal(self.oauth, header)
        if principal is None:
            principal = authenticate(header, {settings.workspace_key: settings.workspace_secret}, now=time.time())
        if principal.tenant_key is None:
            if settings.no_tenant_claim == "default_tenant":
                return self.state.tenant(DEFAULT_TENANT_KEY)
            raise AccessDenied("This endpoint needs a tenant token: add tenantKey (or id) to the token's claims")
        return self.state.tenant(principal.tenant_key)

    # Connections ---------------------------------------------------------------------------------------------------

    async def ensure(self, request: Request) -> Response:
        tenant = self._tenant(request)
        body = await json_object(request)
        name = body.get("name")
        if name is not None and not (isinstance(name, str) and name):
            raise MembraneError("'name' must be a non-empty string")
        conn = self.state.ensure(tenant, body.get("appUrl"), name)
        return JSONResponse(connection_json(conn, settings=self.state.settings))

    async def list_connections(self, request: Request) -> Response:
        tenant = self._tenant(request)
        query = request.query_params
        connected = optional_bool(query, "connected")
        is_test = optional_bool(query, "isTest")
        optional_bool(query, "includeArchived")
        page = page_params(query, default_limit=100)
        filters = {name: query[name] for name in CONNECTION_FILTERS if query.get(name)}
        matching = self.state.find_connections(
            tenant, filters, connected=connected, is_test=is_test, search=query.get("search")
        )
        items, cursor = page_of(matching, page)
        settings = self.state.settings
        return JSONResponse(page_body([connection_json(conn, settings=settings) for conn in items], cursor))

    async def get_connection(self, request: Request) -> Response:
        tenant = self._tenant(request)
        query = request.query_params
        wait = optional_bool(query, "wait")
        timeout = wait_timeout(query)
        include_secrets = optional_bool(query, "includeSecrets") is True
        conn_id = request.path_params["conn_id"]
        by_key = self.state.settings.path_selector_accepts_keys
        conn = self.state.observe(self.state.connection(tenant, conn_id, by_key=by_key))
        if wait:
            await self.state.wait_for_change(conn, timeout)
            conn = self.state.connection(tenant, conn_id, by_key=by_key)  # gone after a reset: 404
        return JSONResponse(connection_json(conn, include_secrets=include_secrets, settings=self.state.settings))

    async def patch_connection(self, request: Request) -> Response:
        """Answer a provide-input clientAction: `{connectorParameters?, input?}` (§4)."""
        tenant = self._tenant(request)
        conn = self.state.connection(
            tenant, request.path_params["conn_id"], by_key=self.state.settings.path_selector_accepts_keys
        )
        body = await json_object(request)
        values: dict[str, Any] = {}
        for name in ("connectorParameters", "input"):
            part = body.get(name)
            if part is not None and not isinstance(part, dict):
                raise MembraneError(f"'{name}' must be an object")
            values.update(cast(dict[str, Any], part or {}))
        self.state.provide_input(conn, values)
        return JSONResponse(connection_json(conn, settings=self.state.settings))

    async def connection_request(self, request: Request) -> Response:
        """A link to (re)connect a connection (§11 R3): the sandbox's connect page, which also reconnects."""
        tenant = self._tenant(request)
        body = await json_object(request)
        conn_id = body.get("connectionId")
        if not isinstance(conn_id, str) or not conn_id:
            raise MembraneError("'connectionId' must be a non-empty string")
        conn = self.state.connection(tenant, conn_id)
        return JSONResponse({"id": f"creq_{conn.id}", "connectionId": conn.id, "url": self.state.connect_link(conn)})

    async def proxy(self, request: Request) -> Response:
        tenant = self._tenant(request)
        selector = request.path_params["sel"]
        try:
            conn = self.state.connection(tenant, selector, by_key=self.state.settings.path_selector_accepts_keys)
        except NotFound:
            if not _names_an_integration(selector):
                raise
            # §10 #8: an integration key or id selects only when it has exactly one connection, else 400.
            found = self.state.connection_for_integration(tenant, selector)
            if found is None:
                raise MembraneError(
                    f"Integration '{selector}' has no connection for this tenant: select a connection by id or key"
                ) from None
            conn = found
        upstream_response = await forward(
            self.upstream,
            self.log,
            request.scope,
            conn,
            method=request.method,
            path=request.path_params["path"],
            query=request.scope["query_string"].decode("latin-1"),
            headers=request.headers.items(),
            body=await request.body(),
        )
        return relay(upstream_response)

    # Actions -------------------------------------------------------------------------------------------------------

    async def list_actions(self, request: Request) -> Response:
        tenant = self._tenant(request)
        query = request.query_params
        intent = query.get("intent") or None
        if intent is not None and len(intent) > MAX_INTENT_LENGTH:
            raise MembraneError(f"'intent' must be at most {MAX_INTENT_LENGTH} characters")
        layer = query.get("layer")
        if layer and layer not in _LAYERS:
            raise MembraneError(f"'layer' must be one of {', '.join(_LAYERS)}")
        optional_bool(query, "includeArchived")
        page = page_params(query, default_limit=10 if intent else 100)
        conn = self._query_connection(tenant, query)
        integrations = {name: query[name] for name in ("integrationId", "integrationKey") if query.get(name)}
        actions = self.catalog.listing(query.get("search"), intent, conn, integrations)
        items, cursor = page_of(actions, page)
        settings = self.state.settings
        rendered = [
            action_json(a, integration_id=CLEVERTAP.integration_id, connection=conn, settings=settings) for a in items
        ]
        if settings.malformed_search_item and rendered:
            rendered = [dict(MALFORMED_SEARCH_ITEM), *rendered[:-1]]  # one of the page's items is bad (R9)
        return JSONResponse(page_body(rendered, cursor))

    async def get_action(self, request: Request) -> Response:
        tenant = self._tenant(request)
        optional_bool(request.query_params, "wait")
        wait_timeout(request.query_params)
        action = self.catalog.find(request.path_params["action_id"])
        conn = self._query_connection(tenant, request.query_params)
        return JSONResponse(
            action_json(action, integration_id=CLEVERTAP.integration_id, connection=conn, settings=self.state.settings)
        )

    async def run(self, request: Request) -> Response:
        tenant = self._tenant(request)
        action = self.catalog.find(request.path_params["action_id"], by_key=self.state.settings.run_path_accepts_keys)
        conn = self._query_connection(tenant, request.query_params, by_integration=True)
        if conn is None:
            raise MembraneError("Select a connection: pass connectionId, connectionKey or integrationKey")
        if conn.app is None:
            raise NotFound(f"Action '{action.id}' is not available on connection '{conn.id}'")
        body = await json_object(request, allow_empty=True)
        return JSONResponse(await execute(self.state, self.upstream, action, conn, body.get("input")))

    async def run_log(self, request: Request) -> Response:
        tenant = self._tenant(request)
        details = optional_bool(request.query_params, "details") is True
        run_id = request.path_params["run_id"]
        log = self.state.run_logs.get(tenant.id, run_id, details=details)
        if log is None:
            raise NotFound(f"Action run log '{run_id}' was not found")
        return JSONResponse(log)

    async def act(self, request: Request) -> Response:
        tenant = self._tenant(request)
        body = await json_object(request)
        result = await act(
            body,
            tenant,
            state=self.state,
            catalog=self.catalog,
            upstream=self.upstream,
            log=self.log,
            scope=request.scope,
        )
        return JSONResponse(result)

    def _query_connection(
        self, tenant: Tenant, query: Mapping[str, str], *, by_integration: bool = False
    ) -> Connection | None:
        if query.get("connectionId"):
            by_key = self.state.settings.path_selector_accepts_keys  # R6: an id parameter may take ids only
            return self.state.connection(tenant, query["connectionId"], by_key=by_key)
        if query.get("connectionKey"):
            return self.state.connection(tenant, query["connectionKey"])
        if by_integration:
            for name in ("integrationId", "integrationKey"):
                if query.get(name):
                    conn = self.state.connection_for_integration(tenant, query[name])
                    if conn is None:
                        raise NotFound(f"No connection of integration '{query[name]}' was found")
                    return conn
        return None


def _names_an_integration(selector: str) -> bool:
    return any(selector in (app.integration_key, app.integration_id) for app in KNOWN_APPS)


def membrane_error_handler(request: Request, exc: Exception) -> Response:
    if not isinstance(exc, MembraneError):
        raise exc
    response = error_response(exc)
    parts = getattr(request.app.state, "sandbox", None)
    if parts is not None and not parts.state.settings.error_types:
        # R7: ErrorData's `type` is optional; this reading leaves it out of every Membrane error.
        body = {k: v for k, v in exc.body().items() if k != "type"}
        return JSONResponse(body, status_code=exc.status)
    return response


def route_not_found_handler(request: Request, exc: Exception) -> Response:
    """Router misses as ErrorData: an unknown path or method is 404 `not_found`, as Membrane's router answers."""
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    if status in (404, 405):
        return error_response(NotFound(f"Cannot {request.method} {request.url.path}"))
    error = MembraneError(str(getattr(exc, "detail", "")) or "Bad request")
    return JSONResponse(error.body(), status_code=status)
