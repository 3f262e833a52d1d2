"""The CleverTap world: accounts and their data, and one method per API operation. No HTTP here.

Methods take parsed requests, apply CleverTap's rules and return the success body, or raise an errors.py class.
None of them awaits, so on the single event loop each runs to completion before another request's starts: that is
what keeps the world consistent under concurrent requests.

A world made by `sharing(template)` starts with the template's accounts themselves, not copies, and copies an
account (Account.fork) the first time one of its own methods changes it: a tenant's new world costs almost nothing
until its first write (app.py). Code outside the world must treat `account()` as read-only for that reason; it
takes `writable_account()` to change one directly.
"""

from __future__ import annotations

import hmac
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any, Literal

import anyio

from clevertap_mcp.sandbox.clevertap import campaigns, deletion, messages, subscriptions, trends, upload
from clevertap_mcp.sandbox.clevertap.counts import CountRequests
from clevertap_mcp.sandbox.clevertap.errors import InvalidCredentials, Refused, UserNotFound
from clevertap_mcp.sandbox.clevertap.exports import CursorPolicy, CursorStore
from clevertap_mcp.sandbox.clevertap.limits import InFlight, RateWindow
from clevertap_mcp.sandbox.clevertap.model import Account, Event, Profile
from clevertap_mcp.sandbox.clevertap.query import parse_query, select_events
from clevertap_mcp.sandbox.clevertap.realtime import real_time
from clevertap_mcp.sandbox.clevertap.records import (
    RecordOptions,
    event_record,
    event_summaries,
    lookup_record,
    profile_record,
)
from clevertap_mcp.sandbox.clevertap.regions import REGION_ALIASES, REGIONS
from clevertap_mcp.sandbox.settings import SandboxSettings

__all__ = ["REGIONS", "REGION_ALIASES", "CleverTapWorld", "CountKind", "Kind"]

Kind = Literal["events", "profiles"]
CountKind = Literal["events", "profiles", "trends", "top"]
# REGIONS and REGION_ALIASES (regions.py) are re-exported here: the regional host prefixes of §1.
MAX_BATCH_SIZE = 5000
_BOOLS = {"true": True, "1": True, "false": False, "0": False}


class CleverTapWorld:
    def __init__(
        self,
        settings: SandboxSettings,
        accounts: Iterable[Account] = (),
        *,
        rate_clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        # The real clock "now" follows when settings.clock does not pin it; a seam so tests need not read the time.
        self._wall_clock = wall_clock
        self._clock_offset = 0.0
        # create.json's per-second cap counts real seconds: on the pinned world clock (--clock) no second would ever
        # pass, and after three creates every later one would get 429 for good.
        self._rate_clock = rate_clock
        self._accounts: dict[tuple[str, str], Account] = {}
        self._cursors: dict[str, CursorStore] = {}
        self._counts: dict[str, CountRequests] = {}
        # Test seam: awaited by every admitted request while it holds its in-flight slot, with the request's path,
        # so a test can keep requests in flight deterministically and go over the caps (limits.py).
        self.hold: Callable[[str], Awaitable[None]] | None = None
        # What settings.handler_delay waits on: real seconds in service, a seam so tests need not wait them out.
        self.delay: Callable[[float], Awaitable[None]] = anyio.sleep
        self.in_flight = InFlight(upload_cap=settings.upload_concurrency, cap=settings.api_concurrency)
        self._creates = RateWindow(settings.create_campaign_per_second)
        # The "now" the seeded data was generated at (seeded()); None for a world built account by account.
        self.anchor: float | None = None
        # Accounts still shared with the template this world was made from (`sharing`), by _accounts key.
        self._shared: set[tuple[str, str]] = set()
        for account in accounts:
            self.add_account(account)

    @classmethod
    def seeded(
        cls,
        settings: SandboxSettings,
        *,
        rate_clock: Callable[[], float] = time.monotonic,
        anchor: float | None = None,
    ) -> CleverTapWorld:
        """The deterministic demo world of `settings.seed` and `settings.profiles`, its data ending at `anchor`
        (default: the world's now)."""
        from clevertap_mcp.sandbox.clevertap.seed import seed_demo_account  # seed builds on this module's types

        world = cls(settings, rate_clock=rate_clock)
        world.anchor = world.now() if anchor is None else anchor
        world.add_account(seed_demo_account(settings.seed, settings.profiles, anchor=world.anchor))
        return world

    def pristine(self) -> CleverTapWorld:
        """A twin of this world as it was seeded, nothing done to it since: the baseline of snapshot.py's diff.

        Built on demand, so creating a world costs nothing extra. A world built by hand has no seeded state to go
        back to, so its twin is empty.
        """
        if self.anchor is None:
            return CleverTapWorld(self.settings)
        return CleverTapWorld.seeded(self.settings, anchor=self.anchor)

    @classmethod
    def sharing(cls, template: CleverTapWorld) -> CleverTapWorld:
        """A world with `template`'s accounts, each copied on its first change here; `template` must not change."""
        world = cls(template.settings, rate_clock=template._rate_clock, wall_clock=template._wall_clock)
        for account in template._accounts.values():
            world.add_account(account)
        world._shared = set(world._accounts)
        # The same seeded data, so the same baseline for the grader's diff (pristine()).
        world.anchor = template.anchor
        return world

    @property
    def shares_template(self) -> bool:
        """Whether every account is still the template's own (nothing written here yet)."""
        return bool(self._shared) and self._shared == set(self._accounts)

    def _writable(self, account: Account) -> Account:
        key = (account.region, account.account_id)
        if key not in self._shared:
            return account
        self._shared.discard(key)
        forked = account.fork()
        self._accounts[key] = forked
        return forked

    def writable_account(self, region: str, account_id: str) -> Account | None:
        """The account, copied first if still shared, for a caller that changes it directly (a test or grader)."""
        account = self.account(region, account_id)
        return self._writable(account) if account is not None else None

    # Clock and accounts ------------------------------------------------------------------------------------------

    def now(self) -> float:
        """Epoch seconds: the pinned settings.clock when set, else the real clock; plus any advance_clock."""
        base = self.settings.clock if self.settings.clock is not None else self._wall_clock()
        return base + self._clock_offset

    def advance_clock(self, seconds: float) -> None:
        """Move the world's clock forward, and the create rate's with it (a test knob; the emulated API never calls it)."""
        self._clock_offset += seconds

    def add_account(self, account: Account) -> None:
        self._accounts[(account.region, account.account_id)] = account
        self._cursors[account.account_id] = CursorStore(account.account_id)
        self._counts[account.account_id] = CountRequests(account.account_id, ttl=self.settings.count_request_ttl)

    def accounts(self) -> list[Account]:
        """Every account of the world, in the order they were added."""
        return list(self._accounts.values())

    def account(self, region: str, account_id: str) -> Account | None:
        return self._accounts.get((REGION_ALIASES.get(region, region), account_id))

    def authenticate(self, region: str, account_id: str | None, passcode: str | None) -> Account:
        """The account these headers open on this regional host; InvalidCredentials otherwise (wrong region too)."""
        account = self.account(region, account_id) if account_id else None
        if account is None or passcode is None or not hmac.compare_digest(account.passcode, passcode):
            raise InvalidCredentials
        self._settle(account)
        return account

    def _settle(self, account: Account) -> None:
        """Carry out deletions whose delay has passed, and free the account's expired exports and count requests."""
        now = self.now()
        self._cursors[account.account_id].purge(now)
        self._counts[account.account_id].purge(now)
        due = {object_id for object_id, at in account.pending_deletions.items() if at <= now}
        if due:
            account = self._writable(account)  # already a copy: only a change here schedules deletions
            account.remove_profiles(due)
            for object_id in due:
                del account.pending_deletions[object_id]

    def held(self, account: Account) -> dict[str, int]:
        """What the account's stores hold now: live exports, their cursors, and pollable count requests."""
        cursors = self._cursors[account.account_id]
        return {
            "exports": cursors.export_count,
            "cursors": cursors.cursor_count,
            "count_requests": len(self._counts[account.account_id]),
        }

    # Upload ------------------------------------------------------------------------------------------------------

    def upload(self, account: Account, payload: Any, *, dry_run: bool) -> dict[str, Any]:
        account = account if dry_run else self._writable(account)
        return upload.upload(account, payload, self.settings, self.now(), dry_run=dry_run)

    # Exports and lookup ------------------------------------------------------------------------------------------

    def open_export(
        self, account: Account, kind: Kind, body: dict[str, Any], params: Mapping[str, str]
    ) -> dict[str, Any]:
        """Step 1 of §8: evaluate the query and hand out the first cursor, even for an empty range."""
        batch_size = _batch_size(params.get("batch_size"), self.settings)
        options = RecordOptions(
            app=_flag(params, "app", default=False),
            events=_flag(params, "events", default=True),
            profile=_flag(params, "profile", default=True),
        )
        events = select_events(account, parse_query(body, account, self.now()))
        items: list[Any]
        render: Callable[[Any], dict[str, Any]]
        if kind == "events":

            def render_event(event: Event) -> dict[str, Any]:
                return event_record(event, account.profiles.get(event.object_id), options)

            items, render = events, render_event
            policy = CursorPolicy(self.settings.event_cursor_ttl, self.settings.event_cursor_idle_ttl)
        else:
            who = dict.fromkeys(event.object_id for event in events)
            summaries = event_summaries(event for event in account.events if event.object_id in who)
            items = [(account.profiles[oid], summaries.get(oid, {})) for oid in who if oid in account.profiles]

            def render_profile(item: tuple[Profile, dict[str, dict[str, int]]]) -> dict[str, Any]:
                return profile_record(*item, options)

            render = render_profile
            policy = CursorPolicy(self.settings.profile_cursor_ttl, None)
        cursor = self._cursors[account.account_id].open(
            kind,
            items,
            batch_size=batch_size,
            policy=policy,
            now=self.now(),
            pending_polls=self.settings.cursor_pending_polls,
            render=render,
        )
        return {"status": "success", "cursor": cursor}

    def export_page(self, account: Account, kind: Kind, cursor: str) -> dict[str, Any]:
        """Step 2 of §8: the page at `cursor`, decoded once by the HTTP layer."""
        return self._cursors[account.account_id].page(kind, cursor, self.now())

    def lookup_profile(self, account: Account, params: Mapping[str, str]) -> dict[str, Any]:
        """GET /1/profile.json with exactly one of email, identity, objectId."""
        given = {name: params[name] for name in ("email", "identity", "objectId") if params.get(name)}
        if len(given) != 1:
            raise Refused("Exactly one of email, identity or objectId is required", 400)
        name, value = next(iter(given.items()))
        profile: Profile | None
        if name == "email":
            profile = next((p for p in account.profiles.values() if p.data.get("Email") == value), None)
        else:
            profile = account.find(identity=value) if name == "identity" else account.find(object_id=value)
        if profile is None:
            raise UserNotFound
        summary = event_summaries(e for e in account.events if e.object_id == profile.object_id)
        return {"status": "success", "record": lookup_record(profile, summary.get(profile.object_id, {}))}

    # Counts and real time ----------------------------------------------------------------------------------------

    def start_count(self, account: Account, kind: CountKind, body: dict[str, Any]) -> dict[str, Any]:
        """The first answer of /1/counts/{kind}.json: the success body, or `partial` with a req_id to poll."""
        now = self.now()
        if kind == "trends":
            answer = trends.trends(account, body, now)
        elif kind == "top":
            answer = trends.top(account, body, now)
        else:
            events = select_events(account, parse_query(body, account, now))
            count = len(events) if kind == "events" else len({event.object_id for event in events})
            answer = {"status": "success", "count": count}
        return self._counts[account.account_id].start(_count_path(kind), answer, self.settings.count_partial_polls, now)

    def poll_count(self, account: Account, kind: CountKind, req_id: str) -> dict[str, Any]:
        return self._counts[account.account_id].poll(_count_path(kind), req_id, self.now())

    def real_time(self, account: Account, body: dict[str, Any]) -> dict[str, Any]:
        return real_time(account, body, self.now())

    # Campaigns ---------------------------------------------------------------------------------------------------

    def list_campaigns(self, account: Account, body: dict[str, Any]) -> dict[str, Any]:
        targets = campaigns.list_campaigns(
            account,
            body,
            self.now(),
            epoch_scheduled_on=self.settings.scheduled_on_format == "epoch",
            status_names=dict(self.settings.campaign_status_names),
        )
        return {"status": "success", "targets": targets}

    def campaign_result(self, account: Account, body: dict[str, Any]) -> dict[str, Any]:
        result = campaigns.campaign_result(account, body, self.settings.campaign_result_extras)
        return {"status": "success", "result": result}

    def create_campaign(self, account: Account, body: dict[str, Any]) -> dict[str, Any]:
        # The per-second cap counts every call that got in, refused ones included: it guards the endpoint.
        account = self._writable(account)
        self._creates.admit(account.account_id, self._rate_clock() + self._clock_offset)
        if "target_mode" not in body and self.settings.default_target_mode is not None:
            body = {**body, "target_mode": self.settings.default_target_mode}
        return {"status": "success", **campaigns.create_campaign(account, body, self.now())}

    def stop_campaign(self, account: Account, body: dict[str, Any]) -> dict[str, Any]:
        account = self._writable(account)
        campaigns.stop_campaign(account, body)
        return {"status": "success"}

    # Messages ----------------------------------------------------------------------------------------------------

    def message_report(self, account: Account, body: dict[str, Any]) -> dict[str, Any]:
        return messages.message_report(account, body, self.now())

    def send(self, account: Account, channel: str, body: dict[str, Any]) -> dict[str, Any]:
        return messages.send(channel, body)

    # Deletion ----------------------------------------------------------------------------------------------------

    def delete_profiles(self, account: Account, body: dict[str, Any]) -> dict[str, Any]:
        """Accept a deletion of profiles by identity and/or guid; it takes effect after settings.delete_delay_seconds."""
        account = self._writable(account)
        deletion.schedule_deletion(account, body, self.now() + self.settings.delete_delay_seconds)
        self._settle(account)
        # Further fields are unconfirmed (§12): none by default, settings.delete_success_extras otherwise.
        return {"status": "success", **dict(self.settings.delete_success_extras)}

    def demerge_profiles(self, account: Account, body: dict[str, Any]) -> dict[str, Any]:
        account = self._writable(account)
        deletion.demerge_profiles(account, body)
        return {"status": "success"}

    def subscribe(self, account: Account, body: dict[str, Any]) -> dict[str, Any]:
        account = self._writable(account)
        return subscriptions.subscribe(account, body)

    def disassociate(self, account: Account, body: dict[str, Any]) -> dict[str, Any]:
        account = self._writable(account)
        return subscriptions.disassociate(account, body)


def _count_path(kind: CountKind) -> str:
    """The path a req_id belongs to, as an agent polling the wrong one should read it back."""
    return f"/1/counts/{kind}.json"


def _batch_size(raw: str | None, settings: SandboxSettings) -> int:
    if raw is None:
        return settings.default_batch_size
    try:
        size = int(raw)
    except ValueError:
        size = 0
    if not 1 <= size <= MAX_BATCH_SIZE:
        # The wording is unconfirmed (§14 #26): a setting, by default naming batch_size and its range.
        raise Refused(settings.batch_size_error, settings.batch_size_error_code)
    return size


def _flag(params: Mapping[str, str], name: str, *, default: bool) -> bool:
    raw = params.get(name)
    if raw is None:
        return default
    if raw.lower() not in _BOOLS:
        raise Refused(f"{name} must be true or false", 400)
    return _BOOLS[raw.lower()]
