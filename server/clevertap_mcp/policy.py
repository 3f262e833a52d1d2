"""Which calls only read, and which delete, stop or send: the rules behind read-only mode and confirmations.

Classified before anything is sent, from what the call itself says, never by asking the sandbox or Membrane:

- `run_action` by action key. Only the known CleverTap read actions below count as reads; any other key (a custom
  action, a key Membrane adds later, an id whose key this server has not seen in search_actions) counts as a write.
  Membrane's action objects carry no "reads only" flag (its `isReadOnly` says the element cannot be edited).
- `proxy_request` by method and path (clevertap-api.md): GET and HEAD read; POST reads only on the endpoints where
  CleverTap reads by POST (exports, counts, real-time counts, campaign list and report, message report); everything
  else, other methods included, is a write.

Deletes, stops and sends are named here too: `delete-user-profile`, `stop-campaign` and `create-campaign` that is
not `estimate_only` (the action's flag counts only where its input schema declares it, membrane-api.md §11 R1),
and their proxy equivalents (`/1/delete/profiles.json`, `/1/demerge/profiles.json`, `/1/targets/stop.json`,
`/1/targets/create.json` without `estimate_only`, `/1/send/*.json`). An action whose key is unknown, or a proxied
write to a path this server does not know, may be any of these, so it is confirmed too; known uploads are not.

Proxy paths are compared case-insensitively where that makes a call count as a write or as risky (a server that
ignores case would delete on `/1/Delete/profiles.json`), and exactly where it would make one count as a read. A
known write path stays a write whatever the method: a GET to `/1/delete/profiles.json` is not taken as a read.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, cast

READ_ACTION_KEYS = frozenset(
    {
        "real-time-user-count",
        "get-campaign-report",
        "get-campaigns",
        "get-profile-count",
        "get-event-count",
        "get-events",
        "get-events-by-cursor",
        "get-user-profiles",
        "get-user-profiles-by-cursor",
    }
)

# Where CleverTap reads by POST: the query goes in the body.
READ_POST_PATHS = frozenset(
    {
        "/1/events.json",
        "/1/profiles.json",
        "/1/counts/events.json",
        "/1/counts/profiles.json",
        "/1/counts/trends.json",
        "/1/counts/top.json",
        "/1/now.json",
        "/1/targets/list.json",
        "/1/targets/result.json",
        "/1/message/report.json",
    }
)
READ_METHODS = frozenset({"GET", "HEAD"})

Effect = Literal["delete", "stop", "send", "unknown"]

# Writes that only add or update data: no confirmation. Any key or path in none of these sets may do anything.
KNOWN_WRITE_KEYS = frozenset({"upload-events", "upload-user-profiles", "upload-device-tokens"})
KNOWN_WRITE_PATHS = frozenset({"/1/upload"})

RISKY_ACTIONS: Mapping[str, Effect] = {
    "delete-user-profile": "delete",
    "stop-campaign": "stop",
    "create-campaign": "send",
}
RISKY_POST_PATHS: Mapping[str, Effect] = {
    "/1/delete/profiles.json": "delete",
    "/1/demerge/profiles.json": "delete",
    "/1/targets/stop.json": "stop",
    "/1/targets/create.json": "send",
    "/1/send/push.json": "send",
    "/1/send/email.json": "send",
    "/1/send/sms.json": "send",
    "/1/send/webpush.json": "send",
}
CREATE_CAMPAIGN_PATH = "/1/targets/create.json"


@dataclass(frozen=True)
class Risky:
    """A call that deletes, stops or sends, and what it acts on (the action input or the request body)."""

    effect: Effect
    payload: dict[str, Any]
    # create-campaign and its proxy form: reach can be previewed by the same call with estimate_only=true.
    is_campaign_create: bool = False
    # A proxied body that is not one JSON object with unique keys: what it targets cannot be told, so it is shown
    # as sent (and no preview is run on a guess of it).
    unreadable_body: str | None = None


def bare_path(path: str) -> str:
    return path.split("?", 1)[0]


def action_is_read(key: str | None) -> bool:
    return key is not None and key in READ_ACTION_KEYS


def _known_write(path: str) -> bool:
    folded = bare_path(path).lower()
    return folded in RISKY_POST_PATHS or folded in KNOWN_WRITE_PATHS


def proxy_is_read(method: str, path: str) -> bool:
    method = method.upper()
    if _known_write(path):
        return False
    return method in READ_METHODS or (method == "POST" and bare_path(path) in READ_POST_PATHS)


def asks_estimate_only(payload: Mapping[str, Any]) -> bool:
    # Only a real JSON true: a string "true" may not be read as one by every backend, so it still asks.
    return payload.get("estimate_only") is True


class _DuplicateKey(ValueError):
    pass


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # `{"estimate_only": false, "estimate_only": true}`: Python keeps the last, a backend may keep the first.
    keys = [k for k, _ in pairs]
    if len(set(keys)) != len(keys):
        raise _DuplicateKey
    return dict(pairs)


def _raw_json_object(raw_body: str) -> dict[str, Any] | None:
    """The raw body as a JSON object, or None when it is not one or repeats a key (it is then taken at its worst)."""
    try:
        payload: Any = json.loads(raw_body, object_pairs_hook=_unique_keys)
    except ValueError:
        return None
    return cast(dict[str, Any], payload) if isinstance(payload, dict) else None


def risky_action(key: str, action_input: Mapping[str, Any], *, estimate_only_honoured: bool = False) -> Risky | None:
    """A delete, stop or send; an action this server does not know (a custom one, or an id it has not seen in
    search_actions) may be any of them, so it is asked about too. A create-campaign asking for estimate_only is a
    preview only when `estimate_only_honoured` (its input schema declares the field, §11 R1): else it creates."""
    if key in READ_ACTION_KEYS or key in KNOWN_WRITE_KEYS:
        return None
    effect = RISKY_ACTIONS.get(key)
    if effect is None:
        return Risky("unknown", dict(action_input))
    if key == "create-campaign":
        if asks_estimate_only(action_input) and estimate_only_honoured:
            return None
        return Risky(effect, dict(action_input), is_campaign_create=True)
    return Risky(effect, dict(action_input))


def risky_proxy(method: str, path: str, body: Any, raw_body: str) -> Risky | None:
    """A proxied delete, stop or send; a body that cannot be read as a JSON object is taken at its worst."""
    folded = bare_path(path).lower()
    if proxy_is_read(method, path) or folded in KNOWN_WRITE_PATHS:
        return None
    payload: Any = body
    if body is None and raw_body:
        payload = _raw_json_object(raw_body)
    fields: dict[str, Any] = dict(payload) if isinstance(payload, dict) else {}  # pyright: ignore[reportUnknownArgumentType]
    sent = raw_body or (json.dumps(body, default=str) if body is not None else "")
    unreadable = sent if sent and not isinstance(payload, dict) else None
    effect = RISKY_POST_PATHS.get(folded)
    if effect is None:
        # A write to a path this server does not know (a new endpoint, another method): it may delete or send.
        return Risky("unknown", fields, unreadable_body=unreadable)
    if unreadable is not None:
        return Risky(effect, fields, unreadable_body=unreadable)
    if folded == CREATE_CAMPAIGN_PATH:
        if asks_estimate_only(fields):
            return None
        return Risky(effect, fields, is_campaign_create=True)
    return Risky(effect, fields)


READ_ONLY_MODE = (
    "This server is in read-only mode (--read-only / CLEVERTAP_MCP_READ_ONLY=1), so nothing was sent. To make "
    "changes, the user must restart the server without --read-only and with CLEVERTAP_MCP_READ_ONLY unset or 0."
)


def read_only_action_refusal(action_id: str, key: str) -> str:
    shown = action_id if key == action_id else f"{action_id} ({key})"
    return (
        f"Refused: action {shown} is not a known read (only {', '.join(sorted(READ_ACTION_KEYS))} are; unknown "
        f"actions count as writes). {READ_ONLY_MODE}"
    )


def read_only_proxy_refusal(method: str, path: str) -> str:
    return (
        f"Refused: {method.upper()} {bare_path(path)} may change data. Reads are GET, or POST to "
        f"{', '.join(sorted(READ_POST_PATHS))}. {READ_ONLY_MODE}"
    )
