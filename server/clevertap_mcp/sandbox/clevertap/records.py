"""How profiles and events look in CleverTap's answers: export records, the single-profile record, event summaries."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from clevertap_mcp.sandbox.clevertap.dates import export_ts
from clevertap_mcp.sandbox.clevertap.model import Event, Profile

__all__ = ["RecordOptions", "event_record", "event_summaries", "lookup_record", "profile_record"]

STANDARD_KEYS = frozenset(
    {"Name", "Email", "Phone", "Gender", "DOB", "Age", "Employed", "Education", "Married", "Customer Type", "Photo"}
    | {"MSG-email", "MSG-push", "MSG-sms", "MSG-whatsapp"}
)
_APP_FIELDS = ("os_version", "app_version", "make", "model")


class RecordOptions:
    """The URL switches of /1/events.json and /1/profiles.json: `app`, `events` and `profile` (§8)."""

    def __init__(self, *, app: bool = False, events: bool = True, profile: bool = True) -> None:
        self.app = app
        self.events = events
        self.profile = profile


def _profile_data(profile: Profile, options: RecordOptions, top_level: Iterable[str]) -> dict[str, Any]:
    skip = set(top_level)
    return {
        key: value
        for key, value in profile.data.items()
        if key not in skip and (options.profile or key in STANDARD_KEYS)
    }


def _platform_info(profile: Profile, *, app: bool) -> list[dict[str, Any]]:
    if profile.platform is None and not profile.tokens:
        return []
    info: dict[str, Any] = {"platform": profile.platform, "objectId": profile.object_id}
    if app:
        info.update({name: getattr(profile, name) for name in _APP_FIELDS})
    if profile.tokens:
        info["push_token"] = profile.tokens[-1].id
    return [{key: value for key, value in info.items() if value is not None}]


def event_summaries(events: Iterable[Event]) -> dict[str, dict[str, dict[str, int]]]:
    """Per profile, per event name: count, first_seen and last_seen (epoch seconds)."""
    summaries: dict[str, dict[str, dict[str, int]]] = {}
    # Written for speed: a profiles export at 100k profiles passes over a million events here.
    for event in events:
        ts = event.ts
        per_name = summaries.get(event.object_id)
        if per_name is None:
            per_name = summaries[event.object_id] = {}
        entry = per_name.get(event.name)
        if entry is None:
            per_name[event.name] = {"count": 1, "first_seen": ts, "last_seen": ts}
            continue
        entry["count"] += 1
        if ts < entry["first_seen"]:
            entry["first_seen"] = ts
        if ts > entry["last_seen"]:
            entry["last_seen"] = ts
    return summaries


def profile_record(profile: Profile, summary: dict[str, dict[str, int]], options: RecordOptions) -> dict[str, Any]:
    """One record of /1/profiles.json."""
    record: dict[str, Any] = {"identity": profile.identity or ""}
    for key, name in (("Email", "email"), ("Name", "name"), ("Phone", "phone")):
        if key in profile.data:
            record[name] = profile.data[key]
    record["profileData"] = _profile_data(profile, options, ("Email", "Name", "Phone"))
    if options.events:
        record["events"] = summary
    record["platformInfo"] = _platform_info(profile, app=options.app)
    return record


def lookup_record(profile: Profile, summary: dict[str, dict[str, int]]) -> dict[str, Any]:
    """The record of /1/profile.json."""
    return {
        "email": profile.data.get("Email", ""),
        "identity": profile.identity or "",
        "profileData": _profile_data(profile, RecordOptions(), ("Email",)),
        "events": summary,
        "platformInfo": _platform_info(profile, app=True),
    }


def event_record(event: Event, profile: Profile | None, options: RecordOptions) -> dict[str, Any]:
    """One record of /1/events.json; `ts` is yyyyMMddHHmmss, not epoch."""
    who: dict[str, Any] = {"objectId": event.object_id}
    if profile is not None:
        who.update(
            {
                "identity": profile.identity or "",
                "email": profile.data.get("Email", ""),
                "platform": profile.platform or "",
                "profileData": _profile_data(profile, options, ("Email",)),
                "id": profile.seq,
            }
        )
        if options.app:
            who.update({name: getattr(profile, name) for name in _APP_FIELDS if getattr(profile, name) is not None})
    return {
        "profile": who,
        "ts": export_ts(event.ts),
        "event_props": dict(event.props),
        "session_props": dict(event.session),
    }
