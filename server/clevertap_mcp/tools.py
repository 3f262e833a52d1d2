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
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema

from clevertap_mcp import action_runs, confirm, connections, policy, proxy_guard, redaction, search_shape
from clevertap_mcp.agent_errors import MAX_QUOTED_CHARS, ensure_error, quoted, tool_error
from clevertap_mcp.connect_flow import ConnectFlow, shape_result
from clevertap_mcp.membrane.errors import MembraneError, NotFoundError
from clevertap_mcp.membrane.models import Action, ActionRunResult, page_class
from clevertap_mcp.results import EnsureConnectionResult, ProxyResult, RunActionResult, SearchActionsResult
from clevertap_mcp.run_logs import run_log_uri
from clevertap_mcp.state import AppState

APP_NAME = "CleverTap"
CLEVERTAP_DOMAIN = "clevertap.com"
# Response headers an agent may see; everything else (cookies, auth challenges, infrastructure) stays behind.
PASSED_RESPONSE_HEADERS = frozenset(
    {"content-type", "retry-after", "x-request-id", "location", "etag", "last-modified"}
)

# Left out (or null) it means the connection ensure_connection settled on last: nothing to say in each schema.
ConnectionId = Annotated[str | None, Field(min_length=1, max_length=200)]
# Every optional argument takes null and means its default by it: strict-mode agents (openai-agents) must send every
# argument. Defaults and bounds are in the descriptions too: Codex drops `default`, `minimum` and `maximum`.
DEFAULT_APP_URL = "clevertap.com"
DEFAULT_WAIT_SECONDS = 20
DEFAULT_LIMIT = 10
# CleverTap's JSON bodies are objects or arrays; any other text goes in raw_body.
JSON_BODY_TYPES = ["object", "array", "null"]


# One value a provide-input asked for. A list of closed objects rather than a free-form map, so strict-mode agents
# (openai-agents) can still call ensure_connection strictly (docs/hosts-in-ci.md). No docstring: it would be sent
# to every agent as the schema's description.
class ProvidedValue(BaseModel):
    model_config = ConfigDict(extra="forbid")

    field: Annotated[str, Field(min_length=1, max_length=200)]
    value: Annotated[str, Field(max_length=2000)]


def _state(ctx: Context[AppState, Any]) -> AppState:
    return ctx.request_context.lifespan_context


async def _connection_id(app: AppState, connection_id: str | None) -> str:
    if connection_id:
        return connections.resolve_connection(app, connection_id)
    if app.last_connection_id:
        return app.last_connection_id
    return await connections.default_connection(app, app.require_client())


async def ensure_connection(
    ctx: Context[AppState, Any],
    app_url: Annotated[str | None, Field(min_length=1, max_length=2000)] = None,
    connection_id: Annotated[
        str | None, Field(description="Check this connection instead of finding one.", min_length=1, max_length=200)
    ] = None,
    name: Annotated[str | None, Field(description="Name for a new connection.", max_length=200)] = None,
    wait_seconds: Annotated[int | None, Field(description="0-300, default 20.", ge=0, le=300)] = None,
    provide_input: Annotated[list[ProvidedValue] | None, Field(description="Values Membrane asked for.")] = None,
) -> EnsureConnectionResult | InputRequiredResult:
    """Call first: finds or creates the CleverTap connection, waiting until usable. On CLIENT_ACTION_REQUIRED show
    the user `message` (it has the link), then call again with connection_id. Never ask for credentials in chat.
    """
    app = _state(ctx)
    client = app.require_client()
    if provide_input and not connection_id:
        raise ToolError("provide_input answers one connection's question: pass its connection_id too.")
    app_url = app_url or DEFAULT_APP_URL
    flow = ConnectFlow(client, ctx, DEFAULT_WAIT_SECONDS if wait_seconds is None else wait_seconds)
    try:
        if provide_input and connection_id:
            await client.provide_input(connection_id, {item.field: item.value for item in provide_input})
        outcome = await flow.run(app_url=app_url, connection_id=connection_id, name=name)
    except MembraneError as exc:
        # Given a connection id the flow only reads; otherwise its find-or-create POST may have made one.
        raise (tool_error(exc) if connection_id else ensure_error(exc)) from None
    if isinstance(outcome, InputRequiredResult):
        return outcome
    conn, shown = outcome
    is_clevertap = connection_id is not None or _is_clevertap(app_url)
    result = shape_result(conn, app=APP_NAME if is_clevertap else app_url, shown_to_user=shown, link=flow.link)
    if is_clevertap:
        # Remembered only once the connection is known not to have failed: tools default to it.
        app.last_connection_id = conn.id
        app.remember_connection(conn.id, conn.key, connection_id)
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
    limit: Annotated[int | None, Field(description="1-50, default 10.", ge=1, le=50)] = None,
    cursor: Annotated[str | None, Field(description="next_cursor of the previous page.", max_length=200)] = None,
) -> SearchActionsResult:
    """Find CleverTap actions for an intent, best first. The first has the input_schema run_action needs; others
    list inputs (* required): search one's key for its schema."""
    app = _state(ctx)
    client = app.require_client()
    conn_id = await _connection_id(app, connection_id)
    shown_id = app.shown_action_id(intent.strip()) if cursor is None else None
    page_size = DEFAULT_LIMIT if limit is None else limit
    try:
        if shown_id is not None:
            # An action a search already showed, asked for by name: that one, whole (search_shape.py).
            found = await client.get_action(shown_id, connection_id=conn_id)
            page = page_class(Action)(items=[found])
        else:
            page = await connections.retried_by_id(
                app,
                client,
                connection_id,
                conn_id,
                lambda conn: client.search_actions(connection_id=conn, intent=intent, limit=page_size, cursor=cursor),
            )
    except MembraneError as exc:
        raise tool_error(exc) from None
    actions = search_shape.shape_actions(page.items, intent)
    app.remember_action_keys({a.id: a.key for a in page.items if a.key})
    app.remember_input_schemas(
        {name: a.input_schema for a in page.items if a.input_schema for name in (a.id, a.key) if name}
    )
    return SearchActionsResult(actions=actions, next_cursor=page.next_cursor, skipped=page.skipped or None)


async def run_action(
    ctx: Context[AppState, Any],
    action_id: Annotated[str, Field(description="An id or key from search_actions.", min_length=1, max_length=200)],
    input: Annotated[dict[str, Any] | None, Field(description="Matches the action's input_schema.")] = None,
    connection_id: ConnectionId = None,
) -> RunActionResult | InputRequiredResult:
    """Run an action from search_actions. Writes change the live CleverTap account."""
    app = _state(ctx)
    client = app.require_client()
    input = input or {}
    key = app.action_key(action_id)
    if app.read_only and not policy.action_is_read(key):
        raise ToolError(policy.read_only_action_refusal(action_id, key))
    _refuse_undeclared_fields(action_id, input, app.input_schema(action_id))
    conn_id = await _connection_id(app, connection_id)
    await action_runs.refuse_ignored_safety_flags(app, client, action_id, input, connection_id=conn_id)
    asked = await confirm.confirm_action(
        ctx, client, connection_id=conn_id, action_id=action_id, key=key, action_input=input
    )
    if asked is not None:
        return asked
    # A known read changes nothing, so it may be resent after a lost answer; anything else is sent at most once.
    reads = policy.action_is_read(key)
    try:
        result = await connections.retried_by_id(
            app,
            client,
            connection_id,
            conn_id,
            lambda conn: action_runs.run(app, client, action_id, input, connection_id=conn, resend_safe=reads),
        )
    except NotFoundError as exc:
        if connection_id:
            raise tool_error(exc) from None
        # Agents often pass the action's name ("Get Event Count"), which Membrane does not resolve.
        raise ToolError(
            f"No action {action_id!r} (404: {quoted(redaction.redact(exc.message), MAX_QUOTED_CHARS)}). Nothing was run. Pass an action's id "
            "or key exactly as search_actions lists them (e.g. get-event-count), never its name."
        ) from None
    except MembraneError as exc:
        raise tool_error(exc, may_have_acted=not reads) from None
    return _run_result(result)


def _run_result(result: ActionRunResult) -> RunActionResult:
    run_id = result.action_run_id
    return RunActionResult(output=result.output, action_run_id=run_id, run_log=run_log_uri(run_id) if run_id else None)


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
    method: Annotated[
        Literal["GET", "POST", "PUT", "PATCH", "DELETE"] | None, Field(description="Default GET.")
    ] = None,
    query: dict[str, str | int | float | bool] | None = None,
    headers: dict[str, str] | None = None,
    body: Annotated[Any, WithJsonSchema({"type": JSON_BODY_TYPES, "description": "JSON body."})] = None,
    # `str`, not `str | None`: the SDK JSON-decodes string arguments of any other type, which would turn a raw
    # body such as "{}" into an object. A null still means "no raw body".
    raw_body: Annotated[
        str,
        BeforeValidator(lambda v: "" if v is None else v),
        WithJsonSchema({"type": ["string", "null"], "description": "Body sent as is, instead of body."}),
    ] = "",
    path_params: Annotated[dict[str, str | int] | None, Field(description="Values for {name} in path.")] = None,
    connection_id: ConnectionId = None,
) -> ProxyResult | InputRequiredResult:
    """A raw CleverTap REST call through the connection, credentials added for you. Only when no action fits.

    Returns CleverTap's status and body as is (a 200 may still say "status": "fail").
    """
    app = _state(ctx)
    client = app.require_client()
    method = method or "GET"
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
        response = await connections.retried_by_id(
            app,
            client,
            connection_id,
            conn_id,
            lambda conn: client.proxy(
                conn,
                method,
                final_path,
                query=str_query,
                headers=safe_headers,
                content=content,
                resend_safe=resend_safe,
            ),
        )
    except MembraneError as exc:
        raise tool_error(exc, may_have_acted=not resend_safe) from None
    text = response.content.decode("utf-8", errors="replace")
    parsed: Any
    try:
        parsed = json.loads(text) if text else None
    except ValueError:
        parsed = text
    out_headers = {k.lower(): redaction.redact(v) for k, v in response.headers if k.lower() in PASSED_RESPONSE_HEADERS}
    # CleverTap may echo what reached it (the passcode Membrane added, a token): masked as run_action errors are.
    return ProxyResult(status=response.status, headers=out_headers, body=redaction.redact_json(parsed))
