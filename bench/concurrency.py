"""Concurrency: 64 `run_action` calls in flight at once against an upstream that takes 200 ms each.

All 64 requests are written to the server's stdin before any answer is read. Wall time from the first write to the
last answer should stay near one upstream delay, not 64 of them. Then 63 slow calls and one fast call sent last: the
fast one must come back without waiting for the slow ones. Floor: the bare MCPServer's `wait` tool, 64 calls that
each await 200 ms: what the SDK itself takes to dispatch and answer 64 concurrent calls on this machine, now.
"""

from __future__ import annotations

import time
from typing import Any

from bench.coldstart import FLOOR
from bench.slow_upstream import DELAYS, SLOW_SECONDS, SlowUpstream
from bench.stats import paired_ratios, summarize
from bench.wire import StdioServer, base_env

IN_FLIGHT = 64
CONNECTION = "conn-bench"


def _call(action: str) -> dict[str, Any]:
    return {"name": "run_action", "arguments": {"action_id": action, "input": {}, "connection_id": CONNECTION}}


def _floor_call(action: str) -> dict[str, Any]:
    return {"name": "wait", "arguments": {"ms": DELAYS[action] * 1000}}


def _burst(server: StdioServer, calls: list[dict[str, Any]]) -> tuple[float, dict[int, float]]:
    """Send all calls, then read all answers: (wall ms, ms from the start to each answer by request id)."""
    started = time.perf_counter()
    ids = [server.send("tools/call", call) for call in calls]
    answered: dict[int, float] = {}
    for _ in ids:
        message = server.read()
        if "error" in message or message["result"].get("isError"):
            raise RuntimeError(f"a concurrent call failed: {message}")
        answered[int(message["id"])] = (time.perf_counter() - started) * 1000
    return (time.perf_counter() - started) * 1000, answered


def run(rounds: int) -> dict[str, Any]:
    """Each round: the floor's burst, then ours, so load that comes and goes hits both."""
    walls: list[float] = []
    floor_walls: list[float] = []
    fast_latencies: list[float] = []
    slow = ["slow"] * IN_FLIGHT
    mixed = ["slow"] * (IN_FLIGHT - 1) + ["fast"]
    with SlowUpstream() as upstream:
        env = base_env(MEMBRANE_API_URL=upstream.base_url, MEMBRANE_TOKEN="bench-token-not-a-secret")  # noqa: S106 - the stand-in checks nothing
        with StdioServer(["-m", "clevertap_mcp"], env) as server, StdioServer(FLOOR, base_env()) as floor:
            server.handshake()
            floor.handshake()
            _burst(server, [_call("fast")] * 8)  # open connections, warm caches
            _burst(floor, [_floor_call("fast")] * 8)
            for _ in range(rounds):
                floor_walls.append(_burst(floor, [_floor_call(a) for a in slow])[0])
                walls.append(_burst(server, [_call(a) for a in slow])[0])
                _wall, answers = _burst(server, [_call(a) for a in mixed])
                fast_latencies.append(answers[max(answers)])
    upstream_ms = SLOW_SECONDS * 1000
    wall = summarize(walls)
    return {
        "in_flight": IN_FLIGHT,
        "upstream_ms": upstream_ms,
        "wall_ms": wall.to_json(),
        "ratio_to_upstream": round(wall.median / upstream_ms, 3),
        "floor_wall_ms": summarize(floor_walls).to_json(),
        "ratio_to_floor": summarize(paired_ratios(walls, floor_walls)).to_json(),
        "fast_call_behind_63_slow_ms": summarize(fast_latencies).to_json(),
    }
