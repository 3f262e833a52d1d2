"""Checks the inspect-ai Task end to end with no model: inspect's `mockllm/model` plays the reference agent's tool
calls, recorded here against an in-process sandbox, for a few tasks; every sample must score correct, and a model
that does nothing must score incorrect. Run by scripts/eval-inspect in inspect's own venv."""

from __future__ import annotations

import logging
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import anyio
from inspect_ai import eval as inspect_eval
from inspect_ai.model import ModelOutput, ModelUsage, get_model

from clevertap_mcp.testing import Environment, clevertap_sandbox
from evals.grading import EVAL_SETTINGS
from evals.inspect_task import clevertap_tasks
from evals.reference import solve
from evals.tasks import TASKS

# Tasks whose calls replay unchanged: no cursor or other per-run value among their arguments.
CHECKED = ("city-of-a-user", "charged-last-week", "set-city", "stop-running-campaign", "create-push-campaign")
MODEL = "mockllm/model"
LOG_DIR = Path(".cache/inspect-logs")


class Recorder:
    """The reference agent's view of the server, keeping every call it makes."""

    def __init__(self, env: Environment) -> None:
        self.env = env
        self.calls: list[tuple[str, dict[str, Any]]] = []

    async def call(self, tool: str, arguments: Mapping[str, Any] | None = None) -> dict[str, Any]:
        self.calls.append((tool, dict(arguments or {})))
        return await self.env.call(tool, arguments)


def _used(output: ModelOutput) -> ModelOutput:
    # Without usage inspect counts tokens itself, and would download a tokenizer to do it.
    output.usage = ModelUsage(input_tokens=1, output_tokens=1, total_tokens=2)
    return output


async def recorded_outputs(ids: tuple[str, ...]) -> list[ModelOutput]:
    by_id = {one.id: one for one in TASKS}
    outputs: list[ModelOutput] = []
    async with clevertap_sandbox(EVAL_SETTINGS, server_settings={"confirm": "never"}) as env:
        for task_id in ids:
            await env.world.reset()
            recorder = Recorder(env)
            reply = await solve(recorder, task_id, by_id[task_id].text(env.world.account()))
            outputs += [_used(ModelOutput.for_tool_call(MODEL, tool, args)) for tool, args in recorder.calls]
            outputs.append(_used(ModelOutput.from_content(MODEL, reply)))
    return outputs


def scores(outputs: list[ModelOutput], ids: tuple[str, ...]) -> dict[str, Any]:
    model = get_model(MODEL, custom_outputs=outputs)
    # One sample at a time: the mock's outputs are one sequence, played in sample order.
    (log,) = inspect_eval(
        clevertap_tasks(tasks=",".join(ids)),
        model=model,
        max_samples=1,
        log_dir=str(LOG_DIR),
        display="none",
        log_level="warning",
    )
    if log.status != "success" or log.samples is None:
        raise SystemExit(f"inspect eval ended {log.status}: {log.error}")
    return {str(sample.id): next(iter((sample.scores or {}).values())).value for sample in log.samples}


def main() -> None:
    for name in ("httpx2", "clevertap_mcp"):  # the recording's own request logs are not this check's output
        logging.getLogger(name).setLevel(logging.WARNING)
    outputs = anyio.run(recorded_outputs, CHECKED)
    played = scores(outputs, CHECKED)
    idle = scores([_used(ModelOutput.from_content(MODEL, "I could not do it."))], ("set-city",))
    failures = [f"{one} scored {value}" for one, value in played.items() if value != "C"]
    failures += [f"doing nothing on set-city scored {value}" for value in idle.values() if value != "I"]
    if failures or len(played) != len(CHECKED):
        sys.stderr.write("inspect check failed: " + "; ".join(failures or [f"scored {played}"]) + "\n")
        raise SystemExit(1)
    sys.stderr.write(f"inspect check: {len(played)} tasks played by mockllm scored correct; doing nothing did not\n")


if __name__ == "__main__":
    main()
