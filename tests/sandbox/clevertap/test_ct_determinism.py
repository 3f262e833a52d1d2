"""Same seed, size and pinned clock: byte-identical answers to the same calls (issue 3, deterministic data)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx2
import pytest

from clevertap_mcp.sandbox.clevertap import CleverTapWorld
from clevertap_mcp.sandbox.settings import SandboxSettings

pytestmark = pytest.mark.anyio

ClientFactory = Callable[..., httpx2.AsyncClient]
RANGE = {"from": 20251206, "to": 20260105}
PUSH = {"name": "Back in stock", "target_mode": "push", "content": {"title": "Hi", "body": "It is back"}}


async def walk(http: httpx2.AsyncClient, path: str, query: dict[str, Any], batch_size: int) -> list[bytes]:
    """Every answer of one cursor export, the POST and each page."""
    opened = await http.post(f"{path}?batch_size={batch_size}", json=query)
    answers = [opened.content]
    cursor = opened.json()["cursor"]
    while cursor:
        page = await http.get(f"{path}?cursor={cursor}")
        answers.append(page.content)
        cursor = page.json().get("next_cursor")
    return answers


async def poll(http: httpx2.AsyncClient, path: str, body: dict[str, Any]) -> list[bytes]:
    first = await http.post(path, json=body)
    answers = [first.content]
    while first.json()["status"] == "partial" and len(answers) < 10:
        polled = await http.get(path, params={"req_id": first.json()["req_id"]})
        answers.append(polled.content)
        if polled.json()["status"] != "partial":
            break
    return answers


async def scripted_session(http: httpx2.AsyncClient) -> list[bytes]:
    """A session touching every endpoint, including the ones that change the world."""
    answers: list[bytes] = []
    records = [
        {"type": "event", "identity": "u-1003", "ts": 1767600000, "evtName": "Charged", "evtData": {"Amount": 42}},
        {"type": "profile", "identity": "u-new", "profileData": {"Email": "new@example.com", "Gender": "X"}},
        {"type": "profile", "identity": "u-new2", "profileData": {"Customer Type": "Gold"}},
    ]
    answers.append((await http.post("/1/upload", json={"d": records})).content)
    answers += await walk(http, "/1/events.json", {"event_name": "Charged", **RANGE}, 40)
    answers += await walk(http, "/1/profiles.json", {"event_name": "Added To Cart", **RANGE}, 23)
    answers.append((await http.get("/1/profile.json", params={"identity": "u-1001"})).content)
    answers += await poll(http, "/1/counts/events.json", {"event_name": "App Launched", **RANGE})
    answers += await poll(http, "/1/counts/profiles.json", {"event_name": "Charged", **RANGE})
    trend_groups = {"d": {"trend_type": "daily"}, "w": {"trend_type": "weekly"}}
    answers += await poll(
        http, "/1/counts/trends.json", {"event_name": "Product Viewed", **RANGE, "groups": trend_groups}
    )
    top_groups = {"p": {"property_type": "event_properties", "name": "Product"}}
    answers += await poll(http, "/1/counts/top.json", {"event_name": "Product Viewed", **RANGE, "groups": top_groups})
    flags = {flag: True for flag in ("user_type", "session_source", "browser", "os", "device", "new")}
    answers.append((await http.post("/1/now.json", json=flags)).content)
    created = await http.post("/1/targets/create.json", json={**PUSH, "when": "now"})
    answers.append(created.content)
    answers.append(
        (await http.post("/1/targets/create.json", json={**PUSH, "when": "now", "estimate_only": True})).content
    )
    listed = await http.post("/1/targets/list.json", json={"from": 20251201, "to": 20260131})
    answers.append(listed.content)
    for target in listed.json()["targets"]:
        answers.append((await http.post("/1/targets/result.json", json={"id": target["id"]})).content)
    answers.append((await http.post("/1/targets/stop.json", json={"id": created.json()["id"]})).content)
    answers.append((await http.post("/1/message/report.json", json={"from": "20251201", "to": "20260105"})).content)
    answers.append((await http.post("/1/send/push.json", json={"to": {"Identity": ["u-1001"]}, "content": {}})).content)
    answers.append((await http.post("/1/delete/profiles.json", json={"identity": "u-1002"})).content)
    answers.append((await http.post("/1/demerge/profiles.json", json={"identities": ["u-1004"]})).content)
    answers += await walk(http, "/1/profiles.json", {"event_name": "App Launched", **RANGE}, 100)
    return answers


async def session_of(
    make_world: Callable[..., CleverTapWorld], make_client: ClientFactory, **settings: Any
) -> list[bytes]:
    async with make_client(make_world(profiles=60, **settings)) as http:
        return await scripted_session(http)


async def test_two_worlds_with_the_same_seed_give_byte_identical_answers_to_a_scripted_session(
    make_world: Callable[..., CleverTapWorld], make_client: ClientFactory
) -> None:
    first = await session_of(make_world, make_client, seed=7)
    second = await session_of(make_world, make_client, seed=7)
    assert len(first) > 30
    assert first == second


async def test_another_seed_gives_other_answers_to_the_same_session(
    make_world: Callable[..., CleverTapWorld], make_client: ClientFactory
) -> None:
    assert await session_of(make_world, make_client, seed=7) != await session_of(make_world, make_client, seed=8)


async def test_the_pinned_clock_moves_the_whole_world_with_it(
    make_world: Callable[..., CleverTapWorld], make_client: ClientFactory
) -> None:
    # Seeded events sit at offsets back from "now", so a world a day later answers the same about the day before.
    today = {"event_name": "App Launched", "from": 20260105, "to": 20260105}
    tomorrow = {"event_name": "App Launched", "from": 20260106, "to": 20260106}
    async with make_client(make_world(count_partial_polls=0)) as http:
        on_the_day = (await http.post("/1/counts/events.json", json=today)).json()
    later = CleverTapWorld.seeded(SandboxSettings(count_partial_polls=0, clock=1767607200.0 + 86400))
    async with make_client(later) as http:
        a_day_later = (await http.post("/1/counts/events.json", json=tomorrow)).json()
    assert on_the_day["status"] == "success"
    assert on_the_day == a_day_later
