"""CleverTap's refusals, each rendering the body and HTTP status the real API sends (clevertap-api.md §3).

    CleverTapError                  {"status": "fail", "error": ..., "code": ...}
    ├── InvalidCredentials          401 "Invalid Credentials"
    ├── BadRequest                  400: malformed JSON (NaN/Infinity too), an oversized or empty batch
    ├── NotFound / MethodNotAllowed 404 / 405
    ├── TooManyRequests             429 "Too many concurrent requests", nothing processed, no Retry-After (§4)
    └── Refused                     200 with a fail body: validation (a JSON body that is not an object too),
                                    not-ready and unknown-thing answers
        ├── InvalidDates            code 4002 "Dates must be real…"
        ├── InvalidEvent            code 400 '["Invalid event : <name>"]'
        ├── CursorInvalidated       code 400, unknown or expired cursor
        ├── IncorrectUsage          code 400, a cursor encoded twice
        ├── StillInProgress         code 2, a first page that is not ready
        ├── InvalidRequestId        code 400, unknown req_id or polled the wrong way
        ├── UserNotFound            code 404 on /1/profile.json
        └── TargetNotCompleted      no code, a report on an unfinished campaign

HTTP 200 with "status": "fail" is CleverTap's normal way of refusing, so most classes keep status 200.

The classes carry the documented defaults. Where the contract marks a body unconfirmed (4002, "User not found", the
cursor wording), `as_configured` swaps in the SandboxSettings value when the answer is rendered, so the code that
raises them needs no settings.
"""

from __future__ import annotations

import json
from typing import Any, ClassVar

from clevertap_mcp.sandbox.settings import SandboxSettings

__all__ = [
    "BadRequest",
    "CleverTapError",
    "CursorInvalidated",
    "IncorrectUsage",
    "InvalidCredentials",
    "InvalidDates",
    "InvalidEvent",
    "InvalidRequestId",
    "MethodNotAllowed",
    "NotFound",
    "Refused",
    "StillInProgress",
    "TargetNotCompleted",
    "TooManyRequests",
    "UserNotFound",
    "as_configured",
]


class CleverTapError(Exception):
    status_code: ClassVar[int] = 200

    def __init__(self, error: str, code: int | None = 400) -> None:
        super().__init__(error)
        self.error = error
        self.code = code

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"status": "fail", "error": self.error}
        if self.code is not None:
            body["code"] = self.code
        return body


class InvalidCredentials(CleverTapError):
    status_code = 401

    def __init__(self) -> None:
        super().__init__("Invalid Credentials", 401)


class BadRequest(CleverTapError):
    status_code = 400


class NotFound(CleverTapError):
    status_code = 404

    def __init__(self) -> None:
        super().__init__("Not Found", 404)


class MethodNotAllowed(CleverTapError):
    status_code = 405

    def __init__(self) -> None:
        super().__init__("Method Not Allowed", 405)


class TooManyRequests(CleverTapError):
    status_code = 429

    def __init__(self) -> None:
        # The same body for the in-flight caps and create.json's 3 per second: only the former's is documented (§4).
        super().__init__("Too many concurrent requests", 429)


class Refused(CleverTapError):
    """A request CleverTap understood and refused, answered with HTTP 200."""


class InvalidDates(Refused):
    def __init__(self) -> None:
        # The wording's start and code 4002 are what clients match on (clevertap-api.md §14 #27; code unconfirmed).
        super().__init__(
            "Dates must be real dates in YYYYMMDD format, with from not after to and neither in the future", 4002
        )


class InvalidEvent(Refused):
    def __init__(self, name: str) -> None:
        # CleverTap sends a JSON-encoded list inside the string (seen on trends, assumed elsewhere).
        super().__init__(json.dumps([f"Invalid event : {name}"]), 400)


class CursorInvalidated(Refused):
    def __init__(self) -> None:
        super().__init__("CURSOR_INVALIDATED: invalid cursor", 400)


class IncorrectUsage(Refused):
    def __init__(self) -> None:
        super().__init__("Incorrect Usage: the cursor was percent-encoded twice; pass it on untouched", 400)


class StillInProgress(Refused):
    def __init__(self) -> None:
        super().__init__("Request still in progress, please retry later", 2)


class InvalidRequestId(Refused):
    def __init__(self, detail: str = "") -> None:
        super().__init__(f"Invalid request id{detail}", 400)


class UserNotFound(Refused):
    def __init__(self) -> None:
        super().__init__("User not found", 404)


class TargetNotCompleted(Refused):
    def __init__(self) -> None:
        super().__init__("This target hasn't been completed", None)


def as_configured(error: CleverTapError, settings: SandboxSettings) -> CleverTapError:
    """`error` with the unconfirmed parts of its body taken from `settings` (clevertap-api.md §8, §14 #27)."""
    if isinstance(error, InvalidDates):
        error.code = settings.invalid_dates_code
    elif isinstance(error, UserNotFound):
        error.error, error.code = settings.user_not_found_error, settings.user_not_found_code
    elif isinstance(error, CursorInvalidated):
        error.error = settings.cursor_invalid_error
    return error
