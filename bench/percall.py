"""Per-call overhead: our tools over stdio versus the same HTTP request sent directly, and a trivial tool.

overhead = ours − (direct HTTP + trivial tool on the bare MCPServer): what our tool layer adds on top of the SDK's
own per-call cost and of Membrane's answer. Calls of the four kinds are interleaved one by one, so noise spreads
over all of them; the overhead is computed per iteration, then summarized.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx2

from bench.coldstart import FLOOR
from bench.sandbox_process import SandboxProcess
from bench.stats import summarize
from bench.wire import StdioServer, base_env
from clevertap_mcp.membrane.auth import MintedToken

RUN_ACTION = "real-time-user-count"


def connect(server: StdioServer) -> str:
    """ensure_connection against an auto-connecting sandbox: the READY connection's id."""
    result = server.call("ensure_connection", {})
    structured: dict[str, Any] = result["structuredContent"]
    if structured["state"] != "READY":
        raise RuntimeError(f"connection not READY: {structured['state']}")
    return str(structured["connection_id"])


def _timed(fn: Callable[[], object]) -> float:
    started = time.perf_counter()
    fn()
    return (time.perf_counter() - started) * 1000


def run(iterations: int, sandbox: SandboxProcess) -> dict[str, Any]:
    settings = sandbox.settings
    token = MintedToken(settings.workspace_key, settings.workspace_secret, settings.tenant_key).token()
    headers = {"Authorization": f"Bearer {token}", "membrane-api-version": "2"}
    with (
        StdioServer(["-m", "clevertap_mcp"], base_env(**sandbox.credentials_env())) as ours,
        StdioServer(FLOOR, base_env()) as floor,
        httpx2.Client(base_url=sandbox.base_url, headers=headers) as http,
    ):
        ours.handshake()
        floor.handshake()
        conn = connect(ours)

        def direct_run() -> None:
            http.post(
                f"/actions/{RUN_ACTION}/run", params={"connectionId": conn}, json={"input": {}}
            ).raise_for_status()

        def direct_proxy() -> None:
            http.post(f"/connections/{conn}/proxy/1/now.json", json={}).raise_for_status()

        kinds: dict[str, Callable[[], object]] = {
            "trivial tool (floor)": lambda: floor.call("echo", {"text": "hi"}),
            "direct HTTP run": direct_run,
            "run_action": lambda: ours.call("run_action", {"action_id": RUN_ACTION, "input": {}}),
            "direct HTTP proxy": direct_proxy,
            "proxy_request": lambda: ours.call("proxy_request", {"path": "/1/now.json", "method": "POST", "body": {}}),
        }
        for fn in kinds.values():  # warm connections and caches
            for _ in range(20):
                fn()
        samples: dict[str, list[float]] = {name: [] for name in kinds}
        for _ in range(iterations):
            for name, fn in kinds.items():
                samples[name].append(_timed(fn))
    trivial = samples["trivial tool (floor)"]
    overhead_run = [
        o - d - t for o, d, t in zip(samples["run_action"], samples["direct HTTP run"], trivial, strict=True)
    ]
    overhead_proxy = [
        o - d - t for o, d, t in zip(samples["proxy_request"], samples["direct HTTP proxy"], trivial, strict=True)
    ]
    return {
        "ms": {name: summarize(values).to_json() for name, values in samples.items()},
        "overhead_ms": {
            "run_action": summarize(overhead_run).to_json(),
            "proxy_request": summarize(overhead_proxy).to_json(),
        },
    }
