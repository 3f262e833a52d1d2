"""Asking the user before a call deletes, stops or sends (policy.py says which calls do).

The user sees what will happen (the connection, the campaign or profiles, a campaign's estimated reach) in a form
with one checkbox. Only "accept" with the box ticked lets the call through; declining, cancelling or leaving the
box empty sends nothing. How the client is asked depends on the protocol era, as in connect_flow.py: handshake-era
clients (2025-11-25 and older) get a mid-call `elicitation/create`; 2026-07-28 clients get an `InputRequiredResult`
and call again with the answer, while the sealed `request_state` carries a digest of the call, so an answer given
for one call can never let another through.

A client that cannot show a form is handled by the confirm mode (`--confirm`, CLEVERTAP_MCP_CONFIRM):
`never` never asks; `elicit` (the default) asks where it can and otherwise goes ahead, leaving the decision to the
host's own per-call approval (Claude Desktop asks before each destructive tool call, and cannot show forms);
`required` refuses what it cannot ask about; `writes` asks before every call that is not a read (policy.py's
read-only rules: unknown actions count as writes) and refuses what it cannot ask about, for hosts such as
`codex exec` whose tools are pre-approved.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any, cast

from mcp import MCPError
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from mcp_types import ElicitRequest, ElicitRequestFormParams, ElicitResult, InputRequiredResult

from clevertap_mcp import action_runs, policy
from clevertap_mcp.agent_errors import describe as describe_error
from clevertap_mcp.agent_errors import quoted
from clevertap_mcp.config import ConfirmMode
from clevertap_mcp.connect_flow import speaks_modern_protocol
from clevertap_mcp.membrane.client import MembraneClient
from clevertap_mcp.membrane.errors import MembraneError
from clevertap_mcp.policy import Risky
from clevertap_mcp.state import AppState, current_caller_key

logger = logging.getLogger(__name__)

ELICIT_KEY = "confirm"
STATE_KIND = "clevertap-confirm"
CHECKBOX = "confirm"
FORM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {CHECKBOX: {"type": "boolean", "title": "Yes, do this", "default": False}},
    "required": [CHECKBOX],
}
# What a confirmation lists at most of the profiles it deletes or the recipients it sends to.
MAX_LISTED = 10
MAX_SHOWN_INPUT = 500
MAX_SHOWN_ITEM = 120

ESTIMATE_ONLY = "estimate_only"
DECLINED = (
    "The user did not confirm, so nothing was sent to CleverTap. Do not retry on your own: ask the user what they "
    "want instead."
)


def call_digest(tool: str, **parts: Any) -> str:
    """Identifies one exact call (tool, target, arguments), so a confirmation cannot be replayed on another."""
    text = json.dumps({"tool": tool, **parts}, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def form_elicitation_supported(ctx: Context[Any, Any]) -> bool:
    caps = ctx.client_capabilities
    if caps is None or caps.elicitation is None:
        return False
    # An empty elicitation capability is the pre-URL-mode declaration, which meant forms.
    return caps.elicitation.form is not None or caps.elicitation.url is None


def _accepted(answer: object) -> bool:
    return (
        isinstance(answer, ElicitResult)
        and answer.action == "accept"
        and answer.content is not None
        and answer.content.get(CHECKBOX) is True
    )


async def confirm(
    ctx: Context[Any, Any], mode: ConfirmMode, *, digest: str, describe: Callable[[], Awaitable[str]]
) -> InputRequiredResult | None:
    """None when the call may go ahead, an `InputRequiredResult` to return (2026-07-28 era); raises `ToolError`
    when the user declined or the mode requires a confirmation this client cannot give. `describe` builds the
    question and runs only when the user is actually asked (it may preview a campaign's reach)."""
    if mode == "never":
        return None
    if speaks_modern_protocol(ctx) and ctx.request_state is not None:
        return _resume(ctx, digest)
    if not form_elicitation_supported(ctx):
        return _unsupported(mode)
    message = await describe()
    if speaks_modern_protocol(ctx):
        request = ElicitRequest(params=ElicitRequestFormParams(message=message, requested_schema=FORM_SCHEMA))
        # Sealed with who it was issued to: another caller replaying it (same arguments, same connection named) is
        # refused here, not left to Membrane's 404.
        state = json.dumps({"kind": STATE_KIND, "digest": digest, "to": current_caller_key()})
        return InputRequiredResult(input_requests={ELICIT_KEY: request}, request_state=state)
    try:
        answer = await ctx.request_context.session.elicit_form(
            message=message, requested_schema=FORM_SCHEMA, related_request_id=ctx.request_id
        )
    except MCPError as exc:
        logger.info("The client could not ask the user to confirm: %s", exc.error.message)
        raise ToolError(
            "This call needs the user's confirmation and their MCP client failed to show the question, so nothing "
            "was sent. Tell the user; they can try again, or restart the server with --confirm=never if their "
            "host's own approval prompt is enough."
        ) from None
    if not _accepted(answer):
        raise ToolError(DECLINED)
    return None


def _resume(ctx: Context[Any, Any], digest: str) -> None:
    try:
        state: Any = json.loads(ctx.request_state or "")
        fields = cast(dict[str, Any], state) if isinstance(state, dict) else {}
        ours = fields.get("kind") == STATE_KIND and fields.get("digest") == digest
        theirs = fields.get("to") == current_caller_key()
    except ValueError:
        ours, theirs = False, True
    if ours and not theirs:
        raise ToolError(
            "This call was resumed with a confirmation issued to another caller; nothing was sent. Call again "
            "without it, and your user will be asked."
        )
    if not ours:
        raise ToolError(
            "This call was resumed with a confirmation given for a different call; nothing was sent. Call again."
        )
    if not _accepted((ctx.input_responses or {}).get(ELICIT_KEY)):
        raise ToolError(DECLINED)


def _unsupported(mode: ConfirmMode) -> None:
    if mode == "writes":
        raise ToolError(
            "This call may change data, and this server is set to ask the user before every write "
            "(--confirm=writes), but this MCP client cannot show a confirmation form, so nothing was sent. Tell the "
            "user: use a client that supports elicitation, or restart the server with another --confirm mode "
            "(CLEVERTAP_MCP_CONFIRM) to rely on the host's own approval prompt."
        )
    if mode == "required":
        raise ToolError(
            "This call deletes, stops or sends, and this server is set to ask the user first (--confirm=required), "
            "but this MCP client cannot show a confirmation form, so nothing was sent. Tell the user: use a client "
            "that supports elicitation, or restart the server with --confirm=elicit (CLEVERTAP_MCP_CONFIRM=elicit) "
            "to rely on the host's own approval prompt."
        )
    return None


# --- what the user is shown -------------------------------------------------------------------------------------


def _shown(value: Any, limit: int = MAX_SHOWN_INPUT, *, missing: str = "(not given)") -> str:
    """A value from the agent or CleverTap inside the question: quoted and bounded, so that no value can read as
    this server's words nor grow the question beyond what a user can read; a number as itself."""
    if value is None:
        return missing
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return quoted(str(value), limit)


def _listed(value: Any) -> str:
    items: list[Any] = list(value) if isinstance(value, list) else [value]  # pyright: ignore[reportUnknownArgumentType]
    shown = ", ".join(_shown(v, MAX_SHOWN_ITEM) for v in items[:MAX_LISTED])
    more = f" and {len(items) - MAX_LISTED} more" if len(items) > MAX_LISTED else ""
    return f"{shown}{more} ({len(items)} in all)"


def _within(limit: int, parts: list[str]) -> str:
    """`parts` joined while they fit in about `limit` characters (at least one), then how many more there were:
    cut between values, never inside a quoted one."""
    if not parts:
        return "see the request"
    kept = [parts[0]]
    for part in parts[1:]:
        if sum(len(k) + 2 for k in kept) + len(part) > limit:
            break
        kept.append(part)
    more = f" and {len(parts) - len(kept)} more" if len(parts) > len(kept) else ""
    return "; ".join(kept) + more


def _reach(estimates: Any) -> str:
    if not isinstance(estimates, dict) or not estimates:
        return "Estimated reach: unknown (CleverTap gave no estimate)."
    counts: dict[str, Any] = {str(k): v for k, v in cast(dict[Any, Any], estimates).items()}
    total = sum(v for v in counts.values() if isinstance(v, int | float))
    parts = ", ".join(
        f"{_shown(k, MAX_SHOWN_ITEM)} {_shown(v, MAX_SHOWN_ITEM)}" for k, v in list(counts.items())[:MAX_LISTED]
    )
    return f"Estimated reach: {total:g} users ({parts})."


def question(risky: Risky, *, call: str, connection: str, estimates: Any = None, preview_problem: str = "") -> str:
    """The sentence the user confirms: what, on which connection, to whom, and a campaign's reach."""
    p = risky.payload
    if risky.unreadable_body is not None:
        verb = {"delete": "Delete or demerge", "stop": "Stop", "send": "Send or create", "unknown": "Change"}
        what = (
            f"{verb[risky.effect]} something in CleverTap, with a request body this server cannot read as one JSON "
            f"object (not JSON, not an object, or a repeated key), so it cannot say what or to whom. Body as sent: "
            f"{_shown(risky.unreadable_body)}"
        )
    elif risky.effect == "unknown":
        thing = "a CleverTap request to an endpoint" if call.startswith("proxy_request") else "a CleverTap action"
        what = (
            f"Run {thing} this server does not know, so it may change, delete or send data. "
            f"Input: {_shown(json.dumps(p, default=str))}"
        )
    elif risky.effect == "delete":
        ids = [f"{name} {_listed(p[name])}" for name in ("identity", "guid", "identities") if p.get(name) is not None]
        what = f"Delete CleverTap user profiles: {'; '.join(ids) or 'see the request'}. This cannot be undone."
    elif risky.effect == "stop":
        what = f"Stop CleverTap campaign {_shown(p.get('id'), MAX_SHOWN_ITEM, missing='(no id given)')}."
    elif risky.is_campaign_create:
        raw_where = p.get("where")
        where: dict[str, Any] = cast(dict[str, Any], raw_where) if isinstance(raw_where, dict) else {}
        audience = (
            f"segment {_shown(p['segment'], MAX_SHOWN_ITEM)}"
            if p.get("segment") is not None
            else f"users who did {_shown(where.get('event_name'), MAX_SHOWN_ITEM, missing='an event')} "
            f"{_shown(where.get('from'), MAX_SHOWN_ITEM)}–{_shown(where.get('to'), MAX_SHOWN_ITEM)}"
            if where
            else "ALL users (no where or segment)"
        )
        when = _shown(p.get("when"), MAX_SHOWN_ITEM)
        reach = f"Estimated reach: unknown ({preview_problem})." if preview_problem else _reach(estimates)
        what = (
            f"Create and send the {_shown(p.get('target_mode'), MAX_SHOWN_ITEM, missing='?')} campaign "
            f"{_shown(p.get('name'), MAX_SHOWN_ITEM, missing='(unnamed)')}, when: {when}, audience: {audience}. {reach}"
        )
    else:
        to = p.get("to")
        given: list[tuple[Any, Any]] = list(cast(dict[Any, Any], to).items()) if isinstance(to, dict) else []
        recipients = _within(MAX_SHOWN_INPUT, [f"{_shown(k, MAX_SHOWN_ITEM)} {_listed(v)}" for k, v in given])
        what = f"Send a CleverTap message to {recipients}."
    return f"{what} (Call: {call}, on CleverTap connection {connection}.) Tick the box and accept to go ahead."


# --- the two tools' confirmations ---------------------------------------------------------------------------------


async def _connection_label(client: MembraneClient, connection_id: str) -> str:
    try:
        conn = await client.get_connection(connection_id)
    except MembraneError:
        return _shown(connection_id, MAX_SHOWN_ITEM)
    # Membrane's connection name is the user's data: quoted, never the server's words.
    name = quoted(conn.name, MAX_SHOWN_ITEM) if conn.name else ""
    return f"{name} ({_shown(conn.id, MAX_SHOWN_ITEM)})" if name else _shown(conn.id, MAX_SHOWN_ITEM)


def _estimates_of(output: Any) -> Any:
    return cast(dict[str, Any], output).get("estimates") if isinstance(output, dict) else None


async def _campaign_preview(
    app: AppState, client: MembraneClient, connection_id: str, action_id: str, action_input: dict[str, Any]
) -> tuple[Any, str]:
    """A campaign's estimated reach without creating anything (§11 R1), and what went wrong if there is none.

    Through the action only when its input schema declares estimate_only (else Membrane drops the flag and the
    "preview" creates and sends); otherwise CleverTap's own estimate_only through the proxy, which is certain.
    """
    preview_input = {**action_input, ESTIMATE_ONLY: True}
    if await action_runs.declared_input(app, client, action_id, ESTIMATE_ONLY, connection_id=connection_id):
        try:
            preview = await action_runs.run(app, client, action_id, preview_input, connection_id=connection_id)
        except MembraneError as exc:
            return None, f"the estimate-only preview failed: {describe_error(exc)}"
        return _estimates_of(preview.output), ""
    return await _proxy_estimate(client, connection_id, policy.CREATE_CAMPAIGN_PATH, {}, {}, preview_input)


async def _proxy_estimate(
    client: MembraneClient,
    connection_id: str,
    path: str,
    query: dict[str, str],
    headers: dict[str, str],
    payload: dict[str, Any],
) -> tuple[Any, str]:
    """CleverTap's own estimate: POST /1/targets/create.json with estimate_only, which stores nothing."""
    preview_body = json.dumps({**payload, ESTIMATE_ONLY: True}).encode()
    json_headers = {k: v for k, v in headers.items() if k.lower() != "content-type"}
    json_headers["Content-Type"] = "application/json"
    try:
        response = await client.proxy(
            connection_id, "POST", path, query=query, headers=json_headers, content=preview_body
        )
        answer: Any = json.loads(response.content or b"null")
    except MembraneError as exc:
        return None, f"CleverTap's estimate could not be read: {describe_error(exc)}"
    except ValueError:
        return None, "CleverTap's estimate did not answer JSON"
    estimates = _estimates_of(answer)
    if response.status >= 300 or estimates is None:
        status = cast(dict[str, Any], answer).get("error") if isinstance(answer, dict) else None
        return (
            None,
            f"CleverTap gave no estimate (HTTP {response.status}{f': {_shown(status, 200)}' if status else ''})",
        )
    return estimates, ""


def _plain_write(client: MembraneClient, connection_id: str, call: str, sent: Any) -> Callable[[], Awaitable[str]]:
    """The question for a write that only adds or updates (an upload), asked about only under --confirm=writes."""

    async def describe() -> str:
        label = await _connection_label(client, connection_id)
        shown = _shown(sent if isinstance(sent, str) else json.dumps(sent, default=str))
        return (
            f"Write to CleverTap (add or update data). Input: {shown} (Call: {call}, on CleverTap connection "
            f"{label}.) Tick the box and accept to go ahead."
        )

    return describe


async def confirm_action(
    ctx: Context[AppState, Any],
    client: MembraneClient,
    *,
    connection_id: str,
    action_id: str,
    key: str,
    action_input: dict[str, Any],
) -> InputRequiredResult | None:
    app = ctx.request_context.lifespan_context
    honoured = False
    if key == "create-campaign" and policy.asks_estimate_only(action_input):
        # An estimate_only the action does not declare is dropped by Membrane (§11 R1): the run would create.
        honoured = await action_runs.declared_input(app, client, action_id, ESTIMATE_ONLY, connection_id=connection_id)
    risky = policy.risky_action(key, action_input, estimate_only_honoured=honoured)
    if risky is None:
        if app.confirm != "writes" or policy.action_is_read(key):
            return None
        digest = call_digest("run_action", action=action_id, input=action_input, connection=connection_id)
        ask = _plain_write(client, connection_id, f"run_action {key}", action_input)
        return await confirm(ctx, app.confirm, digest=digest, describe=ask)

    async def describe() -> str:
        estimates, problem = None, ""
        if risky.is_campaign_create:
            estimates, problem = await _campaign_preview(app, client, connection_id, action_id, action_input)
        label = await _connection_label(client, connection_id)
        return question(risky, call=f"run_action {key}", connection=label, estimates=estimates, preview_problem=problem)

    digest = call_digest("run_action", action=action_id, input=action_input, connection=connection_id)
    return await confirm(ctx, ctx.request_context.lifespan_context.confirm, digest=digest, describe=describe)


async def confirm_proxy(
    ctx: Context[AppState, Any],
    client: MembraneClient,
    *,
    connection_id: str,
    method: str,
    path: str,
    query: dict[str, str],
    headers: dict[str, str],
    body: Any,
    raw_body: str,
) -> InputRequiredResult | None:
    risky = policy.risky_proxy(method, path, body, raw_body)
    mode = ctx.request_context.lifespan_context.confirm
    if risky is None and (mode != "writes" or policy.proxy_is_read(method, path)):
        return None

    async def describe() -> str:
        if risky is None:  # an add or update, asked about only under --confirm=writes
            call = f"proxy_request {method.upper()} {policy.bare_path(path)}"
            return await _plain_write(client, connection_id, call, body if body is not None else raw_body)()
        estimates, problem = None, ""
        if risky.is_campaign_create:
            estimates, problem = await _proxy_estimate(client, connection_id, path, query, headers, risky.payload)
        label = await _connection_label(client, connection_id)
        call = f"proxy_request {method.upper()} {policy.bare_path(path)}"
        return question(risky, call=call, connection=label, estimates=estimates, preview_problem=problem)

    digest = call_digest(
        "proxy_request",
        method=method.upper(),
        path=path,
        query=query,
        # Headers too: a Content-Type changes how CleverTap reads the very same body.
        headers={k.lower(): v for k, v in headers.items()},
        body=body,
        raw_body=raw_body,
        connection=connection_id,
    )
    return await confirm(ctx, ctx.request_context.lifespan_context.confirm, digest=digest, describe=describe)
