"""Memory: resident set size of the stdio server over 1,000 calls, against the floor server doing the same.

RSS is read from /proc after every hundredth call; growth is the difference between the reading after the first
hundred calls (caches and pools warm by then) and the one after the last hundred.
"""

from __future__ import annotations

from typing import Any

from bench.coldstart import FLOOR
from bench.sandbox_process import SandboxProcess
from bench.wire import StdioServer, base_env

CALLS = 1000
EVERY = 100
MIB = 1024


def _profile(server: StdioServer, tool: str, arguments: dict[str, Any], calls: int) -> dict[str, Any]:
    readings: list[int] = []
    for i in range(1, calls + 1):
        server.call(tool, arguments)
        if i % EVERY == 0:
            readings.append(server.rss_kib()[0])
    _rss, peak = server.rss_kib()
    return {
        "calls": calls,
        "rss_mib_every_100": [round(r / MIB, 1) for r in readings],
        "peak_rss_mib": round(peak / MIB, 1),
        "growth_mib_first_to_last_100": round((readings[-1] - readings[0]) / MIB, 2),
    }


def run(sandbox: SandboxProcess, calls: int = CALLS) -> dict[str, Any]:
    with StdioServer(["-m", "clevertap_mcp"], base_env(**sandbox.credentials_env())) as ours:
        ours.handshake()
        ours.call("ensure_connection", {})
        # Alternating tools, so every code path that could keep something per call is exercised.
        half = calls // 2
        run_action = _profile(ours, "run_action", {"action_id": "real-time-user-count"}, half)
        proxy = _profile(ours, "proxy_request", {"path": "/1/now.json", "method": "POST", "body": {}}, calls - half)
        _rss, peak = ours.rss_kib()
    with StdioServer(FLOOR, base_env()) as floor:
        floor.handshake()
        floor_profile = _profile(floor, "echo", {"text": "hi"}, calls)
    return {
        "clevertap-mcp": {
            "calls": calls,
            "peak_rss_mib": round(peak / MIB, 1),
            "run_action": run_action,
            "proxy_request": proxy,
            "growth_mib_first_to_last_100": round(
                (proxy["rss_mib_every_100"][-1] - run_action["rss_mib_every_100"][0]), 2
            ),
        },
        "floor": floor_profile,
    }
