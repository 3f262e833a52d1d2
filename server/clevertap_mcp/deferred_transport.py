"""An httpx2 transport built on the first request, optionally after waiting for the server it talks to.

Building an HTTP transport imports httpcore and creates an SSL context: about 35 ms, a tenth of the whole start-up
of an MCP stdio server, spent before `initialize` could be answered although no request goes out before the first
tool call. Deferred, it is paid once, by that first call. `ready` lets the built-in sandbox start in the background
(sandbox_launch.py): requests wait for it instead of failing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import httpx2

from clevertap_mcp.membrane.http1 import Http1Pool, Http1Transport

TransportFactory = Callable[[], httpx2.AsyncBaseTransport | None]


class DeferredTransport(httpx2.AsyncBaseTransport):
    """Without `make`, the transport is our lean HTTP/1.1 client (membrane/http1.py) on asyncio, httpx2's own
    elsewhere."""

    def __init__(
        self, make: TransportFactory | None = None, *, ready: Callable[[], Awaitable[None]] | None = None
    ) -> None:
        self._make = make
        self._ready = ready
        self._inner: httpx2.AsyncBaseTransport | None = None

    async def _built(self) -> httpx2.AsyncBaseTransport:
        if self._ready is not None:
            await self._ready()
        if self._inner is None:  # no await since the check: concurrent first requests build it once
            self._inner = (self._make() if self._make else None) or _default_transport()
        return self._inner

    async def http1_pool(self, base_url: str) -> Http1Pool | None:
        """The lean client's pool for `base_url` when that is what this transport is built on, else None."""
        inner = await self._built()
        return await inner.http1_pool(base_url) if isinstance(inner, Http1Transport) else None

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        return await (await self._built()).handle_async_request(request)

    async def aclose(self) -> None:
        if self._inner is not None:
            await self._inner.aclose()


def _default_transport() -> httpx2.AsyncBaseTransport:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return httpx2.AsyncHTTPTransport()  # another event loop (trio): the lean client needs asyncio
    return Http1Transport()
