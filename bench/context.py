"""Context cost: the bytes (and ~tokens, 4 bytes each) of what the server hands an agent.

Three measures. `run`: each answer's size. `searches`: search_actions at its default limit over the 48 phrasings of
bench/phrasings.py, as Claude Code's model reads it (bench/host_view.py), side by side with the same results each
carrying its whole input_schema (what every result carried before issue 15). `flow`: what Claude Code's model reads
over the demo's flow, tool definitions included: ensure_connection (the connect link), the user connecting,
ensure_connection (READY), search_actions, run_action, proxy_request.

Two sizes per answer. `wire`: the JSON-RPC line on stdout, text block and structuredContent both. `context`: what a
model reads, which is one of the two, never both (hosts give the model `content`, or `structuredContent` instead);
it is the larger of the compact structured JSON and the text block. For tools/list, `model` is what hosts turn into
the model's tool definitions: name, description and inputSchema (outputSchema and annotations stay with the host).

The comparison: one MCP tool per CleverTap action, as Membrane's own MCP server registers them, measured on the same
15 actions (name = key, the action's description and input schema; no output schemas, which only flatters it).
"""

from __future__ import annotations

import json
import statistics
from typing import Any

import httpx2

from bench import host_view
from bench.phrasings import PHRASINGS
from bench.sandbox_process import SandboxProcess
from bench.wire import StdioServer, base_env
from clevertap_mcp.membrane.auth import MintedToken
from clevertap_mcp.sandbox.settings import DEMO_CLEVERTAP_ACCOUNT_ID, DEMO_CLEVERTAP_PASSCODE, DEMO_CLEVERTAP_REGION

TOKEN_BYTES = 4
# The question hosts.md measured Claude Code on: 7,602 bytes of search results before issue 15.
FLOW_INTENT = "how many users are online right now"
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
    tools = [{"name": a["key"], "description": a["description"], "inputSchema": a["inputSchema"]} for a in actions]
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
    actions: list[dict[str, Any]] = _membrane_search(sandbox, "CleverTap users events campaigns", 50)["items"]
    per_action = _per_action_tools_list(actions)
    out["one tool per action: tools/list"] = {
        "actions": len(actions),
        "wire_bytes": per_action,
        "context_bytes": per_action,
        "context_tokens": round(per_action / TOKEN_BYTES),
    }
    out["searches"] = searches(sandbox)
    with SandboxProcess(auto_connect=False) as waiting:
        out["flow"] = flow(waiting)
    return out


def _membrane_search(sandbox: SandboxProcess, intent: str, limit: int) -> dict[str, Any]:
    """Membrane's own answer to a search (the sandbox's `GET /actions`), as the server receives it."""
    s = sandbox.settings
    token = MintedToken(s.workspace_key, s.workspace_secret, s.tenant_key).token()
    with httpx2.Client(base_url=sandbox.base_url, headers={"Authorization": f"Bearer {token}"}) as http:
        connection = http.get("/connections").json()["items"][0]["id"]
        page: dict[str, Any] = http.get(
            "/actions", params={"connectionId": connection, "intent": intent, "limit": limit}
        ).json()
    return page


def _whole(sandbox: SandboxProcess, intent: str) -> int:
    """The text search_actions sent before issue 15 at its default limit: every result with its whole input_schema."""
    page = _membrane_search(sandbox, intent, 10)
    actions = [
        {"id": a["id"], "key": a.get("key"), "name": a["name"], "description": a.get("description")}
        | {"input_schema": a.get("inputSchema")}
        for a in page["items"]
    ]
    return _compact({"actions": actions, "next_cursor": page.get("cursor")})


def searches(sandbox: SandboxProcess) -> dict[str, Any]:
    """search_actions at its default limit for each phrasing, as the model reads it, and each whole (before)."""
    ours: dict[str, int] = {}
    with StdioServer(["-m", "clevertap_mcp"], base_env(**sandbox.credentials_env())) as server:
        server.handshake()
        server.call("ensure_connection", {})
        for intent in [FLOW_INTENT, *(phrase for phrase, _ in PHRASINGS)]:
            ours[intent] = host_view.result_bytes(server.call("search_actions", {"intent": intent}))
    whole = {intent: _whole(sandbox, intent) for intent in ours}
    sample = [ours[phrase] for phrase, _ in PHRASINGS]
    before = [whole[phrase] for phrase, _ in PHRASINGS]
    return {
        "phrasings": len(sample),
        "median_bytes": statistics.median(sample),
        "p90_bytes": statistics.quantiles(sample, n=10)[-1],
        "max_bytes": max(sample),
        "whole_median_bytes": statistics.median(before),
        "whole_max_bytes": max(before),
        "flow_intent_bytes": ours[FLOW_INTENT],
        "flow_intent_whole_bytes": whole[FLOW_INTENT],
        "per_phrasing": ours,
    }


def flow(sandbox: SandboxProcess) -> dict[str, Any]:
    """What Claude Code's model reads over the demo's flow; `sandbox` must not connect on its own."""
    steps: dict[str, int] = {}
    with StdioServer(["-m", "clevertap_mcp"], base_env(**sandbox.credentials_env())) as server:
        steps["tool definitions"] = host_view.definitions_bytes(server.handshake()["tools"])
        asked = server.call("ensure_connection", {})
        steps["ensure_connection (connect link)"] = host_view.result_bytes(asked)
        connection = asked["structuredContent"]
        if connection["state"] != "CLIENT_ACTION_REQUIRED":
            raise RuntimeError(f"the flow needs a sandbox that waits for the user; got {connection['state']}")
        form = {"account_id": DEMO_CLEVERTAP_ACCOUNT_ID, "passcode": DEMO_CLEVERTAP_PASSCODE}
        httpx2.post(
            connection["client_action"]["ui_url"], data=form | {"region": DEMO_CLEVERTAP_REGION}
        ).raise_for_status()
        ready = server.call("ensure_connection", {"connection_id": connection["connection_id"]})
        steps["ensure_connection (READY)"] = host_view.result_bytes(ready)
        found = server.call("search_actions", {"intent": FLOW_INTENT})
        steps["search_actions"] = host_view.result_bytes(found)
        first = found["structuredContent"]["actions"][0]
        ran = server.call("run_action", {"action_id": first.get("key") or first["id"]})
        steps["run_action"] = host_view.result_bytes(ran)
        proxied = server.call("proxy_request", {"path": "/1/now.json", "method": "POST", "body": {}})
        steps["proxy_request"] = host_view.result_bytes(proxied)
    return {"steps": steps, "total_bytes": sum(steps.values()), "first_action": first.get("key") or first["id"]}
