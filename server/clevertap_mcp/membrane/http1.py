"""A lean HTTP/1.1 client for Membrane's API: keep-alive connections to one origin, on asyncio.

Why our own: over HTTP, a `run_action` call cost the server ~2.6 ms of CPU against ~1.1 ms for a bare MCP server's
trivial tool, and ~1 ms of the difference was httpx2 and httpcore2 sending one request and reading one JSON answer
(a pool built for every protocol, locks, an h11 state machine, a URL model, a response stream; docs/security.md,
Throughput). This sends a request in one write and parses the answer straight from the bytes received.

It is deliberately narrow, as the one job allows: HTTP/1.1 to the one origin the client is configured with, no
proxies (an injected httpx2 transport never used them either), no redirects (the client follows none), no cookies;
gzip and deflate decoded, chunked and length-delimited bodies, interim 1xx answers skipped. TLS uses httpx2's own
SSL context, so certificates are trusted exactly as before. Errors are httpx2's exception types, so
`MembraneClient._send` maps this path and an injected httpx2 transport to one error tree, and retries in one place.
It needs asyncio (what uvicorn, the stdio server and the agent frameworks run on); under another event loop the
client keeps using httpx2.
"""

from __future__ import annotations

import asyncio
import ssl
import zlib
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

import anyio
import httpx2

__all__ = ["BodyTooLarge", "Http1Pool", "Http1Reply", "Http1Transport"]

MAX_HEAD_BYTES = 64 * 1024
# Below the 5 s keep-alive timeout of Node's HTTP server (and of httpx2's pool): a connection the server is about
# to close is not reused, so a write rarely meets a closed socket and a request that changes data is not put at risk.
KEEPALIVE_EXPIRY_SECONDS = 4.0
MAX_CONNECTIONS = 100
# What an httpx2 client sending through `Http1Transport` may receive (sign-in and OAuth answers are a few KB).
MAX_TRANSPORT_BODY_BYTES = 64 * 1024 * 1024
ACCEPT_ENCODING = "gzip, deflate"
_BODYLESS_STATUS = frozenset({204, 304})
_SAFE_TARGET = "!$&'()*+,;=:@/?%~-._"


class BodyTooLarge(Exception):
    """The answer's body is over the caller's limit: it was not read (declared) or not kept (received)."""

    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


@dataclass(frozen=True, slots=True)
class Http1Reply:
    status: int
    headers: httpx2.Headers
    content: bytes


class _Connection(asyncio.Protocol):
    """One socket: what arrived waits in `buffer`; a reader waits for more with `fill`."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.closed = False
        self.idle_since = 0.0
        self._waiter: asyncio.Future[None] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # a stream transport, as create_connection makes

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        self._wake()

    def eof_received(self) -> bool:
        self.closed = True
        self._wake()
        return False  # the transport closes itself

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._wake()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _expire(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_exception(httpx2.ReadTimeout("no answer in time"))

    async def fill(self, read_timeout: float) -> None:
        """Wait until more bytes arrive or the server closes; ReadTimeout after `read_timeout` seconds of silence, and
        RemoteProtocolError if the server had already closed (so readers that need more bytes just call this)."""
        if self.closed:
            raise httpx2.RemoteProtocolError("the server closed the connection mid-answer")
        loop = asyncio.get_running_loop()
        self._waiter = loop.create_future()
        timer = loop.call_later(read_timeout, self._expire)
        try:
            await self._waiter
        finally:
            timer.cancel()
            self._waiter = None

    def reusable(self) -> bool:
        """Idle and still open: nothing unasked-for arrived (that would be a broken server) and no EOF."""
        transport = self.transport
        return not self.closed and not self.buffer and transport is not None and not transport.is_closing()

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.abort()  # at once: a half-read answer must never be read by the next request


class Http1Pool:
    """Keep-alive connections to the origin of `base_url`, at most `max_connections` open at a time."""

    def __init__(
        self,
        base_url: str,
        *,
        connect_timeout: float,
        max_connections: int = MAX_CONNECTIONS,
        keepalive_expiry: float = KEEPALIVE_EXPIRY_SECONDS,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise httpx2.UnsupportedProtocol(f"not an http(s) URL: {parts.scheme or 'no scheme'}")
        self.scheme = parts.scheme
        self.host = parts.hostname
        self.port = parts.port or (443 if self.scheme == "https" else 80)
        bracketed = f"[{self.host}]" if ":" in self.host else self.host
        default_port = (self.scheme == "https" and self.port == 443) or (self.scheme == "http" and self.port == 80)
        self._host_header = bracketed if default_port else f"{bracketed}:{self.port}"
        self._connect_timeout = connect_timeout
        self._max = max_connections
        self._expiry = keepalive_expiry
        self._ssl = ssl_context if self.scheme == "https" else None
        if self.scheme == "https" and self._ssl is None:
            self._ssl = httpx2.create_ssl_context()
            self._ssl.set_alpn_protocols(["http/1.1"])
        # Every released connection is kept for reuse (a cap, as httpx2's 20, made a busy server reopen connections
        # on every burst) and closed once idle for `keepalive_expiry`, by a timer, so a burst leaves nothing open.
        self._idle: deque[_Connection] = deque()  # the most recently used last
        self._pruning: asyncio.TimerHandle | None = None
        self._open = 0
        # Requests waiting for a connection: each is handed a released one, or None when one was closed (room to open).
        self._waiting: deque[asyncio.Future[_Connection | None]] = deque()
        self._closed = False

    async def exchange(
        self,
        method: str,
        target: str,
        headers: Iterable[tuple[str, str]],
        content: bytes | None,
        *,
        read_timeout: float,
        max_body: int,
        decode: bool = True,
        connect_timeout: float | None = None,
    ) -> Http1Reply:
        """Send one request and read its whole answer: at most `max_body` bytes, gzip/deflate undone if `decode`.
        `connect_timeout` overrides the pool's for this request (clients sharing a pool may want less)."""
        request = self._encode(method, target, headers, content)
        connection = await self._acquire(read_timeout, connect_timeout or self._connect_timeout)
        reusable = False
        try:
            transport = connection.transport
            assert transport is not None
            transport.write(request)
            reply, reusable = await _read_reply(connection, method, read_timeout, max_body, decode)
            return reply
        finally:
            self._release(connection, reusable)

    def _encode(self, method: str, target: str, headers: Iterable[tuple[str, str]], content: bytes | None) -> bytes:
        if not target.isascii() or not target.isprintable() or " " in target:
            # As httpx2 would send it: characters a request line cannot carry are percent-encoded.
            target = quote(target, safe=_SAFE_TARGET)
        lines = [f"{method} {target} HTTP/1.1", f"host: {self._host_header}"]
        for name, value in headers:
            if "\r" in value or "\n" in value or "\0" in value or "\r" in name or "\n" in name or ":" in name:
                raise httpx2.LocalProtocolError("a header name or value holds a line break")
            lines.append(f"{name}: {value}")
        if content is not None:
            lines.append(f"content-length: {len(content)}")
        elif method in ("POST", "PUT", "PATCH"):
            lines.append("content-length: 0")
        # Header values must be ASCII (UnicodeEncodeError otherwise, as with httpx2): they are never re-encoded.
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("ascii")
        return head + content if content else head

    async def _acquire(self, pool_timeout: float, connect_timeout: float) -> _Connection:
        loop = asyncio.get_running_loop()
        while True:
            if self._closed:
                raise httpx2.ConnectError("the client is closed")
            now = loop.time()
            while self._idle:
                connection = self._idle.pop()
                if connection.reusable() and now - connection.idle_since < self._expiry:
                    return connection
                self._drop(connection)
            if self._open < self._max:
                break
            waiter: asyncio.Future[_Connection | None] = loop.create_future()
            self._waiting.append(waiter)
            timer = loop.call_later(pool_timeout, _fail, waiter, httpx2.PoolTimeout("no free connection in time"))
            try:
                handed = await waiter
            except BaseException:
                # Cancelled just after a connection was handed over: give it to the next in line, not leak it.
                if waiter.done() and not waiter.cancelled() and waiter.exception() is None:
                    given = waiter.result()
                    if given is not None:
                        self._release(given, reusable=True)
                raise
            finally:
                timer.cancel()
                if waiter in self._waiting:
                    self._waiting.remove(waiter)
            if handed is not None:
                return handed
        self._open += 1
        try:
            return await self._connect(connect_timeout)
        except BaseException:
            self._open -= 1
            self._wake_one()
            raise

    async def _connect(self, connect_timeout: float) -> _Connection:
        loop = asyncio.get_running_loop()
        connection = _Connection()
        try:
            with anyio.fail_after(connect_timeout):
                await loop.create_connection(
                    lambda: connection,
                    self.host,
                    self.port,
                    ssl=self._ssl,
                    server_hostname=self.host if self._ssl is not None else None,
                )
        except TimeoutError:
            connection.close()
            raise httpx2.ConnectTimeout("no connection in time") from None
        except OSError as exc:  # refused, unreachable, name not found, a certificate not trusted (ssl.SSLError)
            connection.close()
            raise httpx2.ConnectError(type(exc).__name__) from None
        return connection

    def _release(self, connection: _Connection, reusable: bool) -> None:
        if reusable and not self._closed and connection.reusable():
            while self._waiting:  # straight to the next in line: under load, connections are reused, not reopened
                waiter = self._waiting.popleft()
                if not waiter.done():
                    waiter.set_result(connection)
                    return
            loop = asyncio.get_running_loop()
            connection.idle_since = loop.time()
            self._idle.append(connection)
            if self._pruning is None:
                self._pruning = loop.call_later(self._expiry, self._prune)
            return
        self._drop(connection)

    def _prune(self) -> None:
        """Close the connections idle for `keepalive_expiry`; look again when the next one will be."""
        self._pruning = None
        loop = asyncio.get_running_loop()
        now = loop.time()
        while self._idle and now - self._idle[0].idle_since >= self._expiry:
            self._drop(self._idle.popleft())
        if self._idle:
            self._pruning = loop.call_later(self._idle[0].idle_since + self._expiry - now, self._prune)

    def _drop(self, connection: _Connection) -> None:
        connection.close()
        self._open -= 1
        self._wake_one()

    def _wake_one(self) -> None:
        while self._waiting:
            waiter = self._waiting.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return

    async def aclose(self) -> None:
        self._closed = True
        if self._pruning is not None:
            self._pruning.cancel()
            self._pruning = None
        while self._idle:
            self._drop(self._idle.pop())
        for waiter in self._waiting:
            if not waiter.done():
                waiter.set_exception(httpx2.ConnectError("the client is closed"))
        self._waiting.clear()


def _fail(waiter: asyncio.Future[Any], error: Exception) -> None:
    if not waiter.done():
        waiter.set_exception(error)


async def _read_reply(
    connection: _Connection, method: str, read_timeout: float, max_body: int, decode: bool
) -> tuple[Http1Reply, bool]:
    """The answer and whether the connection may carry another request."""
    buffer = connection.buffer
    while True:
        end = buffer.find(b"\r\n\r\n")
        while end < 0:
            if len(buffer) > MAX_HEAD_BYTES:
                raise httpx2.RemoteProtocolError("the answer's headers are too large")
            if connection.closed:
                raise httpx2.RemoteProtocolError(
                    "the server closed the connection mid-answer"
                    if buffer
                    else "the server disconnected without sending an answer"
                )
            await connection.fill(read_timeout)
            end = buffer.find(b"\r\n\r\n")
        head = bytes(buffer[:end])
        del buffer[: end + 4]
        version, status, raw_headers = _parse_head(head)
        if 100 <= status < 200 and status != 101:
            continue  # 100 Continue, 103 Early Hints: the answer follows
        break
    headers = httpx2.Headers(raw_headers)
    keep_alive = version == b"HTTP/1.1" and not _has_token(headers.get_list("connection"), "close")
    if method == "HEAD" or status in _BODYLESS_STATUS or status < 200:
        return Http1Reply(status, headers, b""), keep_alive
    if _has_token(headers.get_list("transfer-encoding"), "chunked"):
        body = await _read_chunked(connection, read_timeout, max_body, status)
    else:
        length = _content_length(headers)
        if length is not None:
            if length > max_body:
                raise BodyTooLarge(status)
            while len(buffer) < length:
                await connection.fill(read_timeout)
            body = bytes(buffer[:length])
            del buffer[:length]
        else:
            body = await _read_to_close(connection, read_timeout, max_body, status)
            keep_alive = False
    encoding = headers.get("content-encoding")
    if encoding and decode:
        body = _decode(body, encoding, max_body, status)
    return Http1Reply(status, headers, body), keep_alive


def _parse_head(head: bytes) -> tuple[bytes, int, list[tuple[bytes, bytes]]]:
    lines = head.split(b"\r\n")
    version, _, rest = lines[0].partition(b" ")
    code = rest[:3]
    if not version.startswith(b"HTTP/1.") or len(code) != 3 or not code.isdigit() or rest[3:4] not in (b"", b" "):
        raise httpx2.RemoteProtocolError("the answer's status line is not HTTP/1.x")
    headers: list[tuple[bytes, bytes]] = []
    for line in lines[1:]:
        if line[:1] in (b" ", b"\t"):
            if not headers:
                raise httpx2.RemoteProtocolError("the answer's first header line is a continuation")
            name, value = headers[-1]
            headers[-1] = (name, value + b" " + line.strip(b" \t"))  # obsolete line folding (RFC 9112 §5.2)
            continue
        name, colon, value = line.partition(b":")
        if not colon or not name or name != name.strip(b" \t"):
            raise httpx2.RemoteProtocolError("the answer has a malformed header line")
        headers.append((name, value.strip(b" \t")))
    return version, int(code), headers


def _has_token(values: list[str], token: str) -> bool:
    return any(part.strip().lower() == token for value in values for part in value.split(","))


def _content_length(headers: httpx2.Headers) -> int | None:
    values = {part.strip() for value in headers.get_list("content-length") for part in value.split(",")}
    if not values:
        return None
    if len(values) != 1 or not next(iter(values)).isdigit():
        raise httpx2.RemoteProtocolError("the answer's Content-Length is not one number")
    return int(next(iter(values)))


async def _read_chunked(connection: _Connection, read_timeout: float, max_body: int, status: int) -> bytes:
    buffer = connection.buffer
    chunks: list[bytes] = []
    size_so_far = 0
    while True:
        line_end = await _find(connection, b"\r\n", read_timeout)
        size_text = bytes(buffer[:line_end]).split(b";", 1)[0].strip()
        try:
            size = int(size_text, 16)
        except ValueError:
            raise httpx2.RemoteProtocolError("the answer has a malformed chunk size") from None
        del buffer[: line_end + 2]
        if size == 0:
            break
        size_so_far += size
        if size_so_far > max_body:
            raise BodyTooLarge(status)
        while len(buffer) < size + 2:
            await connection.fill(read_timeout)
        if not buffer.startswith(b"\r\n", size):
            raise httpx2.RemoteProtocolError("a chunk of the answer is not followed by CRLF")
        chunks.append(bytes(buffer[:size]))
        del buffer[: size + 2]
    while True:  # trailer fields, ignored, up to the empty line
        line_end = await _find(connection, b"\r\n", read_timeout)
        del buffer[: line_end + 2]
        if line_end == 0:
            return b"".join(chunks)


async def _find(connection: _Connection, needle: bytes, read_timeout: float) -> int:
    buffer = connection.buffer
    while True:
        index = buffer.find(needle)
        if index >= 0:
            return index
        if len(buffer) > MAX_HEAD_BYTES:
            raise httpx2.RemoteProtocolError("the answer has an over-long line")
        await connection.fill(read_timeout)


async def _read_to_close(connection: _Connection, read_timeout: float, max_body: int, status: int) -> bytes:
    buffer = connection.buffer
    while not connection.closed:
        if len(buffer) > max_body:
            raise BodyTooLarge(status)
        try:
            await connection.fill(read_timeout)
        except httpx2.RemoteProtocolError:
            break
    if len(buffer) > max_body:
        raise BodyTooLarge(status)
    body = bytes(buffer)
    buffer.clear()
    return body


def _decode(body: bytes, encoding: str, max_body: int, status: int) -> bytes:
    """Undo gzip/deflate, last applied first; other codings are left as they are (as httpx2 does). The decoded
    size is what counts against `max_body`, so a small compression bomb cannot slip past it."""
    for coding in reversed([part.strip().lower() for part in encoding.split(",")]):
        if coding in ("gzip", "x-gzip"):
            body = _inflate(body, zlib.MAX_WBITS | 16, max_body, status)
        elif coding == "deflate":
            try:
                body = _inflate(body, zlib.MAX_WBITS, max_body, status)
            except httpx2.DecodingError:
                body = _inflate(body, -zlib.MAX_WBITS, max_body, status)  # raw deflate, as some servers send it
    return body


def _inflate(body: bytes, wbits: int, max_body: int, status: int) -> bytes:
    decompressor = zlib.decompressobj(wbits)
    try:
        out = decompressor.decompress(body, max_body + 1)
    except zlib.error:
        raise httpx2.DecodingError("corrupt content-encoding") from None
    if len(out) > max_body:
        raise BodyTooLarge(status)
    if not decompressor.eof:
        raise httpx2.DecodingError("truncated content-encoding")
    return out


class Http1Transport(httpx2.AsyncBaseTransport):
    """Pools of `Http1Pool`, one per origin, behind httpx2's transport interface.

    `MembraneClient` finds the pool with `http1_pool` and uses it directly; httpx2 clients (sign-in, OAuth) send
    through `handle_async_request` and get the same connections and error types.
    """

    def __init__(self, *, connect_timeout: float = 10.0, max_connections: int = MAX_CONNECTIONS) -> None:
        self._connect_timeout = connect_timeout
        self._max = max_connections
        self._pools: dict[tuple[str, str, int], Http1Pool] = {}

    async def http1_pool(self, base_url: str) -> Http1Pool | None:
        return self._pool(base_url)  # asked on every request: urlsplit caches what it parsed

    def _pool(self, url: str) -> Http1Pool:
        parts = urlsplit(url)
        key = (parts.scheme, parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80))
        pool = self._pools.get(key)
        if pool is None:
            pool = self._pools[key] = Http1Pool(url, connect_timeout=self._connect_timeout, max_connections=self._max)
        return pool

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        url = request.url
        pool = self._pool(str(url))
        timeouts = request.extensions.get("timeout", {})
        read_timeout = timeouts.get("read") or 30.0
        target = url.raw_path.decode("ascii")
        headers = [
            (key.decode("latin-1"), value.decode("latin-1"))
            for key, value in request.headers.raw
            if key.lower() not in (b"host", b"content-length", b"transfer-encoding")
        ]
        content = await request.aread()
        try:
            # Left encoded: httpx2 decodes the body itself, as it does what httpcore2 hands it.
            reply = await pool.exchange(
                request.method,
                target,
                headers,
                content or None,
                read_timeout=read_timeout,
                max_body=MAX_TRANSPORT_BODY_BYTES,
                decode=False,
                connect_timeout=timeouts.get("connect"),
            )
        except BodyTooLarge:
            raise httpx2.ReadError(f"the answer is larger than {MAX_TRANSPORT_BODY_BYTES >> 20} MiB") from None
        return httpx2.Response(reply.status, headers=reply.headers, content=reply.content)

    async def aclose(self) -> None:
        pools, self._pools = list(self._pools.values()), {}
        for pool in pools:
            await pool.aclose()
