"""One CleverTap world per Membrane tenant: made on first use, reset alone, dropped when idle past a memory cap.

The sandbox's own tenant (settings.tenant_key) has the world served at `/clevertap/{region}`, seeded in full as it
always was, so code and tests that change it directly change only it. Every other tenant's world is served at
`/clevertap/tenant/{key as base64url}/{region}`, the address the sandbox's Membrane side uses for that tenant's
proxied calls and action runs (membrane/upstream.py). With settings.tenant_seeds "shared" (the default) such a world
starts as a view of one pristine template seeded from settings.seed and copies an account on its first write
(CleverTapWorld.sharing), so a new episode costs a world object and nothing more; with "per-tenant" it is seeded
from the seed and the tenant key.

Memory: the other tenants' worlds are weighed by an estimate (a shared world is small; a written one holds its own
profiles and campaigns and a list of the events, which stay shared) and, past settings.tenant_worlds_mib, the least
recently used ones with no request in flight are dropped. A dropped tenant's next call gets a fresh world: what it
wrote, and its open cursors, are gone, as after a reset.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections import OrderedDict
from dataclasses import dataclass, replace

from starlette.types import ASGIApp

from clevertap_mcp.sandbox.clevertap import CleverTapWorld, build_clevertap_app
from clevertap_mcp.sandbox.settings import SandboxSettings

__all__ = ["TENANT_SEGMENT", "TenantWorlds", "tenant_from_segment", "tenant_segment"]

TENANT_SEGMENT = "tenant"
MIB = 1024 * 1024
# Estimates, measured by bench/episodes.py: a world sharing its template (the world, its stores and its ASGI app),
# and what a written world adds per profile and per event it holds.
SHARED_WORLD_BYTES = 48 * 1024
PROFILE_BYTES = 600
EVENT_BYTES = 8


def tenant_segment(tenant_key: str) -> str:
    """The tenant key as one URL path segment that no decoding changes: unpadded base64url."""
    return base64.urlsafe_b64encode(tenant_key.encode()).decode().rstrip("=")


def tenant_from_segment(segment: str) -> str | None:
    """The tenant key `tenant_segment` made `segment` from; None for anything it could not have made."""
    try:
        padded = (segment + "=" * (-len(segment) % 4)).encode("ascii")
        key = base64.b64decode(padded, altchars=b"-_", validate=True).decode()
    except (binascii.Error, UnicodeError, ValueError):
        return None
    return key if key and tenant_segment(key) == segment else None


def tenant_seed(seed: int, tenant_key: str) -> int:
    return int.from_bytes(hashlib.sha256(f"{seed}:{tenant_key}".encode()).digest()[:8], "big")


@dataclass
class _Entry:
    world: CleverTapWorld
    app: ASGIApp | None = None
    in_flight: int = 0  # requests being served, which keep the world from being dropped

    def served(self) -> ASGIApp:
        if self.app is None:
            self.app = build_clevertap_app(self.world)
        return self.app


class TenantWorlds:
    """The worlds of every tenant, by tenant key."""

    def __init__(self, settings: SandboxSettings) -> None:
        self.settings = settings
        self._others: OrderedDict[str, _Entry] = OrderedDict()  # least recently used first
        self.evicted = 0
        self.reset_all()

    def reset(self, tenant_key: str | None = None) -> None:
        """A fresh world for `tenant_key` (None: the own tenant's); `reset_all` for everything."""
        if tenant_key is None or tenant_key == self.settings.tenant_key:
            self._own = _Entry(CleverTapWorld.seeded(self.settings))
        else:
            self._others.pop(tenant_key, None)

    def reset_all(self) -> None:
        self._template = CleverTapWorld.seeded(self.settings)
        self._others.clear()
        self.reset()

    @property
    def own(self) -> CleverTapWorld:
        return self._own.world

    def world_for(self, tenant_key: str | None) -> CleverTapWorld:
        return self.entry(tenant_key).world

    def existing(self, tenant_key: str | None) -> CleverTapWorld | None:
        """The tenant's world if one was made since the last reset (and not evicted); never makes one."""
        if tenant_key is None or tenant_key == self.settings.tenant_key:
            return self._own.world
        entry = self._others.get(tenant_key)
        return entry.world if entry is not None else None

    def app_for(self, tenant_key: str | None) -> ASGIApp:
        return self.entry(tenant_key).served()

    def entry(self, tenant_key: str | None) -> _Entry:
        if tenant_key is None or tenant_key == self.settings.tenant_key:
            return self._own
        entry = self._others.get(tenant_key)
        if entry is not None:
            self._others.move_to_end(tenant_key)
            return entry
        entry = _Entry(self._new_world(tenant_key))
        self._others[tenant_key] = entry
        self._evict()
        return entry

    def _new_world(self, tenant_key: str) -> CleverTapWorld:
        if self.settings.tenant_seeds == "per-tenant":
            return CleverTapWorld.seeded(replace(self.settings, seed=tenant_seed(self.settings.seed, tenant_key)))
        return CleverTapWorld.sharing(self._template)

    @property
    def tenant_count(self) -> int:
        """Tenants other than the own one that have a world now."""
        return len(self._others)

    def estimated_bytes(self) -> int:
        return sum(_weight(entry.world) for entry in self._others.values())

    def _evict(self) -> None:
        cap = self.settings.tenant_worlds_mib * MIB
        total = self.estimated_bytes()
        for key in list(self._others):
            if total <= cap:
                return
            entry = self._others[key]
            if entry.in_flight == 0 and key != next(reversed(self._others)):
                total -= _weight(entry.world)
                del self._others[key]
                self.evicted += 1


def _weight(world: CleverTapWorld) -> int:
    if world.shares_template:
        return SHARED_WORLD_BYTES
    profiles = events = 0
    for account in world.accounts():
        profiles += len(account.profiles)
        events += len(account.events)
    return SHARED_WORLD_BYTES + profiles * PROFILE_BYTES + events * EVENT_BYTES
