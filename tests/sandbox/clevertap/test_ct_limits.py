"""In-flight caps and create.json's per-second cap (clevertap-api.md §4, §14 #16–#17).

Requests are kept in flight with the world's `hold` seam and an event the test controls, so going over a cap is
deterministic; the per-second cap runs on a real-time clock that the fixtures hold still.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import anyio
import httpx2
import pytest

from clevertap_mcp.sandbox.clevertap import CleverTapWorld
from clevertap_mcp.sandbox.clevertap.model import Account
from clevertap_mcp.sandbox.settings import SandboxSettings

pytestmark = pytest.mark.anyio

ClientFactory = Callable[..., httpx2.AsyncClient]
TOO_MANY = {"status": "fail", "error": "Too many concurrent requests", "code": 429}
EVENT: dict[str, Any] = {"type": "event", "identity": "u-1001", "evtName": "Product Viewed", "evtData": {}}
ESTIMATE = {
    "name": "Probe",
    "target_mode": "push",
    "content": {"title": "Hi", "body": "There"},
    "when": "now",
    "estimate_only": True,
}


class Gate:
    """Holds every request on `path` in flight until `release` is set; `arrived` fires once `expected` are held."""

    def __init__(self, world: CleverTapWorld, path: str, expected: int) -> None:
        self.path = path
        self.expected = expected
        self.held = 0
        self.arrived = anyio.Event()
        self.release = anyio.Event()
        world.hold = self

    async def __call__(self, path: str) -> None:
        if path != self.path:
            return
        self.held += 1
        if self.held == self.expected:
            self.arrived.set()
        await self.release.wait()


class FirstOnly(Gate):
    """A gate that holds only the first request on its path in flight and lets every later one through."""

    async def __call__(self, path: str) -> None:
        if path == self.path and self.held == 0:
            await super().__call__(path)


async def hold_in_flight(
    gate: Gate, requests: list[Callable[[], Awaitable[httpx2.Response]]], then: Callable[[], Awaitable[None]]
) -> list[httpx2.Response]:
    """Start `requests`, run `then` once the gate holds them all, release them, and return their responses."""
    responses: list[httpx2.Response] = []

    async def run(request: Callable[[], Awaitable[httpx2.Response]]) -> None:
        responses.append(await request())

    with anyio.fail_after(10):
        async with anyio.create_task_group() as group:
            for request in requests:
                group.start_soon(run, request)
            await gate.arrived.wait()
            try:
                await then()
            finally:
                gate.release.set()
    return responses


async def test_a_fourth_request_in_flight_on_a_path_gets_429_and_the_held_three_succeed(
    world: CleverTapWorld, client: httpx2.AsyncClient
) -> None:
    gate = Gate(world, "/1/now.json", 3)
    refused: list[httpx2.Response] = []

    async def fourth() -> None:
        refused.append(await client.post("/1/now.json", json={}))

    held = await hold_in_flight(gate, [lambda: client.post("/1/now.json", json={})] * 3, fourth)
    assert [(r.status_code, r.json()["status"]) for r in held] == [(200, "success")] * 3
    assert refused[0].status_code == 429
    assert refused[0].json() == TOO_MANY
    assert "retry-after" not in refused[0].headers


async def test_a_freed_slot_admits_the_next_request(world: CleverTapWorld, client: httpx2.AsyncClient) -> None:
    gate = Gate(world, "/1/now.json", 3)

    async def nothing() -> None:
        return None

    await hold_in_flight(gate, [lambda: client.post("/1/now.json", json={})] * 3, nothing)
    assert (await client.post("/1/now.json", json={})).status_code == 200


async def test_the_cap_is_per_path_so_other_paths_still_answer(
    world: CleverTapWorld, client: httpx2.AsyncClient
) -> None:
    gate = Gate(world, "/1/now.json", 3)
    others: list[httpx2.Response] = []

    async def elsewhere() -> None:
        others.append(await client.post("/1/targets/list.json", json={"from": 20251201, "to": 20260105}))
        others.append(await client.get("/1/profile.json", params={"identity": "u-1001"}))

    await hold_in_flight(gate, [lambda: client.post("/1/now.json", json={})] * 3, elsewhere)
    assert [r.status_code for r in others] == [200, 200]


async def test_fifteen_uploads_may_be_in_flight_and_the_sixteenth_is_refused_unprocessed(
    world: CleverTapWorld, client: httpx2.AsyncClient, account: Account
) -> None:
    before = len(account.events)
    gate = Gate(world, "/1/upload", 15)
    refused: list[httpx2.Response] = []
    stored_while_held: list[int] = []

    async def sixteenth() -> None:
        refused.append(await client.post("/1/upload", json={"d": [EVENT]}))
        stored_while_held.append(len(account.events))

    held = await hold_in_flight(gate, [lambda: client.post("/1/upload", json={"d": [EVENT]})] * 15, sixteenth)
    assert refused[0].status_code == 429
    assert refused[0].json() == TOO_MANY
    assert stored_while_held == [before]
    assert all(r.json()["processed"] == 1 for r in held)
    assert len(account.events) == before + 15


async def test_event_profile_and_token_uploads_share_one_upload_slot(
    make_world: Callable[..., CleverTapWorld], make_client: ClientFactory
) -> None:
    world = make_world(upload_concurrency=1)
    gate = Gate(world, "/1/upload", 1)
    profile = {"type": "profile", "identity": "u-1001", "profileData": {"City": "Porto"}}
    refused: list[httpx2.Response] = []
    async with make_client(world) as http:

        async def profile_upload() -> None:
            refused.append(await http.post("/1/upload", json={"d": [profile]}))

        await hold_in_flight(gate, [lambda: http.post("/1/upload", json={"d": [EVENT]})], profile_upload)
    assert refused[0].status_code == 429


async def test_with_separate_upload_slots_each_record_type_has_its_own_and_a_mixed_batch_needs_every_one(
    make_world: Callable[..., CleverTapWorld], make_client: ClientFactory
) -> None:
    # The other answer to §4's open point, as a setting: event, profile and token uploads counted as separate APIs.
    world = make_world(upload_concurrency=1, upload_slot_shared=False)
    gate = FirstOnly(world, "/1/upload", 1)
    profile = {"type": "profile", "identity": "u-1001", "profileData": {"City": "Porto"}}
    later: list[httpx2.Response] = []
    profile_places: list[int] = []
    async with make_client(world) as http:

        async def other_uploads() -> None:
            # The gate holds the event upload in flight; the profile upload has a slot of its own.
            later.append(await http.post("/1/upload", json={"d": [profile]}))
            later.append(await http.post("/1/upload", json={"d": [profile, EVENT]}))
            # The refused mixed batch gave back the profile place it had taken before the event slot refused it.
            profile_places.append(world.in_flight.held("TEST-R78-ZZ6-5Z7Z", "/1/upload#profile"))
            later.append(await http.post("/1/upload", json={"d": [EVENT]}))

        held = await hold_in_flight(gate, [lambda: http.post("/1/upload", json={"d": [EVENT]})], other_uploads)
    assert held[0].json()["status"] == "success"
    assert [r.status_code for r in later] == [200, 429, 429]
    assert later[1].json() == TOO_MANY
    assert profile_places == [0]


async def test_the_caps_are_settings(make_world: Callable[..., CleverTapWorld], make_client: ClientFactory) -> None:
    world = make_world(api_concurrency=1)
    gate = Gate(world, "/1/counts/events.json", 1)
    query = {"event_name": "Charged", "from": 20251220, "to": 20260105}
    refused: list[httpx2.Response] = []
    async with make_client(world) as http:

        async def second() -> None:
            refused.append(await http.post("/1/counts/events.json", json=query))

        held = await hold_in_flight(gate, [lambda: http.post("/1/counts/events.json", json=query)], second)
    assert held[0].json()["status"] == "partial"
    assert refused[0].status_code == 429


async def test_a_handler_delay_keeps_requests_in_flight_long_enough_to_meet_the_cap(
    make_world: Callable[..., CleverTapWorld], make_client: ClientFactory
) -> None:
    world = make_world(api_concurrency=1, handler_delay=0.5)
    # The delay's clock is the test's: the first request stays in flight until the test lets the delay pass.
    delays: list[float] = []
    passed = anyio.Event()

    async def delay(seconds: float) -> None:
        delays.append(seconds)
        await passed.wait()

    world.delay = delay
    statuses: list[int] = []
    async with make_client(world) as http:

        async def one() -> None:
            statuses.append((await http.post("/1/now.json", json={})).status_code)

        with anyio.fail_after(10):
            async with anyio.create_task_group() as group:
                group.start_soon(one)
                group.start_soon(one)
                await anyio.wait_all_tasks_blocked()
                assert (statuses, delays) == ([429], [0.5])  # refused while the other sat out its delay
                passed.set()
    assert statuses == [429, 200]


async def test_credentials_are_checked_before_the_cap_so_a_stranger_gets_401_while_slots_are_full(
    world: CleverTapWorld, make_client: ClientFactory
) -> None:
    # Auth comes first: a stranger's request gets 401 even while the account's slots are full.
    gate = Gate(world, "/1/now.json", 3)
    stranger: list[httpx2.Response] = []
    async with make_client(world) as http, make_client(world, headers={}) as anonymous:

        async def knock() -> None:
            stranger.append(await anonymous.post("/1/now.json", json={}))

        await hold_in_flight(gate, [lambda: http.post("/1/now.json", json={})] * 3, knock)
    assert stranger[0].status_code == 401


async def test_create_takes_three_calls_per_second_and_the_fourth_gets_429(
    world: CleverTapWorld, client: httpx2.AsyncClient
) -> None:
    answers = [await client.post("/1/targets/create.json", json=ESTIMATE) for _ in range(4)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert answers[3].json() == TOO_MANY
    world.advance_clock(1)
    again = await client.post("/1/targets/create.json", json=ESTIMATE)
    assert again.status_code == 200
    assert "estimates" in again.json()


async def test_refused_creates_count_against_the_per_second_cap(
    world: CleverTapWorld, client: httpx2.AsyncClient
) -> None:
    for _ in range(3):
        assert (await client.post("/1/targets/create.json", json={"name": "no mode"})).json()["status"] == "fail"
    assert (await client.post("/1/targets/create.json", json=ESTIMATE)).status_code == 429


async def test_the_create_rate_is_a_setting(
    make_world: Callable[..., CleverTapWorld], make_client: ClientFactory
) -> None:
    # Older docs said 1 per second.
    async with make_client(make_world(create_campaign_per_second=1)) as http:
        first = await http.post("/1/targets/create.json", json=ESTIMATE)
        second = await http.post("/1/targets/create.json", json=ESTIMATE)
    assert (first.status_code, second.status_code) == (200, 429)


async def test_on_a_pinned_clock_the_create_cap_frees_up_as_real_seconds_pass(
    make_client: ClientFactory,
) -> None:
    # Regression: the cap ran on the world clock, which --clock freezes, so after three creates every later one got
    # 429 for good. It runs on a real clock (here a fake one the test moves) while "now" stays pinned.
    pinned, real = 1767607200.0, [100.0]
    world = CleverTapWorld.seeded(SandboxSettings(clock=pinned), rate_clock=lambda: real[0])
    async with make_client(world) as http:
        burst = [(await http.post("/1/targets/create.json", json=ESTIMATE)).status_code for _ in range(4)]
        real[0] += 1.01
        later = await http.post("/1/targets/create.json", json=ESTIMATE)
    assert burst == [200, 200, 200, 429]
    assert later.status_code == 200
    assert world.now() == pinned


async def test_other_paths_have_no_per_second_cap(client: httpx2.AsyncClient) -> None:
    answers = [await client.post("/1/now.json", json={}) for _ in range(10)]
    assert {a.status_code for a in answers} == {200}
