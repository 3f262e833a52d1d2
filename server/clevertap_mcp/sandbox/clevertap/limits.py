"""CleverTap's request limits (clevertap-api.md §4, §14 #16–#17): in-flight caps per account and path, and the
3-per-second cap of /1/targets/create.json.

There are no time-window quotas besides create's: CleverTap counts requests *in flight*. A request over a cap is
refused with TooManyRequests before anything is processed. The emulator's own work never awaits, so requests only
overlap while something holds them in flight on purpose (settings.handler_delay, or a test's in-flight hook).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field

from clevertap_mcp.sandbox.clevertap.errors import TooManyRequests

__all__ = ["UPLOAD_PATH", "InFlight", "RateWindow", "Slot"]

# Event, profile and token uploads share this one path, so they share one slot (§4: unconfirmed, default shared).
UPLOAD_PATH = "/1/upload"


@dataclass
class Slot:
    """One admitted request; `release` frees its place (idempotent, so a finally block may always call it)."""

    _owner: InFlight
    _key: tuple[str, str]
    _released: bool = field(default=False)

    def release(self) -> None:
        if not self._released:
            self._released = True
            self._owner.leave(self._key)


class InFlight:
    """Requests in flight per (account, path), capped at `upload_cap` on /1/upload and `cap` elsewhere."""

    def __init__(self, *, upload_cap: int, cap: int) -> None:
        self._upload_cap = upload_cap
        self._cap = cap
        self._counts: dict[tuple[str, str], int] = {}

    def enter(self, account_id: str, path: str) -> Slot:
        """A place in the slot of `path`: a path, or an upload slot of one record type (`/1/upload#event`)."""
        key = (account_id, path)
        limit = self._upload_cap if path.split("#")[0] == UPLOAD_PATH else self._cap
        held = self._counts.get(key, 0)
        if held >= limit:
            raise TooManyRequests
        self._counts[key] = held + 1
        return Slot(self, key)

    def enter_all(self, account_id: str, paths: Sequence[str]) -> list[Slot]:
        """A place in each slot, or none at all: TooManyRequests leaves no slot taken."""
        slots: list[Slot] = []
        try:
            for path in paths:
                slots.append(self.enter(account_id, path))
        except TooManyRequests:
            for slot in slots:
                slot.release()
            raise
        return slots

    def leave(self, key: tuple[str, str]) -> None:
        left = self._counts[key] - 1
        if left:
            self._counts[key] = left
        else:
            del self._counts[key]

    def held(self, account_id: str, path: str) -> int:
        return self._counts.get((account_id, path), 0)


class RateWindow:
    """At most `per_second` admitted calls per account in any one-second window of the caller's rate clock."""

    def __init__(self, per_second: int) -> None:
        self._per_second = per_second
        self._admitted: dict[str, deque[float]] = {}

    def admit(self, account_id: str, now: float) -> None:
        times = self._admitted.setdefault(account_id, deque())
        while times and times[0] <= now - 1:
            times.popleft()
        if len(times) >= self._per_second:
            raise TooManyRequests
        times.append(now)
