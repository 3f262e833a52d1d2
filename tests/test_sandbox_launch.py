"""--sandbox starts the sandbox in the background: Membrane requests wait for it instead of failing."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import NoReturn

import anyio
import anyio.to_thread
import httpx2
import pytest
from anyio import wait_all_tasks_blocked
from mcp import Client

from clevertap_mcp import sandbox_launch
from clevertap_mcp.config import Settings
from clevertap_mcp.deferred_transport import DeferredTransport
from clevertap_mcp.membrane.errors import ConnectError
from clevertap_mcp.membrane.retry import RetryPolicy
from clevertap_mcp.sandbox.server import SandboxServer
from clevertap_mcp.sandbox.settings import SandboxSettings
from clevertap_mcp.sandbox_launch import SandboxLauncher
from clevertap_mcp.server import build_server

from helpers import call, demo_token, error_text

pytestmark = pytest.mark.anyio


async def test_requests_sent_as_soon_as_the_url_is_known_wait_for_the_sandbox_and_succeed() -> None:
    launcher = SandboxLauncher(SandboxSettings())
    try:
        async with httpx2.AsyncClient(
            base_url=launcher.base_url, transport=DeferredTransport(ready=launcher.wait_started)
        ) as http:
            with anyio.fail_after(30):
                answers = [await http.get("/_sandbox/health") for _ in range(3)]
        assert [a.status_code for a in answers] == [200, 200, 200]
    finally:
        launcher.stop()


async def test_a_stopped_sandbox_no_longer_answers_and_says_it_was_stopped() -> None:
    launcher = SandboxLauncher(SandboxSettings())
    async with httpx2.AsyncClient(
        base_url=launcher.base_url, transport=DeferredTransport(ready=launcher.wait_started)
    ) as http:
        with anyio.fail_after(30):
            assert (await http.get("/_sandbox/health")).status_code == 200
        launcher.stop()
        with pytest.raises(ConnectError, match="stopped"):
            await http.get("/_sandbox/health")


def _thread_names() -> set[str]:
    return {t.name for t in threading.enumerate() if t.is_alive()}


class HeldStart:
    """The sandbox's start, held: `entered` once the starter thread reached it, then waiting for `release`."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()


@pytest.fixture
def held_start(monkeypatch: pytest.MonkeyPatch) -> Iterator[HeldStart]:
    held = HeldStart()
    real_start = SandboxServer.start

    def start_when_released(self: SandboxServer) -> None:
        held.entered.set()
        held.release.wait()
        real_start(self)

    monkeypatch.setattr(SandboxServer, "start", start_when_released)
    yield held
    held.release.set()  # never leave the starter thread parked


async def test_a_sandbox_that_cannot_seed_fails_every_call_at_once_with_the_reason(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken_seeding(self: SandboxServer) -> NoReturn:
        raise ValueError("the demo data could not be generated")

    monkeypatch.setattr(SandboxServer, "start", broken_seeding)
    sleeps: list[float] = []

    async def record_sleep(seconds: float) -> None:
        sleeps.append(seconds)

    settings = Settings(
        api_url="http://unused.invalid",
        token_source=demo_token(),
        sandbox=SandboxSettings(),
        retry=RetryPolicy(sleep=record_sleep),
    )
    async with Client(build_server(settings)) as client:
        with anyio.fail_after(30):
            texts = [error_text(await call(client, "search_actions", {"intent": "users"})) for _ in range(2)]
    for text in texts:
        assert "built-in sandbox could not start" in text
        assert "ValueError: the demo data could not be generated" in text
        assert "restart" in text
    assert sleeps == []  # a sandbox that failed stays failed: resending only delays the answer


async def test_a_sandbox_that_never_finishes_starting_fails_calls_within_one_start_timeout_in_all(
    monkeypatch: pytest.MonkeyPatch, held_start: HeldStart
) -> None:
    monkeypatch.setattr(sandbox_launch, "START_TIMEOUT_SECONDS", 1.0)
    launcher = SandboxLauncher(SandboxSettings())
    try:
        # Without one deadline for the whole start, each of a call's attempts would wait the full timeout again.
        with anyio.fail_after(2.5):
            for _ in range(3):
                with pytest.raises(ConnectError, match="did not finish starting within 1 s"):
                    await launcher.wait_started()
    finally:
        held_start.release.set()
        launcher.stop()


async def test_many_calls_waiting_for_the_sandbox_leave_worker_threads_for_everything_else(
    held_start: HeldStart,
) -> None:
    launcher = SandboxLauncher(SandboxSettings())
    outcomes: list[str] = []

    async def wait() -> None:
        await launcher.wait_started()
        outcomes.append("started")

    try:
        async with anyio.create_task_group() as tg:
            for _ in range(64):  # more than anyio's 40 worker threads
                tg.start_soon(wait)
            await wait_all_tasks_blocked()
            with anyio.fail_after(5):
                # The stdio transport reads stdin and writes stdout in worker threads: they must stay available.
                assert await anyio.to_thread.run_sync(lambda: "free") == "free"
            held_start.release.set()
        assert outcomes == ["started"] * 64
    finally:
        held_start.release.set()
        launcher.stop()


async def test_stopping_before_the_sandbox_was_needed_leaves_no_thread_and_fails_late_calls_clearly() -> None:
    before = _thread_names()
    launcher = SandboxLauncher(SandboxSettings())
    launcher.stop()
    assert _thread_names() <= before
    with anyio.fail_after(5), pytest.raises(ConnectError, match="stopped"):
        await launcher.wait_started()


async def test_stopping_while_the_sandbox_starts_stops_it_and_leaves_no_thread(held_start: HeldStart) -> None:
    before = _thread_names()
    launcher = SandboxLauncher(SandboxSettings())
    errors: list[str] = []

    async def wait() -> None:
        try:
            await launcher.wait_started()
        except ConnectError as exc:
            errors.append(str(exc))

    with anyio.fail_after(30):
        async with anyio.create_task_group() as tg:
            tg.start_soon(wait)
            assert await anyio.to_thread.run_sync(held_start.entered.wait, 10)
            held_start.release.set()
            await anyio.to_thread.run_sync(launcher.stop)
    assert not {name for name in _thread_names() - before if name.startswith("clevertap-sandbox")}
    # The waiting call either saw the sandbox up or, if the stop came first, was told so: never a hang.
    assert all("stopped" in error for error in errors), errors


async def test_a_server_that_used_its_sandbox_leaves_no_sandbox_thread_behind_when_it_stops() -> None:
    before = _thread_names()
    sandbox = SandboxSettings(auto_connect=True)
    settings = Settings(api_url="http://unused.invalid", token_source=demo_token(sandbox), sandbox=sandbox)
    with anyio.fail_after(30):
        async with Client(build_server(settings)) as client:
            assert not (await call(client, "ensure_connection")).is_error
    assert not {name for name in _thread_names() - before if name.startswith("clevertap-sandbox")}
