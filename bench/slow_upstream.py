"""A stand-in Membrane on loopback that answers `POST /actions/{id}/run` after a delay chosen by the action id.

`slow` waits `SLOW_SECONDS`, `fast` answers at once: enough to see whether calls queue behind each other.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
from typing import Any, Self

import uvicorn
from starlette.types import Receive, Scope, Send

SLOW_SECONDS = 0.2
DELAYS = {"slow": SLOW_SECONDS, "fast": 0.0}


async def _app(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] != "http":
        return
    while (await receive()).get("more_body"):
        pass
    parts: list[str] = scope["path"].strip("/").split("/")
    delay = DELAYS.get(parts[1], 0.0) if len(parts) == 3 and parts[0] == "actions" else 0.0
    await asyncio.sleep(delay)
    body = json.dumps({"output": {"waited": delay}, "actionRunId": f"run-{parts[1] if len(parts) > 1 else ''}"})
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": body.encode()})


class SlowUpstream:
    """Served by uvicorn from a daemon thread; `base_url` once entered."""

    def __init__(self) -> None:
        # IPPROTO_TCP given so asyncio turns on TCP_NODELAY for accepted sockets (see sandbox/server.py).
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self.base_url = f"http://127.0.0.1:{self._sock.getsockname()[1]}"
        config = uvicorn.Config(_app, loop="asyncio", lifespan="off", log_config=None, access_log=False)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._run, name="slow-upstream", daemon=True)

    def _run(self) -> None:
        self._server.run(sockets=[self._sock])

    def __enter__(self) -> Self:
        self._thread.start()
        while not self._server.started:
            if not self._thread.is_alive():
                raise RuntimeError("the slow upstream did not start")
            threading.Event().wait(0.01)
        return self

    def __exit__(self, *_: Any) -> None:
        self._server.should_exit = True
        self._thread.join(10)
        self._sock.close()


if __name__ == "__main__":
    # `python -m bench.slow_upstream PORT`: in a process of its own, so that it shares no GIL with a load generator.
    import sys

    uvicorn.run(_app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning", access_log=False)
