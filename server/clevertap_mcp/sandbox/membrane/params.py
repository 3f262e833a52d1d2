"""Request parsing shared by the sandbox routes: query values, JSON bodies, and the one pagination scheme.

Every value that does not parse is a 400 `bad_request` naming the parameter, so handlers never see a bad value.
Query strings follow membrane-api.md §1; a JSON body must be an object.

JSON is parsed strictly (`loads_strict`): `NaN`, `Infinity`, `-Infinity` and numbers that overflow to infinity are
not JSON (RFC 8259) and could never be rendered back, and nesting too deep for the parser is refused too; all of them
are a 400 like any other malformed body, never a 500.

Pagination: `limit` is an integer 1..1000; `cursor` is the decimal offset of the next page, so `"0"` is the first page
and an absent or blank cursor is too (the SDK leaves blank strings out, and a blank cursor marks the last page).
The last page carries no `cursor`.

Open-point choices:
- Integers are plain decimal digits, the whole value (a trailing newline is malformed too), at most 18 of them;
  `"10.0"`, `"+5"` or `"1e2"` are malformed.
- A cursor past the end of the list is unknown (400): no page the sandbox handed out points there.
- Booleans accept `true`/`false`/`1`/`0` (§1), case-insensitively; anything else is 400.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar, cast

from starlette.requests import Request

from clevertap_mcp.sandbox.membrane.errors import MembraneError

__all__ = [
    "MAX_LIMIT",
    "Page",
    "json_object",
    "loads_strict",
    "optional_bool",
    "optional_str",
    "page_body",
    "page_of",
    "page_params",
    "wait_timeout",
]

MAX_LIMIT = 1000
DEFAULT_WAIT_TIMEOUT = 30
MAX_WAIT_TIMEOUT = 60
_DIGITS = re.compile(r"[0-9]{1,18}")  # always fullmatch: `$` would let a trailing newline through
_TRUE = ("true", "1")
_FALSE = ("false", "0")

T = TypeVar("T")


@dataclass(frozen=True)
class Page:
    offset: int
    limit: int


def optional_bool(query: Mapping[str, str], name: str) -> bool | None:
    raw = query.get(name)
    if raw is None or raw == "":
        return None
    if raw.lower() in _TRUE:
        return True
    if raw.lower() in _FALSE:
        return False
    raise MembraneError(f"Query parameter '{name}' must be true or false")


def _int_in(query: Mapping[str, str], name: str, low: int, high: int, default: int) -> int:
    raw = query.get(name)
    if raw is None or raw == "":
        return default
    if not _DIGITS.fullmatch(raw) or not low <= int(raw) <= high:
        raise MembraneError(f"Query parameter '{name}' must be an integer from {low} to {high}")
    return int(raw)


def wait_timeout(query: Mapping[str, str]) -> int:
    """`timeout` of a long-poll: 1..60 seconds, default 30 (§3.2, §10 #5)."""
    return _int_in(query, "timeout", 1, MAX_WAIT_TIMEOUT, DEFAULT_WAIT_TIMEOUT)


def page_params(query: Mapping[str, str], *, default_limit: int) -> Page:
    limit = _int_in(query, "limit", 1, MAX_LIMIT, default_limit)
    cursor = query.get("cursor") or "0"
    if not _DIGITS.fullmatch(cursor):
        raise MembraneError("Query parameter 'cursor' is malformed: pass back a cursor this API returned")
    return Page(offset=int(cursor), limit=limit)


def page_of(items: Sequence[T], page: Page) -> tuple[list[T], str | None]:
    """The page's items and the cursor of the next page (None on the last page)."""
    if page.offset > len(items):
        raise MembraneError("Query parameter 'cursor' is unknown: pass back a cursor this API returned")
    end = page.offset + page.limit
    return list(items[page.offset : end]), (str(end) if end < len(items) else None)


def page_body(items: list[Any], cursor: str | None) -> dict[str, Any]:
    body: dict[str, Any] = {"items": items}
    if cursor is not None:
        body["cursor"] = cursor
    return body


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text} is out of range")
    return value


def loads_strict(raw: str | bytes) -> Any:
    """`json.loads` of standard JSON only; ValueError for anything else, including nesting too deep to parse."""
    try:
        return json.loads(raw, parse_constant=_no_constant, parse_float=_finite_float)
    except RecursionError:
        raise ValueError("The JSON is nested too deeply") from None


async def json_object(request: Request, *, allow_empty: bool = False) -> dict[str, Any]:
    """The request body as a JSON object; an empty body is `{}` only where `allow_empty`."""
    raw = await request.body()
    if not raw.strip() and allow_empty:
        return {}
    try:
        body: object = loads_strict(raw)
    except ValueError:
        raise MembraneError(
            "The request body must be a JSON object in standard JSON (no NaN or Infinity, not nested too deeply)"
        ) from None
    if not isinstance(body, dict):
        raise MembraneError("The request body must be a JSON object")
    return cast(dict[str, Any], body)


def optional_str(body: Mapping[str, Any], name: str) -> str | None:
    """A non-empty string field, or None when absent or null."""
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        raise MembraneError(f"'{name}' must be a non-empty string")
    return value
