"""`POST /1/subscribe` and `POST /1/disassociate` (clevertap-api.md §16; developer.clevertap.com subscribe-api and
disassociate-api), both `{"d": [...]}` with at most 1000 records, answered per record like an upload (§7.3).

Subscribe sets a phone number's or email's status for every profile that shares it: "Unsubscribe" puts it on the
account's do-not-disturb list, "Resubscribe" takes it off. Disassociate detaches a phone number used as an identity
from its profile, which keeps its objectId and data (as demerge does), so the next upload with that number starts
a new profile. The per-record codes and wording are unconfirmed: the upload's record-type code 524 for a record
of the wrong shape, and a quiet success for a number no profile uses as its identity, as demerge and delete accept
unknown ids quietly (§12, §13).
"""

from __future__ import annotations

from typing import Any, cast

from clevertap_mcp.sandbox.clevertap.errors import BadRequest
from clevertap_mcp.sandbox.clevertap.model import Account

__all__ = ["MAX_RECORDS", "SUBSCRIPTION_STATUSES", "disassociate", "subscribe"]

MAX_RECORDS = 1000
SUBSCRIPTION_STATUSES = ("Unsubscribe", "Resubscribe")
_TYPES = ("phone", "email")
_BAD_RECORD = 524


class _Skip(Exception):
    pass


def _records(payload: dict[str, Any]) -> list[Any]:
    records = payload.get("d")
    if not isinstance(records, list) or not 1 <= len(cast(list[Any], records)) <= MAX_RECORDS:
        raise BadRequest(f"d must be a list of 1 to {MAX_RECORDS} records", 400)
    return cast(list[Any], records)


def _answer(records: list[Any], apply: Any) -> dict[str, Any]:
    processed = 0
    unprocessed: list[dict[str, Any]] = []
    for number, record in enumerate(records, start=1):
        try:
            apply(record)
        except _Skip as skip:
            error = f"{skip}. Skipped record number : {number}"
            unprocessed.append({"status": "fail", "code": _BAD_RECORD, "error": error, "record": record})
        else:
            processed += 1
    status = "success" if not unprocessed else "partial" if processed else "fail"
    return {"status": status, "processed": processed, "unprocessed": unprocessed}


def _type_and_value(record: Any, types: tuple[str, ...]) -> tuple[str, str]:
    if not isinstance(record, dict):
        raise _Skip("A record must be an object")
    fields = cast(dict[str, Any], record)
    kind, value = fields.get("type"), fields.get("value")
    if kind not in types:
        raise _Skip(f"type must be {' or '.join(repr(one) for one in types)}")
    if not isinstance(value, str) or not value:
        raise _Skip("value must be a non-empty string")
    return str(kind), value


def subscribe(account: Account, payload: dict[str, Any]) -> dict[str, Any]:
    def apply(record: Any) -> None:
        kind, value = _type_and_value(record, _TYPES)
        status = cast(dict[str, Any], record).get("status")
        if status not in SUBSCRIPTION_STATUSES:
            raise _Skip(f"status must be {' or '.join(SUBSCRIPTION_STATUSES)}")
        key = (kind, value.lower() if kind == "email" else value)
        if status == "Unsubscribe":
            account.unsubscribed.add(key)
        else:
            account.unsubscribed.discard(key)

    return _answer(_records(payload), apply)


def disassociate(account: Account, payload: dict[str, Any]) -> dict[str, Any]:
    def apply(record: Any) -> None:
        _, value = _type_and_value(record, ("phone",))
        profile = account.find(identity=value)
        if profile is not None:
            profile.identity = None
            del account.by_identity[value]

    return _answer(_records(payload), apply)
