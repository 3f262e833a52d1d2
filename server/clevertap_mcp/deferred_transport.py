"""An httpx2 transport built on the first request, optionally after waiting for the server it talks to.

Building an HTTP transport imports httpcore and creates an SSL context: about 35 ms, a tenth of the whole start-up
of an MCP stdio server, spent before `initialize` could be answered although no request goes out before the first
tool call. Deferred, it is paid once, by that first call. `ready` lets the built-in sandbox start in the background
(sandbox_launch.py): requests wait for it instead of failing.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import httpx2

TransportFactory = Callable[[], httpx2.AsyncBaseTransport | None]


class DeferredTransport(httpx2.AsyncBaseTransport):
    def __init__(
        self, make: TransportFactory | None = None, *, ready: Callable[[httpx2.Request], Awaitable[None]] | None = None
    ) -> None:
        self._make = make
        self._ready = ready
        self._inner: httpx2.AsyncBaseTransport | None = None

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        if self._ready is not None:
            await self._ready(request)
        if self._inner is None:  # no await since the check: concurrent first requests build it once
            self._inner = (self._make() if self._make else None) or httpx2.AsyncHTTPTransport()
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        if self._inner is not None:
            await self._inner.aclose()
