"""The task suite as an inspect-ai Task: `inspect eval evals/inspect_task.py --model <any inspect model>`.

Each sample gets a sandbox of its own on loopback (EVAL_SETTINGS) and the real server over stdio pointed at it
(`python -m clevertap_mcp`), so samples may run in parallel; the task's grader scores the reply and the sandbox's
world, then the sandbox stops. inspect-ai runs in its own venv (scripts/eval-inspect); the rest of evals/ does not
import this module.
"""

from __future__ import annotations

import sys

import httpx2
from inspect_ai import Task, task
from inspect_ai.agent import as_solver, react
from inspect_ai.dataset import MemoryDataset, Sample
from inspect_ai.scorer import CORRECT, INCORRECT, Score, Scorer, Target, accuracy, scorer, stderr
from inspect_ai.solver import Generate, Solver, TaskState, solver
from inspect_ai.tool import mcp_server_stdio

from clevertap_mcp.sandbox.clevertap.state import CleverTapWorld
from clevertap_mcp.sandbox.server import SandboxServer
from clevertap_mcp.testing import World
from evals.grading import EVAL_SETTINGS
from evals.tasks import TASKS

SYSTEM_PROMPT = (
    "You work in a CleverTap account through the clevertap tools. Call ensure_connection first, then "
    "search_actions to find what fits, run_action to run it, and proxy_request for what no action covers. "
    "When you are done, reply without calling a tool."
)
_BY_ID = {one.id: one for one in TASKS}
_SANDBOXES: dict[str, SandboxServer] = {}  # by sample uuid, from the solver to the scorer


def _dataset(ids: list[str]) -> MemoryDataset:
    account = CleverTapWorld.seeded(EVAL_SETTINGS).accounts()[0]
    unknown = [one for one in ids if one not in _BY_ID]
    if unknown:
        raise ValueError(f"No task {', '.join(unknown)}; the tasks are {', '.join(_BY_ID)}")
    samples = [Sample(input=_BY_ID[one].text(account), id=one, metadata={"kind": _BY_ID[one].kind}) for one in ids]
    return MemoryDataset(samples, name="clevertap")


@solver
def clevertap_agent() -> Solver:
    """A ReAct agent with the server's tools, on a sandbox of this sample's own."""

    async def solve(state: TaskState, generate: Generate) -> TaskState:
        sandbox = SandboxServer(EVAL_SETTINGS)
        sandbox.start()
        _SANDBOXES[state.uuid] = sandbox
        settings = sandbox.settings
        server = mcp_server_stdio(
            name="clevertap",
            command=sys.executable,
            args=["-m", "clevertap_mcp"],
            env={
                "MEMBRANE_API_URL": sandbox.base_url,
                "MEMBRANE_WORKSPACE_KEY": settings.workspace_key,
                "MEMBRANE_WORKSPACE_SECRET": settings.workspace_secret,
                "MEMBRANE_TENANT_KEY": settings.tenant_key,
                "CLEVERTAP_MCP_CONFIRM": "never",  # no one is there to confirm; the grader judges what was done
            },
        )
        agent = react(prompt=SYSTEM_PROMPT, tools=[server], submit=False)
        return await as_solver(agent)(state, generate)

    return solve


@scorer(metrics=[accuracy(), stderr()])
def clevertap_grader() -> Scorer:
    """The task's own grader over the reply and the sample's world (evals/tasks.py)."""

    async def score(state: TaskState, target: Target) -> Score:
        sandbox = _SANDBOXES.pop(state.uuid)
        try:
            assert sandbox.app is not None
            async with httpx2.AsyncClient(base_url=sandbox.base_url) as http:
                grade = _BY_ID[str(state.sample_id)].grade(World(sandbox.app, http), state.output.completion)
        finally:
            sandbox.stop()
        return Score(
            value=CORRECT if grade.passed else INCORRECT, answer=state.output.completion, explanation=grade.reason
        )

    return score


@task
def clevertap_tasks(tasks: str = "") -> Task:
    """Every task, or the comma-separated ids in `tasks`."""
    ids = [one.strip() for one in tasks.split(",") if one.strip()] or list(_BY_ID)
    return Task(dataset=_dataset(ids), solver=clevertap_agent(), scorer=clevertap_grader(), message_limit=60)
