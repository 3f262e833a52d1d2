"""Campaigns through /1/targets/*.json: list, report, create (with estimates) and stop (clevertap-api.md §11)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

from clevertap_mcp.sandbox.clevertap.dates import date_range, minute_stamp, parse_when
from clevertap_mcp.sandbox.clevertap.errors import Refused, TargetNotCompleted
from clevertap_mcp.sandbox.clevertap.model import COMPLETED, RUNNING, SCHEDULED, STOPPED, Account, Campaign, Profile
from clevertap_mcp.sandbox.clevertap.query import parse_query, select_events

__all__ = ["campaign_result", "create_campaign", "list_campaigns", "stop_campaign"]

TARGET_MODES = ("push", "webpush", "email", "sms", "whatsapp", "webhook", "notificationinbox")
_REQUIRED = ("name", "target_mode", "content", "when")
_CONTENT_KEYS = {
    "push": ("title", "body"),
    "webpush": ("title", "body"),
    "email": ("subject", "body"),
    "sms": ("body",),
}
_DEVICES = ("android", "ios", "windows")
_TOKEN_PLATFORM = {"gcm": "android", "fcm": "android", "apns": "ios", "wns": "windows", "mpns": "windows"}
_PROFILE_PLATFORM = {"Android": "android", "iOS": "ios", "Windows": "windows"}


def list_campaigns(
    account: Account,
    body: dict[str, Any],
    now: float,
    *,
    epoch_scheduled_on: bool = False,
    status_names: Mapping[str, str] | None = None,
) -> list[dict[str, Any]]:
    """API-created campaigns whose scheduled start falls in from..to (inclusive); dashboard ones never appear.

    `scheduled_on` is the int yyyyMMddHHmm, or epoch seconds with `epoch_scheduled_on`; `status_names` renames the
    status values. Both points are unconfirmed (§11), hence settings.
    """
    selected = date_range(body, now, allow_future=True)
    campaigns = sorted(account.campaigns.values(), key=lambda c: (c.scheduled_on, c.id))
    names = status_names or {}
    return [
        {
            "id": c.id,
            "name": c.name,
            "scheduled_on": c.scheduled_on if epoch_scheduled_on else minute_stamp(c.scheduled_on),
            "status": names.get(c.status, c.status),
        }
        for c in campaigns
        if c.api_created and c.scheduled_on in selected
    ]


def _campaign_id(body: dict[str, Any]) -> int:
    value = body.get("id")
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise Refused(f"id must be a positive integer campaign id, got {value!r}", 400)
    return value


def _campaign(account: Account, body: dict[str, Any]) -> Campaign:
    campaign_id = _campaign_id(body)
    campaign = account.campaigns.get(campaign_id)
    if campaign is None:
        raise Refused(f"Invalid target id: no campaign {campaign_id} in this account", 400)
    return campaign


def campaign_result(account: Account, body: dict[str, Any], extras: tuple[str, ...] = ()) -> dict[str, int]:
    """The report of a finished campaign of any kind; TargetNotCompleted while it is scheduled or running.

    `extras` are metrics beyond sent and clicked (settings.campaign_result_extras); the emulator has no data for
    them, so they report 0.
    """
    campaign = _campaign(account, body)
    if campaign.status not in (COMPLETED, STOPPED):
        raise TargetNotCompleted
    # sent and clicked are always reported (§11): a campaign stopped before it delivered anything reports zeros,
    # not an empty object that reads as "no report".
    metrics = {"sent": 0, "clicked": 0, **campaign.result}
    return {**metrics, **{name: 0 for name in extras if name not in metrics}}


def stop_campaign(account: Account, body: dict[str, Any]) -> None:
    """Stop a scheduled or running campaign; a finished one is left as it is (CleverTap answers success)."""
    campaign = _campaign(account, body)
    if campaign.status in (SCHEDULED, RUNNING):
        campaign.status = STOPPED


def _check_create(account: Account, body: dict[str, Any], now: float) -> int:
    """Validates a create body; returns the scheduled start in epoch seconds."""
    missing = [name for name in _REQUIRED if body.get(name) in (None, "", {})]
    if missing:
        raise Refused(f"Missing mandatory field(s): {', '.join(missing)}", 400)
    if not isinstance(body["name"], str):
        raise Refused(f"name must be a string, got {body['name']!r}", 400)
    mode = body["target_mode"]
    if mode not in TARGET_MODES:
        raise Refused(f"Invalid target_mode {mode!r}; use one of {', '.join(TARGET_MODES)}", 400)
    if "where" in body and "segment" in body:
        raise Refused("Use either where or segment, not both", 400)
    content = body["content"]
    if not isinstance(content, dict):
        raise Refused("content must be an object", 400)
    absent = [key for key in _CONTENT_KEYS.get(mode, ()) if not cast(dict[str, Any], content).get(key)]
    if absent:
        raise Refused(f"content for {mode} needs {', '.join(absent)}", 400)
    devices = body.get("devices", [])
    if not isinstance(devices, list) or any(device not in _DEVICES for device in cast(list[Any], devices)):
        raise Refused(f"devices must be a list of {', '.join(_DEVICES)}", 400)
    if not isinstance(body.get("estimate_only", False), bool):
        raise Refused("estimate_only must be true or false", 400)
    return _start(body["when"], now)


def _start(when: Any, now: float) -> int:
    if when == "now":
        return int(now)
    if isinstance(when, str) and (at := parse_when(when)) is not None:
        return at
    if isinstance(when, dict):
        delivery = cast(dict[str, Any], when).get("delivery_date_time")
        if delivery is None:
            return int(now)
        if isinstance(delivery, str) and (at := parse_when(delivery)) is not None:
            return at
    raise Refused('when must be "now", "YYYYMMDD HH:MM" or a schedule object', 400)


def _audience(account: Account, body: dict[str, Any], now: float) -> list[Profile]:
    where = body.get("where")
    if where is None:
        # No `where` targets everyone; a `segment` is not modelled and also reaches everyone.
        return list(account.profiles.values())
    if not isinstance(where, dict):
        raise Refused("where must be an object", 400)
    query = parse_query(cast(dict[str, Any], where), account, now)
    ids = {event.object_id for event in select_events(account, query)}
    return [profile for object_id, profile in account.profiles.items() if object_id in ids]


def _estimates(mode: str, audience: list[Profile], devices: list[str]) -> dict[str, int]:
    counts: dict[str, int] = {}
    if mode in ("push", "webpush"):
        keys = ["chrome"] if mode == "webpush" else (devices or list(_DEVICES))
        counts = dict.fromkeys(keys, 0)
        for profile in audience:
            reached = {"chrome" if t.type == "chrome" else _TOKEN_PLATFORM[t.type] for t in profile.tokens}
            for key in reached & set(keys):
                counts[key] += 1
        return counts
    needs = {"email": "Email", "sms": "Phone", "whatsapp": "Phone"}.get(mode)
    for profile in audience:
        if needs is None or profile.data.get(needs):
            key = _PROFILE_PLATFORM.get(profile.platform or "", "web")
            counts[key] = counts.get(key, 0) + 1
    return counts


def create_campaign(account: Account, body: dict[str, Any], now: float) -> dict[str, Any]:
    """The create answer; with estimate_only nothing is stored and no id is given."""
    start = _check_create(account, body, now)
    devices = [str(device) for device in cast(list[Any], body.get("devices", []))]
    estimates = _estimates(body["target_mode"], _audience(account, body, now), devices)
    if body.get("estimate_only", False):
        return {"estimates": estimates}
    # Ids look like CleverTap's: ~10-digit epoch-like ints, unique in the account.
    campaign_id = max(int(now), max(account.campaigns, default=0) + 1)
    account.campaigns[campaign_id] = Campaign(
        id=campaign_id,
        name=str(body["name"]),
        target_mode=body["target_mode"],
        scheduled_on=start,
        status=SCHEDULED if start > now else RUNNING,
        api_created=True,
        request=dict(body),
    )
    return {"id": campaign_id, "estimates": estimates}
