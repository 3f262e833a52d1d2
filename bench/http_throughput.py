"""HTTP throughput: 200 concurrent tool calls against `clevertap-mcp --transport http` (1, 2 and 4 workers) and
against the floor, a bare MCPServer with one trivial tool over stateless HTTP (floor_http.py), side by side.

Each call is one POST of `tools/call` (stateless: no session, plain JSON answers for both). Ours runs `run_action`
against a stand-in Membrane that answers at once (slow_upstream.py, in its own process), so the difference from the floor is our per-call
work plus one loopback HTTP round trip to Membrane. Rounds alternate the servers so that machine noise hits all of
them alike; the ratios are paired per round.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

import anyio
import httpx2

from bench.stats import paired_ratios, summarize
from bench.wire import PROTOCOL_VERSION, ROOT, base_env

CONCURRENT = 200
WORKER_COUNTS = (1, 2, 4)
HEADERS = {
    "content-type": "application/json",
    "accept": "application/json, text/event-stream",
    "mcp-protocol-version": PROTOCOL_VERSION,
}


def _port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class _Served:
    def __init__(self, args: list[str], env: dict[str, str], port: int) -> None:
        self.url = f"http://127.0.0.1:{port}"
        self.process = subprocess.Popen(
            [sys.executable, *args], env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + 60
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    raise RuntimeError(f"{args} did not start") from None
                time.sleep(0.1)

    def close(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()


def _floor() -> _Served:
    port = _port()
    return _Served(["-m", "bench.floor_http", str(port)], base_env(), port)


def _ours(upstream: str, workers: int) -> _Served:
    port = _port()
    # The stand-in checks nothing.
    env = base_env(MEMBRANE_API_URL=upstream, MEMBRANE_TOKEN="bench-token-not-a-secret")  # noqa: S106
    args = ["-m", "clevertap_mcp", "--transport", "http", "--port", str(port), "--json-response"]
    return _Served([*args, "--workers", str(workers), "--confirm", "never"], env, port)


async def _burst(url: str, call: dict[str, Any], total: int) -> tuple[float, list[float]]:
    """`total` calls, `CONCURRENT` in flight at a time: (calls per second, each call's ms)."""
    latencies: list[float] = []
    remaining = iter(range(total))
    limits = httpx2.Limits(max_connections=CONCURRENT, max_keepalive_connections=CONCURRENT)
    async with httpx2.AsyncClient(timeout=120, limits=limits, headers=HEADERS) as client:

        async def worker() -> None:
            for n in remaining:
                body = {"jsonrpc": "2.0", "id": n, "method": "tools/call", "params": call}
                started = time.perf_counter()
                response = await client.post(f"{url}/mcp", json=body)
                answer = response.json()
                if response.status_code != 200 or "error" in answer or answer["result"].get("isError"):
                    raise RuntimeError(f"a call failed: {response.status_code} {response.text[:300]}")
                latencies.append((time.perf_counter() - started) * 1000)

        started = time.perf_counter()
        async with anyio.create_task_group() as tg:
            for _ in range(CONCURRENT):
                tg.start_soon(worker)
        wall = time.perf_counter() - started
    return total / wall, latencies


FLOOR_CALL: dict[str, Any] = {"name": "echo", "arguments": {"text": "hi"}}
OUR_CALL: dict[str, Any] = {
    "name": "run_action",
    "arguments": {"action_id": "fast", "input": {}, "connection_id": "conn-bench"},
}


def run(rounds: int, calls: int) -> dict[str, Any]:
    names = ["floor", *(f"{n} worker{'s' if n > 1 else ''}" for n in WORKER_COUNTS)]
    rate: dict[str, list[float]] = {name: [] for name in names}
    p50: dict[str, list[float]] = {name: [] for name in names}
    upstream_port = _port()
    # The stand-in Membrane in a process of its own: in the bench's, it would share the GIL with the load generator.
    upstream = _Served(["-m", "bench.slow_upstream", str(upstream_port)], base_env(), upstream_port)
    try:
        servers: dict[str, Callable[[], _Served]] = {"floor": _floor}
        for count, name in zip(WORKER_COUNTS, names[1:], strict=True):
            servers[name] = lambda count=count: _ours(upstream.url, count)
        started = {name: make() for name, make in servers.items()}
        try:
            for name, served in started.items():  # warm-up: imports, connection pools, minted tokens
                anyio.run(_burst, served.url, FLOOR_CALL if name == "floor" else OUR_CALL, CONCURRENT)
            for _ in range(rounds):
                for name, served in started.items():
                    per_second, latencies = anyio.run(
                        _burst, served.url, FLOOR_CALL if name == "floor" else OUR_CALL, calls
                    )
                    rate[name].append(per_second)
                    p50[name].append(summarize(latencies).median)
        finally:
            for served in started.values():
                served.close()
    finally:
        upstream.close()
    one = names[1]
    return {
        "concurrent": CONCURRENT,
        "calls_per_round": calls,
        "calls_per_second": {name: summarize(values).to_json() for name, values in rate.items()},
        "p50_ms": {name: summarize(values).to_json() for name, values in p50.items()},
        # Per-call overhead at 200 concurrent: how much longer one of our calls takes than the floor's (target ≤ 1.5×).
        "per_call_ratio_to_floor": {
            name: summarize(paired_ratios(p50[name], p50["floor"])).to_json() for name in names[1:]
        },
        "scaling_vs_one_worker": {
            name: summarize(paired_ratios(rate[name], rate[one])).to_json() for name in names[1:]
        },
    }
