"""The CleverTap emulator's route table: `/{region}/1/...` paths whose handlers parse, call the world, render.

The region segment stands for the regional host (eu1.api.clevertap.com and friends). Every request passes the same
gate: auth first (401), then its body read in full, then a place among the account's requests in flight on that
path (429 when the cap is reached, limits.py; with settings.upload_slot_shared off, an upload takes a place per record
type it carries), held until the answer is built. Malformed JSON is HTTP 400 (§14 #18);
every other refusal, a well-formed body that is not an object included, is rendered by the errors.py class the
world raised, HTTP 200 with a fail body as §3 wants.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, cast
from urllib.parse import unquote

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from clevertap_mcp.sandbox.clevertap.errors import (
    BadRequest,
    CleverTapError,
    CursorInvalidated,
    InvalidRequestId,
    MethodNotAllowed,
    NotFound,
    Refused,
    as_configured,
)
from clevertap_mcp.sandbox.clevertap.limits import UPLOAD_PATH
from clevertap_mcp.sandbox.clevertap.messages import SEND_CHANNELS
from clevertap_mcp.sandbox.clevertap.model import Account
from clevertap_mcp.sandbox.clevertap.regions import UNCONFIRMED_REGION
from clevertap_mcp.sandbox.clevertap.state import REGION_ALIASES, REGIONS, CleverTapWorld, CountKind, Kind
from clevertap_mcp.sandbox.clevertap.upload import record_types
from clevertap_mcp.sandbox.membrane.params import loads_strict

__all__ = ["MAX_JSON_DEPTH", "build_clevertap_app", "parse_json"]

# Nesting bound of request bodies (unconfirmed for CleverTap, whose parser has one too): deep enough for any real
# payload, shallow enough that every answer built from the body still renders.
MAX_JSON_DEPTH = 100

_COUNT_KINDS: tuple[CountKind, ...] = ("events", "profiles", "trends", "top")
_Operation = Callable[[Request, Account], Awaitable[dict[str, Any]]]
# The in-flight slots a request needs, from the request and its route path (limits.py).
_Slots = Callable[[Request, str], Awaitable[list[str]]]


def _render(error: CleverTapError) -> Response:
    return JSONResponse(error.body(), status_code=error.status_code)


async def _http_error(request: Request, exc: Exception) -> Response:
    """Router misses (unknown path, wrong method) in CleverTap's fail-body form rather than Starlette's text."""
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    if status == 405:
        return _render(MethodNotAllowed())
    if status == 404:
        return _render(NotFound())
    return JSONResponse({"status": "fail", "error": "Internal Server Error", "code": status}, status_code=status)


def _too_deep(value: Any, limit: int) -> bool:
    """True when arrays and objects nest more than `limit` levels; iterative, so depth cannot exhaust the stack."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        children: list[Any]
        if isinstance(node, dict):
            children = list(cast(dict[str, Any], node).values())
        elif isinstance(node, list):
            children = cast(list[Any], node)
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False


def parse_json(raw: bytes) -> Any:
    """Strict JSON: BadRequest (HTTP 400) for anything RFC 8259 refuses, non-finite numbers and runaway nesting."""
    try:
        value = loads_strict(raw)
    except ValueError:  # UnicodeDecodeError, JSONDecodeError and too deep to parse are ValueErrors
        raise BadRequest("Malformed JSON in the request body", 400) from None
    if _too_deep(value, MAX_JSON_DEPTH):
        # What parses must also render: answers echo records and exports return properties a few levels deeper.
        raise BadRequest(f"Malformed JSON in the request body: nested deeper than {MAX_JSON_DEPTH} levels", 400)
    return value


_PARSED = "clevertap_body"  # request.state attribute: the body parsed once, for the slot choice and the operation


async def _json(request: Request) -> Any:
    if hasattr(request.state, _PARSED):
        return getattr(request.state, _PARSED)
    raw = await request.body()
    # An empty POST reads as `{}`, which the operation then validates.
    value: Any = parse_json(raw) if raw.strip() else {}
    setattr(request.state, _PARSED, value)
    return value


async def _object(request: Request) -> dict[str, Any]:
    """The body as a JSON object; well-formed JSON of another type is refused with HTTP 200 and a fail body (§3)."""
    value = await _json(request)
    if not isinstance(value, dict):
        raise Refused(f"The request body must be a JSON object, not {_json_type(value)}", 400)
    return cast(dict[str, Any], value)


def _query_object(raw: str) -> dict[str, Any]:
    """The `query` parameter of a GET export: JSON like a POST body, refused the same ways."""
    value = parse_json(raw.encode())
    if not isinstance(value, dict):
        raise Refused(f"The query parameter must be a JSON object, not {_json_type(value)}", 400)
    return cast(dict[str, Any], value)


def _json_type(value: Any) -> str:
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    return "a number"


def _raw_param(request: Request, name: str) -> str | None:
    """A query parameter decoded exactly once, with `+` kept: cursors are base64 and arrive percent-encoded."""
    query = cast(bytes, request.scope.get("query_string", b"")).decode("latin-1")
    for pair in query.split("&"):
        key, _, value = pair.partition("=")
        if unquote(key) == name:
            return unquote(value)
    return None


def build_clevertap_app(world: CleverTapWorld) -> Starlette:
    """The emulator as an ASGI app serving `world`."""

    async def path_slot(request: Request, path: str) -> list[str]:
        return [path]

    def endpoint(
        path: str, operation: _Operation, methods: tuple[str, ...] = ("POST",), slots: _Slots = path_slot
    ) -> Route:
        async def handle(request: Request) -> Response:
            region = str(request.path_params["region"])
            try:
                if region not in REGIONS and region not in REGION_ALIASES and not _served_unconfirmed(world, region):
                    raise NotFound
                headers = request.headers
                account = world.authenticate(
                    region, headers.get("x-clevertap-account-id"), headers.get("x-clevertap-passcode")
                )
                await request.body()  # read in full before taking a slot: Starlette keeps it for the operation
                taken = world.in_flight.enter_all(account.account_id, await slots(request, path))
                try:
                    await _in_flight(world, path)
                    return JSONResponse(await operation(request, account))
                finally:
                    for slot in taken:
                        slot.release()
            except CleverTapError as error:
                return _render(as_configured(error, world.settings))

        return Route(f"/{{region}}{path}", handle, methods=list(methods))

    async def upload_slots(request: Request, path: str) -> list[str]:
        if world.settings.upload_slot_shared:
            return [path]
        return [f"{path}#{kind}" for kind in record_types(await _json(request))] or [path]

    async def upload(request: Request, account: Account) -> dict[str, Any]:
        dry_run = request.query_params.get("dryRun", "0").lower() in ("1", "true")
        return world.upload(account, await _json(request), dry_run=dry_run)

    def export(kind: Kind) -> _Operation:
        async def operation(request: Request, account: Account) -> dict[str, Any]:
            if request.method == "POST":
                return world.open_export(account, kind, await _object(request), request.query_params)
            cursor = _raw_param(request, "cursor")
            query = request.query_params.get("query")
            if not cursor and query is not None:
                # The GET form of step 1 that clevertap-node sends (§16): the query as URL-encoded JSON.
                return world.open_export(account, kind, _query_object(query), request.query_params)
            if not cursor:
                raise CursorInvalidated
            return world.export_page(account, kind, cursor)

        return operation

    def count(kind: CountKind) -> _Operation:
        async def operation(request: Request, account: Account) -> dict[str, Any]:
            req_id = request.query_params.get("req_id")
            if request.method == "POST":
                if req_id is not None:
                    raise InvalidRequestId(": poll with GET on the path that issued it")
                return world.start_count(account, kind, await _object(request))
            if req_id is None:
                raise InvalidRequestId(": req_id is required")
            return world.poll_count(account, kind, req_id)

        return operation

    async def profile(request: Request, account: Account) -> dict[str, Any]:
        return world.lookup_profile(account, request.query_params)

    def simple(method: Callable[[Account, dict[str, Any]], dict[str, Any]]) -> _Operation:
        async def operation(request: Request, account: Account) -> dict[str, Any]:
            return method(account, await _object(request))

        return operation

    def send(channel: str) -> _Operation:
        async def operation(request: Request, account: Account) -> dict[str, Any]:
            return world.send(account, channel, await _object(request))

        return operation

    routes = [
        endpoint(UPLOAD_PATH, upload, slots=upload_slots),
        # GETs fetch cursor pages and poll req_ids.
        endpoint("/1/events.json", export("events"), ("GET", "POST")),
        endpoint("/1/profiles.json", export("profiles"), ("GET", "POST")),
        endpoint("/1/profile.json", profile, ("GET",)),
        *(endpoint(f"/1/counts/{kind}.json", count(kind), ("GET", "POST")) for kind in _COUNT_KINDS),
        endpoint("/1/now.json", simple(world.real_time)),
        endpoint("/1/targets/list.json", simple(world.list_campaigns)),
        endpoint("/1/targets/result.json", simple(world.campaign_result)),
        endpoint("/1/targets/create.json", simple(world.create_campaign)),
        endpoint("/1/targets/stop.json", simple(world.stop_campaign)),
        endpoint("/1/message/report.json", simple(world.message_report)),
        *(endpoint(f"/1/send/{channel}.json", send(channel)) for channel in SEND_CHANNELS),
        endpoint("/1/delete/profiles.json", simple(world.delete_profiles)),
        endpoint("/1/demerge/profiles.json", simple(world.demerge_profiles)),
        endpoint("/1/subscribe", simple(world.subscribe)),
        endpoint("/1/disassociate", simple(world.disassociate)),
    ]
    return Starlette(routes=routes, exception_handlers={HTTPException: _http_error})


def _served_unconfirmed(world: CleverTapWorld, region: str) -> bool:
    """`sk1` when settings.serve_sk1 makes it a host (§1, unconfirmed): no account lives there, so calls get 401."""
    return region == UNCONFIRMED_REGION and world.settings.serve_sk1


async def _in_flight(world: CleverTapWorld, path: str) -> None:
    """What keeps an admitted request in flight: the configured handler delay, then the test seam."""
    if world.settings.handler_delay > 0:
        await world.delay(world.settings.handler_delay)
    if world.hold is not None:
        await world.hold(path)
