"""What graders read: a compact JSON snapshot of a CleverTap world, and its diff since the world was seeded.

The schema is documented in docs/evaluating-agents.md ("Snapshot" and "Diff"); `SCHEMA_VERSION` changes with it.
Only the world's public reading API is used (`accounts()`, `now()`, `pristine()` and the model's fields), so the
way worlds are stored can change underneath. The diff's baseline is the world's `pristine()` twin, seeded again on
the first diff and kept (its snapshot and its events counted by content) for the world's lifetime: creating or
resetting a world costs nothing extra, the first diff of a world about one seeding more.
"""

from __future__ import annotations

import weakref
from collections import Counter
from dataclasses import dataclass
from typing import Any

from clevertap_mcp.sandbox.clevertap.model import Account, Campaign, Event, Profile
from clevertap_mcp.sandbox.clevertap.state import CleverTapWorld

__all__ = ["SCHEMA_VERSION", "diff", "snapshot"]

SCHEMA_VERSION = 1


@dataclass(frozen=True)
class _Baseline:
    """A seeded world as the diff compares with it: the snapshot, and each account's events counted by content."""

    view: dict[str, Any]
    events: dict[str, Counter[_EventKey]]


_EventKey = tuple[str, str, int, str]
_baselines: weakref.WeakKeyDictionary[CleverTapWorld, _Baseline] = weakref.WeakKeyDictionary()


def snapshot(world: CleverTapWorld, *, events: bool = False) -> dict[str, Any]:
    """The world now; with `events`, every event in full rather than counts by name."""
    return {
        "version": SCHEMA_VERSION,
        "now": int(world.now()),
        "accounts": {account.account_id: _account(account, full_events=events) for account in world.accounts()},
    }


def diff(world: CleverTapWorld) -> dict[str, Any]:
    """What changed in `world` since it was seeded (that is, since the last reset)."""
    baseline = _baselines.get(world)
    if baseline is None:
        pristine = world.pristine()
        counted = {a.account_id: Counter(_event_key(event) for event in a.events) for a in pristine.accounts()}
        baseline = _baselines[world] = _Baseline(snapshot(pristine), counted)
    now = {account.account_id: account for account in world.accounts()}
    accounts: dict[str, Any] = {}
    for account_id in sorted(baseline.view["accounts"].keys() | now.keys()):
        account = now.get(account_id) or Account(account_id, "", "")
        old = baseline.view["accounts"].get(account_id) or _account(Account(account_id, "", ""), full_events=False)
        new = _account(account, full_events=False)
        events = _events_diff(baseline.events.get(account_id, Counter()), account)
        accounts[account_id] = _account_diff(old, new, events)
    changed = any(part["summary"]["total"] for part in accounts.values())
    return {"version": SCHEMA_VERSION, "changed": changed, "accounts": accounts}


# Snapshot -------------------------------------------------------------------------------------------------------------


def _account(account: Account, *, full_events: bool) -> dict[str, Any]:
    identities = {oid: profile.identity for oid, profile in account.profiles.items()}
    view: dict[str, Any] = {
        "region": account.region,
        "profiles": {oid: _profile(profile) for oid, profile in sorted(account.profiles.items())},
        "campaigns": {str(cid): _campaign(c) for cid, c in sorted(account.campaigns.items())},
        "pendingDeletions": {oid: int(at) for oid, at in sorted(account.pending_deletions.items())},
    }
    if full_events:
        view["events"] = [_event(event, identities.get(event.object_id)) for event in account.events]
    else:
        view["events"] = {"total": len(account.events), "byName": _by_name(e.name for e in account.events)}
    return view


def _profile(profile: Profile) -> dict[str, Any]:
    # Token ids are device credentials: a snapshot names their types only.
    return {
        "identity": profile.identity,
        "platform": profile.platform,
        "data": dict(profile.data),
        "tokens": sorted(token.type for token in profile.tokens),
    }


def _campaign(campaign: Campaign) -> dict[str, Any]:
    view: dict[str, Any] = {
        "name": campaign.name,
        "targetMode": campaign.target_mode,
        "scheduledOn": campaign.scheduled_on,
        "status": campaign.status,
        "apiCreated": campaign.api_created,
    }
    if campaign.request:
        view["request"] = campaign.request
    return view


def _event(event: Event, identity: str | None) -> dict[str, Any]:
    view: dict[str, Any] = {"objectId": event.object_id, "identity": identity, "name": event.name, "ts": event.ts}
    view["props"] = event.props
    return view


def _by_name(names: Any) -> dict[str, int]:
    return dict(sorted(Counter[str](names).items()))


# Diff -----------------------------------------------------------------------------------------------------------------


def _account_diff(old: dict[str, Any], new: dict[str, Any], events: dict[str, Any]) -> dict[str, Any]:
    profiles = _profiles_diff(old["profiles"], new["profiles"])
    campaigns = _campaigns_diff(old["campaigns"], new["campaigns"])
    deletions = [
        {"objectId": oid, "identity": _identity_of(oid, new, old), "at": at}
        for oid, at in new["pendingDeletions"].items()
        if old["pendingDeletions"].get(oid) != at
    ]
    summary = {
        "profilesAdded": len(profiles["added"]),
        "profilesRemoved": len(profiles["removed"]),
        "profilesChanged": len(profiles["changed"]),
        "eventsAdded": len(events["added"]),
        "eventsRemoved": events["removed"]["total"],
        "campaignsAdded": len(campaigns["added"]),
        "campaignsChanged": len(campaigns["changed"]),
        "deletionsScheduled": len(deletions),
    }
    summary["total"] = sum(summary.values())
    return {
        "summary": summary,
        "profiles": profiles,
        "events": events,
        "campaigns": campaigns,
        "deletions": {"scheduled": deletions},
    }


def _identity_of(oid: str, *views: dict[str, Any]) -> str | None:
    for view in views:
        profile = view["profiles"].get(oid)
        if profile is not None and profile["identity"] is not None:
            return profile["identity"]
    return None


def _profiles_diff(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    added = [{"objectId": oid, **new[oid]} for oid in new if oid not in old]
    removed = [{"objectId": oid, **old[oid]} for oid in old if oid not in new]
    changed: list[dict[str, Any]] = []
    for oid in new.keys() & old.keys():
        before, after = old[oid], new[oid]
        if before == after:
            continue
        entry: dict[str, Any] = {"objectId": oid, "identity": before["identity"] or after["identity"]}
        entry["fields"] = {
            name: [before[name], after[name]]
            for name in ("identity", "platform", "tokens")
            if before[name] != after[name]
        }
        keys = sorted(before["data"].keys() | after["data"].keys())
        # null stands for absent: a property removed with $delete reads [value, null].
        entry["data"] = {
            key: [before["data"].get(key), after["data"].get(key)]
            for key in keys
            if before["data"].get(key) != after["data"].get(key)
        }
        changed.append(entry)
    changed.sort(key=lambda entry: entry["objectId"])
    return {"added": added, "removed": removed, "changed": changed}


def _event_key(event: Event) -> _EventKey:
    # repr, not JSON: ten times cheaper, and a seeded twin builds each props dict in the same key order.
    return (event.object_id, event.name, event.ts, repr(event.props))


def _events_diff(old: Counter[_EventKey], account: Account) -> dict[str, Any]:
    remaining = Counter(old)
    added: list[dict[str, Any]] = []
    for event in account.events:
        key = _event_key(event)
        if remaining[key] > 0:
            remaining[key] -= 1
        else:
            profile = account.profiles.get(event.object_id)
            added.append(_event(event, profile.identity if profile is not None else None))
    gone = Counter[str]()
    for (_, name, _, _), count in remaining.items():
        if count > 0:
            gone[name] += count
    return {"added": added, "removed": {"total": gone.total(), "byName": dict(sorted(gone.items()))}}


def _campaigns_diff(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    added = [{"id": int(cid), **new[cid]} for cid in new if cid not in old]
    changed: list[dict[str, Any]] = []
    for cid in sorted(new.keys() & old.keys(), key=int):
        before, after = old[cid], new[cid]
        fields = {name: [before.get(name), after.get(name)] for name in after if before.get(name) != after.get(name)}
        if fields:
            changed.append({"id": int(cid), "name": after["name"], **fields})
    return {"added": added, "changed": changed}
