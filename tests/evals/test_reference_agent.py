"""Every eval task is solvable through the real server, and its grader is right: the reference agent's reply passes,
a wrong answer or doing nothing fails, and a question that changes the world fails."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from clevertap_mcp.testing import Environment, clevertap_sandbox
from evals.grading import EVAL_SETTINGS
from evals.reference import SOLUTIONS, solve
from evals.tasks import TASKS, EvalTask

pytestmark = pytest.mark.anyio


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="module")
async def env() -> AsyncIterator[Environment]:
    """One sandbox for the whole suite, reset before each task."""
    async with clevertap_sandbox(EVAL_SETTINGS, server_settings={"confirm": "never"}) as shared:
        yield shared


def test_there_are_at_least_thirty_tasks_each_with_a_reference_solution() -> None:
    assert len(TASKS) >= 30 and len({t.id for t in TASKS}) == len(TASKS)
    assert {t.id for t in TASKS} == SOLUTIONS.keys()
    assert {t.kind for t in TASKS} == {"question", "change"}


@pytest.mark.parametrize("task", TASKS, ids=lambda t: t.id)
async def test_the_reference_agent_passes_and_doing_nothing_or_answering_wrong_fails(
    env: Environment, task: EvalTask
) -> None:
    await env.world.reset()
    prompt = task.text(env.world.account())
    reply = await solve(env, task.id, prompt)
    grade = task.grade(env.world, reply)
    assert grade.passed, f"{task.id}: {grade.reason} (reply: {reply!r})"

    await env.world.reset()
    assert not task.grade(env.world, "I could not do it.").passed
    if task.kind == "question":
        assert not task.grade(env.world, "ANSWER: 999999").passed
        assert not task.grade(env.world, "ANSWER: not-the-answer").passed
        # An answer read off the world is still wrong when the agent changed the world to get there.
        await env.call("ensure_connection")  # the reset took the connection away
        record = {"identity": "u-1001", "profileData": {"Touched": True}}
        await env.call("run_action", {"action_id": "upload-user-profiles", "input": {"profiles": [record]}})
        assert not task.grade(env.world, reply).passed
