"""One log line per tool call: tool, outcome, duration, and Membrane's request id when its answer carried one.

The request id is that of the last Membrane answer the call got (a call may make several requests: listing
connections, then running; polling a connection), which is the answer that decided the outcome; a failure's own id
wins when its error carries one. At INFO (`-v`) the line never holds argument values: intents, profile queries and
proxied bodies may be personal data. At DEBUG (`-vv`) a second line names the arguments given (other than defaults),
still without their values.
"""

from __future__ import annotations

import functools
import inspect
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar, cast

import anyio
from mcp.server.mcpserver import Context
from mcp_types import InputRequiredResult

from clevertap_mcp.membrane import request_ids
from clevertap_mcp.membrane.errors import APIError

__all__ = ["logged"]

logger = logging.getLogger("clevertap_mcp.calls")

# Typed loosely on purpose: the server registers its tools in a loop, where `fn` is a union of their signatures.
ToolFn = TypeVar("ToolFn", bound=Callable[..., Awaitable[Any]])

# How far down an exception's cause chain to look for Membrane's error (tools re-raise it as a ToolError).
_MAX_CHAIN = 5
# A request id is Membrane's header, not ours: kept to one short token so it cannot split or bloat the line.
_MAX_REQUEST_ID_CHARS = 100


def _clean(request_id: str) -> str:
    return "".join(c for c in request_id if c.isprintable() and not c.isspace())[:_MAX_REQUEST_ID_CHARS]


def _request_id(exc: BaseException) -> str | None:
    current: BaseException | None = exc
    for _ in range(_MAX_CHAIN):
        if current is None:
            return None
        if isinstance(current, APIError) and current.request_id:
            return current.request_id
        current = current.__cause__ or current.__context__
    return None


def _outcome(exc: BaseException) -> str:
    return "cancelled" if isinstance(exc, anyio.get_cancelled_exc_class()) else "error"


def logged(fn: ToolFn) -> ToolFn:
    """Wrap a tool function; the wrapper keeps its name, signature and annotations, so the SDK sees the same tool."""
    name = fn.__name__
    defaults = {p.name: p.default for p in inspect.signature(fn).parameters.values()}

    @functools.wraps(fn)
    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        outcome = "error"
        request_id: str | None = None
        with request_ids.collecting() as seen:
            try:
                result = await fn(*args, **kwargs)
                outcome = "input_required" if isinstance(result, InputRequiredResult) else "ok"
                return result
            except BaseException as exc:
                outcome, request_id = _outcome(exc), _request_id(exc)
                raise
            finally:
                _log(name, outcome, started, request_id or seen.last, kwargs, defaults)

    return cast(ToolFn, wrapper)


def _log(
    name: str,
    outcome: str,
    started: float,
    request_id: str | None,
    kwargs: dict[str, Any],
    defaults: dict[str, Any],
) -> None:
    duration_ms = (time.perf_counter() - started) * 1000
    request_id = _clean(request_id) if request_id else None
    suffix = f" request_id={request_id}" if request_id else ""
    logger.info("tool=%s outcome=%s duration_ms=%.0f%s", name, outcome, duration_ms, suffix)
    if logger.isEnabledFor(logging.DEBUG):
        given = sorted(
            k for k, v in kwargs.items() if not isinstance(v, Context) and v != defaults.get(k, inspect.Parameter.empty)
        )
        logger.debug("tool=%s argument names: %s", name, ", ".join(given) or "(none)")
