"""The per-record rules of POST /1/upload: each check and the error code it earns (clevertap-api.md §7.4, §14).

A rule raises Reject; `Reject.message` renders CleverTap's wording with the 1-based record number.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from typing import Any, cast

__all__ = [
    "RESTRICTED_EVENTS",
    "Reject",
    "check_event",
    "check_identity",
    "check_profile",
    "check_token",
    "check_ts",
]

RESTRICTED_EVENTS = frozenset(
    {
        "App Launched",
        "App Installed",
        "App Uninstalled",
        "Notification Sent",
        "Notification Viewed",
        "Notification Clicked",
        "UTM Visited",
        "Session Concluded",
        "Stayed",
    }
)
TOKEN_TYPES = frozenset({"apns", "gcm", "fcm", "wns", "mpns", "chrome"})
# Token types a device of each platform can hold; 534 is "type not valid for this objectId".
PLATFORM_TOKEN_TYPES = {
    "Android": {"gcm", "fcm"},
    "iOS": {"apns"},
    "Web": {"chrome"},
    "Windows": {"wns", "mpns"},
}
IDENTITY_KEYS = ("identity", "objectId", "FBID", "GPID")
MAX_KEY_CHARS = 120
MAX_VALUE_BYTES = 512
MAX_MULTI_VALUES = 100
MAX_EPOCH_SECONDS = 9_999_999_999  # ten digits: anything longer is milliseconds (or worse)
MAX_MILLIS = 9_999_999_999_999
_OBJECT_ID = re.compile(r"^(-|__g)[0-9a-f]{32}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_PHONE = re.compile(r"^\+[1-9]\d{6,14}$")
# Date-typed values are "$D_<epoch seconds>" (§5); births before 1970 have negative epochs.
_DATE = re.compile(r"^\$D_-?\d{1,12}$")
_STANDARD_CHOICES: dict[str, tuple[frozenset[str], int, str]] = {
    "Gender": (frozenset({"M", "F"}), 514, "Gender is incorrect"),
    "Employed": (frozenset({"Y", "N"}), 517, "Employment status is incorrect"),
    "Education": (frozenset({"School", "College", "Graduate"}), 518, "Education is incorrect"),
    "Married": (frozenset({"Y", "N"}), 519, "Marital status is incorrect"),
}


class Reject(Exception):
    def __init__(self, code: int, reason: str, detail: str | None = None) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason
        self.detail = detail

    def message(self, number: int) -> str:
        if self.detail is None:
            # The live 513 reads "<reason>. Skipped record number : 1", with no ErrorCode part.
            return f"{self.reason}. Skipped record number : {number}"
        return f"{self.reason}. ErrorCode: {self.code} - {self.detail}. Skipped record number : {number}"


def valid_object_id(value: Any) -> bool:
    return isinstance(value, str) and bool(_OBJECT_ID.match(value))


def check_identity(record: dict[str, Any]) -> tuple[str | None, str | None, str | None]:
    """(identity, objectId, FBID-or-GPID key) of an event or profile record; 523 or 526 when unusable."""
    if not any(key in record for key in IDENTITY_KEYS):
        raise Reject(523, "Identity is missing", "Record needs identity, objectId, FBID or GPID at the top level")
    identity = record.get("identity")
    if identity is not None and (isinstance(identity, bool) or not isinstance(identity, str | int) or identity == ""):
        raise Reject(523, "Identity is incorrect", "identity must be a non-empty string")
    object_id = record.get("objectId")
    if object_id is not None and not valid_object_id(object_id):
        raise Reject(526, "objectId is incorrect", "Invalid objectId")
    social = next((f"{key}:{record[key]}" for key in ("FBID", "GPID") if isinstance(record.get(key), str)), None)
    if identity is None and object_id is None and social is None:
        raise Reject(523, "Identity is missing", "Record needs identity, objectId, FBID or GPID at the top level")
    return (str(identity) if identity is not None else None), object_id, social


def check_ts(record: dict[str, Any], *, store_millis: bool = False) -> int | None:
    """The record's `ts` in epoch seconds, None when absent; 525 for milliseconds or anything not an epoch.

    With `store_millis`, a millisecond value is kept as the seconds it claims to be: a time tens of thousands of
    years ahead that no date range ever selects (the classic client bug of §14 #8, the other way).
    """
    ts = record.get("ts")
    if ts is None:
        return None
    limit = MAX_MILLIS if store_millis else MAX_EPOCH_SECONDS
    if isinstance(ts, bool) or not isinstance(ts, int) or not 0 <= ts <= limit:
        raise Reject(525, "Timestamp is incorrect", "ts must be UNIX epoch seconds")
    return ts


def _check_sizes(properties: dict[str, Any], code: int, *, truncate: bool) -> dict[str, Any]:
    checked: dict[str, Any] = {}
    for key, value in properties.items():
        if len(key) > MAX_KEY_CHARS:
            if not truncate:
                raise Reject(code, "Property key is too long", f"Keys are at most {MAX_KEY_CHARS} characters")
            key = key[:MAX_KEY_CHARS]
        if isinstance(value, str) and len(value.encode()) > MAX_VALUE_BYTES:
            if not truncate:
                raise Reject(code, "Property value is too long", f"Values are at most {MAX_VALUE_BYTES} bytes")
            value = value.encode()[:MAX_VALUE_BYTES].decode(errors="ignore")
        checked[key] = value
    return checked


def check_event(
    record: dict[str, Any],
    *,
    max_properties: int,
    truncate: bool,
    discarded: Collection[str] = frozenset(),
) -> tuple[str, dict[str, Any]]:
    """(evtName, evtData) of a valid event record; `discarded` holds the names discarded in the dashboard (528)."""
    name = record.get("evtName")
    if not isinstance(name, str) or not name:
        raise Reject(509, "Event Name is incorrect", "Event name is mandatory")
    data = record.get("evtData")
    if not isinstance(data, dict):
        raise Reject(512, "Event structure is incorrect", "evtData must be an object")
    if name in RESTRICTED_EVENTS:
        raise Reject(513, "Trying to raise a restricted system event")
    if name in discarded:
        raise Reject(528, "Event is discarded", f"Event {name} has been discarded in the dashboard")
    properties = cast(dict[str, Any], data)
    if len(properties) > max_properties:
        raise Reject(522, "Too many event properties", f"Events carry at most {max_properties} properties")
    return name, _check_sizes(properties, 512, truncate=truncate)


def check_profile(record: dict[str, Any], *, truncate: bool, operators: bool = True) -> dict[str, Any]:
    """The profileData of a valid profile record; `operators` off, `$`-objects are plain nested values."""
    data = record.get("profileData")
    if not isinstance(data, dict):
        raise Reject(555, "Profile structure is incorrect", "profileData must be an object")
    properties = cast(dict[str, Any], data)
    # A dict value is a `$`-operator or a nested object, checked below; any other value of a standard key must fit.
    for key, (choices, code, reason) in _STANDARD_CHOICES.items():
        value = properties.get(key)
        if value is not None and not isinstance(value, dict) and not (isinstance(value, str) and value in choices):
            raise Reject(code, reason, f"{key} must be one of {', '.join(sorted(choices))}")
    email = properties.get("Email")
    if email is not None and not isinstance(email, dict) and not (isinstance(email, str) and _EMAIL.match(email)):
        raise Reject(515, "Email is incorrect", "Email must be a valid email address")
    phone = properties.get("Phone")
    if phone is not None and not isinstance(phone, dict) and not (isinstance(phone, str) and _PHONE.match(phone)):
        raise Reject(516, "Phone is incorrect", "Phone must be + followed by the country code and number")
    for key, value in properties.items():
        if operators and isinstance(value, dict) and any(str(n).startswith("$") for n in cast(dict[str, Any], value)):
            _check_operator(key, cast(dict[str, Any], value))
    # 520 covers the age a profile gives: its DOB (a "$D_<epoch seconds>" date, §7.2) or an Age in years.
    dob = properties.get("DOB")
    if dob is not None and not isinstance(dob, dict) and not (isinstance(dob, str) and _DATE.match(dob)):
        raise Reject(520, "Age is incorrect", "DOB must be a date in the form $D_<epoch seconds>")
    age = properties.get("Age")
    if age is not None and (isinstance(age, bool) or not isinstance(age, int) or not 0 < age < 150):
        raise Reject(520, "Age is incorrect", "Age must be a whole number of years")
    return _check_sizes(properties, 555, truncate=truncate)


def _check_operator(key: str, value: dict[str, Any]) -> None:
    (operator, operand), *rest = value.items()
    numeric = isinstance(operand, int | float) and not isinstance(operand, bool)
    valid = not rest and (
        (operator == "$delete" and operand is True)
        or (operator in ("$incr", "$decr") and numeric)
        or (operator in ("$add", "$remove") and isinstance(operand, str | list))
    )
    if not valid:
        raise Reject(555, "Property operator is incorrect", f"Invalid operator on {key}")


def check_token(
    record: dict[str, Any], platform: str | None, *, not_object_code: int = 531, invalid_content_code: int = 535
) -> tuple[str, str, str, dict[str, str] | None]:
    """(objectId, token id, token type, chrome keys) of a valid token record; `platform` is the profile's.

    The two codes of bad token data are settings (SandboxSettings.token_not_object_code, ...): the split is unconfirmed.
    """
    object_id = record.get("objectId")
    if not valid_object_id(object_id):
        raise Reject(530, "objectId is incorrect", "Token records need a valid objectId")
    data = record.get("tokenData")
    if not isinstance(data, dict):
        raise Reject(not_object_code, "Token data is incorrect", "tokenData must be an object")
    token = cast(dict[str, Any], data)
    token_id, kind = token.get("id"), token.get("type")
    if not isinstance(token_id, str) or not token_id:
        raise Reject(532, "Token id is missing", "tokenData.id is mandatory")
    if kind is None or kind == "":
        raise Reject(533, "Token type is missing", "tokenData.type is mandatory")
    if kind not in TOKEN_TYPES or (platform in PLATFORM_TOKEN_TYPES and kind not in PLATFORM_TOKEN_TYPES[platform]):
        raise Reject(534, "Token type is incorrect", f"Type {kind!r} is not valid for this objectId")
    keys = token.get("keys")
    if kind == "chrome":
        if not isinstance(keys, dict) or not all(
            isinstance(cast(dict[str, Any], keys).get(name), str) for name in ("p256dh", "auth")
        ):
            raise Reject(invalid_content_code, "Token data is incorrect", "chrome tokens need keys {p256dh, auth}")
        return (
            str(object_id),
            token_id,
            kind,
            {name: str(cast(dict[str, Any], keys)[name]) for name in ("p256dh", "auth")},
        )
    return str(object_id), token_id, str(kind), None
