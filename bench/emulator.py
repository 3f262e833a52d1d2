"""Throughput of the CleverTap emulator at eval-harness scale: seeding, uploads and cursor exports.

    python -m bench.emulator [--profiles 100000] [--batches 20] [--transport asgi|http] [--out PATH]

- seed: seconds to build the seeded world of `--profiles` profiles (in this process, whatever the transport).
- upload: records/s through POST /1/upload in batches of 1000 (800 events, 200 profile updates), one batch at a
  time, as a connector or harness would send them.
- export: profiles/s (and events/s) walked through /1/profiles.json and /1/events.json cursors at batch_size 5000,
  from the POST that opens the export to the last page.

Rates are wall-clock; `cpu_seconds` (the bench process's CPU time: emulator and client together with `asgi`) says
how much of a slow run was the emulator and how much a busy machine (with `http`, only the client's CPU).

`asgi` (the default) drives the emulator in-process through httpx's ASGI transport: the emulator's own cost.
`http` starts `clevertap-mcp sandbox --port 0 --profiles N --clock T` and goes over loopback HTTP, as a harness
does; its seed time is the wait for the server's banner. Prints a table and writes JSON (default
bench/results/emulator.json). A benchmark, not a test: numbers depend on the machine and its load.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import anyio
import httpx2

from bench.sandbox_process import SandboxProcess
from clevertap_mcp.sandbox.clevertap import CleverTapWorld, build_clevertap_app
from clevertap_mcp.sandbox.settings import DEMO_CLEVERTAP_ACCOUNT_ID, DEMO_CLEVERTAP_PASSCODE, SandboxSettings

PINNED = 1767607200.0  # 2026-01-05T10:00:00Z: the seeded 30 days end here
RANGE = {"from": 20251206, "to": 20260105}
BATCH = 1000
EXPORT_BATCH = 5000
AUTH = {"X-CleverTap-Account-Id": DEMO_CLEVERTAP_ACCOUNT_ID, "X-CleverTap-Passcode": DEMO_CLEVERTAP_PASSCODE}
DEFAULT_OUT = Path(__file__).resolve().parent / "results" / "emulator.json"


def batch(index: int, profiles: int) -> list[dict[str, Any]]:
    """1000 records: 800 events and 200 profile updates, spread over existing and new identities."""
    records: list[dict[str, Any]] = []
    for n in range(BATCH):
        identity = f"u-{1001 + (index * BATCH + n) % (profiles + 5000)}"
        if n % 5 == 4:
            records.append({"type": "profile", "identity": identity, "profileData": {"Score": n, "City": "Porto"}})
        else:
            data = {"Product": "Daypack", "Price": 59.9, "Batch": index}
            records.append(
                {"type": "event", "identity": identity, "ts": int(PINNED) - n, "evtName": "Searched", "evtData": data}
            )
    return records


async def upload(http: httpx2.AsyncClient, batches: int, profiles: int) -> dict[str, Any]:
    latencies: list[float] = []
    started, cpu = time.perf_counter(), time.process_time()
    for index in range(batches):
        body = {"d": batch(index, profiles)}
        sent = time.perf_counter()
        answer = (await http.post("/1/upload", json=body)).json()
        latencies.append(time.perf_counter() - sent)
        if answer.get("processed") != BATCH:
            raise RuntimeError(f"batch {index} not fully processed: {str(answer)[:200]}")
    elapsed = time.perf_counter() - started
    latencies.sort()
    return {
        "records": batches * BATCH,
        "seconds": round(elapsed, 3),
        "cpu_seconds": round(time.process_time() - cpu, 3),
        "records_per_second": round(batches * BATCH / elapsed),
        "batch_ms_median": round(latencies[len(latencies) // 2] * 1000, 1),
        "batch_ms_max": round(latencies[-1] * 1000, 1),
    }


async def export(http: httpx2.AsyncClient, path: str, event_name: str) -> dict[str, Any]:
    started, cpu = time.perf_counter(), time.process_time()
    opened = (await http.post(f"{path}?batch_size={EXPORT_BATCH}", json={"event_name": event_name, **RANGE})).json()
    first_page_at: float | None = None
    cursor: str | None = opened["cursor"]
    records = pages = 0
    while cursor:
        page = (await http.get(f"{path}?cursor={cursor}")).json()
        if page["status"] != "success":
            raise RuntimeError(f"page {pages} failed: {page}")
        if first_page_at is None:
            first_page_at = time.perf_counter() - started
        pages += 1
        records += len(page.get("records", []))
        cursor = page.get("next_cursor")
    elapsed = time.perf_counter() - started
    return {
        "event_name": event_name,
        "records": records,
        "pages": pages,
        "seconds": round(elapsed, 3),
        "cpu_seconds": round(time.process_time() - cpu, 3),
        "records_per_second": round(records / elapsed) if elapsed else 0,
        "first_page_seconds": round(first_page_at or 0.0, 3),
    }


async def measure(http: httpx2.AsyncClient, batches: int, profiles: int) -> dict[str, Any]:
    return {
        "upload": await upload(http, batches, profiles),
        "export_profiles": await export(http, "/1/profiles.json", "App Launched"),
        "export_events": await export(http, "/1/events.json", "Charged"),
    }


def settings_for(profiles: int) -> SandboxSettings:
    return SandboxSettings(profiles=profiles, clock=PINNED, count_partial_polls=0)


async def run_asgi(profiles: int, batches: int) -> dict[str, Any]:
    started, cpu = time.perf_counter(), time.process_time()
    world = CleverTapWorld.seeded(settings_for(profiles))
    seed_seconds, seed_cpu = time.perf_counter() - started, time.process_time() - cpu
    transport = httpx2.ASGITransport(app=build_clevertap_app(world))
    async with httpx2.AsyncClient(transport=transport, base_url="http://ct/eu1", headers=AUTH, timeout=600) as http:
        measured = await measure(http, batches, profiles)
    return {"seed_seconds": round(seed_seconds, 3), "seed_cpu_seconds": round(seed_cpu, 3), **measured}


async def run_http(profiles: int, batches: int) -> dict[str, Any]:
    options = ("--profiles", str(profiles), "--clock", str(int(PINNED)))
    with SandboxProcess(*options, auto_connect=False) as sandbox:
        url = f"{sandbox.base_url}/clevertap/eu1"
        async with httpx2.AsyncClient(base_url=url, headers=AUTH, timeout=600) as http:
            return {"seed_seconds": round(sandbox.startup_seconds, 3), **await measure(http, batches, profiles)}


def table(results: dict[str, Any]) -> str:
    up, prof, evts = results["upload"], results["export_profiles"], results["export_events"]
    seed_cpu = results.get("seed_cpu_seconds")
    rows = [
        ("seed", f"{results['profiles']:,} profiles", f"{results['seed_seconds']:.2f} s", "", cpu(seed_cpu)),
        (
            "upload",
            f"{up['records']:,} records",
            f"{up['records_per_second']:,} records/s",
            f"batch median {up['batch_ms_median']} ms, max {up['batch_ms_max']} ms",
            cpu(up["cpu_seconds"]),
        ),
        (
            "export profiles",
            f"{prof['records']:,} in {prof['pages']} pages",
            f"{prof['records_per_second']:,} profiles/s",
            f"first page after {prof['first_page_seconds']} s",
            cpu(prof["cpu_seconds"]),
        ),
        (
            "export events",
            f"{evts['records']:,} in {evts['pages']} pages",
            f"{evts['records_per_second']:,} events/s",
            f"first page after {evts['first_page_seconds']} s",
            cpu(evts["cpu_seconds"]),
        ),
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    lines = [f"CleverTap emulator, transport {results['transport']}"]
    lines += ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in rows]
    return "\n".join(lines)


def cpu(seconds: float | None) -> str:
    return "" if seconds is None else f"cpu {seconds:.2f} s"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.emulator",
        description="Throughput of the CleverTap emulator: seeding, uploads and cursor exports.",
    )
    parser.add_argument("--profiles", type=int, default=100_000)
    parser.add_argument("--batches", type=int, default=20, help="upload batches of 1000 records")
    parser.add_argument("--transport", choices=("asgi", "http"), default="asgi")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    runner = run_asgi if args.transport == "asgi" else run_http
    measured = anyio.run(runner, args.profiles, args.batches)
    results = {"profiles": args.profiles, "transport": args.transport, "python": sys.version.split()[0], **measured}
    print(table(results))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
