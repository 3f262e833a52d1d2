"""`GET /connections/{id}?wait=true`: held while BUILDING, released by a change or the timeout (§3.2, §10 #4, #5)."""

from __future__ import annotations

from typing import Any

import anyio
import httpx2
import pytest
from membrane_sandbox_support import InProcessSandbox

WAIT_BOUND_SECONDS = 5


async def _held_building(sandbox: InProcessSandbox) -> str:
    conn = await sandbox.ready_connection()
    await sandbox.force_state(conn["id"], state="BUILDING")
    return conn["id"]


@pytest.mark.anyio
async def test_a_long_poll_returns_as_soon_as_the_state_changes(sandbox: InProcessSandbox) -> None:
    conn_id = await _held_building(sandbox)
    answers: list[httpx2.Response] = []

    async def poll() -> None:
        answers.append(await sandbox.client.get(f"/connections/{conn_id}", params={"wait": "true", "timeout": 60}))

    with anyio.fail_after(WAIT_BOUND_SECONDS):
        async with anyio.create_task_group() as group:
            group.start_soon(poll)
            await anyio.wait_all_tasks_blocked()
            assert answers == []  # still held
            await sandbox.force_state(
                conn_id,
                state="CLIENT_ACTION_REQUIRED",
                clientAction={"type": "provide-input", "description": "Pick a region", "agentInstructions": "Ask"},
            )
    body: dict[str, Any] = answers[0].json()
    assert answers[0].status_code == 200
    assert body["state"] == "CLIENT_ACTION_REQUIRED"
    assert body["clientAction"] == {"type": "provide-input", "description": "Pick a region", "agentInstructions": "Ask"}


@pytest.mark.anyio
async def test_a_long_poll_wakes_with_404_when_the_sandbox_is_reset(sandbox: InProcessSandbox) -> None:
    conn_id = await _held_building(sandbox)
    answers: list[httpx2.Response] = []

    async def poll() -> None:
        answers.append(await sandbox.client.get(f"/connections/{conn_id}", params={"wait": "true"}))

    with anyio.fail_after(WAIT_BOUND_SECONDS):
        async with anyio.create_task_group() as group:
            group.start_soon(poll)
            await anyio.wait_all_tasks_blocked()
            assert (await sandbox.client.post("/_sandbox/reset")).status_code == 200
    assert answers[0].status_code == 404


@pytest.mark.anyio
async def test_a_long_poll_is_held_until_its_timeout_then_answers_200_with_the_current_object(
    sandbox: InProcessSandbox,
) -> None:
    conn_id = await _held_building(sandbox)
    # The feed's timer stands in for the real seconds: the test decides when the timeout passes.
    timeouts: list[float] = []
    expired = anyio.Event()

    async def timer(seconds: float) -> None:
        timeouts.append(seconds)
        await expired.wait()

    sandbox.parts.state.changes.timer = timer
    answers: list[httpx2.Response] = []

    async def poll() -> None:
        answers.append(await sandbox.client.get(f"/connections/{conn_id}", params={"wait": "true", "timeout": "7"}))

    with anyio.fail_after(WAIT_BOUND_SECONDS):
        async with anyio.create_task_group() as group:
            group.start_soon(poll)
            await anyio.wait_all_tasks_blocked()
            assert (answers, timeouts) == ([], [7])  # held, on the timeout the client asked for
            expired.set()
    assert (answers[0].status_code, answers[0].json()["state"]) == (200, "BUILDING")


@pytest.mark.anyio
async def test_a_long_poll_on_a_connection_that_is_not_building_answers_at_once(sandbox: InProcessSandbox) -> None:
    conn = await sandbox.ready_connection()
    with anyio.fail_after(WAIT_BOUND_SECONDS):
        response = await sandbox.client.get(f"/connections/{conn['id']}", params={"wait": "true", "timeout": "60"})
    assert response.json()["state"] == "READY"


@pytest.mark.anyio
async def test_without_wait_a_held_building_connection_answers_at_once(sandbox: InProcessSandbox) -> None:
    conn_id = await _held_building(sandbox)
    with anyio.fail_after(WAIT_BOUND_SECONDS):
        response = await sandbox.client.get(f"/connections/{conn_id}", params={"wait": "false"})
    assert response.json()["state"] == "BUILDING"


@pytest.mark.anyio
@pytest.mark.parametrize("seconds", ["0", "61", "1.5", "soon", "-3"])
async def test_a_timeout_outside_1_to_60_seconds_is_400(sandbox: InProcessSandbox, seconds: str) -> None:
    conn = await sandbox.ready_connection()
    response = await sandbox.client.get(f"/connections/{conn['id']}", params={"wait": "true", "timeout": seconds})
    assert response.status_code == 400
    assert "timeout" in response.json()["message"]
