"""A fake Gemini API on 127.0.0.1 (what Gemini CLI speaks) playing a scripted agent (fake_anthropic.Step).

Turns come as `POST /v1beta/models/{model}:streamGenerateContent?alt=sse`; the CLI's model router makes
`:generateContent` side calls, answered with a fixed routing decision. A step's `tool` is the MCP tool's name; the
declared name that ends with it is called (Gemini 0.61 declares `mcp_SERVER_TOOL`). Results come back as
`functionResponse` parts; an error is `response.error`.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from hostcheck.fake_anthropic import Step, Turn

USAGE = {"promptTokenCount": 1, "candidatesTokenCount": 1, "totalTokenCount": 2}


class ScriptedGemini:
    def __init__(self, steps: list[Step]) -> None:
        self.steps = steps
        self.turns: list[Turn] = []
        self.side_requests = 0
        self.app = Starlette(routes=[Route("/v1beta/models/{call:path}", self._call, methods=["POST"])])

    async def _call(self, request: Request) -> Response:
        body = await request.body()
        payload: dict[str, Any] = json.loads(body)
        if not request.path_params["call"].endswith(":streamGenerateContent"):
            self.side_requests += 1
            decision = {"complexity_reasoning": "a scripted test", "complexity_score": 10}
            return JSONResponse(_candidate([{"text": json.dumps(decision)}]) | {"usageMetadata": USAGE})
        declared = [
            str(d.get("name"))
            for tool in payload.get("tools") or []
            for d in tool.get("functionDeclarations") or []
            if isinstance(d, dict)
        ]
        index = len(self.turns)
        previous = self.steps[index - 1].tool if 0 < index <= len(self.steps) else None
        results = _responses(payload, previous)
        self.turns.append(Turn(body, results, [{"names": declared}]))
        if index >= len(self.steps):
            return _stream([{"text": "(script over)"}])
        step = self.steps[index]
        if step.before is not None:
            step.before(results)
        if step.tool is None:
            return _stream([{"text": step.text}])
        name = next((n for n in declared if n == step.tool or n.endswith("_" + step.tool)), step.tool)
        arguments = step.arguments(results) if callable(step.arguments) else step.arguments
        return _stream([{"functionCall": {"name": name, "args": arguments}}])


def _responses(payload: dict[str, Any], tool: str | None) -> list[dict[str, Any]]:
    contents = payload.get("contents") or []
    out: list[dict[str, Any]] = []
    for part in (contents[-1].get("parts") or []) if contents else []:
        response = part.get("functionResponse") if isinstance(part, dict) else None
        if isinstance(response, dict) and tool and str(response.get("name", "")).endswith(tool):
            inner: Any = response.get("response") or {}
            out.append({"text": json.dumps(inner), "is_error": isinstance(inner, dict) and "error" in inner})
    return out


def _candidate(parts: list[dict[str, Any]]) -> dict[str, Any]:
    return {"candidates": [{"content": {"role": "model", "parts": parts}, "finishReason": "STOP", "index": 0}]}


def _stream(parts: list[dict[str, Any]]) -> Response:
    chunk = _candidate(parts) | {"usageMetadata": USAGE}
    return StreamingResponse(iter([f"data: {json.dumps(chunk)}\n\n"]), media_type="text/event-stream")
