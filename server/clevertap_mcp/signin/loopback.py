"""The loopback redirect of a browser sign-in (RFC 8252 §7.3): a one-shot HTTP listener on 127.0.0.1.

It answers one GET of `/callback` that carries `code` or `error` and the expected `state` with a short page telling
the person to return to where they started, and hands the query to `wait()`. Anything else gets a 404 and changes
nothing, so a stray request (a favicon, a port scan) cannot end or spoil the sign-in.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from html import escape
from types import TracebackType
from typing import Self
from urllib.parse import parse_qsl, urlsplit

import anyio
from anyio.abc import Listener, SocketAttribute, SocketStream

__all__ = ["CALLBACK_PATH", "LoopbackReceiver"]

CALLBACK_PATH = "/callback"
MAX_REQUEST_BYTES = 16 * 1024
READ_TIMEOUT_SECONDS = 10.0
_DONE_PAGE = (
    '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{title}</title></head>'
    '<body style="font:16px system-ui,sans-serif;margin:3rem auto;max-width:30rem;text-align:center">'
    "<h1>{title}</h1><p>{text}</p></body></html>"
)


class LoopbackReceiver:
    """`async with LoopbackReceiver(state) as receiver:` listens; `receiver.redirect_uri`; `await receiver.wait()`."""

    def __init__(
        self,
        state: str,
        *,
        done_text: str = "You can close this tab and return to where you started.",
        on_arrival: Callable[[], None] | None = None,
    ) -> None:
        self._state = state
        self._on_arrival = on_arrival  # runs before the browser gets its page: whoever waits knows first
        self._done_text = done_text
        self._listener: Listener[SocketStream] | None = None
        self._result: dict[str, str] | None = None
        self._arrived = anyio.Event()
        self.port = 0

    @property
    def redirect_uri(self) -> str:
        return f"http://127.0.0.1:{self.port}{CALLBACK_PATH}"

    async def __aenter__(self) -> Self:
        listener = await anyio.create_tcp_listener(local_host="127.0.0.1", local_port=0)
        self._listener = listener
        self.port = int(listener.extra(SocketAttribute.local_port))  # noqa: S610 - anyio's typed attributes
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._listener is not None:
            await self._listener.aclose()

    async def wait(self) -> dict[str, str]:
        """The callback's query parameters, once the browser arrives with them."""
        assert self._listener is not None, "use `async with`"
        listener = self._listener
        async with anyio.create_task_group() as group:

            async def serve() -> None:
                await listener.serve(self._handle, task_group=group)

            group.start_soon(serve)
            await self._arrived.wait()
            group.cancel_scope.cancel()
        assert self._result is not None
        return self._result

    async def _handle(self, stream: SocketStream) -> None:
        async with stream:
            request = b""
            with anyio.move_on_after(READ_TIMEOUT_SECONDS):
                while b"\r\n\r\n" not in request and len(request) < MAX_REQUEST_BYTES:
                    try:
                        request += await stream.receive()
                    except (anyio.EndOfStream, anyio.BrokenResourceError):
                        break
            line = request.split(b"\r\n", 1)[0].decode("latin-1")
            method, _, rest = line.partition(" ")
            target = rest.rpartition(" ")[0] or rest
            parts = urlsplit(target)
            query = dict(parse_qsl(parts.query, keep_blank_values=True))
            matches = (
                method == "GET"
                and parts.path == CALLBACK_PATH
                and ("code" in query or "error" in query)
                and query.get("state") == self._state
                and not self._arrived.is_set()
            )
            if not matches:
                await self._answer(stream, 404, "Not found", "This is not the sign-in you started.")
                return
            self._result = query
            if self._on_arrival is not None:
                self._on_arrival()
            if "error" in query:
                reason = query.get("error_description") or query["error"]
                await self._answer(stream, 200, "Sign-in cancelled", f"Membrane said: {reason}")
            else:
                await self._answer(stream, 200, "Signed in", self._done_text)
            self._arrived.set()

    @staticmethod
    async def _answer(stream: SocketStream, status: int, title: str, text: str) -> None:
        body = _DONE_PAGE.format(title=escape(title), text=escape(text)).encode()
        head = (
            f"HTTP/1.1 {status} {'OK' if status == 200 else 'Not Found'}\r\n"
            "Content-Type: text/html; charset=utf-8\r\nCache-Control: no-store\r\nReferrer-Policy: no-referrer\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
        ).encode()
        with contextlib.suppress(anyio.BrokenResourceError, anyio.ClosedResourceError):
            await stream.send(head + body)
