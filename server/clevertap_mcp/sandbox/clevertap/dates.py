"""CleverTap's date and time formats (clevertap-api.md §5): int YYYYMMDD ranges in, yyyyMMddHHmmss out, all UTC."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from clevertap_mcp.sandbox.clevertap.errors import InvalidDates

__all__ = ["DateRange", "date_range", "day_stamp", "export_ts", "minute_stamp", "parse_when"]


class DateRange:
    """An inclusive range of UTC days, as epoch seconds [start, end)."""

    def __init__(self, start: date, end: date) -> None:
        self.start = int(datetime(start.year, start.month, start.day, tzinfo=UTC).timestamp())
        self.end = int(datetime(end.year, end.month, end.day, tzinfo=UTC).timestamp()) + 86400

    def __contains__(self, ts: int) -> bool:
        return self.start <= ts < self.end


def _day(value: Any) -> date:
    if not isinstance(value, int) or isinstance(value, bool) or not 10000101 <= value <= 99991231:
        raise InvalidDates
    try:
        return date(value // 10000, value // 100 % 100, value % 100)
    except ValueError:
        raise InvalidDates from None


def date_range(query: dict[str, Any], now: float, *, allow_future: bool = False) -> DateRange:
    """The query's from/to as a range; InvalidDates for non-ints, impossible dates, from > to or the future."""
    start, end = _day(query.get("from")), _day(query.get("to"))
    today = datetime.fromtimestamp(now, UTC).date()
    if start > end or (not allow_future and end > today):
        raise InvalidDates
    return DateRange(start, end)


def export_ts(ts: int) -> int:
    """Epoch seconds as the int yyyyMMddHHmmss that Get Events records carry (UTC, the emulator's account zone)."""
    return int(datetime.fromtimestamp(ts, UTC).strftime("%Y%m%d%H%M%S"))


def day_stamp(ts: int) -> str:
    """Epoch seconds as the string "YYYYMMDD" of /1/message/report.json."""
    return datetime.fromtimestamp(ts, UTC).strftime("%Y%m%d")


def minute_stamp(ts: int) -> int:
    """Epoch seconds as the int yyyyMMddHHmm of targets/list.json `scheduled_on`."""
    return int(datetime.fromtimestamp(ts, UTC).strftime("%Y%m%d%H%M"))


def parse_when(value: str) -> int | None:
    """A campaign's "YYYYMMDD HH:MM" as epoch seconds (UTC), or None if it is not one."""
    try:
        parsed = datetime.strptime(value, "%Y%m%d %H:%M")
    except ValueError:
        return None
    return int(parsed.replace(tzinfo=UTC).timestamp())
