"""Async counts of /1/counts/events.json and /1/counts/profiles.json: the req_id polling protocol (§9).

The count is computed when the query is POSTed; the answer is held back for a configured number of `partial`
answers, then served to GET polls on the same path.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from clevertap_mcp.sandbox.clevertap.errors import InvalidRequestId

__all__ = ["CountRequests"]


@dataclass
class _Request:
    path: str
    count: int
    partial_left: int


class CountRequests:
    """One account's count requests."""

    def __init__(self, account_id: str) -> None:
        self._account_id = account_id
        self._requests: dict[int, _Request] = {}
        self._issued = 0

    def start(self, path: str, count: int, partial_polls: int) -> dict[str, Any]:
        """The POST answer. `partial_polls` counts every `partial` answer, this one included: 0 answers at once."""
        if partial_polls <= 0:
            return {"status": "success", "count": count}
        self._issued += 1
        digest = hashlib.sha256(f"{self._account_id}:count:{self._issued}".encode()).digest()
        # A big int like CleverTap's 384649162721759: 15 digits, never starting with 0.
        req_id = 10**14 + int.from_bytes(digest[:6]) % (9 * 10**14)
        self._requests[req_id] = _Request(path, count, partial_polls - 1)
        return {"status": "partial", "req_id": req_id}

    def poll(self, path: str, req_id: str) -> dict[str, Any]:
        """The answer to GET `path`?req_id=; clients store the id as an int or a string, so both parse."""
        try:
            key = int(req_id)
        except ValueError:
            raise InvalidRequestId from None
        request = self._requests.get(key)
        if request is None:
            raise InvalidRequestId
        if request.path != path:
            raise InvalidRequestId(f": {key} was issued by {request.path}")
        if request.partial_left > 0:
            request.partial_left -= 1
            return {"status": "partial", "req_id": key}
        return {"status": "success", "count": request.count}
