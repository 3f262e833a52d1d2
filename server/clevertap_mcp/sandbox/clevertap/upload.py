"""POST /1/upload: the batch envelope, per-record verdicts, and how accepted records change the account (§7, §14).

Records are applied in order, so a later record sees the profiles an earlier one created. `dryRun` runs every check
and applies nothing.

Events whose `ts` lies outside -2 h / +2 min of now are stored like any other; that CleverTap fires no live campaign
for them (§14 #8) is not modelled: live campaigns are made in the dashboard, and whether one fired shows nowhere in
the REST API, so there is nothing an API client could observe.
"""

from __future__ import annotations

import json
import math
from typing import Any, cast

from clevertap_mcp.sandbox.clevertap.errors import BadRequest, Refused
from clevertap_mcp.sandbox.clevertap.model import Account, Event, Profile, Token, object_id_for
from clevertap_mcp.sandbox.clevertap.upload_rules import (
    MAX_MULTI_VALUES,
    Reject,
    check_event,
    check_identity,
    check_profile,
    check_token,
    check_ts,
)
from clevertap_mcp.sandbox.settings import SandboxSettings

__all__ = ["MAX_BATCH", "RECORD_TYPES", "record_types", "upload"]

MAX_BATCH = 1000
RECORD_TYPES = ("event", "profile", "token")


def record_types(payload: Any) -> list[str]:
    """The record types a batch carries, in RECORD_TYPES order (records of no known type are not counted)."""
    records = cast(dict[str, Any], payload).get("d") if isinstance(payload, dict) else None
    if not isinstance(records, list):
        return []
    present = [cast(dict[str, Any], r).get("type") for r in cast(list[Any], records) if isinstance(r, dict)]
    return [kind for kind in RECORD_TYPES if kind in present]


def upload(account: Account, payload: Any, settings: SandboxSettings, now: float, *, dry_run: bool) -> dict[str, Any]:
    """The /1/upload answer for `payload`; for an empty or oversized batch BadRequest (HTTP 400), or Refused (HTTP 200)
    with settings.upload_batch_limit_http_200 (§14 #11 is unconfirmed)."""
    records = cast(dict[str, Any], payload).get("d") if isinstance(payload, dict) else None
    if not isinstance(records, list):
        # Records not inside `d`: CleverTap answers fail with nothing processed (lib-observed body).
        return {"status": "fail", "processed": 0, "unprocessed": []}
    batch = cast(list[Any], records)
    if not 1 <= len(batch) <= MAX_BATCH:
        refusal = Refused if settings.upload_batch_limit_http_200 else BadRequest
        raise refusal(f"d must hold between 1 and {MAX_BATCH} records, got {len(batch)}", 400)
    processed = 0
    unprocessed: list[dict[str, Any]] = []
    for number, record in enumerate(batch, start=1):
        try:
            _apply(account, record, settings, now, dry_run=dry_run)
        except Reject as reject:
            echoed = json.dumps(record) if settings.upload_record_as_string else record
            unprocessed.append(
                {"status": "fail", "code": reject.code, "error": reject.message(number), "record": echoed}
            )
        else:
            processed += 1
    if not unprocessed or (processed and settings.upload_success_with_unprocessed):
        status = "success"
    else:
        status = "partial" if processed else "fail"
    return {"status": status, "processed": processed, "unprocessed": unprocessed}


def _apply(account: Account, record: Any, settings: SandboxSettings, now: float, *, dry_run: bool) -> None:
    kind = cast(dict[str, Any], record).get("type") if isinstance(record, dict) else None
    if kind not in RECORD_TYPES:
        raise Reject(524, "Record type is incorrect", "Record is neither event nor profile")
    fields = cast(dict[str, Any], record)
    truncate = settings.upload_truncate_long_values
    if kind == "token":
        existing = account.profiles.get(str(fields.get("objectId")))
        object_id, token_id, token_type, keys = check_token(
            fields,
            existing.platform if existing else None,
            not_object_code=settings.token_not_object_code,
            invalid_content_code=settings.token_invalid_content_code,
        )
        if not dry_run:
            profile = _upsert(account, None, object_id, None)
            profile.tokens = [token for token in profile.tokens if token.id != token_id]
            profile.tokens.append(Token(token_id, token_type, keys))
        return
    identity, object_id, social = check_identity(fields)
    ts = check_ts(fields, store_millis=settings.upload_store_millisecond_ts)
    if kind == "event":
        name, properties = check_event(
            fields,
            max_properties=settings.max_event_properties,
            truncate=truncate,
            discarded=account.discarded_events,
        )
        if not dry_run:
            profile = _upsert(account, identity, object_id, social)
            account.events.append(Event(profile.object_id, name, ts if ts is not None else int(now), properties))
            account.event_names.add(name)
        return
    properties = check_profile(fields, truncate=truncate, operators=settings.profile_operators)
    if not dry_run:
        target = _upsert(account, identity, object_id, social)
        merged = dict(target.data)
        # On a copy: a Reject halfway leaves the profile as it was.
        _merge(merged, properties, operators=settings.profile_operators)
        target.data = merged


def _upsert(account: Account, identity: str | None, object_id: str | None, social: str | None) -> Profile:
    """The profile the record names; an unknown identity creates one (profiles merge by identity)."""
    profile = account.find(identity=identity) if identity is not None else None
    if profile is None and object_id is not None:
        profile = account.find(object_id=object_id)
    if profile is None and social is not None and identity is None:
        object_id = object_id_for(account.account_id, social)
        profile = account.find(object_id=object_id)
    if profile is None:
        new_id = object_id or object_id_for(account.account_id, identity or "")
        profile = Profile(object_id=new_id, identity=identity, seq=account.next_seq())
        account.add_profile(profile)
    elif identity is not None and profile.identity is None:
        profile.identity = identity
        account.by_identity[identity] = profile.object_id
    return profile


def _merge(data: dict[str, Any], update: dict[str, Any], *, operators: bool) -> None:
    """Apply profileData: plain values overwrite, lists are multi-values, `$add`-style operators edit in place."""
    for key, value in update.items():
        if isinstance(value, list):
            data[key] = [str(item) for item in cast(list[Any], value)][-MAX_MULTI_VALUES:]
        elif operators and isinstance(value, dict) and len(cast(dict[str, Any], value)) == 1:
            _operate(data, key, *next(iter(cast(dict[str, Any], value).items())))
        else:
            data[key] = value


def _operate(data: dict[str, Any], key: str, operator: str, operand: Any) -> None:
    current = data.get(key)
    items: list[Any] = cast(list[Any], operand) if isinstance(operand, list) else [operand]
    if operator == "$delete":
        data.pop(key, None)
    elif operator in ("$incr", "$decr") and isinstance(operand, int | float) and not isinstance(operand, bool):
        base = current if isinstance(current, int | float) and not isinstance(current, bool) else 0
        result = base + operand if operator == "$incr" else base - operand
        if not math.isfinite(result):
            # An overflow to inf could not be rendered in any later answer (JSON has no Infinity).
            raise Reject(555, "Property operator is incorrect", f"{operator} would take {key} out of range")
        data[key] = result
    elif operator in ("$add", "$remove"):
        existing: list[Any] = cast(list[Any], current) if isinstance(current, list) else []
        if current is not None and not isinstance(current, list):
            existing = [str(current)]
        if operator == "$add":
            data[key] = [*existing, *(str(item) for item in items)][-MAX_MULTI_VALUES:]
        else:
            data[key] = [item for item in existing if item not in {str(one) for one in items}]
    else:
        # Not an operator: a nested object, stored as given (§7.2 default).
        data[key] = {operator: operand}
