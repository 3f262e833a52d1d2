"""The sandbox served for real by uvicorn on loopback: in a background thread, or in the caller's event loop.

`SandboxServer` is for the stdio MCP server and for end-to-end tests: `start()` runs uvicorn in a daemon thread with
its own event loop and returns once the server listens; `stop()` shuts it down. `serve_forever` runs the
`clevertap-mcp sandbox` command in the caller's loop until it is interrupted.

The socket is bound before uvicorn starts, so port 0 works and the real port is known before the app is built (the
app needs its own root URL to advertise connect links and to reach its CleverTap). Readiness is an event set by
uvicorn's startup, never a polling loop. uvicorn logs through the `uvicorn.*` loggers only (no logging config of its
own, so its records reach whatever handlers the host configured: stderr for the MCP server), and access logs are off
by default: in the stdio server stdout is the MCP wire.

Stopping (`stop()`, a signal, or cancelling `serve_forever`) first releases parked long-polls, on the server's own
event loop at the start of uvicorn's shutdown: each answers 200 with the current object (membrane-api.md §10 #4)
instead of being cancelled at the end of the graceful-shutdown window with a plain-text 500 and a logged traceback.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
import threading
from collections.abc import Callable
from types import TracebackType
from typing import Any, Self

import anyio
import uvicorn
from starlette.applications import Starlette

from clevertap_mcp.sandbox.app import build_sandbox_app, parts_of
from clevertap_mcp.sandbox.settings import SandboxSettings

__all__ = ["SandboxServer", "serve_forever"]

_UVICORN_ERRORS = logging.getLogger("uvicorn.error")


class _QuietCancellations(logging.Filter):
    """While requests are abandoned on purpose, their cancellation is no error: uvicorn would log each one as
    "Exception in ASGI application" with a traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, asyncio.CancelledError):
            return False
        return not record.getMessage().rstrip().endswith("CancelledError")


START_TIMEOUT_SECONDS = 15.0
STOP_TIMEOUT_SECONDS = 10.0
# Parked long-polls hold a request for up to 60 s; shutting down must not wait for them.
GRACEFUL_SHUTDOWN_SECONDS = 2


class _Server(uvicorn.Server):
    """uvicorn's server with two hooks, both run on its own event loop.

    `on_started` once a startup succeeded; `on_stopping` as shutdown begins, before open connections are asked to close.
    """

    def __init__(self, config: uvicorn.Config, on_started: Callable[[], None], on_stopping: Callable[[], None]) -> None:
        super().__init__(config)
        self._on_started = on_started
        self._on_stopping = on_stopping

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started:
            self._on_started()

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        self._on_stopping()
        await super().shutdown(sockets)


class _IdleExit:
    """ASGI wrapper that calls `stop` once `seconds` pass with no request in flight or started."""

    def __init__(self, app: Any, seconds: float, stop: Callable[[], None]) -> None:
        self._app = app
        self._seconds = seconds
        self._stop = stop
        self._active = 0
        self._last = 0.0
        self._watching = False
        self._watcher: asyncio.Task[None] | None = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            if not self._watching:
                self._watching = True
                self._last = anyio.current_time()
                self._watcher = asyncio.get_running_loop().create_task(self._watch())
            return await self._app(scope, receive, send)
        self._active += 1
        try:
            await self._app(scope, receive, send)
        finally:
            self._active -= 1
            self._last = anyio.current_time()

    async def _watch(self) -> None:
        while True:
            await anyio.sleep(max(self._seconds - (anyio.current_time() - self._last), 0.05))
            if self._active == 0 and anyio.current_time() - self._last >= self._seconds:
                self._stop()
                return


def _bind(host: str, port: int) -> tuple[socket.socket, str]:
    """A socket bound to host:port, and the base URL that reaches it."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto given explicitly: asyncio sets TCP_NODELAY only on sockets whose proto is IPPROTO_TCP, and without it
    # every answer after a connection's first waits ~40 ms for the client's delayed ACK (headers, then body).
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    bound_port = sock.getsockname()[1]
    url_host = host
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        pass  # a host name such as localhost: usable as it is
    else:
        if address.is_unspecified:  # 0.0.0.0 or :: accept loopback calls; the app reaches itself there
            address = ipaddress.ip_address("::1" if address.version == 6 else "127.0.0.1")
        url_host = f"[{address}]" if address.version == 6 else str(address)
    return sock, f"http://{url_host}:{bound_port}"


def _config(app: Starlette, *, access_log: bool) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        loop="asyncio",
        lifespan="on",
        log_config=None,
        access_log=access_log,
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
    )


class SandboxServer:
    """The sandbox on a real loopback port, served from a daemon thread. Use `with SandboxServer(...) as sandbox:`."""

    def __init__(
        self, settings: SandboxSettings, host: str = "127.0.0.1", port: int = 0, *, access_log: bool = False
    ) -> None:
        self.settings = settings
        self.host = host
        self.port = port
        self.access_log = access_log
        self.app: Starlette | None = None
        self._base_url: str | None = None
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._settled = threading.Event()
        self._failure: BaseException | None = None

    @property
    def base_url(self) -> str:
        """`http://127.0.0.1:PORT` once started."""
        if self._base_url is None:
            raise RuntimeError("The sandbox server is not started")
        return self._base_url

    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError("The sandbox server is already started")
        sock, base_url = _bind(self.host, self.port)
        try:
            self.app = build_sandbox_app(self.settings, root_url=base_url)
        except BaseException:
            sock.close()  # a world that cannot be built must not keep the port
            raise
        self._settled.clear()
        self._failure = None
        self._server = _Server(
            _config(self.app, access_log=self.access_log),
            on_started=self._settled.set,
            on_stopping=parts_of(self.app).state.release_waiters,
        )
        self._thread = threading.Thread(target=self._run, args=(sock,), name="clevertap-sandbox", daemon=True)
        self._thread.start()
        started = self._settled.wait(START_TIMEOUT_SECONDS) and self._server.started
        if not started:
            failure = self._failure
            self.stop()
            raise RuntimeError(f"The sandbox server did not start on {base_url}") from failure
        self._base_url = base_url

    def _run(self, sock: socket.socket) -> None:
        assert self._server is not None
        try:
            self._server.run(sockets=[sock])
        except BaseException as exc:  # uvicorn ends a failed startup with SystemExit; report it to start()
            self._failure = exc
        finally:
            sock.close()
            self._settled.set()

    def stop(self, *, abandon_requests: bool = False) -> None:
        """Stop serving; `abandon_requests` drops requests still in flight at once instead of letting them finish
        (the stdio server ending on a signal must be gone within a second)."""
        server, thread = self._server, self._thread
        if server is not None and thread is not None:
            server.force_exit = abandon_requests
            server.should_exit = True
            quiet = _QuietCancellations() if abandon_requests else None
            if quiet is not None:
                _UVICORN_ERRORS.addFilter(quiet)
            try:
                thread.join(STOP_TIMEOUT_SECONDS)
                if thread.is_alive():
                    server.force_exit = True
                    thread.join(STOP_TIMEOUT_SECONDS)
            finally:
                if quiet is not None:
                    _UVICORN_ERRORS.removeFilter(quiet)
        self._server = None
        self._thread = None
        self._base_url = None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


async def serve_forever(
    settings: SandboxSettings,
    host: str,
    port: int,
    on_ready: Callable[[str], None],
    *,
    access_log: bool = False,
    idle_exit: float | None = None,
) -> None:
    """Serve the sandbox in the running (asyncio) loop; `on_ready(base_url)` once it listens.

    Runs until interrupted (uvicorn handles SIGINT/SIGTERM when this is the main thread), cancelled, or (with
    `idle_exit`) that many seconds pass without a request; a cancelled server still shuts down cleanly, closing its
    socket and running the app's lifespan exit.
    """
    sock, base_url = _bind(host, port)
    app = build_sandbox_app(settings, root_url=base_url)
    served: Any = app
    server: _Server
    if idle_exit is not None:
        served = _IdleExit(app, idle_exit, lambda: setattr(server, "should_exit", True))
    server = _Server(
        _config(served, access_log=access_log),
        on_started=lambda: on_ready(base_url),
        on_stopping=parts_of(app).state.release_waiters,
    )
    try:
        await server.serve(sockets=[sock])
    except anyio.get_cancelled_exc_class():
        if server.started:
            with anyio.CancelScope(shield=True):
                await server.shutdown(sockets=[sock])
        raise
    except SystemExit as exc:  # uvicorn's way of reporting a failed startup; callers get an ordinary error
        raise RuntimeError(f"The sandbox server could not start on {base_url}") from exc
    finally:
        sock.close()
