"""`python -m bench.grading`: what graders cost, side by side with what they must not slow down.

Interleaved rounds on the default world (200 profiles, pinned clock): seeding a world (what every reset and episode
start pays), a snapshot, a world's first diff (which seeds its twin), a later diff, and entering and leaving a
`clevertap_mcp.testing` environment. Each is reported as a median in ms and as a ratio to seeding, per round.
A table on stdout; nothing is written.
"""

from __future__ import annotations

import argparse
import logging
import time
from collections.abc import Callable

import anyio

from bench.stats import paired_ratios, summarize
from clevertap_mcp.sandbox.clevertap.snapshot import diff, snapshot
from clevertap_mcp.sandbox.clevertap.state import CleverTapWorld
from clevertap_mcp.sandbox.settings import SandboxSettings
from clevertap_mcp.testing import clevertap_sandbox

SETTINGS = SandboxSettings(auto_connect=True, clock=1767607200)


def _timed(work: Callable[[], object]) -> float:
    start = time.perf_counter()
    work()
    return (time.perf_counter() - start) * 1000


async def _environment() -> None:
    async with clevertap_sandbox(SETTINGS) as env:
        await env.call("ensure_connection")


def _round(samples: dict[str, list[float]]) -> None:
    start = time.perf_counter()
    world = CleverTapWorld.seeded(SETTINGS)
    samples["seed"].append((time.perf_counter() - start) * 1000)
    samples["snapshot"].append(_timed(lambda: snapshot(world)))
    samples["first diff"].append(_timed(lambda: diff(world)))
    samples["diff"].append(_timed(lambda: diff(world)))
    samples["environment"].append(_timed(lambda: anyio.run(_environment)))


def run(rounds: int) -> dict[str, list[float]]:
    samples: dict[str, list[float]] = {name: [] for name in ("seed", "snapshot", "first diff", "diff", "environment")}
    for _ in range(rounds):
        _round(samples)
    return samples


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.grading", description=__doc__)
    parser.add_argument("--rounds", type=int, default=20)
    logging.getLogger("clevertap_mcp").setLevel(logging.WARNING)  # the environments' call logs are not the table
    samples = run(parser.parse_args(argv).rounds)
    print("| step | median ms | p25–p75 | × seeding (median of per-round ratios) |")
    print("|---|---|---|---|")
    for name, values in samples.items():
        summary = summarize(values)
        ratio = summarize(paired_ratios(values, samples["seed"])).median
        print(f"| {name} | {summary.median:.1f} | {summary.spread()} | {ratio:.2f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
