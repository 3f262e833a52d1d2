"""`ensure_connection`: find or create the CleverTap connection, wait while Membrane builds it, and get the user
through the connect link.

The link reaches the user two ways at once: always as a sentence in the result the agent can show as is, and, where
the client declared URL-mode elicitation, directly from the client. How the client is asked depends on the protocol
era (docs/mcp-sdk.md): handshake-era clients (2025-11-25 and older, e.g. Claude Desktop) get a mid-call
`elicitation/create` request; 2026-07-28 clients get an `InputRequiredResult` and call again with the answer, the
connection id riding in the sealed `request_state`. Either way, an accepted link is followed by polling until the
connection is READY or `wait_seconds` runs out; a declined one, or a client that cannot elicit, gets the message.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
from mcp import MCPError
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from mcp_types import (
    ClientCapabilities,
    ElicitationCapability,
    ElicitRequest,
    ElicitRequestURLParams,
    ElicitResult,
    InputRequiredResult,
    UrlElicitationCapability,
)
from mcp_types.version import is_version_at_least

from clevertap_mcp import redaction
from clevertap_mcp.agent_errors import MAX_QUOTED_CHARS, quoted
from clevertap_mcp.membrane.client import MembraneClient
from clevertap_mcp.membrane.errors import MembraneError, ResponseLostError
from clevertap_mcp.membrane.models import (
    BUILDING,
    CLIENT_ACTION_REQUIRED,
    TERMINAL_FAILURE_STATES,
    Connection,
)
from clevertap_mcp.results import ClientActionOut, EnsureConnectionResult

logger = logging.getLogger(__name__)

MODERN_PROTOCOL = "2026-07-28"
# Membrane holds a long-poll only while BUILDING (§11 R8); waiting for a human to finish the link is plain polling,
# backing off from the first to the last interval: about 33 requests over a 300 s wait.
USER_POLL_FIRST_SECONDS = 1.0
USER_POLL_MAX_SECONDS = 10.0
# How far past `wait_seconds` a single Membrane call may run before the wait gives up on it.
DEADLINE_GRACE_SECONDS = 2.0
# Membrane's long-poll takes whole seconds (1..60); a shorter remainder is not worth a poll.
MIN_LONG_POLL_SECONDS = 0.5
ELICIT_KEY = "connect"


def speaks_modern_protocol(ctx: Context[Any, Any]) -> bool:
    """The 2026-07-28 era: elicitation travels as an InputRequiredResult, not as a request to the client."""
    return is_version_at_least(ctx.protocol_version or "", MODERN_PROTOCOL)


def _url_elicitation_supported(ctx: Context[Any, Any]) -> bool:
    caps = ctx.client_capabilities
    if caps is None or caps.elicitation is None:
        return False
    if speaks_modern_protocol(ctx):
        return caps.elicitation.url is not None
    wanted = ClientCapabilities(elicitation=ElicitationCapability(url=UrlElicitationCapability()))
    return ctx.session.check_client_capability(wanted)


def user_poll_delay(polls_done: int) -> float:
    """Seconds before the next look at a connection waiting for its user: 1, 2, 4, 8, then 10 each time."""
    return min(USER_POLL_MAX_SECONDS, USER_POLL_FIRST_SECONDS * 2 ** min(polls_done, 8))


class ConnectFlow:
    def __init__(
        self,
        client: MembraneClient,
        ctx: Context[Any, Any],
        wait_seconds: int,
        *,
        clock: Callable[[], float] = anyio.current_time,
        sleep: Callable[[float], Awaitable[None]] = anyio.sleep,
    ) -> None:
        self._client = client
        self._ctx = ctx
        self._wait_seconds = wait_seconds
        self._clock = clock
        self._sleep = sleep
        self._deadline = clock() + wait_seconds
        # A (re)connect link asked of Membrane when the clientAction carries none (§11 R3).
        self.link: str | None = None

    def _remaining(self) -> float:
        return self._deadline - self._clock()

    async def _progress(self, message: str) -> None:
        elapsed = self._wait_seconds - max(0.0, self._remaining())
        await self._ctx.report_progress(elapsed, self._wait_seconds, message)

    async def _get_within_deadline(self, conn: Connection, *, long_poll: bool) -> Connection | None:
        """The connection again, or None when the wait ran out first (a silent Membrane cannot hold us past it)."""
        with anyio.move_on_after(self._remaining() + DEADLINE_GRACE_SECONDS):
            try:
                wait = max(1, round(self._remaining())) if long_poll else None
                return await self._client.get_connection(conn.id, wait_seconds=wait)
            except ResponseLostError:
                if not long_poll:
                    raise
        return None  # a long-poll that lost its answer or ran out is "still waiting", not a failure

    async def wait_while_building(self, conn: Connection) -> Connection:
        while conn.effective_state == BUILDING and self._remaining() >= MIN_LONG_POLL_SECONDS:
            await self._progress(f"Membrane is setting up connection {conn.id} (BUILDING)…")
            fresh = await self._get_within_deadline(conn, long_poll=True)
            if fresh is None:
                break
            conn = fresh
        return conn

    async def wait_for_user(self, conn: Connection) -> Connection:
        """Poll while the user completes the link in their browser; `conn` must be fresh."""
        polls = 0
        while conn.effective_state == CLIENT_ACTION_REQUIRED and (remaining := self._remaining()) > 0:
            await self._progress("Waiting for you to finish connecting CleverTap in the browser…")
            await self._sleep(min(user_poll_delay(polls), remaining))
            polls += 1
            fresh = await self._get_within_deadline(conn, long_poll=False)
            if fresh is None:
                break
            conn = fresh
        return await self.wait_while_building(conn)

    async def run(
        self, *, app_url: str, connection_id: str | None, name: str | None
    ) -> tuple[Connection, bool] | InputRequiredResult:
        """The connection and whether the user was shown the link directly, or a request to elicit (modern era)."""
        ctx = self._ctx
        if ctx.request_state is not None:
            return await self._resume(ctx.request_state)
        if connection_id:
            conn = await self._client.get_connection(connection_id)
        else:
            conn = await self._client.ensure_connection(app_url, name=name)
        conn = await self.wait_while_building(conn)
        action = conn.client_action
        needs_link = (conn.effective_state == CLIENT_ACTION_REQUIRED and action is not None) or conn.is_defunct
        if needs_link and (action is None or not action.ui_url) and (action is None or action.type == "connect"):
            self.link = await self._connection_request(conn)
        url = action.ui_url if action is not None and action.ui_url else self.link
        if conn.effective_state != CLIENT_ACTION_REQUIRED or action is None or not url:
            return conn, False
        if self._remaining() <= 0 or not _url_elicitation_supported(ctx):
            return conn, False
        elicitation_id = f"clevertap-connect-{conn.id}-{uuid.uuid4().hex[:12]}"
        # Membrane's description, shown to the user inside this server's sentence: quoted, so it reads as Membrane's.
        shown = (
            quoted(action.description, MAX_QUOTED_CHARS) if action.description else "sign in to your CleverTap account."
        )
        message = f"Connect CleverTap: {shown}"
        logger.debug("Showing connect link by URL elicitation (protocol %s)", ctx.protocol_version)
        if speaks_modern_protocol(ctx):
            request = ElicitRequest(params=ElicitRequestURLParams(message=message, url=url))
            state = json.dumps({"connection_id": conn.id})
            return InputRequiredResult(input_requests={ELICIT_KEY: request}, request_state=state)
        answer = None
        with anyio.move_on_after(self._remaining()):
            try:
                answer = await ctx.elicit_url(message, url, elicitation_id)
            except MCPError:
                return conn, False  # the client could not show it; the message carries the link instead
        if answer is None:
            return conn, True  # shown, but not answered within wait_seconds
        if answer.action != "accept":
            return conn, False
        # The user has often finished by the time the client answers, so look before waiting.
        conn = await self.wait_for_user(await self._client.get_connection(conn.id))
        if conn.effective_state != CLIENT_ACTION_REQUIRED:
            await ctx.session.send_elicit_complete(elicitation_id)
        return conn, True

    async def _connection_request(self, conn: Connection) -> str | None:
        """A link from `POST /connection-requests` (§11 R3); None when Membrane gives none, so none is shown."""
        try:
            return await self._client.create_connection_request(conn.id)
        except MembraneError as exc:
            logger.info("Membrane gave no connection link for %s: %s", conn.id, type(exc).__name__)
            return None

    async def _resume(self, request_state: str) -> tuple[Connection, bool]:
        try:
            connection_id = str(json.loads(request_state)["connection_id"])
        except (ValueError, KeyError, TypeError):
            raise ToolError("ensure_connection was resumed with a state it did not issue; call it again.") from None
        answer = (self._ctx.input_responses or {}).get(ELICIT_KEY)
        conn = await self._client.get_connection(connection_id)
        if isinstance(answer, ElicitResult) and answer.action == "accept":
            return await self.wait_for_user(conn), True
        return conn, False


def shape_result(conn: Connection, *, app: str, shown_to_user: bool, link: str | None = None) -> EnsureConnectionResult:
    """The tool's answer; `link` is a (re)connect link asked of Membrane when the clientAction carried none."""
    state = conn.effective_state
    action = conn.client_action
    # Membrane's error texts may quote a credential it was given (a rejected passcode, say): masked if known.
    errors = [redaction.redact(e.message) for e in conn.errors if e.message]
    if conn.request_error is not None and conn.request_error.message:
        errors.append(redaction.redact(conn.request_error.message))
    again = f"call ensure_connection again with connection_id={json.dumps(conn.id)}"
    if state in TERMINAL_FAILURE_STATES:
        # Membrane's (often CleverTap's) words: quoted and bounded, so none can read as this server's instructions.
        detail = "; ".join(quoted(e, MAX_QUOTED_CHARS) for e in errors) or "Membrane gave no detail"
        raise ToolError(
            f"The {app} connection {conn.id} is in state {state}: {detail}. It cannot be used. Ask the user to "
            f"fix it in Membrane, then {again}; or create another with a different name."
        )
    if conn.is_ready:
        message = f"The {app} connection {conn.id} is ready. Next: search_actions for what you want to do."
    elif state == CLIENT_ACTION_REQUIRED and action is not None:
        message = _client_action_message(conn, app=app, shown_to_user=shown_to_user, again=again, link=link)
    elif conn.is_defunct:
        where = f"open this link and sign in to {app} again: {link}" if link else f"reconnect {app} in Membrane"
        message = (
            f"The {app} connection {conn.id} no longer works (its credentials were rejected). To fix it, {where}. "
            f"When that is done, {again}."
        )
    elif state == BUILDING:
        message = f"Membrane is still setting up the {app} connection {conn.id} (BUILDING). To keep waiting, {again}."
    else:
        message = f"The {app} connection {conn.id} is in state {state} and cannot be used now. To check again, {again}."
    return EnsureConnectionResult(
        connection_id=conn.id,
        state=state,
        app=app,
        client_action=None
        if action is None
        else ClientActionOut(
            type=action.type,
            description=action.description,
            ui_url=action.ui_url or link,
            agent_instructions=action.agent_instructions,
        ),
        errors=errors,
        message=message,
    )


def _client_action_message(conn: Connection, *, app: str, shown_to_user: bool, again: str, link: str | None) -> str:
    """Membrane's own instructions first when it gave any (agents follow them verbatim, §11 R3); a link only when
    there is one, never a missing one."""
    action = conn.client_action
    assert action is not None
    url = action.ui_url or link
    parts: list[str] = []
    if action.agent_instructions:
        parts.append(f"Membrane's instructions (follow them): {quoted(action.agent_instructions, MAX_QUOTED_CHARS)}.")
    if action.type == "connect" and url:
        parts.append(f"To connect {app}, open this link and sign in to your {app} account: {url}")
    elif action.type == "connect":
        detail = quoted(action.description, MAX_QUOTED_CHARS) if action.description else ""
        parts.append(
            f"The {app} connection needs the user to connect it{f' (Membrane: {detail})' if detail else ''}, and Membrane gave "
            f"no link: ask the user to connect {app} in Membrane's console."
        )
    else:
        where = f" The user can also give it here: {url}" if url else ""
        parts.append(
            f"Membrane needs more information to finish the {app} connection: "
            f"{quoted(action.description or '', MAX_QUOTED_CHARS)}.{where} If you know the values (else ask the "
            f"user), call ensure_connection with connection_id={json.dumps(conn.id)} and "
            'provide_input=[{"field": "name", "value": "value"}]'
        )
    parts = [p if p.endswith(".") else p + "." for p in parts]
    if shown_to_user:
        parts.append("(The link was also shown to the user directly, but it has not been completed yet.)")
    parts.append(f"When that is done, {again} to confirm it is ready.")
    return " ".join(parts)
