"""Context cost: the bytes (and ~tokens, 4 bytes each) of what the server hands an agent.

Two sizes per answer. `wire`: the JSON-RPC line on stdout, text block and structuredContent both. `context`: what a
model reads, which is one of the two, never both (hosts give the model `content`, or `structuredContent` instead);
it is the larger of the compact structured JSON and the text block. For tools/list, `model` is what hosts turn into
the model's tool definitions: name, description and inputSchema (outputSchema and annotations stay with the host).

The comparison: one MCP tool per CleverTap action, as Membrane's own MCP server registers them, measured on the same
15 actions (name = key, the action's description and input schema; no output schemas, which only flatters it).
"""

from __future__ import annotations

import json
from typing import Any

from bench.sandbox_process import SandboxProcess
from bench.wire import StdioServer, base_env

TOKEN_BYTES = 4
RUNS: dict[str, dict[str, Any]] = {
    "run_action real-time-user-count": {"action_id": "real-time-user-count"},
    "run_action get-event-count": {
        "action_id": "get-event-count",
        "input": {"event_name": "App Launched", "from": 20260101, "to": 20260131},
    },
    "run_action get-campaigns": {"action_id": "get-campaigns", "input": {"from": 20260101, "to": 20260131}},
    "proxy_request POST /1/now.json": {"path": "/1/now.json", "method": "POST", "body": {}},
}


def _compact(value: Any) -> int:
    return len(json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode())


def _sizes(wire: int, context: int) -> dict[str, int]:
    return {"wire_bytes": wire, "context_bytes": context, "context_tokens": round(context / TOKEN_BYTES)}


def _result_sizes(server: StdioServer, result: dict[str, Any]) -> dict[str, int]:
    text = sum(len(b["text"].encode()) for b in result["content"] if b.get("type") == "text")
    structured = _compact(result.get("structuredContent")) if "structuredContent" in result else 0
    return _sizes(server.last_bytes, max(text, structured))


def _per_action_tools_list(actions: list[dict[str, Any]]) -> int:
    tools = [{"name": a["key"], "description": a["description"], "inputSchema": a["input_schema"]} for a in actions]
    return _compact({"jsonrpc": "2.0", "id": 2, "result": {"tools": tools}})


def run(sandbox: SandboxProcess) -> dict[str, Any]:
    out: dict[str, Any] = {}
    with StdioServer(["-m", "clevertap_mcp"], base_env(**sandbox.credentials_env())) as server:
        listed = server.handshake()
        model = sum(
            _compact({"name": t["name"], "description": t.get("description"), "input_schema": t["inputSchema"]})
            for t in listed["tools"]
        )
        out["tools/list"] = _sizes(server.last_bytes, model) | {"tools": len(listed["tools"])}
        out["ensure_connection"] = _result_sizes(server, server.call("ensure_connection", {}))
        found = server.call("search_actions", {"intent": "count users and events", "limit": 10})
        out["search_actions (10 results)"] = _result_sizes(server, found) | {
            "results": len(found["structuredContent"]["actions"])
        }
        for name, arguments in RUNS.items():
            tool = name.split()[0]
            out[name] = _result_sizes(server, server.call(tool, arguments))
        everything = server.call("search_actions", {"intent": "CleverTap users events campaigns", "limit": 50})
        actions: list[dict[str, Any]] = everything["structuredContent"]["actions"]
    per_action = _per_action_tools_list(actions)
    out["one tool per action: tools/list"] = {
        "actions": len(actions),
        "wire_bytes": per_action,
        "context_bytes": per_action,
        "context_tokens": round(per_action / TOKEN_BYTES),
    }
    return out
