"""`run_action`: what each catalog action sends to CleverTap, and how the answers become outputs.

The sequences are the ones Membrane's CleverTap connector performs: counts poll their `req_id`, exports POST a query
and then page with the cursor, uploads wrap records in CleverTap's `{"d": [...]}` envelope.

Before sending, every value the action's input schema declares an integer goes out as a JSON integer: JSON Schema
counts 20260101.0 as an integer, so such input passes validation, but CleverTap's int fields (from/to, ids, ts)
would receive the JSON number 20260101.0, which is not the int YYYYMMDD it wants (its date check answers 4002).
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, cast
from urllib.parse import quote

import anyio
import httpx2

from clevertap_mcp.sandbox.connector.catalog import action_spec
from clevertap_mcp.sandbox.connector.wire import (
    REJECTED,
    ActionFailed,
    CleverTapCredentials,
    Wire,
    field,
    require_ok,
)

__all__ = [
    "DEFAULT_POLL_INTERVAL",
    "MAX_COUNT_POLLS",
    "MAX_CURSOR_RETRIES",
    "Progress",
    "integral_floats_to_ints",
    "run_action",
]

Progress = Callable[[str], Awaitable[None]]

# Clients poll counts 10–15 times (clevertap-api.md §9); the last bound keeps a stuck query from holding a run.
# These are GET polls after the POST: a count with N partial polls (settings.count_partial_polls) needs N + 1, so
# the connector finishes any N up to MAX_COUNT_POLLS - 1.
MAX_COUNT_POLLS = 15
# Retries of a first page that answers code 2 "Request still in progress".
MAX_CURSOR_RETRIES = 5
# The real service wants 3–5 s between polls; the sandbox answers at once, so it waits 0.
DEFAULT_POLL_INTERVAL = 0.0
# Cursors are opaque but go into a URL verbatim, so anything that could add or cut query parameters is refused.
_CURSOR_CHARS = re.compile(r"^[A-Za-z0-9%+/=_.~-]+$")
_EXPORT_PARAMS = ("batch_size", "app", "events", "profile")
_STILL_IN_PROGRESS = 2


@dataclass
class _Run:
    wire: Wire
    progress: Progress | None
    poll_interval: float

    async def wait(self, message: str) -> None:
        if self.progress is not None:
            await self.progress(message)
        if self.poll_interval > 0:
            await anyio.sleep(self.poll_interval)


_Handler = Callable[[_Run, dict[str, Any]], Awaitable[Any]]


async def run_action(
    key: str,
    input: dict[str, Any],
    creds: CleverTapCredentials,
    http: httpx2.AsyncClient,
    base_url: str,
    *,
    progress: Progress | None = None,
    poll_interval: float = DEFAULT_POLL_INTERVAL,
) -> Any:
    """Run one catalog action against CleverTap at `base_url`; raise ActionFailed when CleverTap refuses it."""
    handler, spec = _HANDLERS.get(key), action_spec(key)
    if handler is None or spec is None:
        raise ActionFailed(f"Unknown CleverTap action {key!r}")
    sent = cast(dict[str, Any], integral_floats_to_ints(spec.input_schema, input))
    return await handler(_Run(Wire(http, base_url, creds), progress, poll_interval), sent)


def integral_floats_to_ints(schema: Mapping[str, Any], value: Any) -> Any:
    """`value` with each integral float (20260101.0) that `schema` types as an integer turned into an int.

    Only positions the schema declares integer change; free-form data such as evtData keeps its floats.
    """
    for branch in ("anyOf", "oneOf", "allOf"):
        for sub in cast(list[Mapping[str, Any]], schema.get(branch, [])):
            value = integral_floats_to_ints(sub, value)
    if isinstance(value, float):
        declared = schema.get("type")
        integer = declared == "integer" or (isinstance(declared, list) and "integer" in declared)
        return int(value) if integer and value.is_integer() else value
    if isinstance(value, dict):
        properties = cast(Mapping[str, Mapping[str, Any]], schema.get("properties", {}))
        items = cast(dict[str, Any], value).items()
        return {
            name: integral_floats_to_ints(properties[name], one) if name in properties else one for name, one in items
        }
    item_schema = schema.get("items")
    if isinstance(value, list) and isinstance(item_schema, Mapping):
        elements: list[Any] = cast(list[Any], value)
        return [integral_floats_to_ints(cast(Mapping[str, Any], item_schema), one) for one in elements]
    return cast(Any, value)


# Counts -----------------------------------------------------------------------------------------------------------


async def _count(run: _Run, path: str, input: dict[str, Any]) -> dict[str, Any]:
    body = await run.wire.post(path, input)
    req_id: int | str | None = None
    for poll in range(1, MAX_COUNT_POLLS + 1):
        if body.get("status") != "partial":
            break
        req_id = body.get("req_id")
        if not isinstance(req_id, int | str) or isinstance(req_id, bool):
            raise ActionFailed("CleverTap answered partial without a req_id", data=body)
        await run.wait(f"CleverTap is still counting, req_id {req_id} (poll {poll}/{MAX_COUNT_POLLS})")
        body = await run.wire.get(path, f"req_id={quote(str(req_id), safe='')}")
    if body.get("status") == "partial":
        # The query keeps running at CleverTap; its req_id lets the caller collect the count without starting over.
        raise ActionFailed(
            f"CleverTap was still counting after {MAX_COUNT_POLLS} polls (req_id {req_id}). Collect the count with "
            f"proxy_request GET {path}?req_id={req_id} until its status is success, or run the action again later",
            data={"req_id": req_id, "poll_path": path, "polls": MAX_COUNT_POLLS, "last_answer": body},
        )
    return {"count": field(require_ok(body), "count", int)}


async def _event_count(run: _Run, input: dict[str, Any]) -> Any:
    return await _count(run, "/1/counts/events.json", input)


async def _profile_count(run: _Run, input: dict[str, Any]) -> Any:
    return await _count(run, "/1/counts/profiles.json", input)


# Exports ----------------------------------------------------------------------------------------------------------


def _param(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


async def _export(run: _Run, path: str, input: dict[str, Any]) -> dict[str, Any]:
    query = "&".join(f"{name}={quote(_param(input[name]), safe='')}" for name in _EXPORT_PARAMS if name in input)
    body = {name: value for name, value in input.items() if name not in _EXPORT_PARAMS}
    cursor = field(require_ok(await run.wire.post(path, body, query)), "cursor", str)
    return await _page(run, path, cursor)


async def _page(run: _Run, path: str, cursor: str) -> dict[str, Any]:
    if not _CURSOR_CHARS.match(cursor):
        raise ActionFailed("The cursor is not one CleverTap issued; pass next_cursor exactly as returned")
    body = await run.wire.get(path, f"cursor={cursor}")
    for attempt in range(1, MAX_CURSOR_RETRIES + 1):
        if not (body.get("status") == "fail" and body.get("code") == _STILL_IN_PROGRESS):
            break
        # Not ready yet; a retry with the same cursor keeps its place (clevertap-api.md §8).
        await run.wait(f"CleverTap is still preparing the export (retry {attempt}/{MAX_CURSOR_RETRIES})")
        body = await run.wire.get(path, f"cursor={cursor}")
    require_ok(body)
    records = body.get("records", [])  # an empty range may come without `records`
    if not isinstance(records, list):
        raise ActionFailed("CleverTap's page has no valid `records`", data=body)
    next_cursor = body.get("next_cursor")
    last = not (isinstance(next_cursor, str) and next_cursor)
    return {"records": records, "next_cursor": None if last else next_cursor}


async def _events(run: _Run, input: dict[str, Any]) -> Any:
    return await _export(run, "/1/events.json", input)


async def _profiles(run: _Run, input: dict[str, Any]) -> Any:
    return await _export(run, "/1/profiles.json", input)


async def _events_page(run: _Run, input: dict[str, Any]) -> Any:
    return await _page(run, "/1/events.json", str(input["cursor"]))


async def _profiles_page(run: _Run, input: dict[str, Any]) -> Any:
    return await _page(run, "/1/profiles.json", str(input["cursor"]))


# Uploads ----------------------------------------------------------------------------------------------------------


async def _upload(run: _Run, records: list[dict[str, Any]], kind: str, dry_run: bool) -> dict[str, Any]:
    envelope = {"d": [{"type": kind, **{k: v for k, v in record.items() if k != "type"}} for record in records]}
    body = await run.wire.post("/1/upload", envelope, "dryRun=1" if dry_run else "")
    status = body.get("status")
    unprocessed = body.get("unprocessed", [])
    if status == "fail":
        first = _first_error(unprocessed)
        detail = f": {first}" if first else ""
        raise ActionFailed(f"{REJECTED} and processed none of the {len(records)} records{detail}", data=body)
    if status not in ("success", "partial"):
        raise ActionFailed(f"CleverTap answered the upload with an unexpected status {status!r}", data=body)
    return {"status": status, "processed": field(body, "processed", int), "unprocessed": unprocessed}


def _first_error(unprocessed: Any) -> str | None:
    if isinstance(unprocessed, list) and unprocessed:
        first = cast(list[Any], unprocessed)[0]
        if isinstance(first, dict):
            error = cast(dict[str, Any], first).get("error")
            return error if isinstance(error, str) else None
    return None


def _uploader(collection: str, kind: str) -> _Handler:
    async def handler(run: _Run, input: dict[str, Any]) -> Any:
        return await _upload(run, list(input[collection]), kind, bool(input.get("dryRun", False)))

    return handler


# Campaigns, profiles, real time -------------------------------------------------------------------------------


async def _campaigns(run: _Run, input: dict[str, Any]) -> Any:
    body = require_ok(await run.wire.post("/1/targets/list.json", {"from": input["from"], "to": input["to"]}))
    return {"targets": body.get("targets", [])}


async def _campaign_report(run: _Run, input: dict[str, Any]) -> Any:
    body = require_ok(await run.wire.post("/1/targets/result.json", {"id": input["id"]}))
    return {"result": field(body, "result", dict)}


async def _stop_campaign(run: _Run, input: dict[str, Any]) -> Any:
    campaign_id = input["id"]
    require_ok(await run.wire.post("/1/targets/stop.json", {"id": campaign_id}))
    # CleverTap answers a bare success both for a stop and for the no-op on a finished campaign, so the output says
    # exactly that much and where to read the resulting status.
    return {
        "status": "success",
        "id": campaign_id,
        "message": (
            f"CleverTap accepted the stop of campaign {campaign_id}: it no longer sends if it was scheduled or "
            "running; a completed or already stopped campaign is left as it was. get-campaigns shows its status."
        ),
    }


async def _create_campaign(run: _Run, input: dict[str, Any]) -> Any:
    body = require_ok(await run.wire.post("/1/targets/create.json", input))
    estimates: dict[str, Any] = field(body, "estimates", dict) if "estimates" in body else {}
    if input.get("estimate_only") is True:
        # A preview: CleverTap stored nothing and gave no id.
        return {"created": False, "estimates": estimates}
    return {"created": True, "id": field(body, "id", int), "estimates": estimates}


def _as_list(value: Any) -> list[str]:
    return [str(one) for one in cast(list[Any], value)] if isinstance(value, list) else [str(value)]


async def _delete_profiles(run: _Run, input: dict[str, Any]) -> Any:
    request = {name: input[name] for name in ("identity", "guid") if name in input}
    require_ok(await run.wire.post("/1/delete/profiles.json", request))
    requested = {name: _as_list(value) for name, value in request.items()}
    total = sum(len(values) for values in requested.values())
    return {
        "status": "success",
        **requested,
        "message": (
            f"CleverTap accepted the deletion of {total} profile(s). Deletion is asynchronous: the profiles leave "
            "exports, lookups and counts once CleverTap has processed it; unknown ids are ignored."
        ),
    }


async def _real_time(run: _Run, input: dict[str, Any]) -> Any:
    body = require_ok(await run.wire.post("/1/now.json", input))
    return {name: value for name, value in body.items() if name != "status"}


_HANDLERS: dict[str, _Handler] = {
    "real-time-user-count": _real_time,
    "get-campaign-report": _campaign_report,
    "upload-device-tokens": _uploader("tokens", "token"),
    "get-campaigns": _campaigns,
    "stop-campaign": _stop_campaign,
    "create-campaign": _create_campaign,
    "get-profile-count": _profile_count,
    "get-event-count": _event_count,
    "delete-user-profile": _delete_profiles,
    "get-events-by-cursor": _events_page,
    "get-events": _events,
    "get-user-profiles-by-cursor": _profiles_page,
    "get-user-profiles": _profiles,
    "upload-events": _uploader("events", "event"),
    "upload-user-profiles": _uploader("profiles", "profile"),
}
