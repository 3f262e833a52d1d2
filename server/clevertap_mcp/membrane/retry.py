"""When the Membrane client sends a request again, and how long it waits first. The only place that decides.

Rules:
- A request that never left (connect refused, connect timeout) is always safe to resend.
- A plain 429 (`bad_request`, no `actionRunId`) means Membrane refused the request without acting on it, so every
  request may be resent after it, honouring `Retry-After` (seconds or HTTP date).
- Honouring `Retry-After` means never resending before it: an answer asking for more than
  `RETRY_AFTER_CAP_SECONDS` is not resent at all (a tool call must not hang for an hour), and the caller tells the
  agent when to try again.
  A 429 that names a run, or any other type, may come after the work started: writes are not resent after it.
- 408/500/502/503/504 and a lost response are resent only for idempotent requests (reads). A run or a
  non-GET proxy call that may have reached Membrane is never resent: a timeout must not send a campaign twice.
- Backoff is exponential with full jitter; the sleep is injectable so tests never wait.
"""

from __future__ import annotations

import email.utils
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import anyio

MAX_ATTEMPTS = 3
INITIAL_BACKOFF_SECONDS = 0.5
MAX_BACKOFF_SECONDS = 8.0
# The longest `Retry-After` the client waits out inside one tool call; a longer one ends the call instead.
RETRY_AFTER_CAP_SECONDS = 30.0
RETRYABLE_STATUSES = frozenset({408, 429, 500, 502, 503, 504})


def parse_retry_after(value: str | None, *, now: Callable[[], float] = time.time) -> float | None:
    """Seconds to wait from a `Retry-After` header (delta-seconds or HTTP-date), or None when absent or invalid."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        seconds = when.timestamp() - now()
    if seconds != seconds:  # NaN
        return None
    return max(0.0, seconds)


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = MAX_ATTEMPTS
    initial_backoff: float = INITIAL_BACKOFF_SECONDS
    max_backoff: float = MAX_BACKOFF_SECONDS
    retry_after_cap: float = RETRY_AFTER_CAP_SECONDS
    sleep: Callable[[float], Awaitable[None]] = anyio.sleep
    rng: random.Random = field(default_factory=random.Random)

    def backoff(self, attempt: int, retry_after: float | None = None) -> float:
        """Delay before attempt `attempt + 1` (attempts count from 1); `retry_after` is within the cap here."""
        if retry_after is not None:
            return retry_after
        ceiling = min(self.max_backoff, self.initial_backoff * (2 ** (attempt - 1)))
        return self.rng.uniform(0, ceiling)

    def should_retry_status(
        self, status: int, *, attempt: int, safe_to_resend: bool, retry_after: float | None = None
    ) -> bool:
        """`safe_to_resend`: a read, or a write the server refused before starting it (a plain 429)."""
        if retry_after is not None and retry_after > self.retry_after_cap:
            return False  # resending sooner would ignore the server; waiting longer would hang the tool call
        return attempt < self.max_attempts and safe_to_resend and status in RETRYABLE_STATUSES

    def should_retry_transport(self, *, reached: bool, attempt: int, idempotent: bool) -> bool:
        if attempt >= self.max_attempts:
            return False
        return idempotent or not reached


NO_RETRY = RetryPolicy(max_attempts=1)
