"""Our HTTP/1.1 client (membrane/http1.py) against a loopback server that answers with bytes we script.

The server is deliberately not a well-behaved one: it splits answers into tiny writes, closes idle connections,
stalls, lies about lengths and compresses bombs. Whatever it does, the client must either read the answer exactly
or raise the httpx2 error the Membrane client already maps, and never hand one request's answer to another.
"""

from __future__ import annotations

import asyncio
import gzip
import ssl
import zlib
from collections.abc import AsyncGenerator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import anyio
import anyio.lowlevel
import httpx2
import pytest
import trustme

from clevertap_mcp.deferred_transport import DeferredTransport
from clevertap_mcp.membrane.auth import StaticToken
from clevertap_mcp.membrane.client import MembraneClient
from clevertap_mcp.membrane.errors import (
    ConnectError,
    RequestNotSentError,
    ResponseLostError,
    ResponseTooLargeError,
    UnexpectedResponseError,
)
from clevertap_mcp.membrane.http1 import BodyTooLarge, Http1Pool, Http1Transport
from clevertap_mcp.membrane.retry import RetryPolicy

from helpers import RecordedSleep

pytestmark = pytest.mark.anyio


@dataclass
class Request:
    line: str
    headers: dict[str, str]
    body: bytes
    connection: int


@dataclass
class Script:
    """What the server saw, and how many connections it accepted."""

    requests: list[Request] = field(default_factory=list[Request])
    connections: int = 0


Answer = Callable[[Request, asyncio.StreamWriter], Awaitable[bool]]  # True: keep the connection open


def ok(body: bytes = b'{"ok":true}', *extra: str) -> bytes:
    head = ["HTTP/1.1 200 OK", "content-type: application/json", f"content-length: {len(body)}", *extra]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


def raw_deflate(data: bytes) -> bytes:
    return zlib.compress(data)[2:-4]


def replying(*answers: bytes) -> Answer:
    """Answers in turn (the last one repeats), each written whole."""
    queue = list(answers)

    async def answer(_: Request, writer: asyncio.StreamWriter) -> bool:
        writer.write(queue.pop(0) if len(queue) > 1 else queue[0])
        await writer.drain()
        return True

    return answer


def cut_short_on_first(connections: int, *, then: bytes) -> Answer:
    """On its first `connections` connections, an answer cut off mid-body and the connection closed; `then` after."""

    async def answer(request: Request, writer: asyncio.StreamWriter) -> bool:
        cut = request.connection <= connections
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nonly part" if cut else then)
        await writer.drain()
        return not cut

    return answer


@asynccontextmanager
async def raw_server(answer: Answer, *, tls: ssl.SSLContext | None = None) -> AsyncGenerator[tuple[str, Script]]:
    script = Script()

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        script.connections += 1
        number = script.connections
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, ConnectionError):
                    return
                line, *rest = head.decode("latin-1").split("\r\n")
                headers = {k.lower(): v.strip() for k, _, v in (h.partition(":") for h in rest if h)}
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                request = Request(line, headers, body, number)
                script.requests.append(request)
                if not await answer(request, writer):
                    return
        finally:
            writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0, ssl=tls)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"{'https' if tls else 'http'}://127.0.0.1:{port}", script
    finally:
        server.close()


async def get(pool: Http1Pool, target: str = "/x", *, read_timeout: float = 5.0, max_body: int = 1 << 20) -> bytes:
    reply = await pool.exchange("GET", target, [], None, read_timeout=read_timeout, max_body=max_body)
    return reply.content


def membrane(url: str, sleep: RecordedSleep | None = None) -> MembraneClient:
    return MembraneClient(
        url,
        StaticToken("tok-http1-test", origin="test"),
        transport=DeferredTransport(),
        retry=RetryPolicy(sleep=sleep or RecordedSleep()),
    )


async def test_a_connection_carries_one_request_after_another() -> None:
    async with raw_server(replying(ok(b"1"), ok(b"2"), ok(b"3"))) as (url, script):
        pool = Http1Pool(url, connect_timeout=5)
        assert [await get(pool), await get(pool), await get(pool)] == [b"1", b"2", b"3"]
        await pool.aclose()
    assert script.connections == 1


async def test_a_chunked_answer_in_tiny_writes_with_extensions_and_trailers_is_read_whole() -> None:
    wire = (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n7\r\n, world\r\n0\r\nx-t: 1\r\n\r\n"
    )

    async def trickle(_: Request, writer: asyncio.StreamWriter) -> bool:
        for i in range(len(wire)):
            writer.write(wire[i : i + 1])
            await writer.drain()
        return True

    async with raw_server(trickle) as (url, script):
        pool = Http1Pool(url, connect_timeout=5)
        assert await get(pool) == b"hello, world"
        assert await get(pool) == b"hello, world"  # the trailer was consumed: the next answer starts clean
        await pool.aclose()
    assert script.connections == 1


@pytest.mark.parametrize(
    ("coding", "encode"),
    [
        ("gzip", gzip.compress),
        ("deflate", zlib.compress),
        ("deflate", raw_deflate),  # without the zlib wrapper, as some servers send it
    ],
)
async def test_gzip_and_deflate_answers_are_decoded(coding: str, encode: Callable[[bytes], bytes]) -> None:
    body = b'{"items":[' + b",".join(b'"x"' for _ in range(500)) + b"]}"
    async with raw_server(replying(ok(encode(body), f"content-encoding: {coding}"))) as (url, _):
        pool = Http1Pool(url, connect_timeout=5)
        assert await get(pool) == body
        await pool.aclose()


async def test_an_unknown_content_coding_is_passed_through_as_httpx2_does() -> None:
    async with raw_server(replying(ok(b"opaque", "content-encoding: br"))) as (url, _):
        pool = Http1Pool(url, connect_timeout=5)
        assert await get(pool) == b"opaque"
        await pool.aclose()


async def test_a_compression_bomb_is_refused_by_its_decoded_size() -> None:
    bomb = gzip.compress(b"0" * (4 << 20))
    assert len(bomb) < 10_000
    async with raw_server(replying(ok(bomb, "content-encoding: gzip"))) as (url, _):
        pool = Http1Pool(url, connect_timeout=5)
        with pytest.raises(BodyTooLarge):
            await get(pool, max_body=1 << 20)
        await pool.aclose()


async def test_corrupt_or_truncated_gzip_is_a_decoding_error() -> None:
    body = gzip.compress(b"x" * 1000)
    async with raw_server(
        replying(ok(b"not gzip", "content-encoding: gzip"), ok(body[:-12], "content-encoding: gzip"))
    ) as (
        url,
        _,
    ):
        pool = Http1Pool(url, connect_timeout=5)
        for _ in range(2):
            with pytest.raises(httpx2.DecodingError):
                await get(pool)
        await pool.aclose()


async def test_a_declared_length_over_the_limit_is_refused_without_reading_and_the_connection_is_not_reused() -> None:
    async def huge(_: Request, writer: asyncio.StreamWriter) -> bool:
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 999999999\r\n\r\n" + b"x" * 1000)
        await writer.drain()
        return True

    async with raw_server(huge) as (url, script):
        pool = Http1Pool(url, connect_timeout=5)
        for _ in range(2):
            with pytest.raises(BodyTooLarge):
                await get(pool, max_body=1 << 20)
        await pool.aclose()
    assert script.connections == 2


async def test_an_idle_connection_the_server_closed_is_not_reused() -> None:
    async def once(_: Request, writer: asyncio.StreamWriter) -> bool:
        writer.write(ok())
        await writer.drain()
        return False  # closes without saying so: the next request must open a new connection

    async with raw_server(once) as (url, script):
        pool = Http1Pool(url, connect_timeout=5)
        await get(pool)
        idle = pool._idle[0]  # pyright: ignore[reportPrivateUsage]
        with anyio.fail_after(5):
            # The client learns of the close from its event loop, with nothing to wait on but the connection's state.
            while idle.reusable():  # noqa: ASYNC110
                await anyio.sleep(0.01)
        assert await get(pool) == b'{"ok":true}'
        await pool.aclose()
    assert script.connections == 2


async def test_a_connection_idle_past_the_keepalive_expiry_is_closed_not_reused() -> None:
    async with raw_server(replying(ok())) as (url, script):
        pool = Http1Pool(url, connect_timeout=5, keepalive_expiry=0.0)
        await get(pool)
        await get(pool)
        assert pool._open <= 1  # pyright: ignore[reportPrivateUsage]
        await pool.aclose()
    assert script.connections == 2


async def test_connection_close_or_http_1_0_is_honoured() -> None:
    async with raw_server(replying(ok(b"a", "connection: close"), ok(b"b").replace(b"HTTP/1.1", b"HTTP/1.0"))) as (
        url,
        script,
    ):
        pool = Http1Pool(url, connect_timeout=5)
        assert await get(pool) == b"a"
        assert await get(pool) == b"b"
        assert await get(pool) == b"b"
        await pool.aclose()
    assert script.connections == 3


async def test_an_answer_without_length_is_read_until_the_server_closes() -> None:
    async def until_close(_: Request, writer: asyncio.StreamWriter) -> bool:
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\n\r\npart one, ")
        await writer.drain()
        writer.write(b"part two")
        await writer.drain()
        return False

    async with raw_server(until_close) as (url, _):
        pool = Http1Pool(url, connect_timeout=5)
        assert await get(pool) == b"part one, part two"
        await pool.aclose()


async def test_interim_answers_are_skipped_and_bodyless_answers_keep_the_connection() -> None:
    interim = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nlink: </x>\r\n\r\n"
    no_content = b"HTTP/1.1 204 No Content\r\n\r\n"
    async with raw_server(replying(interim + ok(b"after"), no_content, ok(b"last"))) as (url, script):
        pool = Http1Pool(url, connect_timeout=5)
        assert await get(pool) == b"after"
        reply = await pool.exchange("DELETE", "/x", [], None, read_timeout=5, max_body=100)
        assert (reply.status, reply.content) == (204, b"")
        assert await get(pool) == b"last"
        await pool.aclose()
    assert script.connections == 1


async def test_a_server_that_closes_mid_answer_is_a_protocol_error_and_the_next_request_is_clean() -> None:
    async with raw_server(cut_short_on_first(1, then=ok(b"whole"))) as (url, _):
        pool = Http1Pool(url, connect_timeout=5)
        with pytest.raises(httpx2.RemoteProtocolError):
            await get(pool)
        assert await get(pool) == b"whole"
        await pool.aclose()


@pytest.mark.parametrize(
    "wire",
    [
        b"HTTP/2 200 OK\r\ncontent-length: 0\r\n\r\n",
        b"HTTP/1.1 2x0 OK\r\ncontent-length: 0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n",
        b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\ncontent-length: 6\r\n\r\nhello!",
        b"HTTP/1.1 200 OK\r\ncontent-length: -1\r\n\r\n",
        b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n",
        b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n2\r\nabXY0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nx-big: " + b"a" * (70 * 1024),
    ],
    ids=["http2", "status", "header", "two-lengths", "negative-length", "chunk-size", "chunk-end", "huge-head"],
)
async def test_a_malformed_answer_is_a_protocol_error(wire: bytes) -> None:
    async with raw_server(replying(wire)) as (url, _):
        pool = Http1Pool(url, connect_timeout=5)
        with pytest.raises(httpx2.RemoteProtocolError):
            await get(pool)
        await pool.aclose()


async def test_a_chunked_answer_over_the_limit_is_refused_as_it_arrives() -> None:
    chunk = b"x" * 4096
    endless = b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n" + (b"1000\r\n" + chunk + b"\r\n") * 300
    async with raw_server(replying(endless)) as (url, _):
        pool = Http1Pool(url, connect_timeout=5)
        with pytest.raises(BodyTooLarge):
            await get(pool, max_body=64 * 1024)
        await pool.aclose()


async def test_a_silent_server_is_a_read_timeout() -> None:
    async def silent(_: Request, writer: asyncio.StreamWriter) -> bool:
        await asyncio.Event().wait()
        return True

    async with raw_server(silent) as (url, _):
        pool = Http1Pool(url, connect_timeout=5)
        with anyio.fail_after(5), pytest.raises(httpx2.ReadTimeout):
            await get(pool, read_timeout=0.2)
        await pool.aclose()


async def test_a_refused_connection_is_a_connect_error() -> None:
    async with raw_server(replying(ok())) as (url, _):
        pass  # closed: the port now refuses
    pool = Http1Pool(url, connect_timeout=5)
    with pytest.raises(httpx2.ConnectError):
        await get(pool)


async def test_a_connection_not_established_in_time_is_a_connect_timeout() -> None:
    # A TLS handshake the server never answers (it speaks plain TCP and waits): connecting never completes.
    async with raw_server(replying(ok())) as (url, script):
        pool = Http1Pool(
            url.replace("http://", "https://"), connect_timeout=30, ssl_context=ssl.create_default_context()
        )
        with anyio.fail_after(10), pytest.raises(httpx2.ConnectTimeout):
            await pool.exchange("GET", "/x", [], None, read_timeout=30, max_body=100, connect_timeout=0.2)
        await pool.aclose()
    assert script.requests == []


async def test_an_httpx2_client_s_connect_timeout_holds_through_the_lean_transport() -> None:
    async with (
        raw_server(replying(ok())) as (url, _),
        httpx2.AsyncClient(transport=Http1Transport(), timeout=httpx2.Timeout(30, connect=0.2)) as http,
    ):
        with anyio.fail_after(5), pytest.raises(httpx2.ConnectTimeout):
            await http.get(url.replace("http://", "https://"))  # a TLS handshake the server never answers


async def test_a_full_pool_makes_a_request_wait_and_gives_up_with_a_pool_timeout() -> None:
    arrived, release = asyncio.Event(), asyncio.Event()

    async def held(request: Request, writer: asyncio.StreamWriter) -> bool:
        if request.line.startswith("GET /held"):
            arrived.set()
            await release.wait()
        writer.write(ok(request.line.split()[1].encode()))
        await writer.drain()
        return True

    answers: list[bytes] = []
    async with raw_server(held) as (url, script):
        pool = Http1Pool(url, connect_timeout=5, max_connections=1)
        async with anyio.create_task_group() as tg:
            tg.start_soon(_append, answers, get(pool, "/held"))
            with anyio.fail_after(5):
                await arrived.wait()
            with pytest.raises(httpx2.PoolTimeout):
                await get(pool, "/second", read_timeout=0.2)
            tg.start_soon(_append, answers, get(pool, "/third"))
            await anyio.lowlevel.checkpoint()
            assert len(pool._waiting) == 1  # pyright: ignore[reportPrivateUsage]
            release.set()
        await pool.aclose()
    assert sorted(answers) == [b"/held", b"/third"]
    assert script.connections == 1


async def test_a_connection_handed_to_a_request_cancelled_that_instant_goes_back_to_the_pool() -> None:
    # asyncio's own cancellation (asyncio.wait_for, a framework's TaskGroup) can land between the hand-over and the
    # moment the request runs again; anyio's waits for the next await, which the in-flight test above covers.
    async with raw_server(replying(ok())) as (url, script):
        pool = Http1Pool(url, connect_timeout=5, max_connections=1)
        held = await pool._acquire(5, 5)  # pyright: ignore[reportPrivateUsage]
        waiting = asyncio.ensure_future(get(pool, "/waiting"))
        await anyio.lowlevel.checkpoint()
        assert len(pool._waiting) == 1  # pyright: ignore[reportPrivateUsage]
        pool._release(held, reusable=True)  # pyright: ignore[reportPrivateUsage]  # handed over...
        waiting.cancel()  # ...and the request that got it cancelled before it could run
        with pytest.raises(asyncio.CancelledError):
            await waiting
        assert (len(pool._idle), pool._open) == (1, 1)  # pyright: ignore[reportPrivateUsage]
        assert await get(pool) == b'{"ok":true}'
        await pool.aclose()
    assert (script.connections, len(script.requests)) == (1, 1)


async def test_after_a_burst_connections_are_kept_for_reuse_then_closed_once_idle_past_the_expiry() -> None:
    arrived, release = asyncio.Event(), asyncio.Event()

    async def burst(request: Request, writer: asyncio.StreamWriter) -> bool:
        if request.line.startswith("GET /burst"):
            if sum(r.line.startswith("GET /burst") for r in script.requests) == 30:
                arrived.set()
            await release.wait()
        writer.write(ok())
        await writer.drain()
        return True

    async with raw_server(burst) as (url, script):
        pool = Http1Pool(url, connect_timeout=5, keepalive_expiry=0.5)
        answers: list[bytes] = []
        async with anyio.create_task_group() as tg:
            for _ in range(30):
                tg.start_soon(_append, answers, get(pool, "/burst"))
            with anyio.fail_after(5):
                await arrived.wait()
            release.set()
        assert len(answers) == 30
        assert (len(pool._idle), pool._open) == (30, 30)  # pyright: ignore[reportPrivateUsage]
        async with anyio.create_task_group() as tg:  # a second burst reuses them all
            for _ in range(30):
                tg.start_soon(_append, answers, get(pool, "/again"))
        assert script.connections == 30
        idle = list(pool._idle)  # pyright: ignore[reportPrivateUsage]
        with anyio.fail_after(5):
            while pool._open:  # pyright: ignore[reportPrivateUsage]  # the expiry timer closes them, unasked
                await anyio.lowlevel.checkpoint()
        assert all(connection.closed for connection in idle)
        await pool.aclose()


async def _append(answers: list[bytes], reading: Awaitable[bytes]) -> None:
    answers.append(await reading)


async def test_a_cancelled_request_never_hands_its_late_answer_to_the_next_one() -> None:
    late = asyncio.Event()

    async def slow_first(request: Request, writer: asyncio.StreamWriter) -> bool:
        if request.line.startswith("GET /first"):
            await late.wait()
        writer.write(ok(request.line.split()[1].encode()))
        await writer.drain()
        return True

    async with raw_server(slow_first) as (url, script):
        pool = Http1Pool(url, connect_timeout=5)
        with anyio.move_on_after(0.2):
            await get(pool, "/first")
        late.set()  # the first answer now arrives, on a connection that must have been dropped
        assert await get(pool, "/second") == b"/second"
        await pool.aclose()
    assert script.connections == 2


async def test_header_values_with_line_breaks_or_outside_ascii_are_never_sent() -> None:
    async with raw_server(replying(ok())) as (url, script):
        pool = Http1Pool(url, connect_timeout=5)
        with pytest.raises(httpx2.LocalProtocolError):
            await pool.exchange("GET", "/x", [("x-a", "v\r\nx-injected: 1")], None, read_timeout=5, max_body=100)
        with pytest.raises(UnicodeEncodeError):
            await pool.exchange("GET", "/x", [("x-a", "caf\u00e9")], None, read_timeout=5, max_body=100)
        await pool.aclose()
    assert script.requests == []


async def test_tls_is_verified_against_the_trusted_authorities() -> None:
    authority = trustme.CA()
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("127.0.0.1").configure_cert(server_context)  # pyright: ignore[reportUnknownMemberType]
    client_context = ssl.create_default_context()
    authority.configure_trust(client_context)  # pyright: ignore[reportUnknownMemberType]
    async with raw_server(replying(ok(b"secure")), tls=server_context) as (url, script):
        trusted = Http1Pool(url, connect_timeout=5, ssl_context=client_context)
        assert await get(trusted) == b"secure"
        assert await get(trusted) == b"secure"
        await trusted.aclose()
        default = Http1Pool(url, connect_timeout=5)  # httpx2's own trust store: this authority is not in it
        with pytest.raises(httpx2.ConnectError):
            await get(default)
        await default.aclose()
    # One connection for the two trusted requests; the untrusted one failed its handshake, so no request reached it.
    assert (script.connections, len(script.requests)) == (1, 2)


# --- through MembraneClient: the same requests as httpx2, the same errors -----------------------------------------


async def test_the_lean_path_sends_what_httpx2_sends() -> None:
    async with raw_server(replying(ok(b'{"items":[]}'))) as (url, script):
        lean = membrane(url + "/base")
        via_httpx2 = MembraneClient(
            url + "/base", StaticToken("tok-http1-test", origin="test"), transport=httpx2.AsyncHTTPTransport()
        )
        for client in (lean, via_httpx2):
            await client.search_actions(connection_id="c/1", intent="send a push & more", limit=3)
            await client.proxy(
                "c1", "post", "/1/upload?cursor=a%2Bb", headers={"Accept": "application/json"}, content=b"{}"
            )
            await client.proxy("c1", "POST", "/1/empty")  # no body: content-length 0, as httpx2 sends it
            await client.proxy("c1", "GET", "/1/caf\u00e9 au lait")  # not a request-line token: percent-encoded
            await client.aclose()
    first, second = script.requests[:4], script.requests[4:]
    for ours, theirs in zip(first, second, strict=True):
        assert ours.line == theirs.line
        assert ours.body == theirs.body
        assert {k: v for k, v in ours.headers.items() if k != "connection"} == {
            k: v for k, v in theirs.headers.items() if k != "connection"
        }
    assert first[0].line == "GET /base/actions?connectionId=c%2F1&intent=send+a+push+%26+more&limit=3 HTTP/1.1"
    assert first[3].line == "GET /base/connections/c1/proxy/1/caf%C3%A9%20au%20lait HTTP/1.1"
    assert first[2].headers["content-length"] == "0"


async def test_through_the_client_a_lost_write_answer_is_not_resent_and_a_lost_read_is() -> None:
    async with raw_server(cut_short_on_first(2, then=ok(b'{"id":"a1","name":"A","key":"a"}'))) as (url, script):
        client = membrane(url)
        with pytest.raises(ResponseLostError):
            await client.run_action("a1", {}, connection_id="c1")
        assert len(script.requests) == 1  # a run that may have happened is not sent again
        action = await client.get_action("a1")  # a read: resent once its answer is lost
        assert action.id == "a1"
        await client.aclose()
    assert len(script.requests) == 3


async def test_through_the_client_oversized_refused_and_undecodable_answers_map_to_the_error_tree() -> None:
    bomb = gzip.compress(b"0" * (2 << 20))
    answers = (ok(bomb, "content-encoding: gzip"), ok(b"{", "content-encoding: gzip"))
    async with raw_server(replying(*answers)) as (url, _):
        client = MembraneClient(
            url, StaticToken("tok-http1-test", origin="test"), transport=DeferredTransport(), max_response_bytes=1 << 20
        )
        with pytest.raises(ResponseTooLargeError):
            await client.get_action("a1")
        with pytest.raises(UnexpectedResponseError, match="corrupt content-encoding"):
            await client.get_action("a1")
        with pytest.raises(RequestNotSentError):
            await client.proxy("c1", "GET", "/1/x", headers={"x-a": "caf\u00e9"})
        await client.aclose()
    refused = membrane(url)
    with pytest.raises(ConnectError, match="nothing was sent"):
        await refused.get_action("a1")
    await refused.aclose()


async def test_httpx2_clients_sending_through_the_lean_transport_get_the_answer_decoded_once() -> None:
    body = b'{"token":"x"}'
    async with (
        raw_server(replying(ok(gzip.compress(body), "content-encoding: gzip"))) as (url, script),
        httpx2.AsyncClient(transport=Http1Transport()) as http,
    ):
        for _ in range(2):
            response = await http.post(url + "/oauth/token", data={"grant_type": "refresh_token"})
            assert (response.status_code, response.content) == (200, body)
    assert script.connections == 1
    assert script.requests[0].body == b"grant_type=refresh_token"
