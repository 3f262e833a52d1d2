"""The sandbox's Membrane errors: one class per status of membrane-api.md §7, each rendering the bare ErrorData body.

    MembraneError                400  type=bad_request                   (schema and validation failures)
     ├── NotAuthenticated        401  type=bad_request key=not_authenticated
     ├── AccessDenied            403  type=bad_request key=access_denied
     ├── NotFound                404  type=bad_request key=not_found
     ├── RateLimited             429  type=bad_request key=rate_limit_exceeded   (injected faults only)
     ├── InternalFailure         500  type=internal                      (injected faults only)
     ├── ConnectionUnusable      400  type=connection [key=connection_is_defunct]  (§10 #9, #10)
     ├── ActionRunFailed         400  type=action_run, plus a top-level actionRunId (§3.5, §10 #9)
     └── BadGateway              502  type=connection   (a full-URL proxy call to a host that is not CleverTap, §9,
                                                             or CleverTap could not be reached)

The body is ErrorData with no envelope: `{type, key?, message, data?}`, and `actionRunId` beside it on failed runs:
any error raised once a run id is spent carries that id (`action_run_id`), so a run id is never lost (§3.5).
Messages are built from ids, keys and states only, never from a token or a passcode.
"""

from __future__ import annotations

from typing import Any, ClassVar

from starlette.responses import JSONResponse

__all__ = [
    "AccessDenied",
    "ActionRunFailed",
    "BadGateway",
    "ConnectionUnusable",
    "InternalFailure",
    "MembraneError",
    "NotAuthenticated",
    "NotFound",
    "RateLimited",
    "error_response",
]


class MembraneError(Exception):
    """A Membrane error response. The base class is the plain 400 `bad_request`."""

    status: ClassVar[int] = 400
    type: ClassVar[str] = "bad_request"
    default_key: ClassVar[str | None] = None

    def __init__(
        self, message: str, *, data: Any = None, key: str | None = None, action_run_id: str | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.data = data
        self.key = key if key is not None else self.default_key
        self.action_run_id = action_run_id

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"type": self.type}
        if self.key is not None:
            body["key"] = self.key
        body["message"] = self.message
        if self.data is not None:
            body["data"] = self.data
        if self.action_run_id is not None:
            body["actionRunId"] = self.action_run_id
        return body


class NotAuthenticated(MembraneError):
    status = 401
    default_key = "not_authenticated"


class AccessDenied(MembraneError):
    status = 403
    default_key = "access_denied"


class NotFound(MembraneError):
    status = 404
    default_key = "not_found"


class RateLimited(MembraneError):
    status = 429
    default_key = "rate_limit_exceeded"


class InternalFailure(MembraneError):
    status = 500
    type = "internal"


class ConnectionUnusable(MembraneError):
    type = "connection"


class BadGateway(MembraneError):
    status = 502
    type = "connection"


class ActionRunFailed(MembraneError):
    """A run that started and failed; `logs` are the run's progress lines (ErrorData's `logs`), oldest first."""

    type = "action_run"

    def __init__(self, message: str, *, action_run_id: str, data: Any = None, logs: list[str] | None = None) -> None:
        super().__init__(message, data=data, action_run_id=action_run_id)
        self.logs = logs or []

    def body(self) -> dict[str, Any]:
        body = super().body()
        if self.logs:
            body["logs"] = list(self.logs)
        return body


def error_response(error: MembraneError) -> JSONResponse:
    return JSONResponse(error.body(), status_code=error.status)
