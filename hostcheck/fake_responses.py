"""A fake OpenAI Responses API on 127.0.0.1 (what Codex CLI speaks) playing a scripted agent (fake_anthropic.Step).

Codex groups an MCP server's tools in a namespace (`mcp__NAME`); a step's `tool` is `namespace/tool`. The results
come back as `function_call_output` items of the next request; Codex shows the model no error flag, so `is_error`
is always False here and a check looks at the text.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from hostcheck.fake_anthropic import Step, Turn


class ScriptedResponses:
    def __init__(self, steps: list[Step]) -> None:
        self.steps = steps
        self.turns: list[Turn] = []
        self.app = Starlette(
            routes=[
                Route("/v1/responses", self._responses, methods=["POST"]),
                Route("/v1/models", lambda _: JSONResponse({"data": [], "models": []}), methods=["GET"]),
            ]
        )

    async def _responses(self, request: Request) -> Response:
        body = await request.body()
        payload: dict[str, Any] = json.loads(body)
        index = len(self.turns)
        results = _outputs(payload, f"call_{index - 1:02d}")
        self.turns.append(Turn(body, results, [t for t in payload.get("tools", []) if isinstance(t, dict)]))
        if index >= len(self.steps):
            return _stream([_message("(script over)")])
        step = self.steps[index]
        if step.before is not None:
            step.before(results)
        if step.tool is None:
            return _stream([_message(step.text)])
        arguments = step.arguments(results) if callable(step.arguments) else step.arguments
        namespace, _, name = step.tool.rpartition("/")
        item: dict[str, Any] = {
            "type": "function_call",
            "id": f"fc_{index:02d}",
            "call_id": f"call_{index:02d}",
            "name": name,
            "arguments": json.dumps(arguments),
        }
        if namespace:
            item["namespace"] = namespace
        return _stream([item])


def _outputs(payload: dict[str, Any], call_id: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for item in payload.get("input") or []:
        if isinstance(item, dict) and item.get("type") == "function_call_output" and item.get("call_id") == call_id:
            raw = item.get("output")
            if isinstance(raw, str):
                text = raw
            elif isinstance(raw, list):
                text = "".join(str(p.get("text", "")) for p in raw if isinstance(p, dict))
            else:
                text = json.dumps(raw)
            out.append({"text": text, "is_error": False})
    return out


def _message(text: str) -> dict[str, Any]:
    return {
        "type": "message",
        "role": "assistant",
        "id": "msg_fake",
        "content": [{"type": "output_text", "text": text, "annotations": []}],
    }


def _stream(items: list[dict[str, Any]]) -> Response:
    usage = {
        "input_tokens": 1,
        "input_tokens_details": None,
        "output_tokens": 1,
        "output_tokens_details": None,
        "total_tokens": 2,
    }
    events: list[tuple[str, dict[str, Any]]] = [
        ("response.created", {"type": "response.created", "response": {"id": "resp"}})
    ]
    for index, item in enumerate(items):
        events.append(
            ("response.output_item.done", {"type": "response.output_item.done", "output_index": index, "item": item})
        )
    events.append(("response.completed", {"type": "response.completed", "response": {"id": "resp", "usage": usage}}))
    text = "".join(f"event: {name}\ndata: {json.dumps(data)}\n\n" for name, data in events)
    return StreamingResponse(iter([text]), media_type="text/event-stream")
