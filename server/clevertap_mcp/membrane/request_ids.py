"""Membrane's request id (`x-request-id`) of the latest answer within one unit of work, such as one tool call.

The caller opens `collecting()` around the work; the client calls `record` for each answer that carries an id. The
context variable holds a mutable holder rather than the id itself: a value set inside the work would be visible to
the caller only when set in the same task, whereas a holder set by the caller is shared by every coroutine and child
task that runs in (a copy of) its context, so the caller sees each id whichever of them the client ran in.
"""

from __future__ import annotations

from collections.abc import Generator
from contextlib import contextmanager
from contextvars import ContextVar

__all__ = ["RequestIds", "collecting", "record"]


class RequestIds:
    """The latest request id seen; the latest is the one that decided the outcome (the answer or the failure)."""

    def __init__(self) -> None:
        self.last: str | None = None


_current: ContextVar[RequestIds | None] = ContextVar("membrane_request_ids", default=None)


@contextmanager
def collecting() -> Generator[RequestIds]:
    holder = RequestIds()
    token = _current.set(holder)
    try:
        yield holder
    finally:
        _current.reset(token)


def record(request_id: str) -> None:
    """Keep `request_id` for whoever is collecting; outside `collecting()` it goes nowhere."""
    holder = _current.get()
    if holder is not None:
        holder.last = request_id
