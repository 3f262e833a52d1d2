"""`python -m bench`: every benchmark side by side with its floor; a table on stdout, JSON in bench/results/.

Options: --quick (fewer rounds, for a smoke run), --only NAME[,NAME] (cold_start, per_call, concurrency, context,
memory, http_throughput, membrane_client). A full run writes bench/results/latest.{json,md}; a quick or partial one, partial.{json,md}.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from bench import coldstart, concurrency, context, http_throughput, membrane_client, memory, percall, report
from bench.sandbox_process import SandboxProcess

SECTIONS = ("cold_start", "per_call", "concurrency", "context", "memory", "http_throughput", "membrane_client")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer rounds: a smoke run, not a measurement")
    parser.add_argument("--only", default=",".join(SECTIONS), help="comma-separated sections to run")
    args = parser.parse_args(argv)
    only = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = sorted(set(only) - set(SECTIONS))
    if unknown:
        parser.error(f"unknown section(s) {', '.join(unknown)}; choose from {', '.join(SECTIONS)}")
    rounds = {"cold": 5 if args.quick else 20, "calls": 100 if args.quick else 1000, "bursts": 3 if args.quick else 10}
    results: dict[str, Any] = {
        "settings": (
            f"{rounds['cold']} cold-start rounds, {rounds['calls']} interleaved calls per kind, "
            f"{rounds['bursts']} concurrent bursts"
        )
    }
    with SandboxProcess() as sandbox:
        if "cold_start" in only:
            print("cold start …", file=sys.stderr)
            results["cold_start"] = coldstart.run(rounds["cold"], sandbox.credentials_env())
        if "per_call" in only:
            print("per-call overhead …", file=sys.stderr)
            results["per_call"] = percall.run(rounds["calls"], sandbox)
        if "concurrency" in only:
            print("concurrency …", file=sys.stderr)
            results["concurrency"] = concurrency.run(rounds["bursts"])
        if "context" in only:
            print("context cost …", file=sys.stderr)
            results["context"] = context.run(sandbox)
        if "memory" in only:
            print("memory …", file=sys.stderr)
            results["memory"] = memory.run(sandbox)
    if "http_throughput" in only:
        print("HTTP throughput …", file=sys.stderr)
        results["http_throughput"] = http_throughput.run(rounds["bursts"] // 2 or 1, 400 if args.quick else 2000)
    if "membrane_client" in only:
        print("Membrane client …", file=sys.stderr)
        results["membrane_client"] = membrane_client.run(rounds["bursts"] // 2 or 1, 300 if args.quick else 2000)
    results["machine"] = report.machine()
    # Only a full measurement of every section, side by side, is "latest"; a partial or quick run must not replace it.
    complete = set(only) == set(SECTIONS) and not args.quick
    json_path, md_path = report.write(results, "latest" if complete else "partial")
    print(report.table(results))
    print(f"\nwritten: {json_path.relative_to(report.RESULTS.parent.parent)}, {md_path.name}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
