"""Turns a Membrane client error into the sentence an agent reads in an `isError` tool result.

Each message says what happened, whether anything may have changed on Membrane's or CleverTap's side, and what
to do next. `may_have_acted` is the caller's knowledge of the request: a run or a write that may have reached
Membrane must say "may or may not have run" rather than invite a blind retry.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from typing import Any

from mcp.server.mcpserver.exceptions import ToolError

from clevertap_mcp import redaction
from clevertap_mcp.membrane.errors import (
    ActionRunError,
    APIError,
    AuthenticationError,
    ConnectError,
    ConnectionUnusableError,
    CredentialsError,
    MembraneError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    RequestNotSentError,
    ResponseLostError,
    ResponseTooLargeError,
    ServerError,
    UnexpectedResponseError,
)
from clevertap_mcp.membrane.retry import RETRY_AFTER_CAP_SECONDS
from clevertap_mcp.state import current_caller_key

_MAX_DATA_CHARS = 1500
# Membrane's message inside an error sentence: enough for any real one.
MAX_QUOTED_CHARS = 500

# How a connector's failure starts when CleverTap refused the request outright (an HTTP 200 `fail` body,
# clevertap-api.md §3): proof that nothing changed, so a write's "may have run" caveat would only mislead.
REJECTED_INPUT = "CleverTap rejected the input"

MAY_HAVE_RUN = "It may or may not have run; check before retrying (for example by reading the data back)."
# §11 R4: connections belong to a tenant, and a token minted without a tenant key names none.
TENANT_HINT = (
    "If the server mints its token from MEMBRANE_WORKSPACE_KEY and MEMBRANE_WORKSPACE_SECRET, also set "
    "MEMBRANE_TENANT_KEY (the key of the tenant, i.e. the customer, whose CleverTap connection to use) in its "
    "environment and restart it: without it the token names no tenant, and connections belong to a tenant."
)


def _data_suffix(data: Any) -> str:
    if data in (None, "", {}, []):
        return ""
    text = redaction.redact(json.dumps(data, ensure_ascii=False, default=str))
    if len(text) > _MAX_DATA_CHARS:
        text = text[:_MAX_DATA_CHARS] + "…"
    return f" Details: {text}"


def _run_id(exc: APIError) -> str:
    if not exc.action_run_id:
        return ""
    # Named here, not imported from run_logs.py: that module serves the resource and imports this one.
    return f" (actionRunId {exc.action_run_id}; its log: clevertap://run-logs/{exc.action_run_id})"


def _wait(exc: APIError) -> str:
    """When to try again, in seconds and as a time, from Membrane's `Retry-After`."""
    if exc.retry_after is None or exc.retry_at is None:
        return "Wait a little, then try again."
    until = datetime.fromtimestamp(math.ceil(exc.retry_at), UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    return f"Wait {math.ceil(exc.retry_after)} s (until {until}), then try again."


def _beyond_cap(exc: APIError) -> bool:
    """Membrane asked for a longer wait than the client sits out, so the request was not resent at all."""
    return exc.retry_after is not None and exc.retry_after > RETRY_AFTER_CAP_SECONDS


MAY_HAVE_CREATED = (
    "A connection may have been created; calling ensure_connection again is safe: it finds the existing one."
)


def ensure_error(exc: MembraneError) -> ToolError:
    """The error of `ensure_connection` when it may have sent POST /connections/ensure (find-or-create).

    That request is resent freely because it cannot make a second connection, but it is not a read: when its answer
    is lost, broken or a 5xx, the connection may exist now, so "nothing was changed" would be false.
    """
    exc = _masked(exc)
    if isinstance(exc, ServerError):
        wait = f" {_wait(exc)}" if _beyond_cap(exc) else ""
        text = f"Membrane failed with HTTP {exc.status}: {exc.message}. {MAY_HAVE_CREATED}{wait}"
    elif isinstance(exc, ResponseLostError | ResponseTooLargeError) or (
        isinstance(exc, ConnectError) and exc.earlier_attempt_may_have_acted
    ):
        text = f"{exc}. {MAY_HAVE_CREATED}"
    elif isinstance(exc, UnexpectedResponseError):
        text = f"{exc}. {MAY_HAVE_CREATED} If it keeps happening, Membrane may be degraded."
    else:
        return tool_error(exc)
    return ToolError(text)


def tool_error(exc: MembraneError, *, may_have_acted: bool = False) -> ToolError:
    return ToolError(describe(exc, may_have_acted=may_have_acted))


def describe(exc: MembraneError, *, may_have_acted: bool = False) -> str:
    """The agent's sentence. What it means is decided on Membrane's own words; only then are credentials that slipped
    into them masked, and only in them: a masked value never reaches the server's own sentence around them."""
    rejected_input = isinstance(exc, APIError) and exc.message.startswith(REJECTED_INPUT)
    return _describe(_masked(exc), may_have_acted=may_have_acted, rejected_input=rejected_input)


def _masked(exc: MembraneError) -> MembraneError:
    """A copy of `exc` whose texts from Membrane (its message, and so its str) have credentials masked."""
    masked = type(exc).__new__(type(exc))
    masked.__dict__.update(vars(exc))
    masked.args = tuple(redaction.redact(a) if isinstance(a, str) else a for a in exc.args)
    if isinstance(masked, APIError):
        # Membrane's (often CleverTap's) words inside the server's sentence: quoted and bounded, so they can never
        # read as the server's own.
        masked.message = quoted(redaction.redact(masked.message), MAX_QUOTED_CHARS)
    return masked


def quoted(text: str, limit: int) -> str:
    """`text` as a JSON string literal of at most about `limit` characters: data, visibly, in a server sentence."""
    return json.dumps(text[:limit] + ("…" if len(text) > limit else ""), ensure_ascii=False)


def _describe(exc: MembraneError, *, may_have_acted: bool, rejected_input: bool) -> str:
    if isinstance(exc, CredentialsError):
        return str(exc)
    if isinstance(exc, RequestNotSentError):
        return f"{exc}. Nothing was sent. Fix the value and call again."
    if isinstance(exc, ConnectError) and exc.earlier_attempt_may_have_acted:
        if may_have_acted:
            return f"{exc}. {MAY_HAVE_RUN}"
        return f"{exc}. Nothing was changed (this was a read); try again shortly."
    if isinstance(exc, ConnectError):
        return (
            f"{exc}, so nothing ran or changed. Try again shortly; if it keeps failing, check the Membrane API URL "
            "this server uses."
        )
    if isinstance(exc, ResponseLostError):
        if may_have_acted:
            return f"{exc}. The request reached Membrane. {MAY_HAVE_RUN}"
        return f"{exc}. Nothing was changed (this was a read); try again."
    if isinstance(exc, ResponseTooLargeError):
        if may_have_acted:
            return (
                f"{exc}. The request was processed, but its answer could not be read. {MAY_HAVE_RUN} Do not resend "
                "it blindly."
            )
        return f"{exc}. Nothing was changed. Ask for less: a smaller limit, page or date range."
    if isinstance(exc, UnexpectedResponseError):
        tail = (
            f" {MAY_HAVE_RUN}"
            if may_have_acted
            else " Nothing was changed. Try again; if it persists, Membrane may be degraded."
        )
        return f"{exc}.{tail}"
    assert isinstance(exc, APIError)
    if isinstance(exc, ActionRunError):
        failed = f"The action ran and failed: {exc.message}{_run_id(exc)}.{_data_suffix(exc.data)}"
        if may_have_acted and rejected_input:
            return f"{failed} Nothing was changed: fix the input as this says and run it again."
        if may_have_acted:
            # A run fails too when CleverTap's answer is lost after CleverTap acted (a dropped connection, a
            # timeout): only CleverTap rejecting the input proves that nothing changed.
            return (
                f"{failed} Unless this says CleverTap rejected the input, the change may have been made before the "
                f"failure: {MAY_HAVE_RUN}"
            )
        return failed
    if isinstance(exc, ConnectionUnusableError):
        return (
            f"The connection cannot be used now: {exc.message}. Nothing was run. Call ensure_connection to check it "
            "and, if needed, get the link the user must open."
        )
    if isinstance(exc, AuthenticationError) and current_caller_key():
        return (
            f"Membrane rejected the token in your Authorization header (401: {exc.message}); it may have expired "
            "or been revoked. Get a new Membrane token and put it in the `Authorization: Bearer` header of this "
            "server's entry in your MCP host's configuration, then reconnect. Nothing was changed."
        )
    if isinstance(exc, AuthenticationError):
        return (
            f"Membrane rejected this server's credentials (401: {exc.message}). Check MEMBRANE_TOKEN, or "
            "MEMBRANE_WORKSPACE_KEY/MEMBRANE_WORKSPACE_SECRET, in the server's environment. Nothing was changed."
        )
    if isinstance(exc, PermissionDeniedError):
        return (
            f"Membrane refused access (403: {exc.message}). The token lacks permission for this. Nothing was changed. "
            f"{TENANT_HINT}"
        )
    if isinstance(exc, NotFoundError):
        return f"Not found (404: {exc.message}). Check the id; search_actions lists action ids, ensure_connection gives the connection id."
    if isinstance(exc, RateLimitError):
        if may_have_acted and (exc.action_run_id or exc.type not in (None, "bad_request")):
            # A 429 that names a run came from CleverTap after the run started, not from Membrane's front door.
            return f"Rate limited while running (429: {exc.message}){_run_id(exc)}. {MAY_HAVE_RUN}"
        return f"Membrane is rate limiting requests (429: {exc.message}). Nothing was changed. {_wait(exc)}"
    if isinstance(exc, ServerError):
        if may_have_acted:
            return f"Membrane failed with HTTP {exc.status}: {exc.message}{_run_id(exc)}. {MAY_HAVE_RUN}"
        if _beyond_cap(exc):
            return (
                f"Membrane failed with HTTP {exc.status}: {exc.message}. Nothing was changed (this was a read). "
                f"{_wait(exc)}"
            )
        return (
            f"Membrane failed with HTTP {exc.status}: {exc.message}. Nothing was changed (this was a read, already "
            "retried); try again shortly."
        )
    return (
        f"Membrane rejected the request (HTTP {exc.status}): {exc.message}{_run_id(exc)}.{_data_suffix(exc.data)} "
        "Nothing was run or changed. Fix the arguments and call again."
    )
