"""The one error tree of the Membrane client.

    MembraneError
     ├── CredentialsError            no usable credential is configured; nothing was sent
     ├── TransportError              no HTTP response came back
     │    ├── RequestNotSentError    the request could not even be formed (bad URL, bad header): fix and resend
     │    ├── ConnectError           the request never left (refused, DNS, connect timeout): safe to resend
     │    └── ResponseLostError      the request was sent, the answer was lost (read timeout, dropped
     │                               connection): Membrane may have acted on it
     ├── UnexpectedResponseError     a 2xx whose body is not the JSON the contract promises
     ├── ResponseTooLargeError       an answer bigger than the client reads (MAX_RESPONSE_BYTES): not read
     └── APIError                    Membrane answered with an error status (membrane-api.md §7)
          ├── BadRequestError        400
          │    ├── ActionRunError    400 type=action_run: the action ran and failed (carries action_run_id)
          │    └── ConnectionUnusableError  400 type=connection: the connection cannot be used now
          ├── AuthenticationError    401
          ├── PermissionDeniedError  403
          ├── NotFoundError          404
          ├── RateLimitError         429
          └── ServerError            5xx (and any other status)

`error_from_response` is the only place a status and body become a class. Messages never carry a token:
the client builds them from Membrane's own `message` text and the request's method and path only. The body passes
through `strip_credentials`, and the kept body through `redaction.redact`, in case Membrane (or a gateway) echoes a
credential back; the message is masked where it is shown (agent_errors.describe), after it is classified.
"""

from __future__ import annotations

import html
import json
import re
import time
from typing import Any, cast

from clevertap_mcp import redaction
from clevertap_mcp.membrane.scrub import strip_credentials

__all__ = [
    "APIError",
    "ActionRunError",
    "AuthenticationError",
    "BadRequestError",
    "ConnectError",
    "ConnectionUnusableError",
    "CredentialsError",
    "MembraneError",
    "NotFoundError",
    "PermissionDeniedError",
    "RateLimitError",
    "RequestNotSentError",
    "ResponseLostError",
    "ResponseTooLargeError",
    "ServerError",
    "TransportError",
    "UnexpectedResponseError",
    "error_from_response",
]

# Membrane's ErrorData.type values (membrane-api.md §7): a body with one of these is Membrane's own error,
# anything else on a proxied call is the upstream's answer.
ERROR_TYPES = frozenset(
    {
        "bad_request",
        "connection",
        "configuration",
        "dependency_error",
        "flow_run",
        "flow_instance_setup",
        "concurrency",
        "internal",
        "action_run",
        "action_instance_setup",
        "unit_run",
        "custom_code",
        "insufficient_credit",
        "openrouter_not_configured",
    }
)

_MAX_RAW_TEXT = 2000


def _kept_text(body_text: str) -> str:
    """The raw body an error keeps: redacted before it is cut, so a credential at the cut is still masked."""
    return redaction.redact(body_text[: _MAX_RAW_TEXT * 2])[:_MAX_RAW_TEXT]


class MembraneError(Exception):
    """Base of every error the Membrane client raises."""


class CredentialsError(MembraneError):
    """No credential resolves; the message names the variables to set."""


class TransportError(MembraneError):
    """No HTTP response was received."""

    may_have_reached: bool = False


class RequestNotSentError(TransportError):
    """The request could not be formed or written (an unusable URL or header value); nothing left the process."""


class ConnectError(TransportError):
    """The last attempt never reached Membrane, so resending it cannot duplicate anything.

    `earlier_attempt_may_have_acted`: an earlier attempt of the same request (a resent read or find-or-create)
    reached Membrane and may have been acted on, so "nothing was sent" is not the whole story.
    """

    def __init__(self, message: str, *, earlier_attempt_may_have_acted: bool = False) -> None:
        super().__init__(message)
        self.earlier_attempt_may_have_acted = earlier_attempt_may_have_acted


class ResponseLostError(TransportError):
    """The request was sent but its answer was lost: Membrane may or may not have acted on it."""

    may_have_reached = True


class UnexpectedResponseError(MembraneError):
    """Membrane answered 2xx with a body that is not what the contract promises."""

    def __init__(self, message: str, *, status: int, body_text: str) -> None:
        super().__init__(message)
        self.status = status
        self.body_text = _kept_text(body_text)


class ResponseTooLargeError(MembraneError):
    """The answer was bigger than the client reads; the request itself was processed (its status is known)."""

    def __init__(self, message: str, *, status: int) -> None:
        super().__init__(message)
        self.status = status


class APIError(MembraneError):
    """Membrane answered with an error status."""

    def __init__(
        self,
        message: str,
        *,
        status: int,
        type: str | None = None,
        key: str | None = None,
        data: Any = None,
        body_text: str = "",
        request_id: str | None = None,
        retry_after: float | None = None,
        action_run_id: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.type = type
        self.key = key
        self.data = data
        self.body_text = _kept_text(body_text)
        self.request_id = request_id
        self.retry_after = retry_after
        # When the wait ends, fixed when the answer arrived: the agent may read the error much later.
        self.retry_at = time.time() + retry_after if retry_after is not None else None
        # Membrane names the run on failures of /actions/{id}/run and /act, whatever the status (§7).
        self.action_run_id = action_run_id


class BadRequestError(APIError):
    pass


class ActionRunError(BadRequestError):
    """The action ran and failed; `action_run_id` names the run."""


class ConnectionUnusableError(BadRequestError):
    pass


class AuthenticationError(APIError):
    pass


class PermissionDeniedError(APIError):
    pass


class NotFoundError(APIError):
    pass


class RateLimitError(APIError):
    pass


class ServerError(APIError):
    pass


_BY_STATUS: dict[int, type[APIError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    429: RateLimitError,
}


def parse_error_body(body_text: str) -> dict[str, Any] | None:
    """Membrane's bare ErrorData when the body is one (a JSON object with a string `message`), else None."""
    try:
        body: Any = json.loads(body_text)
    except ValueError:
        return None
    if not isinstance(body, dict):
        return None
    error = cast(dict[str, Any], body)
    return error if isinstance(error.get("message"), str) else None


# Every field ErrorData may carry (§7), and `actionRunId` beside it on failed runs.
_ERROR_DATA_FIELDS = frozenset({"type", "key", "message", "data", "stack", "causedByError", "logs", "actionRunId"})


def is_membrane_error_body(body_text: str) -> bool:
    """True when a body is Membrane's own ErrorData, not an upstream answer (§10 #12): a known `type`, or, since
    `type` is optional (§11 R7), a `message` with nothing outside ErrorData's fields. CleverTap's failures carry
    `status`/`error`/`code` instead, so neither reading can take one for the other."""
    body = parse_error_body(body_text)
    if body is None:
        return False
    if "type" in body:
        return body.get("type") in ERROR_TYPES
    return set(body) <= _ERROR_DATA_FIELDS


def error_from_response(
    status: int,
    body_text: str,
    *,
    method: str,
    path: str,
    request_id: str | None = None,
    retry_after: float | None = None,
    content_type: str = "",
) -> APIError:
    """Map an error status and body to its class, keeping Membrane's type/key/message and the raw text."""
    # Classified on what Membrane said, before anything is masked: a masked value can never change which error this is.
    body = parse_error_body(body_text)
    run_id: Any = None
    if body is not None:
        body = cast(dict[str, Any], strip_credentials(body))
        body_text = json.dumps(body, ensure_ascii=False)  # kept as stripped: no echoed credential rides along
        message = str(body["message"])
        err_type = body.get("type") if isinstance(body.get("type"), str) else None
        key = body.get("key") if isinstance(body.get("key"), str) else None
        data = body.get("data")
        run_id = body.get("actionRunId")
    elif _looks_like_html(body_text, content_type):
        title = _page_title(body_text)
        message = f"{method} {path} got an HTML error page from a gateway, not an answer from Membrane's API" + (
            f" ({title})" if title else ""
        )
        err_type = key = data = None
    else:
        snippet = " ".join(body_text.split())[:200]
        message = f"Membrane API error {status} on {method} {path}" + (f": {snippet}" if snippet else " (empty body)")
        err_type = key = data = None
    # The server's own secrets never ride in an exception; what the request itself masks is masked where the message
    # is shown, after it is classified (agent_errors.describe).
    message = redaction.redact(message, with_request=False)
    kwargs: dict[str, Any] = {
        "status": status,
        "type": err_type,
        "key": key,
        "data": data,
        "body_text": body_text,
        "request_id": request_id,
        "retry_after": retry_after,
        "action_run_id": run_id if isinstance(run_id, str) and run_id else None,
    }
    if status == 400 and err_type == "action_run":
        return ActionRunError(message, **kwargs)
    if status == 400 and err_type == "connection":
        return ConnectionUnusableError(message, **kwargs)
    cls = _BY_STATUS.get(status) or (BadRequestError if 400 <= status < 500 else ServerError)
    return cls(message, **kwargs)


_TITLE = re.compile(r"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)
_TAG = re.compile(r"<[^>]+>")


def _looks_like_html(body_text: str, content_type: str) -> bool:
    head = body_text.lstrip()[:100].lower()
    return "html" in content_type.lower() or head.startswith(("<!doctype html", "<html"))


def _page_title(body_text: str) -> str:
    """The page's title, else its visible text, short: enough for "502 Bad Gateway" without the markup."""
    match = _TITLE.search(body_text)
    text = match.group(1) if match else _TAG.sub(" ", body_text)
    return " ".join(html.unescape(text).split())[:120]
