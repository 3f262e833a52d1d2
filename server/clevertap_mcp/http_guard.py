"""Slow clients and crowds over HTTP: deadlines for a request's headers and body, and a cap on open connections.

uvicorn closes idle keep-alive connections, but not one that sends half a request and waits: 900 such clients held
their sockets for good, and past the open-file limit the server could accept no one. `GuardedH11Protocol` (uvicorn's
h11 protocol, plus deadlines) answers 408 to a client whose headers or body are late, and a clean 503 with
Retry-After to connections past the cap, closing each at once, so a crowd costs the server at most `max_connections`
sockets at a time and nothing lasts longer than its deadline.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any, ClassVar, cast

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol, RequestResponseCycle

if TYPE_CHECKING:
    from clevertap_mcp.http import HttpSettings

logger = logging.getLogger(__name__)

DEFAULT_HEADER_TIMEOUT = 10.0
DEFAULT_BODY_TIMEOUT = 30.0
# Well under the usual 1,024 open files, leaving room for the server's own (Membrane connections, result files).
DEFAULT_MAX_CONNECTIONS = 768
# How long a refused connection may take to send the request its 503 answers.
REFUSAL_GRACE = 1.0
KEEP_ALIVE_TIMEOUT = 5


def _answer(status: int, reason: str, text: str, *, retry_after: bool = False) -> bytes:
    body = text.encode()
    extra = "Retry-After: 1\r\n" if retry_after else ""
    head = (
        f"HTTP/1.1 {status} {reason}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {len(body)}\r\n"
        f"Connection: close\r\n{extra}\r\n"
    )
    return head.encode() + body


TOO_SLOW_HEADERS = _answer(408, "Request Timeout", "The request's headers took too long to arrive.\n")
TOO_SLOW_BODY = _answer(408, "Request Timeout", "The request's body took too long to arrive.\n")
TOO_MANY = _answer(503, "Service Unavailable", "Too many connections; try again shortly.\n", retry_after=True)


class GuardedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with deadlines and a connection cap (class attributes: `configure` sets them)."""

    header_timeout: ClassVar[float] = DEFAULT_HEADER_TIMEOUT
    body_timeout: ClassVar[float] = DEFAULT_BODY_TIMEOUT
    max_connections: ClassVar[int] = DEFAULT_MAX_CONNECTIONS

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._deadline: asyncio.TimerHandle | None = None
        self._refused = len(self.connections) > self.max_connections
        if self._refused:
            self._arm(REFUSAL_GRACE, self._close)
        else:
            self._arm(self.header_timeout, self._headers_late)

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._refused:
            self._close(TOO_MANY)
            return
        before = self.cycle
        super().data_received(data)
        if self.cycle is not before:  # a new request's headers are complete: now its body has a deadline
            self._arm(self.body_timeout, self._body_late)

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing():
            self._arm(self.header_timeout, self._headers_late)  # the next request on this connection

    def _arm(self, delay: float, callback: Any) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(delay, callback)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _headers_late(self) -> None:
        cycle = cast("RequestResponseCycle | None", self.cycle)  # None until the first request's headers
        if self.conn.their_state is h11.IDLE and (cycle is None or cycle.response_complete):
            self._close(TOO_SLOW_HEADERS)

    def _body_late(self) -> None:
        cycle = cast("RequestResponseCycle | None", self.cycle)
        if self.conn.their_state is h11.SEND_BODY and cycle is not None:
            self._close(None if cycle.response_started else TOO_SLOW_BODY)

    def _close(self, answer: bytes | None = None) -> None:
        self._disarm()
        if self.transport.is_closing():
            return
        if answer is not None:
            self.transport.write(answer)
        self.transport.close()


def configure(http: HttpSettings) -> None:
    """Applies `http`'s deadlines and cap to every connection this process serves from now on."""
    GuardedH11Protocol.header_timeout = http.header_timeout
    GuardedH11Protocol.body_timeout = http.body_timeout
    GuardedH11Protocol.max_connections = http.max_connections


def uvicorn_options(http: HttpSettings) -> dict[str, Any]:
    """uvicorn settings for a server in this process (one worker)."""
    configure(http)
    return {"http": GuardedH11Protocol, "timeout_keep_alive": KEEP_ALIVE_TIMEOUT}


# Workers import the protocol by name (a class does not cross to a spawned process); app_from_env configures it.
WORKER_PROTOCOL = "clevertap_mcp.http_guard:GuardedH11Protocol"
