"""The things a CleverTap account holds: profiles, their device tokens, events and campaigns.

Plain data with no rules; the rules live in the modules that change it (upload, exports, campaigns, state).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace
from typing import Any

__all__ = [
    "COMPLETED",
    "RUNNING",
    "SCHEDULED",
    "STOPPED",
    "Account",
    "Campaign",
    "Event",
    "Profile",
    "Token",
    "object_id_for",
]

# Campaign states of targets/list.json (clevertap-api.md §11, unconfirmed set).
SCHEDULED, RUNNING, COMPLETED, STOPPED = "scheduled", "running", "completed", "stopped"


def object_id_for(account_id: str, identity: str) -> str:
    """The CleverTap GUID the emulator gives a profile it creates for an identity: stable, `__g` + 32 hex."""
    return "__g" + hashlib.sha256(f"{account_id}:{identity}".encode()).hexdigest()[:32]


@dataclass
class Token:
    # The push token and the web-push keys (whose `auth` is a secret) stay out of reprs, so out of logs.
    id: str = field(repr=False)
    type: str  # apns, gcm, fcm, wns, mpns, chrome
    keys: dict[str, str] | None = field(default=None, repr=False)


@dataclass
class Profile:
    object_id: str
    identity: str | None
    seq: int  # the numeric `id` CleverTap shows in export records
    data: dict[str, Any] = field(default_factory=dict[str, Any])
    # Platform facts the SDK would report; a profile made by an upload has none yet.
    platform: str | None = None  # Android, iOS, Web
    os_version: str | None = None
    app_version: str | None = None
    make: str | None = None
    model: str | None = None
    device: str | None = None  # mobile, tablet, desktop
    browser: str | None = None  # chrome, firefox, ... for Web; None for apps
    tokens: list[Token] = field(default_factory=list[Token])


@dataclass(slots=True)  # a 100k-profile world holds a million of these
class Event:
    object_id: str
    name: str
    ts: int  # epoch seconds, UTC
    props: dict[str, Any]
    session: dict[str, Any] = field(default_factory=dict[str, Any])


@dataclass
class Campaign:
    id: int
    name: str
    target_mode: str
    scheduled_on: int  # epoch seconds of the (planned) start
    status: str
    api_created: bool  # dashboard campaigns never appear in targets/list.json
    result: dict[str, int] = field(default_factory=dict[str, int])
    request: dict[str, Any] = field(default_factory=dict[str, Any])


@dataclass
class Account:
    account_id: str
    passcode: str = field(repr=False)  # a credential: never in reprs, so never in logs or tracebacks
    region: str
    # The SDK Token: a credential of the SDKs, never of the REST API, where it is a wrong passcode (§2, §14 #15).
    sdk_token: str = field(default="", repr=False)
    profiles: dict[str, Profile] = field(default_factory=dict[str, Profile])  # by object_id
    by_identity: dict[str, str] = field(default_factory=dict[str, str])  # identity -> object_id
    events: list[Event] = field(default_factory=list[Event])
    # Event names the account knows; queries on any other name get "Invalid event".
    event_names: set[str] = field(default_factory=set[str])
    # Event names discarded in the dashboard: uploads of them get 528 (clevertap-api.md §7.4, §14 #6).
    discarded_events: set[str] = field(default_factory=set[str])
    campaigns: dict[int, Campaign] = field(default_factory=dict[int, Campaign])
    # object_id -> epoch seconds at which an accepted deletion takes effect.
    pending_deletions: dict[str, float] = field(default_factory=dict[str, float])
    # ("phone" | "email", value) pairs on the do-not-disturb list of /1/subscribe (subscriptions.py).
    unsubscribed: set[tuple[str, str]] = field(default_factory=set[tuple[str, str]])
    last_seq: int = 0

    def find(self, identity: str | None = None, object_id: str | None = None) -> Profile | None:
        if identity is not None:
            object_id = self.by_identity.get(identity)
        return self.profiles.get(object_id) if object_id is not None else None

    def add_profile(self, profile: Profile) -> None:
        self.profiles[profile.object_id] = profile
        if profile.identity is not None:
            self.by_identity[profile.identity] = profile.object_id

    def remove_profiles(self, object_ids: set[str]) -> None:
        for object_id in object_ids:
            profile = self.profiles.pop(object_id, None)
            if profile is not None and profile.identity is not None:
                self.by_identity.pop(profile.identity, None)
        self.events = [event for event in self.events if event.object_id not in object_ids]

    def next_seq(self) -> int:
        self.last_seq += 1
        return self.last_seq

    def fork(self) -> Account:
        """A copy that can change without changing this one: what the rules mutate in place (profiles, their data
        and tokens, campaigns, the containers) is copied; events, which nothing mutates once stored, are shared."""
        return replace(
            self,
            profiles={oid: replace(p, data=dict(p.data), tokens=list(p.tokens)) for oid, p in self.profiles.items()},
            by_identity=dict(self.by_identity),
            events=list(self.events),
            event_names=set(self.event_names),
            discarded_events=set(self.discarded_events),
            campaigns={
                cid: replace(c, result=dict(c.result), request=dict(c.request)) for cid, c in self.campaigns.items()
            },
            pending_deletions=dict(self.pending_deletions),
            unsubscribed=set(self.unsubscribed),
        )
