"""Keeps credential values out of every log line.

Whatever holds a token or secret registers it here; `RedactingFilter`, installed on the log handler, replaces any
registered value in a record's final text with `***`. This is the second line of defence: the code never formats a
token into a message in the first place.
"""

from __future__ import annotations

import logging
import threading

REDACTED = "***"
_MIN_LENGTH = 6  # shorter values would redact ordinary words

_lock = threading.Lock()
# Value -> how many holders registered it: a value stays redacted until its last holder lets go, so a server that
# serves a stream of distinct callers' tokens over HTTP does not grow this without bound.
_values: dict[str, int] = {}


def register(value: str) -> None:
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


def redact(text: str) -> str:
    with _lock:
        values = sorted(_values, key=len, reverse=True)
    for value in values:
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


def registered_values() -> frozenset[str]:
    """Every value registered so far (for the test that scans the suite's output for them)."""
    with _lock:
        return frozenset(_values)
