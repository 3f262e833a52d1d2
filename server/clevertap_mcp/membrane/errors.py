"""The one error tree of the Membrane client.

    MembraneError
     ├── CredentialsError            no usable credential is configured; nothing was sent
     ├── TransportError              no HTTP response came back
     │    ├── RequestNotSentError    the request could not even be formed (bad URL, bad header): fix and resend
     │    ├── ConnectError           the request never left (refused, DNS, connect timeout): safe to resend
     │    └── ResponseLostError      the request was sent, the answer was lost (read timeout, dropped
     │                               connection): Membrane may have acted on it
     ├── UnexpectedResponseError     a 2xx whose body is not the JSON the contract promises
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
the client builds them from Membrane's own `message` text and the request's method and path only.
"""

from __future__ import annotations

import json
from typing import Any, cast

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
    """The request never reached Membrane, so resending it cannot duplicate anything."""


class ResponseLostError(TransportError):
    """The request was sent but its answer was lost: Membrane may or may not have acted on it."""

    may_have_reached = True


class UnexpectedResponseError(MembraneError):
    """Membrane answered 2xx with a body that is not what the contract promises."""

    def __init__(self, message: str, *, status: int, body_text: str) -> None:
        super().__init__(message)
        self.status = status
        self.body_text = body_text[:_MAX_RAW_TEXT]


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
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.type = type
        self.key = key
        self.data = data
        self.body_text = body_text[:_MAX_RAW_TEXT]
        self.request_id = request_id
        self.retry_after = retry_after


class BadRequestError(APIError):
    pass


class ActionRunError(BadRequestError):
    def __init__(self, message: str, *, action_run_id: str | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.action_run_id = action_run_id


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


def is_membrane_error_body(body_text: str) -> bool:
    """True when a body is Membrane's own ErrorData (a known `type`), not an upstream answer (§10 #12)."""
    body = parse_error_body(body_text)
    return body is not None and body.get("type") in ERROR_TYPES


def error_from_response(
    status: int,
    body_text: str,
    *,
    method: str,
    path: str,
    request_id: str | None = None,
    retry_after: float | None = None,
) -> APIError:
    """Map an error status and body to its class, keeping Membrane's type/key/message and the raw text."""
    body = parse_error_body(body_text)
    if body is not None:
        message = str(body["message"])
        err_type = body.get("type") if isinstance(body.get("type"), str) else None
        key = body.get("key") if isinstance(body.get("key"), str) else None
        data = body.get("data")
    else:
        snippet = " ".join(body_text.split())[:200]
        message = f"Membrane API error {status} on {method} {path}" + (f": {snippet}" if snippet else "")
        err_type = key = data = None
    kwargs: dict[str, Any] = {
        "status": status,
        "type": err_type,
        "key": key,
        "data": data,
        "body_text": body_text,
        "request_id": request_id,
        "retry_after": retry_after,
    }
    if status == 400 and err_type == "action_run":
        run_id = body.get("actionRunId") if body is not None else None
        return ActionRunError(message, action_run_id=run_id if isinstance(run_id, str) else None, **kwargs)
    if status == 400 and err_type == "connection":
        return ConnectionUnusableError(message, **kwargs)
    cls = _BY_STATUS.get(status) or (BadRequestError if 400 <= status < 500 else ServerError)
    return cls(message, **kwargs)
