"""What graders share: the reply's final answer, the world the answer comes from, and the diff's shape."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from clevertap_mcp.sandbox.clevertap.model import Account, Event
from clevertap_mcp.sandbox.settings import DEMO_CLEVERTAP_ACCOUNT_ID, SandboxSettings

__all__ = [
    "EVAL_SETTINGS",
    "NOW",
    "Grade",
    "account_diff",
    "doers",
    "events_in",
    "final_answer",
    "same_answer",
]

NOW = 1767607200  # Monday 2026-01-05 10:00 UTC: every task's dates are around it
# The world every task is written for: the demo seed on a pinned clock, auto-connected, no confirmations asked.
EVAL_SETTINGS = SandboxSettings(auto_connect=True, clock=NOW, seed=42)
_ANSWER = re.compile(r"ANSWER:\s*(.+?)\s*$", re.IGNORECASE | re.DOTALL)

Answer = int | float | str | frozenset[str]


@dataclass(frozen=True)
class Grade:
    passed: bool
    reason: str


def final_answer(reply: str) -> str | None:
    """What follows the last `ANSWER:` in the reply (the convention every question task asks for)."""
    at = reply.upper().rfind("ANSWER:")
    if at < 0:
        return None
    found = _ANSWER.match(reply[at:])
    return found.group(1).strip().strip("`*.\"'") if found else None


def same_answer(given: str, expected: Answer) -> bool:
    """Numbers compare numerically (to the cent), strings case-blind, sets as comma-separated members in any order."""
    if isinstance(expected, frozenset):
        members = frozenset(part.strip().strip("`\"'") for part in re.split(r"[,\n]", given) if part.strip())
        return members == expected
    if isinstance(expected, int | float):
        try:
            return abs(float(given.replace(",", "")) - float(expected)) < 0.005
        except ValueError:
            return False
    return given.casefold() == expected.casefold()


def account_diff(diff: dict[str, Any]) -> dict[str, Any]:
    return diff["accounts"][DEMO_CLEVERTAP_ACCOUNT_ID]


def _day(yyyymmdd: int) -> int:
    day = date(yyyymmdd // 10000, yyyymmdd // 100 % 100, yyyymmdd % 100)
    return int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp())


def events_in(account: Account, name: str, start: int, end: int) -> list[Event]:
    """The account's `name` events from day `start` to day `end` (YYYYMMDD, inclusive, UTC)."""
    low, high = _day(start), _day(end) + 86400
    return [event for event in account.events if event.name == name and low <= event.ts < high]


def doers(events: Iterable[Event]) -> set[str]:
    return {event.object_id for event in events}
