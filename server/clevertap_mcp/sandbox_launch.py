"""`--sandbox` without the start-up cost: the sandbox starts in a thread, after the MCP handshake is answered.

Starting the sandbox (importing Starlette, uvicorn and jsonschema, seeding the demo world, starting uvicorn) costs
about a quarter of the SDK's own start-up, and nothing needs it before the first tool call. Started eagerly in the
lifespan it delays `initialize` by that much; started in a thread at once, it competes with the handshake for the
GIL (measured: a 6-10% slower cold start). So the lifespan only reserves a loopback port (the URL the Membrane client
will use) and returns; the sandbox starts when a request first needs it or `PREFETCH_AFTER_SECONDS` later, whichever
comes first, and every Membrane request waits for it at the transport (`DeferredTransport(ready=...wait_started)`).
A call that arrives early is delayed, never failed; a sandbox that cannot start fails each call at once with the
reason, and one that does not start within `START_TIMEOUT_SECONDS` of being needed fails calls from then on.

The port is held by a bound (not listening) socket until the starter thread, its imports done, closes it and the
sandbox binds the same port at once: the only gap is those few microseconds, not the whole start-up.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from typing import TYPE_CHECKING

import anyio
import anyio.to_thread

from clevertap_mcp.membrane.errors import ConnectError

if TYPE_CHECKING:
    from clevertap_mcp.sandbox.server import SandboxServer
    from clevertap_mcp.sandbox.settings import SandboxSettings

logger = logging.getLogger(__name__)

HOST = "127.0.0.1"
START_TIMEOUT_SECONDS = 30.0
# The sandbox starts when a request first needs it, or this long after the lifespan began, whichever comes first:
# long enough that a host's handshake (milliseconds on a pipe) is answered without competing for the GIL, short
# enough that the sandbox is usually up before a model has sent its first tool call.
PREFETCH_AFTER_SECONDS = 0.25


class SandboxUnavailableError(ConnectError):
    """The sandbox is not there to answer: raised by the transport, before any request leaves, and not resent by the
    Membrane client (it resends httpx2's connect errors only), since a sandbox that failed stays failed."""


class SandboxLauncher:
    def __init__(self, settings: SandboxSettings) -> None:
        self._settings = settings
        self._reserved = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        self._reserved.bind((HOST, 0))
        self.port: int = self._reserved.getsockname()[1]
        self.base_url = f"http://{HOST}:{self.port}"
        self._server: SandboxServer | None = None
        self._failure: BaseException | None = None
        self._settled = threading.Event()
        self._needed = threading.Event()
        self._stopping = False
        self._give_up_at: float | None = None
        self._waiting = anyio.Lock()
        self._thread = threading.Thread(target=self._start, name="clevertap-sandbox-start", daemon=True)
        self._thread.start()

    def _start(self) -> None:
        self._needed.wait(PREFETCH_AFTER_SECONDS)
        try:
            if self._stopping:
                return
            from clevertap_mcp.sandbox.server import SandboxServer

            server = SandboxServer(self._settings, host=HOST, port=self.port)
            self._reserved.close()
            server.start()
            self._server = server
            logger.info("Sandbox Membrane API at %s", self.base_url)
        except BaseException as exc:  # reported to every call that needs the sandbox
            self._failure = exc
            logger.error("The built-in sandbox could not start on %s: %s", self.base_url, _reason(exc))
        finally:
            self._reserved.close()
            self._settled.set()

    async def wait_started(self) -> None:
        """Return once the sandbox listens; raise `SandboxUnavailableError` if it failed, was stopped, or did not
        start within `START_TIMEOUT_SECONDS` of the first request that needed it."""
        if not self._settled.is_set():
            self._needed.set()
            if self._give_up_at is None:
                # One deadline for the whole start: a call's retries, and later calls, never wait it out again.
                self._give_up_at = time.monotonic() + START_TIMEOUT_SECONDS
            # One worker thread waits for every waiting request: a thread each would exhaust anyio's pool, which
            # the stdio transport needs to read stdin and write stdout, and the server would stall until the start.
            async with self._waiting:
                remaining = self._give_up_at - time.monotonic()
                if not self._settled.is_set() and remaining > 0:
                    await anyio.to_thread.run_sync(self._settled.wait, remaining, abandon_on_cancel=True)
        if self._server is None:
            raise SandboxUnavailableError(self._why_unavailable())

    def _why_unavailable(self) -> str:
        if self._failure is not None:
            return (
                f"The built-in sandbox could not start ({_reason(self._failure)}); restart the MCP server (its stderr "
                "says why)"
            )
        if self._stopping:
            return "The built-in sandbox was stopped (the MCP server is shutting down)"
        return (
            f"The built-in sandbox did not finish starting within {START_TIMEOUT_SECONDS:g} s (a slow or overloaded "
            "machine); restart the MCP server if it keeps failing"
        )

    def stop(self) -> None:
        self._stopping = True
        self._needed.set()
        self._settled.wait(START_TIMEOUT_SECONDS)
        if self._server is not None:
            # The MCP server is ending: whatever the sandbox still holds, its client has already given up on.
            self._server.stop(abandon_requests=True)
            self._server = None


def _reason(exc: BaseException) -> str:
    """The exception and what caused it (SandboxServer wraps uvicorn's failures): what the agent and the log say."""
    parts = [f"{type(exc).__name__}: {exc}"]
    cause = exc.__cause__
    if cause is not None and str(cause):
        parts.append(f"{type(cause).__name__}: {cause}")
    return "; ".join(parts)
