"""Async queries of /1/counts/*.json (events, profiles, trends, top): the req_id polling protocol (§9, §13,
§14 #29–#31).

The answer is computed when the query is POSTed. With N = settings.count_partial_polls, N = 0 answers the POST with
the answer at once; otherwise the POST answers `partial` with a `req_id`, the next N GET polls on the same path answer
`partial` too, and poll N+1 (and any later one) answers `success`.

A req_id lives `ttl` seconds of world time from its POST; after that polls answer "Invalid request id" and the
client reissues the query (§9). Expired ids are purged on every start and poll (and by the world on every request
of the account), and at most MAX_COUNT_REQUESTS ids are held per account: past that, the oldest is dropped first.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from clevertap_mcp.sandbox.clevertap.errors import InvalidRequestId

__all__ = ["MAX_COUNT_REQUESTS", "CountRequests"]

MAX_COUNT_REQUESTS = 1000


@dataclass
class _Request:
    path: str
    answer: dict[str, Any]  # the success body
    partial_left: int  # GET polls still to answer `partial`
    created: float


class CountRequests:
    """One account's count requests."""

    def __init__(self, account_id: str, *, ttl: float, limit: int = MAX_COUNT_REQUESTS) -> None:
        self._account_id = account_id
        self._ttl = ttl
        self._limit = limit
        # Insertion order is issue order, and the world clock never runs back: the oldest id comes first.
        self._requests: dict[int, _Request] = {}
        self._issued = 0

    def __len__(self) -> int:
        return len(self._requests)

    def start(self, path: str, answer: dict[str, Any], partial_polls: int, now: float) -> dict[str, Any]:
        """The POST answer: the success body `answer` at once when `partial_polls` is 0, else `partial` with a new
        req_id."""
        self.purge(now)
        if partial_polls <= 0:
            return answer
        while len(self._requests) >= self._limit:
            del self._requests[next(iter(self._requests))]
        req_id = self._new_id()
        self._requests[req_id] = _Request(path, answer, partial_polls, now)
        return {"status": "partial", "req_id": req_id}

    def poll(self, path: str, req_id: str, now: float) -> dict[str, Any]:
        """The answer to GET `path`?req_id=; clients store the id as an int or a string, so both parse."""
        self.purge(now)
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
        return request.answer

    def _new_id(self) -> int:
        while True:
            self._issued += 1
            digest = hashlib.sha256(f"{self._account_id}:count:{self._issued}".encode()).digest()
            # A big int like CleverTap's 384649162721759: 15 digits, never starting with 0.
            req_id = 10**14 + int.from_bytes(digest[:6]) % (9 * 10**14)
            if req_id not in self._requests:
                return req_id

    def purge(self, now: float) -> None:
        """Drop every expired req_id."""
        expired = [key for key, request in self._requests.items() if now - request.created > self._ttl]
        for key in expired:
            del self._requests[key]
