"""The stdio server's run loop: SIGINT or SIGTERM, idle or mid-call, ends it at once and cleanly.

The SDK reads stdin in a worker thread that cancellation cannot interrupt, so a signal (Ctrl-C; Claude Code sends
SIGINT, then SIGTERM 0.1 s later) used to wait until the host closed stdin. Here stdin is read by a daemon thread
that never holds up cancellation or the interpreter's exit, and a signal cancels the whole server: in-flight calls
(and their Membrane requests) are cancelled, the lifespan closes the client and stops the sandbox, and the process
exits 0 with no traceback.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any, cast

import anyio
import anyio.from_thread
import anyio.lowlevel
from anyio.streams.memory import MemoryObjectSendStream
from mcp.server.stdio import stdio_server

from clevertap_mcp import heap
from clevertap_mcp.stdio_parse_errors import answering_unreadable

if TYPE_CHECKING:
    from mcp.server.mcpserver import MCPServer

logger = logging.getLogger(__name__)

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
# Lines read ahead of the server: enough to never stall a host that writes a burst of requests.
_READ_AHEAD = 64


def run_stdio(server: MCPServer[Any]) -> int:
    """Serve over stdin/stdout until stdin closes or a stop signal arrives; 0 either way.

    After a signal the process ends as soon as the lifespan has cleaned up, skipping the interpreter's teardown
    (freeing the sandbox's world object by object took most of a second on a loaded machine)."""
    heap.freeze_start_up_objects()
    if anyio.run(_serve, server):
        logging.shutdown()
        sys.stderr.flush()
        os._exit(0)
    return 0


async def _serve(server: MCPServer[Any]) -> bool:
    """True when a stop signal ended the server."""
    lines = _StdinLines(_claim_stdin())
    lowlevel = server._lowlevel_server  # pyright: ignore[reportPrivateUsage]
    signalled = anyio.Event()
    async with anyio.create_task_group() as tg:
        tg.start_soon(_cancel_on_signal, tg.cancel_scope, signalled)
        tg.start_soon(lines.pump)
        async with (
            stdio_server(stdin=cast(Any, lines)) as (read_stream, write_stream),
            answering_unreadable(read_stream, write_stream) as readable,
        ):
            await lowlevel.run(readable, write_stream, lowlevel.create_initialization_options())
        tg.cancel_scope.cancel()
    return signalled.is_set()


async def _cancel_on_signal(scope: anyio.CancelScope, signalled: anyio.Event) -> None:
    with anyio.open_signal_receiver(*STOP_SIGNALS) as signals:
        async for signum in signals:
            logger.info("%s: stopping", signal.Signals(signum).name)
            signalled.set()
            scope.cancel()
            return


def _claim_stdin() -> int:
    """A private duplicate of fd 0 for the wire, and fd 0 pointed at the null device, so children and stray reads see
    EOF rather than eat protocol bytes (as the SDK's own stdin claim does)."""
    import fcntl

    private = fcntl.fcntl(0, fcntl.F_DUPFD_CLOEXEC, 3)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    return private


class _StdinLines:
    """stdin's lines as an async iterator, read by a daemon thread: a blocked read never delays shutdown."""

    def __init__(self, fd: int) -> None:
        self._fd = fd
        self._send, self._receive = anyio.create_memory_object_stream[str](_READ_AHEAD)

    async def pump(self) -> None:
        token = anyio.lowlevel.current_token()
        done = anyio.Event()
        thread = threading.Thread(
            target=self._read, args=(self._send, token, done), name="clevertap-stdin", daemon=True
        )
        thread.start()
        await done.wait()

    def _read(self, send: MemoryObjectSendStream[str], token: anyio.lowlevel.EventLoopToken, done: anyio.Event) -> None:
        try:
            with os.fdopen(self._fd, "r", encoding="utf-8", errors="replace", closefd=False) as stream:
                for line in stream:
                    anyio.from_thread.run(send.send, line, token=token)
        except (anyio.ClosedResourceError, anyio.BrokenResourceError, RuntimeError):
            return  # the server stopped first (RuntimeError: its event loop is gone)
        except OSError as exc:
            sys.stderr.write(f"clevertap-mcp: reading stdin failed: {exc}\n")
        finally:
            try:
                anyio.from_thread.run_sync(send.close, token=token)
                anyio.from_thread.run_sync(done.set, token=token)
            except RuntimeError:
                pass

    def __aiter__(self) -> AsyncIterator[str]:
        return self._receive.__aiter__()
