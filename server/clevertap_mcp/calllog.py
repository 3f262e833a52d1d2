"""One log line per tool call: tool, outcome, duration, and Membrane's request id when an error carried one.

At INFO (`-v`) the line never holds argument values: intents, profile queries and proxied bodies may be personal
data. At DEBUG (`-vv`) a second line names the arguments given (other than defaults), still without their values.
Successful Membrane answers carry no request id the client keeps, so only failed calls can show one.
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

from clevertap_mcp.membrane.errors import APIError

__all__ = ["logged"]

logger = logging.getLogger("clevertap_mcp.calls")

# Typed loosely on purpose: the server registers its tools in a loop, where `fn` is a union of their signatures.
ToolFn = TypeVar("ToolFn", bound=Callable[..., Awaitable[Any]])

# How far down an exception's cause chain to look for Membrane's error (tools re-raise it as a ToolError).
_MAX_CHAIN = 5


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
        try:
            result = await fn(*args, **kwargs)
            outcome = "input_required" if isinstance(result, InputRequiredResult) else "ok"
            return result
        except BaseException as exc:
            outcome, request_id = _outcome(exc), _request_id(exc)
            raise
        finally:
            duration_ms = (time.perf_counter() - started) * 1000
            suffix = f" request_id={request_id}" if request_id else ""
            logger.info("tool=%s outcome=%s duration_ms=%.0f%s", name, outcome, duration_ms, suffix)
            if logger.isEnabledFor(logging.DEBUG):
                given = sorted(
                    k
                    for k, v in kwargs.items()
                    if not isinstance(v, Context) and v != defaults.get(k, inspect.Parameter.empty)
                )
                logger.debug("tool=%s argument names: %s", name, ", ".join(given) or "(none)")

    return cast(ToolFn, wrapper)
