"""Knobs of the offline sandbox, in one frozen object.

Every point the Membrane or CleverTap contracts leave open is a field here, with the default the contract docs
name, so tests and eval harnesses can pick the other behaviour explicitly.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import types
import typing
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

DEMO_WORKSPACE_KEY = "sandbox-workspace"
DEMO_WORKSPACE_SECRET = "sandbox-secret"  # noqa: S105 - a published demo credential, not a secret
DEMO_TENANT_KEY = "sandbox-tenant"
DEMO_OAUTH_EMAIL = "demo@sandbox.test"
DEMO_OAUTH_PASSWORD = "sandbox-password"  # noqa: S105 - the sandbox's published demo sign-in

DEMO_CLEVERTAP_ACCOUNT_ID = "TEST-R78-ZZ6-5Z7Z"
DEMO_CLEVERTAP_PASSCODE = "SANDBOX-PASSCODE-1"  # the emulator's demo account, not a real one
DEMO_CLEVERTAP_REGION = "eu1"
# The demo account's SDK Token: a different credential from the passcode, so sent as the passcode it gets 401 (§2).
DEMO_CLEVERTAP_SDK_TOKEN = "a1b-2c3"  # noqa: S105 - the emulator's demo account, not a real one


@dataclass(frozen=True)
class SandboxSettings:
    workspace_key: str = DEMO_WORKSPACE_KEY
    workspace_secret: str = DEMO_WORKSPACE_SECRET
    tenant_key: str = DEMO_TENANT_KEY
    # New CleverTap connections skip the connect page and become READY with the demo account.
    auto_connect: bool = False
    # GET polls a new connection answers BUILDING before it moves on (contract §10 #2, default 0).
    building_polls: int = 0
    # --- Membrane readings the public sources leave open (membrane-api.md §11 R1-R9; docs/real-membrane.md says
    # why each default is the likely one). Each has its other value so the server is tested under both.
    # R1: create-campaign's inputSchema declares estimate_only and the run honours it ("declared"), or it does not
    # and Membrane drops the field as an extra property, so the run creates ("undeclared", default).
    create_campaign_estimate_only: Literal["declared", "undeclared"] = "undeclared"
    # R2: connections made by ensure belong to a `clevertap` integration (integrationId set, `integrationKey=`
    # finds them); default off: they carry only connectorId and externalAppId.
    ensure_sets_integration: bool = False
    # R3: what a connect clientAction carries: description and uiUrl ("ui_url", default), agentInstructions and
    # no uiUrl ("agent_instructions"), or the description alone ("bare").
    client_action_link: Literal["ui_url", "agent_instructions", "bare"] = "ui_url"
    # R4: a token that names no tenant gets 403 on tenant routes ("refuse", default) or acts as the workspace's
    # default tenant ("default_tenant").
    no_tenant_claim: Literal["refuse", "default_tenant"] = "refuse"
    # R5: `POST /actions/{selector}/run` runs an action by key too (default True: the docs call it a selector) or
    # answers 404 for a key (False).
    run_path_accepts_keys: bool = True
    # R6: `/connections/{sel}` and the proxy select by connection key too (default True: the CLI takes
    # `<id-or-key>`, §10 #8) or by id only (False).
    path_selector_accepts_keys: bool = True
    # R7: Membrane's own errors carry `type` (default True) or leave it out (False).
    error_types: bool = True
    # R8: a long-poll (`wait=true`) also holds while the connection waits for its user (True), or only while
    # BUILDING (default False).
    long_poll_holds_for_user: bool = False
    # R9: optional fields come as null instead of being left out; each search page carries one malformed item.
    null_optional_fields: bool = False
    malformed_search_item: bool = False
    # A connector variant that first asks for the account's region (a `provide-input` clientAction, answered with
    # `PATCH /connections/{id}` {input: {region}}) before the connect link; default off.
    connect_asks_region: bool = False
    # Seed of the deterministic CleverTap world.
    seed: int = 42
    profiles: int = 200
    # Each Membrane tenant has its own CleverTap world, made on first use (app.py). "shared": every tenant starts
    # from the world of `seed`, shared copy-on-write, so episodes start alike and cheaply; "per-tenant": each is
    # seeded from `seed` and the tenant key, so tenants see different data (a full seed each, nothing shared).
    tenant_seeds: Literal["shared", "per-tenant"] = "shared"
    # Estimated MiB the other tenants' worlds may hold together; past it, the least recently used idle ones are
    # dropped (their tenants get a fresh world on their next call). The sandbox's own tenant's world is kept.
    tenant_worlds_mib: float = 256.0
    # Pinned "now" as epoch seconds; None means the real clock.
    clock: float | None = None
    # N of /1/counts/* (clevertap-api.md §9 and §14 #29, default 1): 0 answers the POST with the count at once;
    # otherwise the POST answers `partial` with a req_id, the next N GET polls stay `partial`, and poll N+1 succeeds.
    count_partial_polls: int = 1
    # Seconds of world time a count req_id stays pollable; after that it gets "Invalid request id" (§9, unconfirmed).
    count_request_ttl: float = 3600
    # --- CleverTap emulator (clevertap-api.md); each is a point the contract leaves open, at its documented default.
    # First-page GETs of a new export cursor that answer code 2 "Request still in progress" (§8, default off).
    cursor_pending_polls: int = 0
    # Cursor lifetimes in seconds (§8, unconfirmed): events 4 h from creation or 1 h idle, profiles 4 days.
    event_cursor_ttl: float = 4 * 3600
    event_cursor_idle_ttl: float = 3600
    profile_cursor_ttl: float = 4 * 86400
    # Page size of /1/events.json and /1/profiles.json when batch_size is absent (unconfirmed; clevertap-node's 10).
    default_batch_size: int = 10
    # Properties per event before 522 (§7.2: 256 in older docs, "100, configurable" in a 2026 revision).
    max_event_properties: int = 256
    # Over-long keys/values are rejected by default; True truncates them instead (§7.2, unconfirmed).
    upload_truncate_long_values: bool = False
    # Robustness switches of §14 #14: `success` despite unprocessed records, and `record` echoed as a JSON string.
    upload_success_with_unprocessed: bool = False
    upload_record_as_string: bool = False
    # Seconds of world time before deleted profiles leave exports, lookups and counts (§12, default 0). World time
    # is pinned with `clock`, so there a delay only passes through CleverTapWorld.advance_clock.
    delete_delay_seconds: float = 0.0
    # In-flight caps per account and path (§4, §14 #16): 15 on /1/upload (events, profiles and tokens share the slot,
    # unconfirmed), 3 on every other path. Over the cap: HTTP 429, nothing processed.
    upload_concurrency: int = 15
    api_concurrency: int = 3
    # False gives event, profile and token uploads a slot of 15 each, in case CleverTap counts them as separate APIs
    # (§4, unconfirmed); a batch mixing record types then needs a place in the slot of every type it holds.
    upload_slot_shared: bool = True
    # /1/targets/create.json calls admitted per real second, even on a pinned clock (§4, §14 #17; older docs said 1).
    create_campaign_per_second: int = 3
    # Real seconds each emulated request stays in flight after it is admitted (§4: "an artificial handler delay"),
    # so a harness can go over the caps; 0 answers at once.
    handler_delay: float = 0.0
    # Profile value operators {"$add"|"$remove": [...]}, {"$incr"|"$decr": n}, {"$delete": true} (§7.2: seen in client
    # libraries, unconfirmed in the docs; default supported). False stores such objects as plain nested values.
    profile_operators: bool = True
    # ts in milliseconds gets 525 by default; True stores it as the far-future time it denotes (§14 #8).
    upload_store_millisecond_ts: bool = False
    # Metrics targets/result.json reports beyond sent and clicked (§11: newer docs list more, unconfirmed).
    campaign_result_extras: tuple[str, ...] = ()
    # `scheduled_on` in targets/list.json (§11, unconfirmed): the int yyyyMMddHHmm by default, or epoch seconds.
    scheduled_on_format: Literal["yyyyMMddHHmm", "epoch"] = "yyyyMMddHHmm"
    # Renames of the campaign `status` values targets/list.json shows (§11, unconfirmed; default scheduled, running,
    # completed, stopped as they are), as (status, shown as) pairs.
    campaign_status_names: tuple[tuple[str, str], ...] = ()
    # A targets/create.json body without target_mode (§16: the old push-only API clevertap-node's docs show): refused
    # as missing by default, since current docs make target_mode mandatory (§11); "push" takes it as the old API did.
    default_target_mode: str | None = None
    # `sk1` is only in the Java SDK's region enum (§1, unconfirmed; default not served, so 404 like any unknown host).
    # True serves it as a regional host with no accounts: every call there is 401, as on any wrong region.
    serve_sk1: bool = False
    # Per-record codes of bad token data (§7.4 table, the 531/535 split unconfirmed): 531 when tokenData is not an
    # object, 535 when its content is invalid (a chrome token without keys). Set both alike for a single code.
    token_not_object_code: int = 531
    token_invalid_content_code: int = 535
    # /1/profile.json for an unknown user (§8, unconfirmed): HTTP 200 {"status":"fail","error":..,"code":..}.
    user_not_found_error: str = "User not found"
    user_not_found_code: int = 404
    # Fields /1/delete/profiles.json adds to {"status":"success"} (§12, unconfirmed whether there are any; default
    # none), as (name, value) pairs.
    delete_success_extras: tuple[tuple[str, str | int | bool], ...] = ()
    # More than 1000 records or an empty `d` on /1/upload (§14 #11, unconfirmed): a fail body with HTTP 400 by
    # default; True answers it with HTTP 200 like CleverTap's other validation failures. Nothing is stored either way.
    upload_batch_limit_http_200: bool = False
    # The fail body of a batch_size outside 1..5000 on the export calls (§14 #26, wording unconfirmed; it names
    # batch_size and its range).
    batch_size_error: str = "batch_size must be an integer between 1 and 5000"
    batch_size_error_code: int = 400
    # Code of the "Dates must be real…" fail body (§14 #27: 4002 seen in client matching, unconfirmed).
    invalid_dates_code: int = 4002
    # Text of the fail body for an expired or unknown cursor (§8: carries both strings clients match on; the real
    # wording is unconfirmed).
    cursor_invalid_error: str = "CURSOR_INVALIDATED: invalid cursor"
    # --- Signing in: the OAuth 2.1 server of membrane-api.md §11 "Signing in" (sandbox/membrane/oauth_*.py).
    # The sandbox's one user, as its sign-in page checks them.
    oauth_email: str = DEMO_OAUTH_EMAIL
    oauth_password: str = DEMO_OAUTH_PASSWORD
    # Lifetimes in seconds (§11: unconfirmed). Access: 3600, as the SDK's minted tokens (§2.2); refresh: 30 days;
    # authorization code: 600 (RFC 6749 §4.1.2 recommends at most 10 minutes).
    oauth_access_token_ttl: float = 3600
    oauth_refresh_token_ttl: float = 30 * 86400
    oauth_code_ttl: float = 600
    # Which redirect_uri a registered client may send (§11: unconfirmed). "loopback-any-port": a loopback URI matches
    # its registration on any port (RFC 8252 §7.3, required of OAuth 2.1 servers for native apps); "exact": only the
    # registered string.
    oauth_redirect_match: Literal["loopback-any-port", "exact"] = "loopback-any-port"
    # Refresh-token rotation (OAuth 2.1 §4.3.1 asks it of public clients; unconfirmed for Membrane): a refresh answers
    # a new refresh token and retires the old; a retired one used again revokes the whole sign-in. False: the same
    # refresh token stays valid and the answer carries none.
    oauth_rotate_refresh_tokens: bool = True
    # Whether the REST API accepts a `tenant` token issued to a third-party (registered) client (§11: unconfirmed; the
    # likely reading is yes: Membrane's own hosted MCP server sends such tokens to this API). False: 401.
    oauth_client_tokens_on_rest: bool = True


def with_overrides(settings: SandboxSettings, assignments: Iterable[str]) -> SandboxSettings:
    """`settings` with NAME=VALUE assignments applied (the command line's `--set`), so a harness that starts the
    sandbox from a shell can flip any open point. VALUE is JSON (`true`, `3`, `0.5`, `"text"`, `[["a", 1]]`), or else
    taken as a plain string. Raises ValueError naming the setting and what it takes."""
    hints = typing.get_type_hints(SandboxSettings)
    changes: dict[str, Any] = {}
    for assignment in assignments:
        name, sep, raw = assignment.partition("=")
        name = name.strip().replace("-", "_")
        if not sep or not name:
            raise ValueError(f"{assignment!r} is not NAME=VALUE (for example count_partial_polls=0)")
        if name not in hints:
            close = difflib.get_close_matches(name, list(hints), n=1)
            hint = f" Did you mean {close[0]}?" if close else " docs/sandbox.md lists them."
            raise ValueError(f"There is no sandbox setting {name!r}.{hint}")
        try:
            value: Any = json.loads(raw)
        except ValueError:
            value = raw
        changes[name] = _coerce(name, value, hints[name])
    return dataclasses.replace(settings, **changes)


def _coerce(name: str, value: Any, hint: Any) -> Any:
    """`value` as the field's type, or ValueError saying what the field takes."""
    converted = _as(value, hint)
    if converted is _NO:
        raise ValueError(f"Sandbox setting {name} takes {_describe(hint)}, not {json.dumps(value)}")
    return converted


_NO: Any = object()


def _as(value: Any, hint: Any) -> Any:
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        for arm in args:
            converted = _as(value, arm)
            if converted is not _NO:
                return converted
        return _NO
    if origin is Literal:
        return value if value in args else _NO
    if origin is tuple:
        if not isinstance(value, list):
            return _NO
        items = typing.cast(list[Any], value)
        if len(args) == 2 and args[1] is Ellipsis:
            converted = [_as(item, args[0]) for item in items]
        elif len(args) == len(items):
            converted = [_as(item, arm) for item, arm in zip(items, args, strict=True)]
        else:
            return _NO
        return _NO if any(c is _NO for c in converted) else tuple(converted)
    if hint is type(None):
        return None if value is None else _NO
    if hint is bool:
        return value if isinstance(value, bool) else _NO
    if hint is int:
        return value if isinstance(value, int) and not isinstance(value, bool) else _NO
    if hint is float:
        return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else _NO
    if hint is str:
        return value if isinstance(value, str) else _NO
    return _NO


def _describe(hint: Any) -> str:
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_describe(arm) for arm in args)
    if origin is Literal:
        return "one of " + ", ".join(json.dumps(a) for a in args)
    if origin is tuple:
        return "a JSON list"
    names = {type(None): "null", bool: "true or false", int: "an integer", float: "a number", str: "a string"}
    return names.get(hint, str(hint))
