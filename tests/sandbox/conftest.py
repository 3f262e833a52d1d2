"""Fixtures shared by the emulator and connector tests: a seeded CleverTap world on a pinned clock."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from clevertap_mcp.sandbox.clevertap import CleverTapWorld
from clevertap_mcp.sandbox.clevertap.model import Account
from clevertap_mcp.sandbox.settings import DEMO_CLEVERTAP_ACCOUNT_ID, DEMO_CLEVERTAP_REGION, SandboxSettings

PINNED_NOW = 1767607200.0  # 2026-01-05 10:00:00 UTC


@pytest.fixture
def make_world() -> Callable[..., CleverTapWorld]:
    """Seeded demo worlds on the pinned clock, with any SandboxSettings overrides.

    The create rate's real-time clock stands still too (only advance_clock moves it), so no test depends on how fast
    the machine answers.
    """

    def make(**overrides: Any) -> CleverTapWorld:
        return CleverTapWorld.seeded(SandboxSettings(clock=PINNED_NOW, **overrides), rate_clock=lambda: 0.0)

    return make


@pytest.fixture
def world(make_world: Callable[..., CleverTapWorld]) -> CleverTapWorld:
    return make_world()


@pytest.fixture
def account(world: CleverTapWorld) -> Account:
    """The demo account inside `world`, for setting up and checking state directly."""
    found = world.account(DEMO_CLEVERTAP_REGION, DEMO_CLEVERTAP_ACCOUNT_ID)
    assert found is not None
    return found
