"""Eval frameworks (PyPI, pinned, in their own venv `.cache/hosts-venv`) driving `clevertap-mcp --sandbox` through
their own MCP clients and fake-model seams. Run with that venv's python: `python -m hostcheck.frameworks`.

openai-agents: `MCPServerStdio` with its default 5 s client timeout and strict schemas, and a `Model` subclass that
plays the script; strict mode makes every argument required, so the script passes null for every optional one.
pydantic-ai: `MCPToolset(StdioTransport(...))` and a `FunctionModel`. inspect-ai: `use_tools(mcp_server_stdio(...))`
+ `generate()` with `mockllm/model`, a server process per tool call, on `--sandbox-shared` (auto-connect: mockllm's
outputs are fixed in advance, so no step can submit the connect page).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SERVER = [str(ROOT / ".venv" / "bin" / "clevertap-mcp"), "--sandbox"]
VERSIONS = {"openai-agents": "0.24.0", "pydantic-ai-slim[mcp]": "2.68.0", "inspect-ai": "0.3.285"}


def connect(text: str) -> None:
    import httpx

    link = re.search(r"http://127\.0\.0\.1:\d+/ui/connect/[\w-]+", text)
    assert link, f"no connect link in {text!r}"
    # The sandbox's demo account (sandbox/settings.py); this venv does not have clevertap_mcp to import it from.
    form = {"account_id": "TEST-R78-ZZ6-5Z7Z", "passcode": "SANDBOX-PASSCODE-1", "region": "eu1"}
    assert httpx.post(link.group(0), data=form).status_code == 200


def strict_call(schema: dict[str, Any], **given: Any) -> dict[str, Any]:
    """What a strict-mode model sends: every argument, null unless given."""
    return {name: given.get(name) for name in schema["properties"]}


async def openai_agents() -> list[str]:
    from agents import Agent, RunConfig, Runner
    from agents.items import ModelResponse
    from agents.mcp import MCPServerStdio
    from agents.models.interface import Model
    from agents.usage import Usage
    from openai.types.responses import ResponseFunctionToolCall, ResponseOutputMessage, ResponseOutputText

    received: list[str] = []
    problems: list[str] = []

    class Scripted(Model):
        def __init__(self) -> None:
            self.step = 0
            self.connection = ""

        async def get_response(self, *args: Any, **kwargs: Any) -> ModelResponse:
            items = kwargs.get("input", args[1] if len(args) > 1 else [])
            tools = {t.name: t for t in kwargs.get("tools", args[4] if len(args) > 4 else [])}
            outputs = [i for i in items if isinstance(i, dict) and i.get("type") == "function_call_output"]
            if outputs:
                received.append(str(outputs[-1]["output"]))
            self.step += 1
            schema = lambda name: tools[name].params_json_schema  # noqa: E731
            if self.step == 1:
                assert tools["ensure_connection"].strict_json_schema, "ensure_connection is not strict"
                assert tools["search_actions"].strict_json_schema, "search_actions is not strict"
                call = ("ensure_connection", strict_call(schema("ensure_connection"), wait_seconds=0))
            elif self.step == 2:
                connect(received[-1])
                self.connection = re.search(r"conn_\w+", received[-1]).group(0)  # type: ignore[union-attr]
                call = ("ensure_connection", strict_call(schema("ensure_connection"), connection_id=self.connection))
            elif self.step == 3:
                call = ("search_actions", strict_call(schema("search_actions"), intent="users online now", limit=3))
            elif self.step == 4:
                call = ("run_action", {"action_id": "real-time-user-count"})
            elif self.step == 5:
                call = ("proxy_request", {"path": "/1/profile.json", "query": {"email": "no@one.example"}})
            elif self.step == 6:
                call = ("proxy_request", {"path": "https://elsewhere.example/1/profile.json"})
            else:
                text = ResponseOutputText(type="output_text", text="Done.", annotations=[])
                message = ResponseOutputMessage(
                    id="m", type="message", role="assistant", status="completed", content=[text]
                )
                return ModelResponse(output=[message], usage=Usage(), response_id=None)
            name, arguments = call
            tool_call = ResponseFunctionToolCall(
                type="function_call", call_id=f"c{self.step}", name=name, arguments=json.dumps(arguments)
            )
            return ModelResponse(output=[tool_call], usage=Usage(), response_id=None)

        def stream_response(self, *args: Any, **kwargs: Any) -> Any:
            raise NotImplementedError

    env = {"PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", "")}
    async with MCPServerStdio(params={"command": SERVER[0], "args": SERVER[1:], "env": env}) as server:
        agent = Agent(
            name="clevertap",
            instructions="Use the tools.",
            mcp_servers=[server],
            mcp_config={"convert_schemas_to_strict": True},  # every argument becomes required
            model=Scripted(),
        )
        result = await Runner.run(agent, "How many users are online?", run_config=RunConfig(tracing_disabled=True))
    expect = ["CLIENT_ACTION_REQUIRED", "READY", "real-time-user-count", '"output"', '"status":200', "Refused"]
    for step, needle in enumerate(expect):
        if step >= len(received) or needle not in received[step]:
            problems.append(f"openai-agents step {step + 1}: expected {needle!r}, got {received[step : step + 1]}")
    if result.final_output != "Done.":
        problems.append(f"openai-agents final {result.final_output!r}")
    sys.stdout.write(
        json.dumps({"framework": "openai-agents", "received_text_bytes": [len(r) for r in received]}) + "\n"
    )
    return problems


async def pydantic_ai() -> list[str]:
    from fastmcp.client.transports import StdioTransport
    from pydantic_ai import Agent
    from pydantic_ai.mcp import MCPToolset
    from pydantic_ai.messages import (
        ModelMessage,
        ModelResponse,
        RetryPromptPart,
        TextPart,
        ToolCallPart,
        ToolReturnPart,
    )
    from pydantic_ai.models.function import AgentInfo, FunctionModel

    received: list[str] = []
    script: list[tuple[str, dict[str, Any]] | None] = [
        ("ensure_connection", {"wait_seconds": 0}),
        ("ensure_connection", {}),  # connection_id filled in once the user has connected
        ("search_actions", {"intent": "users online now", "limit": 3}),
        ("run_action", {"action_id": "real-time-user-count"}),
        ("proxy_request", {"path": "/1/profile.json", "query": {"email": "no@one.example"}}),
        ("proxy_request", {"path": "https://elsewhere.example/1/profile.json"}),
        None,
    ]

    def play(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        for part in getattr(messages[-1], "parts", []):
            if isinstance(part, ToolReturnPart):
                received.append(json.dumps(part.content) if not isinstance(part.content, str) else part.content)
            elif isinstance(part, RetryPromptPart):
                received.append("ERROR " + str(part.content))
        step = script[len(received)] if len(received) < len(script) else None
        if step is None:
            return ModelResponse(parts=[TextPart("Done.")])
        name, arguments = step
        if len(received) == 1:
            connect(received[0])
            arguments = {"connection_id": re.search(r"conn_\w+", received[0]).group(0)}  # type: ignore[union-attr]
        return ModelResponse(parts=[ToolCallPart(name, arguments, tool_call_id=f"c{len(received)}")])

    env = {"PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", "")}
    toolset = MCPToolset(StdioTransport(command=SERVER[0], args=SERVER[1:], env=env))
    agent = Agent(FunctionModel(play), toolsets=[toolset])
    async with agent:
        result = await agent.run("How many users are online?")
    problems: list[str] = []
    expect = [
        "CLIENT_ACTION_REQUIRED",
        "READY",
        "real-time-user-count",
        '"output"',
        '"status": 200',
        "Refused before sending",
    ]
    for step, needle in enumerate(expect):
        if step >= len(received) or needle not in received[step]:
            problems.append(f"pydantic-ai step {step + 1}: expected {needle!r}, got {received[step : step + 1]}")
    if result.output != "Done.":
        problems.append(f"pydantic-ai final {result.output!r}")
    sys.stdout.write(json.dumps({"framework": "pydantic-ai", "received_text_bytes": [len(r) for r in received]}) + "\n")
    return problems


def inspect_ai() -> list[str]:
    """The literal `use_tools(mcp_server_stdio(...))` + `generate()` pattern, which starts a server per tool call:
    with `--sandbox-shared` each meets the world (and READY connection) the one before left."""
    import signal
    import tempfile

    from inspect_ai import Task, eval
    from inspect_ai.dataset import Sample
    from inspect_ai.model import ModelOutput, ModelUsage, get_model
    from inspect_ai.solver import generate, use_tools
    from inspect_ai.tool import mcp_server_stdio

    calls: list[tuple[str, dict[str, Any]]] = [
        ("ensure_connection", {}),
        ("search_actions", {"intent": "users online now", "limit": 3}),
        ("run_action", {"action_id": "real-time-user-count"}),
        ("proxy_request", {"path": "/1/profile.json", "query": {"email": "no@one.example"}}),
        ("proxy_request", {"path": "https://elsewhere.example/1/profile.json"}),
    ]
    outputs = [ModelOutput.for_tool_call("mockllm/model", name, arguments) for name, arguments in calls]
    outputs.append(ModelOutput.from_content("mockllm/model", "Done."))
    for output in outputs:
        output.usage = ModelUsage(input_tokens=1, output_tokens=1, total_tokens=2)  # else inspect fetches a tokenizer
    with tempfile.TemporaryDirectory() as shared:
        env = {
            "PATH": os.environ.get("PATH", ""),
            "HOME": os.environ.get("HOME", ""),
            "CLEVERTAP_MCP_SANDBOX_DIR": shared,
        }
        server = mcp_server_stdio(
            command=SERVER[0], args=[*SERVER[1:], "--sandbox-shared", "--sandbox-auto-connect"], env=env
        )
        task = Task(dataset=[Sample(input="How many users are online?")], solver=[use_tools(server), generate()])
        try:
            log = eval(task, model=get_model("mockllm/model", custom_outputs=outputs), display="none", log_dir=shared)[
                0
            ]
            messages = log.samples[0].messages if log.samples else []
            received = [
                (m.text, m.error.message if getattr(m, "error", None) else "") for m in messages if m.role == "tool"
            ]
        finally:
            for record in Path(shared).glob("sandboxes-*/*.json"):
                os.kill(int(json.loads(record.read_text())["pid"]), signal.SIGTERM)
    problems: list[str] = []
    expect = ["READY", "real-time-user-count", '"output"', '"status":200', "Refused before sending"]
    for step, needle in enumerate(expect):
        if step >= len(received) or needle not in " ".join(received[step]):
            problems.append(f"inspect-ai step {step + 1}: expected {needle!r}, got {received[step : step + 1]}")
    sys.stdout.write(
        json.dumps({"framework": "inspect-ai", "received_text_bytes": [len(t) for t, _ in received]}) + "\n"
    )
    return problems


def main() -> int:
    problems = asyncio.run(openai_agents()) + asyncio.run(pydantic_ai()) + inspect_ai()
    for problem in problems:
        sys.stderr.write(problem + "\n")
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
