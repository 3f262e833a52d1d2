"""The Membrane client's own cost: CPU per request of our HTTP/1.1 client (membrane/http1.py) against httpx2's.

Sequential `POST /actions/fast/run` requests to the stand-in Membrane (slow_upstream.py, its own process), the two
clients alternating per round, each request's whole answer read. CPU is this process's (`time.process_time`): the
client's Python and its system calls, none of the stand-in's.
"""

from __future__ import annotations

import time
from typing import Any

import anyio
import httpx2

from bench.http_throughput import _port, _Served  # pyright: ignore[reportPrivateUsage]
from bench.stats import paired_ratios, summarize
from bench.wire import base_env
from clevertap_mcp.membrane.http1 import Http1Pool

BODY = b'{"input":{}}'
HEADERS = [("accept", "*/*"), ("content-type", "application/json"), ("authorization", "Bearer bench-not-a-secret")]


async def _measure(url: str, rounds: int, requests: int) -> dict[str, list[float]]:
    micros: dict[str, list[float]] = {"lean": [], "httpx2": []}
    pool = Http1Pool(url, connect_timeout=10)
    async with httpx2.AsyncClient(timeout=30) as client:
        for _ in range(rounds + 1):  # the first round warms both up and is not counted
            for name in micros:
                started = time.process_time()
                for _ in range(requests):
                    if name == "lean":
                        await pool.exchange(
                            "POST", "/actions/fast/run?connectionId=c", HEADERS, BODY, read_timeout=30, max_body=1 << 20
                        )
                    else:
                        async with client.stream(
                            "POST",
                            f"{url}/actions/fast/run",
                            params={"connectionId": "c"},
                            content=BODY,
                            headers=dict(HEADERS),
                        ) as response:
                            await response.aread()
                micros[name].append((time.process_time() - started) * 1e6 / requests)
    await pool.aclose()
    return {name: values[1:] for name, values in micros.items()}


def run(rounds: int, requests: int) -> dict[str, Any]:
    port = _port()
    upstream = _Served(["-m", "bench.slow_upstream", str(port)], base_env(), port)
    try:
        micros = anyio.run(_measure, upstream.url, rounds, requests)
    finally:
        upstream.close()
    return {
        "requests_per_round": requests,
        "cpu_us_per_request": {name: summarize(values).to_json() for name, values in micros.items()},
        "lean_to_httpx2": summarize(paired_ratios(micros["lean"], micros["httpx2"])).to_json(),
    }
