"""The deterministic demo account: profiles, 30 days of events, device tokens, campaigns and one discarded event.

Everything comes from `random.Random(seed)` and the anchor "now" passed in, so the same seed, size and anchor give
identical data. Timestamps are offsets back from the anchor, so "the last 30 days" moves with the clock.
"""

from __future__ import annotations

import random

from clevertap_mcp.sandbox.clevertap.model import (
    COMPLETED,
    RUNNING,
    SCHEDULED,
    STOPPED,
    Account,
    Campaign,
    Event,
    Profile,
    Token,
)
from clevertap_mcp.sandbox.settings import (
    DEMO_CLEVERTAP_ACCOUNT_ID,
    DEMO_CLEVERTAP_PASSCODE,
    DEMO_CLEVERTAP_REGION,
    DEMO_CLEVERTAP_SDK_TOKEN,
)

__all__ = ["DISCARDED_EVENT_NAMES", "SEEDED_EVENT_NAMES", "seed_demo_account"]

DAY = 86400
FIRST_NAMES = ("Ana", "Ben", "Chloe", "David", "Elif", "Farah", "George", "Hana", "Ivan", "Julia", "Kofi", "Lena")
LAST_NAMES = ("Silva", "Novak", "Okafor", "Tanaka", "Müller", "Rossi", "Kowalski", "Haddad", "Larsen", "Moreau")
FEMALE = frozenset({"Ana", "Chloe", "Elif", "Farah", "Hana", "Julia", "Lena"})
CITIES = ("London", "Berlin", "Madrid", "Paris", "Lisbon", "Warsaw", "Dublin", "Milan")
CUSTOMER_TYPES = ("Gold", "Silver", "Bronze", "Prospect")
PRODUCTS = (
    ("Trail Shoes", "Footwear", 89.0),
    ("Rain Jacket", "Outerwear", 129.0),
    ("Wool Socks", "Accessories", 12.5),
    ("Daypack", "Bags", 59.9),
    ("Water Bottle", "Accessories", 19.0),
    ("Fleece Top", "Outerwear", 64.0),
)
SEARCHES = ("shoes", "jacket", "socks", "backpack", "sale")
SOURCES = (("google", "cpc", "search"), ("newsletter", "email", "email"), ("instagram", "social", "social"))
DEVICES = {
    "Android": (("Samsung", "Galaxy S23", "mobile"), ("Google", "Pixel 8", "mobile"), ("Samsung", "Tab S9", "tablet")),
    "iOS": (("Apple", "iPhone15,2", "mobile"), ("Apple", "iPhone14,5", "mobile"), ("Apple", "iPad13,4", "tablet")),
}
WEB = (
    ("chrome", "Windows 11"),
    ("firefox", "Linux"),
    ("chrome", "macOS 14"),
    ("safari", "macOS 14"),
    ("ie", "Windows 10"),
)
SYSTEM_EVENTS = ("App Launched", "App Uninstalled", "Notification Viewed", "Notification Clicked", "UTM Visited")
SEEDED_EVENT_NAMES = frozenset({*SYSTEM_EVENTS, "Product Viewed", "Added To Cart", "Charged", "Searched"})
# Event names the demo account has discarded in the dashboard: uploading one gets code 528 (§14 #6). They have no
# seeded data and are not queryable.
DISCARDED_EVENT_NAMES = frozenset({"Legacy Event"})


def seed_demo_account(seed: int, profiles: int, *, anchor: float) -> Account:
    """The demo account (eu1) with `profiles` profiles and their activity up to `anchor` (epoch seconds)."""
    rng = random.Random(seed)  # noqa: S311 - reproducible demo data, not security
    now = int(anchor)
    account = Account(
        DEMO_CLEVERTAP_ACCOUNT_ID, DEMO_CLEVERTAP_PASSCODE, DEMO_CLEVERTAP_REGION, sdk_token=DEMO_CLEVERTAP_SDK_TOKEN
    )
    account.event_names.update(SEEDED_EVENT_NAMES)
    account.discarded_events.update(DISCARDED_EVENT_NAMES)
    for index in range(profiles):
        profile = _profile(rng, index)
        account.add_profile(profile)
        account.last_seq = profile.seq
        account.events.extend(_activity(rng, profile, now))
    account.events.sort(key=lambda event: event.ts)
    for campaign in _campaigns(rng, now):
        account.campaigns[campaign.id] = campaign
    return account


def _profile(rng: random.Random, index: int) -> Profile:
    first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
    number = 1001 + index
    platform = rng.choices(("Android", "iOS", "Web"), weights=(5, 4, 2))[0]
    profile = Profile(
        object_id=f"__g{rng.getrandbits(128):032x}",
        identity=f"u-{number}",
        seq=index + 1,
        data={
            "Name": f"{first} {last}",
            "Email": f"{first}.{last}.{number}@example.com".lower().replace("ü", "u"),
            "Phone": f"+447{rng.randrange(10**8, 10**9)}",
            "Gender": "F" if first in FEMALE else "M",
            "City": rng.choice(CITIES),
            "Customer Type": rng.choice(CUSTOMER_TYPES),
            "MSG-email": rng.random() < 0.8,
            "MSG-push": rng.random() < 0.7,
        },
        platform=platform,
    )
    if platform == "Web":
        profile.browser, profile.os_version = rng.choice(WEB)
        profile.device = "desktop"
    else:
        profile.make, profile.model, profile.device = rng.choice(DEVICES[platform])
        profile.os_version = rng.choice(("14", "13")) if platform == "Android" else rng.choice(("17.4", "16.6"))
        profile.app_version = rng.choice(("3.2.1", "3.1.0"))
    if rng.random() < 0.15:
        profile.tokens.append(_token(rng, platform))
    return profile


def _token(rng: random.Random, platform: str) -> Token:
    if platform == "Android":
        return Token(f"fcm-{rng.getrandbits(96):024x}", "fcm")
    if platform == "iOS":
        return Token(f"{rng.getrandbits(256):064x}", "apns")
    keys = {"p256dh": f"BP{rng.getrandbits(128):032x}", "auth": f"{rng.getrandbits(64):016x}"}
    return Token(f"https://fcm.googleapis.com/fcm/send/{rng.getrandbits(96):024x}", "chrome", keys)


def _activity(rng: random.Random, profile: Profile, now: int) -> list[Event]:
    events: list[Event] = []
    for _ in range(rng.randint(1, 4)):
        # Sessions start at least an hour back, so their later events never pass the anchor.
        start = now - rng.randint(3600, 30 * DAY - 1)
        events.extend(_session(rng, profile.object_id, start))
    if rng.random() < 0.05:
        # A few users are live right now, for /1/now.json.
        events.append(
            Event(profile.object_id, "App Launched", now - rng.randint(0, 240), {}, {"session_source": "direct"})
        )
    return events


def _session(rng: random.Random, object_id: str, start: int) -> list[Event]:
    session: dict[str, str] = {"session_source": "direct"}
    if rng.random() < 0.4:
        utm_source, utm_medium, source = rng.choice(SOURCES)
        session = {
            "utm_source": utm_source,
            "utm_medium": utm_medium,
            "utm_campaign": "spring",
            "session_source": source,
        }
    events = [Event(object_id, "App Launched", start, {}, session)]
    ts = start
    if rng.random() < 0.3:
        ts += rng.randint(5, 60)
        events.append(Event(object_id, "Searched", ts, {"Query": rng.choice(SEARCHES)}, session))
    cart: list[tuple[str, str, float, int]] = []
    for _ in range(rng.randint(0, 4)):
        name, category, price = rng.choice(PRODUCTS)
        ts += rng.randint(10, 120)
        events.append(
            Event(object_id, "Product Viewed", ts, {"Product": name, "Category": category, "Price": price}, session)
        )
        if rng.random() < 0.35:
            quantity = rng.randint(1, 3)
            ts += rng.randint(5, 60)
            item = {"Product": name, "Category": category, "Price": price, "Quantity": quantity}
            events.append(Event(object_id, "Added To Cart", ts, item, session))
            cart.append((name, category, price, quantity))
    if cart and rng.random() < 0.6:
        ts += rng.randint(30, 300)
        amount = round(sum(price * quantity for _, _, price, quantity in cart), 2)
        items = [{"Product": n, "Category": c, "Price": p, "Quantity": q} for n, c, p, q in cart]
        props = {"Amount": amount, "Items": items, "Payment Mode": rng.choice(("Card", "PayPal", "COD"))}
        events.append(Event(object_id, "Charged", ts, props, session))
    return events


def _campaigns(rng: random.Random, now: int) -> list[Campaign]:
    plan = (
        ("Welcome Series", "push", -20 * DAY, COMPLETED, True),
        ("Weekend Sale", "email", -9 * DAY, COMPLETED, True),
        ("Flash Deal", "push", -5 * DAY, STOPPED, True),
        ("Cart Reminder", "push", -2 * 3600, RUNNING, True),
        ("Spring Launch", "sms", 3 * DAY, SCHEDULED, True),
        ("Dashboard Newsletter", "email", -12 * DAY, COMPLETED, False),  # made in the dashboard: never listed
    )
    campaigns: list[Campaign] = []
    for offset, (name, mode, delta, status, api_created) in enumerate(plan):
        start = (now + delta) // 60 * 60
        result: dict[str, int] = {}
        if status in (COMPLETED, STOPPED):
            sent = rng.randint(400, 2000)
            result = {"sent": sent, "clicked": rng.randint(sent // 40, sent // 10)}
        campaigns.append(Campaign(start + offset, name, mode, start, status, api_created, result))
    return campaigns
