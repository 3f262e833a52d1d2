"""Cold start: process spawn → `initialize` → `tools/list` answered, over real stdio pipes.

Each round starts the floor and both of our variants once, in a rotating order, so a noisy neighbour slows all
three alike; ratios are taken per round and then summarized.
"""

from __future__ import annotations

import time
from typing import Any

from bench.stats import paired_ratios, summarize
from bench.wire import StdioServer, base_env

FLOOR = ["-m", "bench.floor_server"]


def _variants(credentials: dict[str, str]) -> dict[str, tuple[list[str], dict[str, str]]]:
    return {
        "floor": (FLOOR, base_env()),
        "clevertap-mcp (credentials)": (["-m", "clevertap_mcp"], base_env(**credentials)),
        "clevertap-mcp --sandbox": (["-m", "clevertap_mcp", "--sandbox"], base_env()),
    }


def _once(args: list[str], env: dict[str, str]) -> float:
    with StdioServer(args, env) as server:
        server.handshake()
        return (time.perf_counter() - server.started) * 1000


def run(rounds: int, credentials: dict[str, str]) -> dict[str, Any]:
    variants = _variants(credentials)
    names = list(variants)
    for name in names:  # warm the OS page cache and bytecode caches; not counted
        _once(*variants[name])
    samples: dict[str, list[float]] = {name: [] for name in names}
    for i in range(rounds):
        shift = i % len(names)
        for name in names[shift:] + names[:shift]:
            samples[name].append(_once(*variants[name]))
    out: dict[str, Any] = {}
    for name in names:
        entry: dict[str, Any] = {"ms": summarize(samples[name]).to_json()}
        if name != "floor":
            entry["ratio_to_floor"] = summarize(paired_ratios(samples[name], samples["floor"])).to_json()
        out[name] = entry
    return out
