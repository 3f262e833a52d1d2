"""Messages outside the targets API: /1/message/report.json and send-by-id /1/send/{channel}.json (§13, §14 #38).

The report is synchronous and lists every campaign that has started in the range, dashboard ones included (unlike
targets/list.json), with string dates. Send-by-id validates and queues: the emulator delivers nothing, so the
answer is the whole effect.
"""

from __future__ import annotations

from typing import Any, cast

from clevertap_mcp.sandbox.clevertap.campaigns import TARGET_MODES
from clevertap_mcp.sandbox.clevertap.dates import date_range, day_stamp
from clevertap_mcp.sandbox.clevertap.errors import Refused
from clevertap_mcp.sandbox.clevertap.model import Account

__all__ = ["MAX_SEND_IDS", "SEND_CHANNELS", "message_report", "send"]

MAX_SEND_IDS = 1000
SEND_CHANNELS = ("push", "email", "sms", "webpush")
RECIPIENT_KEYS = ("Identity", "Email", "objectId", "FBID", "GPID")
REPORT_CHANNELS = TARGET_MODES  # the report filters campaigns by their target_mode


def _day(value: Any, name: str) -> int:
    if not isinstance(value, str) or len(value) != 8 or not value.isdigit():
        raise Refused(f'{name} must be a date string "YYYYMMDD" on this API, got {value!r}', 400)
    return int(value)


def _channels(value: Any) -> frozenset[str]:
    if value is None:
        return frozenset(REPORT_CHANNELS)
    names: list[Any] = cast(list[Any], value) if isinstance(value, list) else [value]
    if not names or any(name not in REPORT_CHANNELS for name in names):
        raise Refused(f"channel must be one or a list of {', '.join(REPORT_CHANNELS)}", 400)
    return frozenset(str(name) for name in names)


def message_report(account: Account, body: dict[str, Any], now: float) -> dict[str, Any]:
    """Every campaign started between from and to (inclusive, by start date), oldest first."""
    selected = date_range({"from": _day(body.get("from"), "from"), "to": _day(body.get("to"), "to")}, now)
    channels = _channels(body.get("channel"))
    messages: list[dict[str, Any]] = []
    for campaign in sorted(account.campaigns.values(), key=lambda c: (c.scheduled_on, c.id)):
        if campaign.scheduled_on not in selected or campaign.scheduled_on > now:
            continue
        if campaign.target_mode not in channels:
            continue
        messages.append(
            {
                "message_id": campaign.id,
                "message_name": campaign.name,
                "channel": campaign.target_mode,
                "status": campaign.status,
                "date": day_stamp(campaign.scheduled_on),
                "sent": campaign.result.get("sent", 0),
                "clicked": campaign.result.get("clicked", 0),
            }
        )
    return {"status": "success", "messages": messages}


def send(channel: str, body: dict[str, Any]) -> dict[str, Any]:
    """Queue a send-by-id: `to` must name 1 to MAX_SEND_IDS recipients and `content` must be an object."""
    to = body.get("to")
    if not isinstance(to, dict):
        raise Refused(f"to is mandatory: an object with any of {', '.join(RECIPIENT_KEYS)}", 400)
    recipients = cast(dict[str, Any], to)
    unknown = sorted(set(recipients) - set(RECIPIENT_KEYS))
    if unknown:
        raise Refused(f"Unknown recipient key(s) {', '.join(unknown)}; use {', '.join(RECIPIENT_KEYS)}", 400)
    total = 0
    for key, ids in recipients.items():
        if not isinstance(ids, list) or not all(isinstance(one, str) and one for one in cast(list[Any], ids)):
            raise Refused(f"to.{key} must be a list of ids", 400)
        total += len(cast(list[Any], ids))
    if total == 0:
        raise Refused("No recipients: to names no ids", 400)
    if total > MAX_SEND_IDS:
        raise Refused(f"At most {MAX_SEND_IDS} recipients per request, got {total}", 400)
    if not isinstance(body.get("content"), dict) or not body["content"]:
        raise Refused(f"content is mandatory for {channel}", 400)
    return {"status": "success", "message": "Added to queue for processing"}
