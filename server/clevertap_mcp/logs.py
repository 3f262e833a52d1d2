"""Logging for every command: stderr only (on stdio, stdout is the MCP wire), every record redacted, and no
condition repeated faster than once a minute (a crowd must not turn the log into the attack: "Too many open files"
was once written 112,639 times in seconds)."""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections.abc import Callable

from clevertap_mcp.redaction import RedactingFilter

LEVELS = {0: logging.WARNING, 1: logging.INFO, 2: logging.DEBUG}
# Third-party loggers that write whole request or response bodies (personal data) at DEBUG: never below WARNING.
BODY_LOGGERS = ("sse_starlette", "mcp.server.streamable_http")
RATE_LIMIT_SECONDS = 60.0
MAX_TRACKED_CONDITIONS = 1000


class RateLimitFilter(logging.Filter):
    """Lets the first record of each condition (logger, level, message template) through, then at most one per
    `interval`, which says how many like it were left out. Records below WARNING pass untouched."""

    def __init__(self, interval: float = RATE_LIMIT_SECONDS, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self._interval = interval
        self._clock = clock
        self._lock = threading.Lock()
        self._seen: dict[tuple[str, int, str], tuple[float, int]] = {}  # condition -> (last let through, left out)

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING:
            return True
        key = (record.name, record.levelno, str(record.msg))
        now = self._clock()
        with self._lock:
            last, left_out = self._seen.get(key, (None, 0))
            if last is not None and now - last < self._interval:
                self._seen[key] = (last, left_out + 1)
                return False
            if len(self._seen) >= MAX_TRACKED_CONDITIONS:
                self._seen.clear()
            self._seen[key] = (now, 0)
        if left_out:
            record.msg = f"{record.getMessage()} (and {left_out} more like it in the last {self._interval:.0f} s)"
            record.args = None
        return True


def configure(verbosity: int) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RateLimitFilter())
    handler.addFilter(RedactingFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(LEVELS.get(verbosity, logging.DEBUG))
    # httpx2 logs every request line at INFO, query string included; our client logs its own, without it.
    logging.getLogger("httpx2").setLevel(logging.WARNING)
    logging.getLogger("httpcore2").setLevel(logging.WARNING)
    for name in BODY_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
