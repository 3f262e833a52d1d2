"""HTTP throughput: 200 concurrent tool calls against `clevertap-mcp --transport http` (1, 2 and 4 workers) and
against the floor, a bare MCPServer with one trivial tool over stateless HTTP (floor_http.py), side by side.

Each call is one POST of `tools/call` (stateless: no session, plain JSON answers for both). Ours runs `run_action`
against a stand-in Membrane that answers at once (slow_upstream.py, in its own process), so the difference from the floor is our per-call
work plus one loopback HTTP round trip to Membrane. Rounds alternate the servers so that machine noise hits all of
them alike; the ratios are paired per round.

Latency at 200 concurrent measures the whole machine (the load generator and the stand-in Membrane share its cores
with the server), so each burst also records the CPU time the server's processes spent per call (from /proc): on a
loaded machine that ratio holds still while latencies swing, and it says how much of a call's cost is ours.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
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


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process and all its descendants (uvicorn's workers), from /proc."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    pending = [pid]
    while pending:
        current = pending.pop()
        try:
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick
            for task in Path(f"/proc/{current}/task").iterdir():
                pending.extend(int(child) for child in (task / "children").read_text().split())
        except (FileNotFoundError, ProcessLookupError):
            continue  # a process that ended between listing and reading
    return total


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
    cpu_ms: dict[str, list[float]] = {name: [] for name in names}
    upstream_cpu_ms: list[float] = []
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
                    cpu_before, upstream_before = _cpu_seconds(served.process.pid), _cpu_seconds(upstream.process.pid)
                    per_second, latencies = anyio.run(
                        _burst, served.url, FLOOR_CALL if name == "floor" else OUR_CALL, calls
                    )
                    rate[name].append(per_second)
                    p50[name].append(summarize(latencies).median)
                    cpu_ms[name].append((_cpu_seconds(served.process.pid) - cpu_before) * 1000 / calls)
                    if name != "floor":
                        upstream_cpu_ms.append((_cpu_seconds(upstream.process.pid) - upstream_before) * 1000 / calls)
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
        # The server's own CPU per call (all its processes), paired per round: steady where latency is not.
        "server_cpu_ms_per_call": {name: summarize(values).to_json() for name, values in cpu_ms.items()},
        "server_cpu_ratio_to_floor": {
            name: summarize(paired_ratios(cpu_ms[name], cpu_ms["floor"])).to_json() for name in names[1:]
        },
        # What the stand-in Membrane spends answering one of our calls, on the same cores.
        "upstream_cpu_ms_per_call": summarize(upstream_cpu_ms).to_json(),
        "scaling_vs_one_worker": {
            name: summarize(paired_ratios(rate[name], rate[one])).to_json() for name in names[1:]
        },
    }
