"""The seeded demo world: deterministic, realistic enough, and anchored on "now" (seed.py)."""

from __future__ import annotations

import random
from collections import Counter

from clevertap_mcp.sandbox.clevertap import CleverTapWorld
from clevertap_mcp.sandbox.clevertap.model import Account, Token
from clevertap_mcp.sandbox.clevertap.seed import DISCARDED_EVENT_NAMES, seed_demo_account
from clevertap_mcp.sandbox.settings import (
    DEMO_CLEVERTAP_ACCOUNT_ID,
    DEMO_CLEVERTAP_PASSCODE,
    DEMO_CLEVERTAP_REGION,
    SandboxSettings,
)

NOW = 1767607200.0


def snapshot(account: Account) -> object:
    return (
        [(p.object_id, p.identity, p.data, p.platform, p.tokens) for p in account.profiles.values()],
        account.events,
        account.campaigns,
    )


def test_the_same_seed_and_size_give_identical_data() -> None:
    assert snapshot(seed_demo_account(7, 50, anchor=NOW)) == snapshot(seed_demo_account(7, 50, anchor=NOW))


def test_another_seed_gives_other_data() -> None:
    assert snapshot(seed_demo_account(7, 50, anchor=NOW)) != snapshot(seed_demo_account(8, 50, anchor=NOW))


def test_seeding_leaves_the_global_random_generator_alone() -> None:
    random.seed(123)
    expected = random.random()
    random.seed(123)
    seed_demo_account(1, 20, anchor=NOW)
    assert random.random() == expected


def test_the_demo_account_has_the_requested_profiles_with_standard_fields() -> None:
    account = seed_demo_account(42, 200, anchor=NOW)
    assert (account.account_id, account.passcode, account.region) == (
        DEMO_CLEVERTAP_ACCOUNT_ID,
        DEMO_CLEVERTAP_PASSCODE,
        DEMO_CLEVERTAP_REGION,
    )
    assert sorted(account.by_identity) == sorted(f"u-{1001 + i}" for i in range(200))
    for profile in account.profiles.values():
        assert {"Name", "Email", "Phone", "Gender", "City", "Customer Type"} <= set(profile.data)
        assert profile.data["Phone"].startswith("+")
    assert sum(1 for p in account.profiles.values() if p.tokens) > 0


def test_events_cover_the_last_30_days_up_to_now_with_charged_items() -> None:
    account = seed_demo_account(42, 200, anchor=NOW)
    names = Counter(event.name for event in account.events)
    assert {"App Launched", "Product Viewed", "Added To Cart", "Charged"} <= set(names)
    assert all(NOW - 30 * 86400 <= event.ts <= NOW for event in account.events)
    charged = [e for e in account.events if e.name == "Charged"]
    assert all(e.props["Items"] and e.props["Amount"] > 0 for e in charged)


def test_campaigns_span_every_state_plus_a_dashboard_only_one() -> None:
    account = seed_demo_account(42, 200, anchor=NOW)
    api = [c for c in account.campaigns.values() if c.api_created]
    assert 3 <= len(api) <= 5
    assert {c.status for c in api} == {"scheduled", "running", "completed", "stopped"}
    assert [c.name for c in account.campaigns.values() if not c.api_created] == ["Dashboard Newsletter"]


def test_the_seeded_world_uses_the_settings_seed_size_and_clock() -> None:
    world = CleverTapWorld.seeded(SandboxSettings(seed=3, profiles=12, clock=NOW))
    account = world.account("eu1", DEMO_CLEVERTAP_ACCOUNT_ID)
    assert account is not None
    assert len(account.profiles) == 12
    assert snapshot(account) == snapshot(seed_demo_account(3, 12, anchor=NOW))
    assert world.now() == NOW


def test_without_a_pinned_clock_now_is_the_real_time_plus_any_advance() -> None:
    readings = iter([1767607200.0, 1767607201.5])
    world = CleverTapWorld(SandboxSettings(), wall_clock=lambda: next(readings))
    world.advance_clock(60)
    assert (world.now(), world.now()) == (1767607260.0, 1767607261.5)


def test_the_demo_account_has_discarded_legacy_event_which_is_not_queryable() -> None:
    account = seed_demo_account(42, 20, anchor=NOW)
    assert account.discarded_events == set(DISCARDED_EVENT_NAMES) == {"Legacy Event"}
    assert not account.discarded_events & account.event_names


def test_an_accounts_repr_never_shows_its_passcode() -> None:
    account = Account(DEMO_CLEVERTAP_ACCOUNT_ID, DEMO_CLEVERTAP_PASSCODE, DEMO_CLEVERTAP_REGION)
    assert DEMO_CLEVERTAP_PASSCODE not in repr(account)
    assert DEMO_CLEVERTAP_ACCOUNT_ID in repr(account)


def test_a_tokens_repr_never_shows_the_push_token_or_its_web_push_keys() -> None:
    token = Token("fcm-SECRET-TOKEN", "chrome", {"p256dh": "P256-SECRET", "auth": "AUTH-SECRET"})
    shown = repr(token)
    assert "chrome" in shown
    assert not any(secret in shown for secret in ("SECRET-TOKEN", "P256-SECRET", "AUTH-SECRET"))


def test_a_seeded_accounts_repr_holds_no_passcode_and_no_token_secrets() -> None:
    account = seed_demo_account(42, 40, anchor=NOW)
    shown = repr(account)
    secrets = [t.id for p in account.profiles.values() for t in p.tokens]
    secrets += [t.keys["auth"] for p in account.profiles.values() for t in p.tokens if t.keys]
    assert secrets
    assert DEMO_CLEVERTAP_PASSCODE not in shown
    assert not any(secret in shown for secret in secrets)


def test_the_default_demo_account_holds_what_the_docs_promise_eval_authors() -> None:
    # docs/sandbox.md "The CleverTap emulator and its demo account" quotes these numbers; they must not drift silently.
    settings = SandboxSettings()
    account = seed_demo_account(settings.seed, settings.profiles, anchor=NOW)
    did = Counter(name for _, name in {(e.object_id, e.name) for e in account.events})
    api = {c.name: (c.target_mode, c.status) for c in account.campaigns.values() if c.api_created}
    assert (settings.seed, len(account.profiles), len(account.events)) == (42, 200, 2275)
    assert Counter(p.platform for p in account.profiles.values()) == {"Android": 90, "iOS": 78, "Web": 32}
    assert Counter(t.type for p in account.profiles.values() for t in p.tokens) == {"apns": 16, "fcm": 10, "chrome": 1}
    assert Counter(e.name for e in account.events) == {
        "App Launched": 520,
        "Product Viewed": 1065,
        "Added To Cart": 376,
        "Charged": 173,
        "Searched": 141,
    }
    assert did == {"App Launched": 200, "Product Viewed": 190, "Added To Cart": 160, "Charged": 118, "Searched": 107}
    assert sum(1 for e in account.events if e.name == "Charged" and e.ts >= NOW - 7 * 86400) == 47
    assert len({e.object_id for e in account.events if NOW - 300 <= e.ts <= NOW}) == 11
    assert api == {
        "Welcome Series": ("push", "completed"),
        "Weekend Sale": ("email", "completed"),
        "Flash Deal": ("push", "stopped"),
        "Cart Reminder": ("push", "running"),
        "Spring Launch": ("sms", "scheduled"),
    }
    assert len(seed_demo_account(42, 1000, anchor=NOW).events) == 10989
