"""CleverTap Query Language as the emulator understands it: which events a query selects (clevertap-api.md §8, §9).

Supported: `event_name` (exact, case-sensitive), `from`/`to`, `event_properties`, `session_properties`,
`common_profile_properties.profile_fields` and `advanced_query` (`did_all` / `did_any` / `did_none`: lists of event
queries the profile that did the main event must, may or must not match; a sub-query without `from`/`to` takes the
main query's range). The other CQL parts are accepted and do not narrow the selection.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

from clevertap_mcp.sandbox.clevertap.dates import DateRange, date_range
from clevertap_mcp.sandbox.clevertap.errors import InvalidEvent, Refused
from clevertap_mcp.sandbox.clevertap.model import Account, Event, Profile

__all__ = ["EventQuery", "parse_query", "select_events"]

# The condition operators CleverTap takes, in its documented order (the connector's schemas list them as is).
OPERATORS = (
    "equals",
    "not_equals",
    "contains",
    "does_not_contain",
    "exists",
    "does_not_exist",
    "greater_than",
    "greater_than_equals",
    "less_than",
    "less_than_equals",
)


@dataclass(frozen=True)
class Condition:
    name: str
    operator: str
    value: Any

    def holds(self, properties: dict[str, Any]) -> bool:
        actual = properties.get(self.name)
        if self.operator == "exists":
            return actual is not None
        if self.operator == "does_not_exist":
            return actual is None
        if actual is None:
            return self.operator in ("not_equals", "does_not_contain")
        value: Any = self.value
        expected: list[Any] = cast(list[Any], value) if isinstance(value, list) else [value]
        if self.operator == "equals":
            return any(_same(actual, one) for one in expected)
        if self.operator == "not_equals":
            return not any(_same(actual, one) for one in expected)
        if self.operator in ("contains", "does_not_contain"):
            found = any(str(one) in str(actual) for one in expected)
            return found if self.operator == "contains" else not found
        return _compare(self.operator, actual, value)


def _same(actual: Any, expected: Any) -> bool:
    if isinstance(actual, int | float) and isinstance(expected, int | float):
        return actual == expected
    return str(actual) == str(expected)


def _compare(operator: str, actual: Any, expected: Any) -> bool:
    try:
        left, right = float(actual), float(expected)
    except (TypeError, ValueError):
        return False
    return {
        "greater_than": left > right,
        "greater_than_equals": left >= right,
        "less_than": left < right,
        "less_than_equals": left <= right,
    }[operator]


@dataclass(frozen=True)
class EventQuery:
    event_name: str
    range: DateRange
    event_conditions: tuple[Condition, ...]
    session_conditions: tuple[Condition, ...]
    profile_conditions: tuple[Condition, ...]
    # advanced_query: (did_all | did_any | did_none, its sub-queries); an empty tuple when there is none.
    advanced: tuple[tuple[str, tuple[EventQuery, ...]], ...] = ()


def _conditions(value: Any, where: str, *, with_operator: bool = True) -> tuple[Condition, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise Refused(f"{where} must be a list of {{name, operator, value}}", 400)
    conditions: list[Condition] = []
    for item in cast(list[Any], value):
        if not isinstance(item, dict) or not isinstance(cast(dict[str, Any], item).get("name"), str):
            raise Refused(f"Every item of {where} needs a name", 400)
        entry = cast(dict[str, Any], item)
        operator = entry.get("operator", "equals") if with_operator else "equals"
        if operator not in OPERATORS:
            raise Refused(f"Invalid operator {operator!r} in {where}", 400)
        conditions.append(Condition(entry["name"], operator, entry.get("value")))
    return tuple(conditions)


def parse_query(body: dict[str, Any], account: Account, now: float) -> EventQuery:
    """The query in a request body; Refused/InvalidDates/InvalidEvent for what CleverTap would refuse."""
    name = body.get("event_name")
    if not isinstance(name, str) or not name:
        raise Refused("event_name is mandatory", 400)
    selected = date_range(body, now)
    if name not in account.event_names:
        raise InvalidEvent(name)
    advanced = _advanced(body.get("advanced_query"), body, account, now)
    common = body.get("common_profile_properties")
    profile_fields = cast(dict[str, Any], common).get("profile_fields") if isinstance(common, dict) else None
    return EventQuery(
        event_name=name,
        range=selected,
        event_conditions=_conditions(body.get("event_properties"), "event_properties"),
        session_conditions=_conditions(body.get("session_properties"), "session_properties", with_operator=False),
        profile_conditions=_conditions(profile_fields, "common_profile_properties.profile_fields"),
        advanced=advanced,
    )


_ADVANCED_KINDS = ("did_all", "did_any", "did_none")


def _advanced(
    value: Any, parent: dict[str, Any], account: Account, now: float
) -> tuple[tuple[str, tuple[EventQuery, ...]], ...]:
    if value is None:
        return ()
    if not isinstance(value, dict) or not value:
        raise Refused("advanced_query must be an object with did_all, did_any and/or did_none", 400)
    entries = cast(dict[str, Any], value)
    unknown = sorted(set(entries) - set(_ADVANCED_KINDS))
    if unknown:
        raise Refused(f"advanced_query takes did_all, did_any, did_none; not {', '.join(unknown)}", 400)
    parsed: list[tuple[str, tuple[EventQuery, ...]]] = []
    for kind in _ADVANCED_KINDS:
        if kind not in entries:
            continue
        items = entries[kind]
        if not isinstance(items, list) or not items or not all(isinstance(one, dict) for one in cast(list[Any], items)):
            raise Refused(f"advanced_query.{kind} must be a non-empty list of event queries", 400)
        queries: list[EventQuery] = []
        for item in cast(list[dict[str, Any]], items):
            if "advanced_query" in item:
                raise Refused(f"advanced_query.{kind} items cannot hold another advanced_query", 400)
            sub = {"from": parent.get("from"), "to": parent.get("to"), **item}
            queries.append(parse_query(sub, account, now))
        parsed.append((kind, tuple(queries)))
    return tuple(parsed)


def _profiles_allowed(account: Account, query: EventQuery) -> set[str] | None:
    """The objectIds advanced_query lets through; None when there is no advanced_query."""
    if not query.advanced:
        return None
    allowed = set(account.profiles)
    for kind, queries in query.advanced:
        did = [{event.object_id for event in select_events(account, sub)} for sub in queries]
        anyone = set[str]().union(*did)
        if kind == "did_all":
            allowed = allowed.intersection(*did)
        elif kind == "did_any":
            allowed &= anyone
        else:
            allowed -= anyone
    return allowed


def select_events(account: Account, query: EventQuery) -> list[Event]:
    """The account's events the query selects, oldest first."""
    selected: list[Event] = []
    allowed = _profiles_allowed(account, query)
    for event in account.events:
        if event.name != query.event_name or event.ts not in query.range:
            continue
        if allowed is not None and event.object_id not in allowed:
            continue
        if not all(c.holds(event.props) for c in query.event_conditions):
            continue
        if not all(c.holds(event.session) for c in query.session_conditions):
            continue
        if query.profile_conditions:
            profile: Profile | None = account.profiles.get(event.object_id)
            if profile is None or not all(c.holds(profile.data) for c in query.profile_conditions):
                continue
        selected.append(event)
    selected.sort(key=lambda event: event.ts)
    return selected
