"""How an injected fault reaches the wire (the faults themselves, and how they match, are faults.py).

A drop served by uvicorn closes the TCP connection, so the client sees what a crashed server would show it. ASGI has
no way to say "close without answering", so the connection is found through uvicorn's per-request `receive`, a bound
method of the object that holds the transport (`transport_of`, called on the `receive` uvicorn passed in). In-process
(httpx2's ASGITransport has no connection to close) a drop raises `DroppedConnection`, an httpx2.RemoteProtocolError,
out of the app: the very error a client gets from a real drop.
"""

from __future__ import annotations

import asyncio
import http
import json
from typing import Any, cast

import anyio
import httpx2
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from clevertap_mcp.sandbox.faults import Fault, Kind, Side, Stage, Target
from clevertap_mcp.sandbox.membrane.errors import (
    AccessDenied,
    InternalFailure,
    MembraneError,
    NotAuthenticated,
    NotFound,
    RateLimited,
)

__all__ = ["DroppedConnection", "apply_fault", "transport_of"]

_MALFORMED_JSON = b'{"status": "success", "records": [{"identity": "'
_OVERSIZED_HEAD = b'{"padding": "'
_OVERSIZED_TAIL = b'"}'
# The Membrane error each injected status answers with; any other is `internal` from 500 up, else `bad_request`.
_MEMBRANE_ERRORS: dict[int, type[MembraneError]] = {
    401: NotAuthenticated,
    403: AccessDenied,
    404: NotFound,
    429: RateLimited,
}


class DroppedConnection(httpx2.RemoteProtocolError):
    """An in-process drop: what httpx raises when a real server closes the connection without (finishing) an answer."""


def transport_of(receive: Receive) -> asyncio.Transport | None:
    """The client's connection behind uvicorn's own `receive`; None in process, or for a wrapped `receive`."""
    transport = getattr(getattr(receive, "__self__", None), "transport", None)
    return transport if isinstance(transport, asyncio.Transport) else None


async def apply_fault(
    fault: Fault,
    target: Target,
    app: ASGIApp,
    scope: Scope,
    receive: Receive,
    send: Send,
    transport: asyncio.Transport | None,
) -> None:
    """Serve one request the way `fault` says, calling the real `app` where the fault lets the request through.

    `transport` is the client's connection (`transport_of`), or None in process.
    """
    if fault.kind is Kind.LATENCY:
        assert fault.seconds is not None
        await anyio.sleep(fault.seconds)
        await app(scope, receive, send)
    elif fault.kind is Kind.DROP and fault.stage is Stage.MID_RESPONSE:
        await _cut_mid_response(app, scope, receive, send, transport)
    elif fault.kind is Kind.DROP:
        await _close(transport, receive, "Server disconnected without sending a response.")
    else:
        await _answer(fault, target)(scope, receive, send)


def _answer(fault: Fault, target: Target) -> Response:
    status = fault.status if fault.status is not None else 200
    headers = {"Retry-After": fault.retry_after} if fault.retry_after is not None else None
    media_type = "application/json"
    if fault.kind is Kind.STATUS:
        error = fault.body if fault.has_body else _error_body(target.side, status)
        content = json.dumps(error).encode()
    elif fault.kind is Kind.MALFORMED_JSON:
        content = _MALFORMED_JSON
    elif fault.kind is Kind.HTML:
        content, media_type = _html_page(status), "text/html; charset=utf-8"
    elif fault.kind is Kind.OVERSIZED:
        assert fault.size is not None
        padding = fault.size - len(_OVERSIZED_HEAD) - len(_OVERSIZED_TAIL)
        content = _OVERSIZED_HEAD + b"x" * padding + _OVERSIZED_TAIL
    else:
        content = b""
    return Response(content, status_code=status, headers=headers, media_type=media_type)


def _phrase(status: int) -> str:
    try:
        return http.HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def _error_body(side: Side, status: int) -> dict[str, Any]:
    message = f"{status} {_phrase(status)} (injected fault)"
    if side is Side.CLEVERTAP:
        # The texts CleverTap really sends for these two (clevertap-api.md §3, §4).
        error = {429: "Too many concurrent requests", 401: "Invalid Credentials"}.get(status, message)
        return {"status": "fail", "error": error, "code": status}
    error_class = _MEMBRANE_ERRORS.get(status, InternalFailure if status >= 500 else MembraneError)
    return error_class(message).body()


def _html_page(status: int) -> bytes:
    title = f"{status} {_phrase(status)}"
    return (
        f"<!DOCTYPE html><html><head><title>{title}</title></head><body><center><h1>{title}</h1></center>"
        "<hr><center>nginx</center></body></html>\n"
    ).encode()


async def _cut_mid_response(
    app: ASGIApp, scope: Scope, receive: Receive, send: Send, transport: asyncio.Transport | None
) -> None:
    start: Message | None = None
    chunks: list[bytes] = []

    async def hold(message: Message) -> None:
        nonlocal start
        if message["type"] == "http.response.start":
            start = message
        elif message["type"] == "http.response.body":
            chunks.append(cast(bytes, message.get("body", b"")))

    await app(scope, receive, hold)
    if start is None:
        await _close(transport, receive, "Server disconnected without sending a response.")
        return
    body = b"".join(chunks)
    # An empty body is announced as one byte, so that the cut still shows.
    announced = max(len(body), 1)
    headers = [
        (name, value)
        for name, value in cast(list[tuple[bytes, bytes]], start.get("headers", []))
        if name.lower() != b"content-length"
    ]
    headers.append((b"content-length", str(announced).encode()))
    await send({**start, "headers": headers})
    await send({"type": "http.response.body", "body": body[: len(body) // 2], "more_body": True})
    await _close(transport, receive, "peer closed connection without sending complete message body")


async def _close(transport: asyncio.Transport | None, receive: Receive, in_process_message: str) -> None:
    """Close the client's connection, then wait until the server has seen it closed, so it answers nothing more."""
    if transport is None:
        raise DroppedConnection(in_process_message)
    transport.close()
    while (await receive())["type"] != "http.disconnect":
        pass  # the rest of the request body, which nobody will read
