"""The answers of /1/counts/trends.json and /1/counts/top.json (clevertap-api.md §13, §14 #32).

Both select events with the CQL of query.py and then group them: trends by day, ISO week (`YYYYWW`) or month
(`YYYYMM`), every bucket of the range present even when it is 0; top by the values of one event, session or profile
property. Both are polled like the counts (counts.py); this module only computes the success bodies.

Numeric top values are grouped into ranges "lo-hi" (lo inclusive) of a width of 1, 2 or 5 times a power of ten,
at least 1 and the smallest that needs at most 10 ranges up to the largest value: CleverTap's widths are not documented.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime, timedelta
from typing import Any, cast

from clevertap_mcp.sandbox.clevertap.errors import Refused
from clevertap_mcp.sandbox.clevertap.model import Account, Event
from clevertap_mcp.sandbox.clevertap.query import EventQuery, parse_query, select_events

__all__ = ["MAX_GROUPS", "MAX_RANGE_DAYS", "top", "trends"]

MAX_GROUPS = 5
MAX_RANGE_DAYS = 366  # "a range of at most 1 year", leap years included
DEFAULT_TOP_N = 10
TREND_TYPES = ("daily", "weekly", "monthly")
PROPERTY_TYPES = ("event_properties", "session_fields", "profile_fields")
_Key = Callable[[date], str]
_KEYS: dict[str, _Key] = {
    "daily": lambda day: day.strftime("%Y%m%d"),
    "weekly": lambda day: f"{day.isocalendar().year}{day.isocalendar().week:02d}",
    "monthly": lambda day: day.strftime("%Y%m"),
}


def _groups(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    groups = body.get("groups")
    if not isinstance(groups, dict) or not groups:
        raise Refused("groups is mandatory: an object of {<label>: {...}}", 400)
    named = cast(dict[str, Any], groups)
    if len(named) > MAX_GROUPS:
        raise Refused(f"At most {MAX_GROUPS} groups are allowed, got {len(named)}", 400)
    for label, group in named.items():
        if label == "status" or not isinstance(group, dict):
            raise Refused(f"Invalid group {label!r}", 400)
    return cast(dict[str, dict[str, Any]], named)


def _query(account: Account, body: dict[str, Any], now: float) -> EventQuery:
    query = parse_query(body, account, now)
    if (query.range.end - query.range.start) // 86400 > MAX_RANGE_DAYS:
        raise Refused("The date range must be at most 1 year", 400)
    return query


def _days(query: EventQuery) -> list[date]:
    first = datetime.fromtimestamp(query.range.start, UTC).date()
    return [first + timedelta(days=offset) for offset in range((query.range.end - query.range.start) // 86400)]


def _day_of(event: Event) -> date:
    return datetime.fromtimestamp(event.ts, UTC).date()


def trends(account: Account, body: dict[str, Any], now: float) -> dict[str, Any]:
    """The trends success body: per group label, per bucket key, the count (unique profiles, or a property's sum)."""
    groups = _groups(body)
    query = _query(account, body, now)
    for label, group in groups.items():
        if group.get("trend_type") not in TREND_TYPES:
            raise Refused(f"Invalid group {label!r}: trend_type must be one of {', '.join(TREND_TYPES)}", 400)
    unique = body.get("unique", False)
    summed = body.get("sum_event_prop")
    if not isinstance(unique, bool) or (summed is not None and not isinstance(summed, str)):
        raise Refused("unique must be true or false, and sum_event_prop a property name", 400)
    events = select_events(account, query)
    answer: dict[str, Any] = {"status": "success"}
    for label, group in groups.items():
        key = _KEYS[str(group["trend_type"])]
        buckets: dict[str, float] = dict.fromkeys((key(day) for day in _days(query)), 0)
        seen: set[tuple[str, str]] = set()
        for event in events:
            bucket = key(_day_of(event))
            if summed is not None:
                value = event.props.get(summed)
                if isinstance(value, int | float) and not isinstance(value, bool):
                    buckets[bucket] += value
            elif not unique or (bucket, event.object_id) not in seen:
                seen.add((bucket, event.object_id))
                buckets[bucket] += 1
        answer[label] = {name: _number(total) for name, total in buckets.items()}
    return answer


def _number(value: float) -> int | float:
    return int(value) if float(value).is_integer() else round(value, 2)


def _values(account: Account, property_type: str, name: str, events: Iterable[Event]) -> list[Any]:
    """The property's value for each selected event; a profile field counts each profile once."""
    if property_type == "event_properties":
        return [event.props.get(name) for event in events]
    if property_type == "session_fields":
        return [event.session.get(name) for event in events]
    who = dict.fromkeys(event.object_id for event in events)
    return [account.profiles[oid].data.get(name) for oid in who if oid in account.profiles]


def _known(account: Account, property_type: str, name: str, event_name: str) -> bool:
    """Whether the account has the property at all (on any event of that name, or on any profile)."""
    if property_type == "profile_fields":
        return any(name in profile.data for profile in account.profiles.values())
    field = "props" if property_type == "event_properties" else "session"
    return any(name in getattr(event, field) for event in account.events if event.name == event_name)


def _width(largest: float) -> float:
    # Widths start at 1: CleverTap's sample ranges are whole numbers ("0-100").
    exponent = max(math.floor(math.log10(largest)) - 1, 0) if largest > 0 else 0
    while True:
        for step in (1, 2, 5):
            width = step * 10.0**exponent
            if largest < 10 * width:
                return width
        exponent += 1


def _range_key(value: float, width: float) -> str:
    low = math.floor(value / width) * width
    return f"{low:g}-{low + width:g}"


def top(account: Account, body: dict[str, Any], now: float) -> dict[str, Any]:
    """The top success body: per label, {"STR": {value: count}} and/or {"NUMBER": {"lo-hi": count}}."""
    groups = _groups(body)
    query = _query(account, body, now)
    events = select_events(account, query)
    answer: dict[str, Any] = {"status": "success"}
    for label, group in groups.items():
        property_type, name = group.get("property_type", "event_properties"), group.get("name")
        top_n, order = group.get("top_n", DEFAULT_TOP_N), group.get("order", "desc")
        if property_type not in PROPERTY_TYPES or not isinstance(name, str) or not name:
            raise Refused(f"Invalid group {label!r}: needs property_type ({', '.join(PROPERTY_TYPES)}) and name", 400)
        if isinstance(top_n, bool) or not isinstance(top_n, int) or top_n < 1 or order not in ("asc", "desc"):
            raise Refused(f"Invalid group {label!r}: top_n must be a positive integer and order asc or desc", 400)
        if not _known(account, str(property_type), name, query.event_name):
            raise Refused(f"Invalid group {label!r}: there is no property {name!r}", 400)
        values = [v for v in _values(account, str(property_type), name, events) if v is not None]
        numbers = [float(v) for v in values if isinstance(v, int | float) and not isinstance(v, bool)]
        strings = Counter(str(v) for v in values if isinstance(v, str | bool))
        result: dict[str, dict[str, int]] = {}
        if strings:
            result["STR"] = _ranked(strings, top_n, order)
        if numbers:
            width = _width(max(abs(n) for n in numbers))
            result["NUMBER"] = _ranked(Counter(_range_key(n, width) for n in numbers), top_n, order)
        answer[label] = result
    return answer


def _ranked(counts: Counter[str], top_n: int, order: str) -> dict[str, int]:
    sign = -1 if order == "desc" else 1
    ranked = sorted(counts.items(), key=lambda item: (sign * item[1], item[0]))
    return dict(ranked[:top_n])
