"""A fake Anthropic Messages API on 127.0.0.1 that plays a scripted agent, and records what the model received.

Claude Code sends the main agent's turns (they carry its tools, ToolSearch among them) and side requests (titles,
summaries); side requests get a plain text answer and do not advance the script. Each main turn is answered with the
script's next step: tool calls, or the final text. The request bodies are kept as sent, so a benchmark can count the
bytes the model would have read.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route


@dataclass
class Step:
    """One model turn: a tool call (`tool`, `arguments`), or the final answer (`text`). `before` runs first with
    what the model just received (the previous tool result), e.g. to submit the connect page it links to."""

    tool: str | None = None
    arguments: dict[str, Any] | Callable[[list[dict[str, Any]]], dict[str, Any]] = field(default_factory=dict)
    text: str = ""
    before: Callable[[list[dict[str, Any]]], None] | None = None


@dataclass
class Turn:
    """A main-agent request as received: its raw bytes, and the tool results it carried back to the model."""

    body: bytes
    results: list[dict[str, Any]]
    tools: list[dict[str, Any]]


class ScriptedModel:
    def __init__(self, steps: list[Step]) -> None:
        self.steps = steps
        self.turns: list[Turn] = []
        self.side_requests = 0
        self.done = threading.Event()
        self.app = Starlette(routes=[Route("/v1/messages", self._messages, methods=["POST"])])

    async def _messages(self, request: Request) -> Response:
        body = await request.body()
        payload: dict[str, Any] = json.loads(body)
        tools = [t for t in payload.get("tools", []) if isinstance(t, dict)]
        if not any(t.get("name") == "ToolSearch" for t in tools):
            self.side_requests += 1
            return _answer(payload, [{"type": "text", "text": "ok"}], "end_turn")
        index = len(self.turns)
        results = _tool_results(payload, f"toolu_{index - 1:02d}")
        self.turns.append(Turn(body, results, tools))
        if index >= len(self.steps):
            return _answer(payload, [{"type": "text", "text": "(script over)"}], "end_turn")
        step = self.steps[index]
        if step.before is not None:
            step.before(results)
        if step.tool is None:
            self.done.set()
            return _answer(payload, [{"type": "text", "text": step.text}], "end_turn")
        arguments = step.arguments(results) if callable(step.arguments) else step.arguments
        block = {"type": "tool_use", "id": f"toolu_{index:02d}", "name": step.tool, "input": arguments}
        return _answer(payload, [block], "tool_use")


def _tool_results(payload: dict[str, Any], tool_use_id: str) -> list[dict[str, Any]]:
    """The results of the previous step's call, wherever the host put them (Claude Code merges turns)."""
    blocks = [
        block
        for message in payload.get("messages") or []
        if isinstance(message.get("content"), list)
        for block in message["content"]
    ]
    out: list[dict[str, Any]] = []
    for block in blocks:
        if isinstance(block, dict) and block.get("type") == "tool_result" and block.get("tool_use_id") == tool_use_id:
            raw = block.get("content")
            text = (
                raw
                if isinstance(raw, str)
                else "".join(str(part.get("text", "")) for part in raw or [] if isinstance(part, dict))
            )
            out.append({"text": text, "is_error": bool(block.get("is_error"))})
    return out


def _answer(payload: dict[str, Any], blocks: list[dict[str, Any]], stop: str) -> Response:
    usage = {"input_tokens": 1, "output_tokens": 1}
    message = {
        "id": "msg_fake",
        "type": "message",
        "role": "assistant",
        "model": payload.get("model", "fake"),
        "content": blocks,
        "stop_reason": stop,
        "stop_sequence": None,
        "usage": usage,
    }
    if not payload.get("stream"):
        return JSONResponse(message)
    events: list[tuple[str, dict[str, Any]]] = [
        ("message_start", {"type": "message_start", "message": {**message, "content": [], "stop_reason": None}})
    ]
    for index, block in enumerate(blocks):
        if block["type"] == "text":
            start, delta = {"type": "text", "text": ""}, {"type": "text_delta", "text": block["text"]}
        else:
            start = {**block, "input": {}}
            delta = {"type": "input_json_delta", "partial_json": json.dumps(block["input"])}
        events += [
            ("content_block_start", {"type": "content_block_start", "index": index, "content_block": start}),
            ("content_block_delta", {"type": "content_block_delta", "index": index, "delta": delta}),
            ("content_block_stop", {"type": "content_block_stop", "index": index}),
        ]
    events += [
        (
            "message_delta",
            {"type": "message_delta", "delta": {"stop_reason": stop, "stop_sequence": None}, "usage": usage},
        ),
        ("message_stop", {"type": "message_stop"}),
    ]
    text = "".join(f"event: {name}\ndata: {json.dumps(data)}\n\n" for name, data in events)
    return StreamingResponse(iter([text]), media_type="text/event-stream")
