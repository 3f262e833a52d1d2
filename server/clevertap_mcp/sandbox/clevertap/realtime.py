"""POST /1/now.json: users active in the last 5 minutes, with the optional splits of clevertap-api.md §10."""

from __future__ import annotations

from typing import Any

from clevertap_mcp.sandbox.clevertap.errors import Refused
from clevertap_mcp.sandbox.clevertap.model import Account, Event, Profile

__all__ = ["ACTIVE_WINDOW", "real_time"]

ACTIVE_WINDOW = 300  # seconds: "active in the last 5 minutes"
NEW_USER_WINDOW = 86400  # a user first seen in the last day counts as new
_SPLITS: dict[str, tuple[str, ...]] = {
    "session_source": ("direct", "others", "search", "social", "email", "unavailable"),
    "browser": ("others", "firefox", "chrome", "ie", "mobileapp"),
    "os": ("others", "android", "ios", "windows", "mac", "linux"),
    "device": ("desktop", "mobile", "tablet"),
}
_FLAGS = ("user_type", *_SPLITS, "new")


def _bucket(split: str, profile: Profile, last: Event) -> str | None:
    if split == "session_source":
        source = last.session.get("session_source")
        if source is None:
            return "unavailable"
        return source if source in _SPLITS["session_source"] else "others"
    if split == "browser":
        if profile.platform in ("Android", "iOS"):
            return "mobileapp"
        return profile.browser if profile.browser in ("firefox", "chrome", "ie") else "others"
    if split == "os":
        if profile.platform in ("Android", "iOS"):
            return profile.platform.lower()
        system = (profile.os_version or "").lower()
        return next((name for name in ("windows", "mac", "linux") if system.startswith(name)), "others")
    return profile.device if profile.device in _SPLITS["device"] else None


def _split(split: str, active: list[tuple[Profile, Event]]) -> dict[str, int]:
    counts = dict.fromkeys(_SPLITS[split], 0)
    for profile, last in active:
        bucket = _bucket(split, profile, last)
        if bucket is not None:
            counts[bucket] += 1
    return counts


def real_time(account: Account, body: dict[str, Any], now: float) -> dict[str, Any]:
    """The now.json success body; each flag set true adds its split."""
    for flag in _FLAGS:
        if flag in body and not isinstance(body[flag], bool):
            raise Refused(f"{flag} must be true or false", 400)
    first_seen: dict[str, int] = {}
    latest: dict[str, Event] = {}
    for event in account.events:
        first_seen[event.object_id] = min(first_seen.get(event.object_id, event.ts), event.ts)
        if now - ACTIVE_WINDOW <= event.ts <= now and (
            event.object_id not in latest or event.ts >= latest[event.object_id].ts
        ):
            latest[event.object_id] = event
    active = [(account.profiles[oid], event) for oid, event in latest.items() if oid in account.profiles]
    answer: dict[str, Any] = {"status": "success", "count": len(active), "last_processed_ts": int(now)}
    new = [(p, e) for p, e in active if first_seen[p.object_id] >= now - NEW_USER_WINDOW]
    if body.get("user_type"):
        charged = {event.object_id for event in account.events if event.name == "Charged"}
        answer["user_type"] = {
            "new": len(new),
            "repeat": len(active) - len(new),
            "addressable": sum(1 for p, _ in active if p.tokens or p.data.get("Email") or p.data.get("Phone")),
            "customer": sum(1 for p, _ in active if p.object_id in charged),
        }
    for split in _SPLITS:
        if body.get(split):
            answer[split] = _split(split, active)
    if body.get("new"):
        answer["new"] = {split: _split(split, new) for split in _SPLITS}
    return answer
