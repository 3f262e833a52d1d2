"""Keeps credential values out of every log line and every text built around data.

Two lists: the server's own secrets (its token, workspace secret, minted tokens, state keys; `register`), held by
the process, and what one request brings (its caller's bearer token, credential values its answers echoed;
`register_for_request`), held only by that request's `scope` and gone when it ends. A request never masks with
another's values, so one caller's data or token cannot change a second caller's text, and nothing a caller sends
makes the process list grow. `RedactingFilter`, installed on the log handler, replaces any value in a record's final
text with `***`. This is the second line of defence: the code never formats a token into a message in the first
place, and mask only data, after deciding what it means (agent_errors.describe).
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Generator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, cast

REDACTED = "***"
_MIN_LENGTH = 6  # shorter values would redact ordinary words
# Values from data (an echoed password) must look like a secret, not like prose: one word of at least this length.
_MIN_DATA_LENGTH = 8
# One request masks at most this many values of its own (oldest out first): data cannot make a request's list huge.
MAX_SCOPED_VALUES = 64

_lock = threading.Lock()
# Value -> how many holders registered it: a value stays redacted until its last holder lets go.
_values: dict[str, int] = {}


class _Scope:
    def __init__(self, parents: tuple[_Scope, ...] = (), *, persistent: bool = False) -> None:
        self.parents = parents
        self.persistent = persistent  # a caller's own, kept across its requests
        self.values: dict[str, None] = {}  # ordered: the oldest is dropped first beyond the bound

    def add(self, value: str) -> None:
        self.values.pop(value, None)
        self.values[value] = None
        while len(self.values) > MAX_SCOPED_VALUES:
            del self.values[next(iter(self.values))]

    def chain(self) -> list[_Scope]:
        scopes: list[_Scope] = [self]
        for parent in self.parents:
            scopes += parent.chain()
        return scopes

    def all(self) -> set[str]:
        return {value for scope in self.chain() for value in scope.values}


_scope: ContextVar[_Scope | None] = ContextVar("clevertap_mcp_redaction_scope", default=None)
# Each caller's own values (what its answers echoed: a passcode seen once is masked in its later requests too), for
# the most recent callers only: a crowd cannot grow this beyond MAX_CALLERS × MAX_SCOPED_VALUES.
MAX_CALLERS = 256
_callers: OrderedDict[str, _Scope] = OrderedDict()


def _caller_scope(caller: str) -> _Scope:
    with _lock:
        kept = _callers.pop(caller, None) or _Scope(persistent=True)
        _callers[caller] = kept
        while len(_callers) > MAX_CALLERS:
            _callers.popitem(last=False)
        return kept


def register(value: str) -> None:
    """One of the server's own secrets, masked everywhere in this process until `unregister`."""
    if len(value) >= _MIN_LENGTH:
        with _lock:
            _values[value] = _values.get(value, 0) + 1


def unregister(value: str) -> None:
    """One holder of `value` no longer holds it (call only after `register`, and once per registration)."""
    with _lock:
        count = _values.get(value, 0)
        if count <= 1:
            _values.pop(value, None)
        else:
            _values[value] = count - 1


@contextmanager
def scope(*values: str, caller: str | None = None) -> Generator[None]:
    """Everything that runs inside (tool calls copy the context) masks `values` and whatever it registers with
    `register_for_request`, on top of the enclosing scope's values and, given its key, the `caller`'s own; what is
    not the caller's is forgotten on leaving."""
    enclosing = _scope.get()
    parents = (enclosing,) if enclosing is not None else ()
    if caller is not None:
        parents += (_caller_scope(caller),)
    current = _Scope(parents)
    for value in values:
        if len(value) >= _MIN_LENGTH:
            current.add(value)
    reset = _scope.set(current)
    try:
        yield
    finally:
        _scope.reset(reset)


def register_for_request(value: str) -> None:
    """A credential value found in the current request's data: masked for the rest of that request, and in the
    caller's later requests (bounded). Outside a request nothing is registered (no caller's data flows there)."""
    current = _scope.get()
    if current is not None and len(value) >= _MIN_DATA_LENGTH and not any(c.isspace() for c in value):
        chain = current.chain()
        next((scope for scope in chain if scope.persistent), current).add(value)


def redact_json(value: Any) -> Any:
    """A copy of a JSON value with every registered value masked in its strings (keys included)."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        items = cast(dict[Any, Any], value).items()
        return {redact(k) if isinstance(k, str) else k: redact_json(v) for k, v in items}
    if isinstance(value, list):
        return [redact_json(item) for item in cast(list[Any], value)]
    return value


def redact(text: str, *, with_request: bool = True) -> str:
    """`text` with every registered value masked; `with_request=False` masks only the server's own secrets, which
    are random strings no sentence contains (so a classification made after it still reads Membrane's words)."""
    with _lock:
        values = set(_values)
    current = _scope.get()
    if current is not None and with_request:
        values |= current.all()
    for value in sorted(values, key=len, reverse=True):
        if value in text:
            text = text.replace(value, REDACTED)
    return text


class RedactingFilter(logging.Filter):
    """Renders each record once, redacted, so neither the message nor its arguments can leak a secret."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        record.msg = redact(message)
        record.args = None
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True


def global_values() -> frozenset[str]:
    """The server's own secrets registered so far."""
    with _lock:
        return frozenset(_values)


def registered_values() -> frozenset[str]:
    """Every value masked here and now: the server's own, and the current request's (for the tests that scan the
    suite's output for them)."""
    current = _scope.get()
    return global_values() | (current.all() if current is not None else set[str]())
