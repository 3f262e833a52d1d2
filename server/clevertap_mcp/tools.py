"""The four tools: validate, make one Membrane call (or a short, named sequence), shape the result.

Everything an agent could fix comes back as an `isError` result (`ToolError`) saying what to change.
"""

from __future__ import annotations

import difflib
import json
from typing import Annotated, Any, Literal, cast
from urllib.parse import urlsplit

from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from mcp_types import InputRequiredResult
from pydantic import BeforeValidator, Field

from clevertap_mcp import confirm, policy, proxy_guard, redaction
from clevertap_mcp.agent_errors import ensure_error, tool_error
from clevertap_mcp.connect_flow import ConnectFlow, shape_result
from clevertap_mcp.membrane.errors import MembraneError, NotFoundError
from clevertap_mcp.results import ActionOut, EnsureConnectionResult, ProxyResult, RunActionResult, SearchActionsResult
from clevertap_mcp.state import AppState

APP_NAME = "CleverTap"
CLEVERTAP_INTEGRATION_KEY = "clevertap"
CLEVERTAP_DOMAIN = "clevertap.com"
# Response headers an agent may see; everything else (cookies, auth challenges, infrastructure) stays behind.
PASSED_RESPONSE_HEADERS = frozenset(
    {"content-type", "retry-after", "x-request-id", "location", "etag", "last-modified"}
)

ConnectionId = Annotated[str | None, Field(description="Default: the last ensured.", min_length=1, max_length=200)]


def _state(ctx: Context[AppState, Any]) -> AppState:
    return ctx.request_context.lifespan_context


async def _connection_id(app: AppState, connection_id: str | None) -> str:
    if connection_id:
        return connection_id
    if app.last_connection_id:
        return app.last_connection_id
    client = app.require_client()
    try:
        page = await client.list_connections(integration_key=CLEVERTAP_INTEGRATION_KEY)
    except MembraneError as exc:
        raise tool_error(exc) from None
    for conn in page.items:
        if conn.is_ready:
            app.last_connection_id = conn.id
            return conn.id
    raise ToolError(f"There is no ready {APP_NAME} connection yet. Call ensure_connection first.")


async def ensure_connection(
    ctx: Context[AppState, Any],
    app_url: Annotated[str, Field(min_length=1, max_length=2000)] = "clevertap.com",
    connection_id: Annotated[
        str | None, Field(description="Check this connection instead of finding one.", min_length=1, max_length=200)
    ] = None,
    name: Annotated[str | None, Field(description="Name for a new connection.", max_length=200)] = None,
    wait_seconds: Annotated[int, Field(ge=0, le=300)] = 20,
) -> EnsureConnectionResult | InputRequiredResult:
    """Call first: finds or creates the CleverTap connection, waiting until usable. If state is
    CLIENT_ACTION_REQUIRED, show the user `message` (it has the link), then call again with connection_id once they
    are done. Never ask for credentials in chat.
    """
    app = _state(ctx)
    client = app.require_client()
    flow = ConnectFlow(client, ctx, wait_seconds)
    try:
        outcome = await flow.run(app_url=app_url, connection_id=connection_id, name=name)
    except MembraneError as exc:
        # Given a connection id the flow only reads; otherwise its find-or-create POST may have made one.
        raise (tool_error(exc) if connection_id else ensure_error(exc)) from None
    if isinstance(outcome, InputRequiredResult):
        return outcome
    conn, shown = outcome
    is_clevertap = connection_id is not None or _is_clevertap(app_url)
    result = shape_result(conn, app=APP_NAME if is_clevertap else app_url, shown_to_user=shown)
    if is_clevertap:
        # Remembered only once the connection is known not to have failed: tools default to it.
        app.last_connection_id = conn.id
    return result


def _is_clevertap(app_url: str) -> bool:
    text = app_url.strip().lower()
    try:
        host = urlsplit(text if "://" in text else f"https://{text}").hostname or ""
    except ValueError:
        return False
    return host == CLEVERTAP_DOMAIN or host.endswith("." + CLEVERTAP_DOMAIN)


async def search_actions(
    ctx: Context[AppState, Any],
    intent: Annotated[str, Field(description="What you want to do.", min_length=1, max_length=200)],
    connection_id: ConnectionId = None,
    limit: Annotated[int, Field(ge=1, le=50)] = 10,
    cursor: Annotated[str | None, Field(description="next_cursor of the previous page.", max_length=200)] = None,
) -> SearchActionsResult:
    """Find CleverTap actions for an intent, best match first, each with the input_schema run_action needs."""
    app = _state(ctx)
    client = app.require_client()
    conn_id = await _connection_id(app, connection_id)
    try:
        page = await client.search_actions(connection_id=conn_id, intent=intent, limit=limit, cursor=cursor)
    except MembraneError as exc:
        raise tool_error(exc) from None
    actions = [
        ActionOut(id=a.id, key=a.key or None, name=a.name, description=a.description, input_schema=a.input_schema)
        for a in page.items
    ]
    app.remember_action_keys({a.id: a.key for a in page.items if a.key})
    app.remember_input_schemas(
        {name: a.input_schema for a in page.items if a.input_schema for name in (a.id, a.key) if name}
    )
    return SearchActionsResult(actions=actions, next_cursor=page.next_cursor)


async def run_action(
    ctx: Context[AppState, Any],
    action_id: Annotated[str, Field(description="An id or key from search_actions.", min_length=1, max_length=200)],
    input: Annotated[dict[str, Any], Field(description="Matches the action's input_schema.")] = {},  # noqa: B006
    connection_id: ConnectionId = None,
) -> RunActionResult | InputRequiredResult:
    """Run an action from search_actions. Writes change the live CleverTap account."""
    app = _state(ctx)
    client = app.require_client()
    key = app.action_key(action_id)
    if app.read_only and not policy.action_is_read(key):
        raise ToolError(policy.read_only_action_refusal(action_id, key))
    _refuse_undeclared_fields(action_id, input, app.input_schema(action_id))
    conn_id = await _connection_id(app, connection_id)
    asked = await confirm.confirm_action(
        ctx, client, connection_id=conn_id, action_id=action_id, key=key, action_input=input
    )
    if asked is not None:
        return asked
    # A known read changes nothing, so it may be resent after a lost answer; anything else is sent at most once.
    reads = policy.action_is_read(key)
    try:
        result = await client.run_action(action_id, input, connection_id=conn_id, resend_safe=reads)
    except NotFoundError as exc:
        if connection_id:
            raise tool_error(exc) from None
        # Agents often pass the action's name ("Get Event Count"), which Membrane does not resolve.
        raise ToolError(
            redaction.redact(
                f"No action {action_id!r} (404: {exc.message}). Nothing was run. Pass an action's id or key exactly "
                "as search_actions lists them (e.g. get-event-count), never its name."
            )
        ) from None
    except MembraneError as exc:
        raise tool_error(exc, may_have_acted=not reads) from None
    return RunActionResult(output=result.output, action_run_id=result.action_run_id)


def _refuse_undeclared_fields(action_id: str, action_input: dict[str, Any], schema: dict[str, Any] | None) -> None:
    """Membrane ignores input fields an action does not declare, so a typo (`batchSize`) would run with the default
    instead of failing: name it before anything is sent. Only for actions whose schema a search showed."""
    properties = schema.get("properties") if schema else None
    if not isinstance(properties, dict) or (schema or {}).get("additionalProperties", False) is not False:
        return
    declared = [str(name) for name in cast(dict[str, Any], properties)]
    unknown = [name for name in action_input if name not in declared]
    if not unknown:
        return
    hints = [
        f"{name!r} (did you mean {close[0]!r}?)"
        if (close := difflib.get_close_matches(name, declared, n=1))
        else repr(name)
        for name in unknown
    ]
    raise ToolError(
        f"{action_id} has no input field {', '.join(hints)}, so nothing was sent (Membrane would ignore it). "
        f"Its input_schema declares: {', '.join(declared)}."
    )


async def proxy_request(
    ctx: Context[AppState, Any],
    path: Annotated[
        str,
        Field(
            description="CleverTap API path, e.g. /1/profile.json or /1/events.json?cursor=<cursor as given>.",
            min_length=1,
            max_length=proxy_guard.MAX_PATH_LENGTH,
        ),
    ],
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"] = "GET",
    query: dict[str, str | int | float | bool] | None = None,
    headers: dict[str, str] | None = None,
    body: Annotated[Any, Field(description="JSON body.")] = None,
    # `str`, not `str | None`: the SDK JSON-decodes string arguments of any other type, which would turn a raw
    # body such as "{}" into an object. A null still means "no raw body".
    raw_body: Annotated[
        str, BeforeValidator(lambda v: "" if v is None else v), Field(description="Body sent as is, instead of body.")
    ] = "",
    path_params: Annotated[dict[str, str | int] | None, Field(description="Values for {name} in path.")] = None,
    connection_id: ConnectionId = None,
) -> ProxyResult | InputRequiredResult:
    """A raw CleverTap REST call through the connection, credentials added for you. Only when no action fits.

    Returns CleverTap's status and body as is (a 200 may still say "status": "fail").
    """
    app = _state(ctx)
    client = app.require_client()
    if body is not None and raw_body:
        raise ToolError("Send either body (JSON) or raw_body (text), not both.")
    if method == "GET" and (body is not None or raw_body):
        # A GET is taken as a read and may be resent; one carrying a body is neither, on servers that read it.
        raise ToolError("A GET carries no body: put its parameters in query (or the path), or use POST.")
    try:
        final_path = proxy_guard.check_path(proxy_guard.fill_path_params(path, path_params))
        safe_headers = proxy_guard.check_headers(headers)
    except proxy_guard.GuardError as exc:
        raise ToolError(f"Refused before sending: {exc}.") from None
    if app.read_only and not policy.proxy_is_read(method, final_path):
        raise ToolError(policy.read_only_proxy_refusal(method, final_path))
    content: bytes | None = None
    if body is not None:
        content = json.dumps(body, separators=(",", ":")).encode()
        safe_headers.setdefault("Content-Type", "application/json")
    elif raw_body:
        content = raw_body.encode()
        if not any(k.lower() == "content-type" for k in safe_headers):
            safe_headers["Content-Type"] = "text/plain; charset=utf-8"
    conn_id = await _connection_id(app, connection_id)
    str_query = proxy_guard.query_values(query)
    asked = await confirm.confirm_proxy(
        ctx,
        client,
        connection_id=conn_id,
        method=method,
        path=final_path,
        query=str_query,
        headers=safe_headers,
        body=body,
        raw_body=raw_body,
    )
    if asked is not None:
        return asked
    # Resent after a lost answer only when it cannot change anything: a GET that policy.py takes as a read.
    resend_safe = method == "GET" and policy.proxy_is_read(method, final_path)
    try:
        response = await client.proxy(
            conn_id, method, final_path, query=str_query, headers=safe_headers, content=content, resend_safe=resend_safe
        )
    except MembraneError as exc:
        raise tool_error(exc, may_have_acted=not resend_safe) from None
    text = response.content.decode("utf-8", errors="replace")
    parsed: Any
    try:
        parsed = json.loads(text) if text else None
    except ValueError:
        parsed = text
    out_headers = {k.lower(): v for k, v in response.headers if k.lower() in PASSED_RESPONSE_HEADERS}
    return ProxyResult(status=response.status, headers=out_headers, body=parsed)
