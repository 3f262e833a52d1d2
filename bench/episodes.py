"""Evaluation episodes at scale: one sandbox and one HTTP server serving many isolated episodes, side by side with one
`clevertap-mcp --sandbox` stdio process per episode. One run, every figure from it; a benchmark, not a test.

    python -m bench.episodes [--quick] [--concurrent 256] [--episodes 10000] [--out PATH]

- start: a new tenant's episode from nothing to a READY connection (`POST /_sandbox/connections`) and a live
  CleverTap world (its first proxied call, which makes the world), then `POST /_sandbox/reset {tenant}`; median ms.
- concurrent: `--concurrent` episodes at once, each its own tenant (a per-request token) through one
  `clevertap-mcp --transport http` process and one sandbox, each the 6-call flow: ensure_connection,
  search_actions, a read (real-time count), an upload (an event for `episode-user`), a read that must see exactly
  that upload (the event's count is 1, so no other episode's upload is in it), and a proxy call (the profile's own
  event summary, again 1). Every answer is checked; the figure is episodes per minute.
- stdio: the same flow, each episode its own `clevertap-mcp --sandbox --sandbox-auto-connect` process (two at a
  time: this machine's cores), as a harness that starts a server per episode does; episodes per minute.
- memory: the estimated and measured (tracemalloc) bytes of an idle world at the default size, and of one after its
  first write; the sandbox process's RSS every tenth of `--episodes` sandbox-level episodes (READY connection, an
  upload, a read, a tenant reset).

Writes JSON (default bench/results/episodes.json) and prints a table.
"""

from __future__ import annotations

import argparse
import json
import socket
import statistics
import subprocess
import sys
import time
import tracemalloc
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, cast

import anyio
import httpx2
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.types import CallToolResult, TextContent

from bench.sandbox_process import SandboxProcess
from bench.stats import summarize
from bench.wire import ROOT, StdioServer, base_env
from clevertap_mcp.membrane.auth import MintedToken
from clevertap_mcp.sandbox.settings import DEMO_CLEVERTAP_ACCOUNT_ID, DEMO_CLEVERTAP_REGION, SandboxSettings
from clevertap_mcp.sandbox.tenant_worlds import TenantWorlds, _weight  # pyright: ignore[reportPrivateUsage]

PINNED = "1767607200"  # 2026-01-05T10:00:00Z
DAY = 20260105
MARKER = "Episode Marker"
MIB = 1024 * 1024
SETTINGS = SandboxSettings()


def token(tenant: str) -> str:
    return MintedToken(SETTINGS.workspace_key, SETTINGS.workspace_secret, tenant).token()


# --- start -----------------------------------------------------------------------------------------------------


def episode_start(sandbox: SandboxProcess, rounds: int) -> dict[str, Any]:
    total: list[float] = []
    connect: list[float] = []
    with httpx2.Client(base_url=sandbox.base_url, timeout=30) as http:
        for i in range(rounds):
            tenant = f"start-{i}"
            began = time.perf_counter()
            made = http.post("/_sandbox/connections", json={"tenantKey": tenant})
            ready = time.perf_counter()
            conn = made.json()
            assert made.status_code == 201 and conn["state"] == "READY", made.text
            first = http.post(
                f"/connections/{conn['id']}/proxy/1/now.json",
                json={},
                headers={"Authorization": f"Bearer {token(tenant)}"},
            )
            done = time.perf_counter()
            assert first.status_code == 200 and first.json()["status"] == "success", first.text
            total.append((done - began) * 1000)
            connect.append((ready - began) * 1000)
            http.post("/_sandbox/reset", json={"tenant": tenant})
    return {
        "rounds": rounds,
        "start_ms": summarize(total).to_json(),
        "ready_connection_ms": summarize(connect).to_json(),
        "target_ms": 20,
    }


# --- the 6-call flow -------------------------------------------------------------------------------------------


def _structured(result: CallToolResult, step: str) -> dict[str, Any]:
    if result.is_error or result.structured_content is None:
        text = " ".join(block.text for block in result.content if isinstance(block, TextContent))
        raise AssertionError(f"{step} failed: {text[:300]}")
    return result.structured_content


FLOW: list[tuple[str, str, dict[str, Any]]] = [
    ("connect", "ensure_connection", {}),
    ("search", "search_actions", {"intent": "how many users are online right now"}),
    ("read", "run_action", {"action_id": "real-time-user-count"}),
    (
        "upload",
        "run_action",
        {
            "action_id": "upload-events",
            "input": {"events": [{"identity": "episode-user", "evtName": MARKER, "evtData": {"Step": 4}}]},
        },
    ),
    (
        "read-upload",
        "run_action",
        {"action_id": "get-event-count", "input": {"event_name": MARKER, "from": DAY, "to": DAY}},
    ),
    ("proxy", "proxy_request", {"path": "/1/profile.json", "query": {"identity": "episode-user"}}),
]


def check_step(step: str, result: dict[str, Any]) -> None:
    """Each answer as an isolated episode must see it; a count of 2 or more would be another episode's upload."""
    if step == "connect":
        assert result["state"] == "READY", result
    elif step == "search":
        assert result["actions"], result
    elif step == "read":
        assert isinstance(result["output"]["count"], int), result
    elif step == "upload":
        assert result["output"]["processed"] == 1, result
    elif step == "read-upload":
        assert result["output"]["count"] == 1, f"cross-talk: {result}"
    else:
        events = result["body"]["record"]["events"]
        assert events[MARKER]["count"] == 1, f"cross-talk: {events}"


async def http_episode(url: str, tenant: str) -> None:
    async with (
        httpx2.AsyncClient(
            headers={"Authorization": f"Bearer {token(tenant)}"},
            timeout=120,
            # No kept-alive connections: uvicorn closes one idle for 5 s, and under this load a call can pick it up
            # just as it closes (a ReadError that says nothing about the server's answers).
            limits=httpx2.Limits(max_keepalive_connections=0),
        ) as http,
        Client(streamable_http_client(f"{url}/mcp", http_client=http)) as client,
    ):
        for step, tool, arguments in FLOW:
            check_step(step, _structured(await client.call_tool(tool, arguments), step))


def _innermost(exc: BaseException) -> str:
    while isinstance(exc, BaseExceptionGroup):
        group = cast(BaseExceptionGroup[BaseException], exc)
        exc = group.exceptions[0]
    return f"{type(exc).__name__}: {exc}"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _http_server(sandbox: SandboxProcess) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "clevertap_mcp", "--transport", "http", "--port", str(port)],
        env=base_env(**sandbox.credentials_env()),
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx2.get(f"{url}/healthz", timeout=2).status_code == 200:
                return process, url
        except httpx2.HTTPError:
            pass
        time.sleep(0.1)
    process.kill()
    raise RuntimeError("the HTTP server did not start")


def concurrent_episodes(count: int) -> dict[str, Any]:
    with SandboxProcess("--clock", PINNED) as sandbox:
        process, url = _http_server(sandbox)
        failures: list[str] = []
        try:

            async def one(index: int) -> None:
                try:
                    await http_episode(url, f"episode-{index}")
                except Exception as exc:  # every failure is counted and shown; none stops the run
                    failures.append(f"episode-{index}: {_innermost(exc)}")

            async def all_of_them() -> float:
                began = time.perf_counter()
                async with anyio.create_task_group() as tg:
                    for index in range(count):
                        tg.start_soon(one, index)
                return time.perf_counter() - began

            seconds = anyio.run(all_of_them)
        finally:
            process.terminate()
            process.wait(timeout=10)
    return {
        "episodes": count,
        "calls_per_episode": len(FLOW),
        "seconds": round(seconds, 2),
        "episodes_per_minute": round(count / seconds * 60, 1),
        "all_correct": not failures,
        "failures": failures[:5],
        "failed": len(failures),
    }


def stdio_episode() -> float:
    began = time.perf_counter()
    args = ["-m", "clevertap_mcp", "--sandbox", "--sandbox-auto-connect", "--sandbox-clock", PINNED]
    with StdioServer(args, base_env()) as server:
        server.handshake()
        for step, tool, arguments in FLOW:
            result = server.call(tool, arguments)
            check_step(step, result["structuredContent"])
    return time.perf_counter() - began


def stdio_episodes(count: int) -> dict[str, Any]:
    began = time.perf_counter()
    with ThreadPoolExecutor(max_workers=2) as pool:
        durations = [future.result() for future in [pool.submit(stdio_episode) for _ in range(count)]]
    seconds = time.perf_counter() - began
    return {
        "episodes": count,
        "parallel": 2,
        "seconds": round(seconds, 2),
        "episode_seconds_median": round(statistics.median(durations), 2),
        "episodes_per_minute": round(count / seconds * 60, 1),
    }


# --- memory ----------------------------------------------------------------------------------------------------


def world_memory(worlds_measured: int = 200) -> dict[str, Any]:
    worlds = TenantWorlds(SandboxSettings(clock=float(PINNED)))
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    entries = [worlds.entry(f"idle-{i}") for i in range(worlds_measured)]
    for entry in entries:
        entry.served()
    idle = (tracemalloc.get_traced_memory()[0] - before) / worlds_measured
    written = entries[: worlds_measured // 4]
    mark = tracemalloc.get_traced_memory()[0]
    for entry in written:
        entry.world.writable_account(DEMO_CLEVERTAP_REGION, DEMO_CLEVERTAP_ACCOUNT_ID)
    fork = (tracemalloc.get_traced_memory()[0] - mark) / len(written)
    tracemalloc.stop()
    return {
        "profiles": SETTINGS.profiles,
        "idle_world_kib": round(idle / 1024, 1),
        "idle_world_estimate_kib": round(_weight(entries[-1].world) / 1024, 1),
        "written_world_kib": round((idle + fork) / 1024, 1),
        "written_world_estimate_kib": round(_weight(written[0].world) / 1024, 1),
        "target_idle_mib": 2,
    }


def _rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def rss_over_episodes(count: int, concurrency: int = 16) -> dict[str, Any]:
    """Sandbox-level episodes (no MCP server): READY connection, an upload, a read, the tenant's reset."""
    readings: list[float] = []
    with SandboxProcess("--clock", PINNED) as sandbox:
        pid = sandbox.process.pid

        async def episode(http: httpx2.AsyncClient, index: int) -> None:
            tenant = f"rss-{index}"
            conn = (await http.post("/_sandbox/connections", json={"tenantKey": tenant})).json()
            auth = {"Authorization": f"Bearer {token(tenant)}"}
            proxy = f"/connections/{conn['id']}/proxy"
            record = {"type": "event", "identity": "episode-user", "evtName": MARKER, "evtData": {"Step": 1}}
            uploaded = (await http.post(f"{proxy}/1/upload", json={"d": [record]}, headers=auth)).json()
            assert uploaded["processed"] == 1, uploaded
            found = (await http.get(f"{proxy}/1/profile.json?identity=episode-user", headers=auth)).json()
            assert found["record"]["events"][MARKER]["count"] == 1, found
            await http.post("/_sandbox/reset", json={"tenant": tenant})

        async def run_all() -> None:
            every = max(count // 10, 1)
            async with httpx2.AsyncClient(base_url=sandbox.base_url, timeout=60) as http:
                limiter = anyio.Semaphore(concurrency)

                async def limited(index: int) -> None:
                    async with limiter:
                        await episode(http, index)

                for start in range(0, count, every):
                    async with anyio.create_task_group() as tg:
                        for index in range(start, min(start + every, count)):
                            tg.start_soon(limited, index)
                    readings.append(round(_rss_mib(pid), 1))

        began = time.perf_counter()
        anyio.run(run_all)
        seconds = time.perf_counter() - began
    return {
        "episodes": count,
        "seconds": round(seconds, 1),
        "rss_mib_every_tenth": readings,
        "growth_mib_first_to_last_tenth": round(readings[-1] - readings[0], 1),
    }


# --- report ----------------------------------------------------------------------------------------------------


def table(results: dict[str, Any]) -> str:
    start, many, stdio, memory, rss = (
        results[name] for name in ("start", "concurrent", "stdio", "world_memory", "rss")
    )
    ratio = many["episodes_per_minute"] / stdio["episodes_per_minute"]
    rows = [
        ("episode start (READY connection + world), median", f"{start['start_ms']['median']:.1f} ms", "≤ 20 ms"),
        ("  of which the READY connection", f"{start['ready_connection_ms']['median']:.1f} ms", ""),
        (
            f"{many['episodes']} concurrent 6-call episodes, one HTTP server",
            f"{many['episodes_per_minute']:.0f}/min, {many['failed']} failed",
            "all correct, no cross-talk",
        ),
        (
            "one stdio --sandbox process per episode (2 at a time)",
            f"{stdio['episodes_per_minute']:.1f}/min",
            "",
        ),
        ("  episodes/minute, HTTP : stdio", f"{ratio:.1f}×", "≥ 10×"),
        (
            f"idle world ({memory['profiles']} profiles), measured / estimated",
            f"{memory['idle_world_kib']} / {memory['idle_world_estimate_kib']} KiB",
            "≤ 2 MiB",
        ),
        (
            "world after its first write, measured / estimated",
            f"{memory['written_world_kib']} / {memory['written_world_estimate_kib']} KiB",
            "",
        ),
        (
            f"sandbox RSS over {rss['episodes']} episodes (first → last tenth)",
            f"{rss['rss_mib_every_tenth'][0]} → {rss['rss_mib_every_tenth'][-1]} MiB",
            "flat",
        ),
    ]
    width = max(len(row[0]) for row in rows)
    return "\n".join(f"{name:<{width}}  {value:<28} {target}" for name, value, target in rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.episodes", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smaller counts: a smoke run, not a measurement")
    parser.add_argument("--concurrent", type=int, default=256)
    parser.add_argument("--episodes", type=int, default=10000, help="sandbox-level episodes for the RSS reading")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "episodes.json")
    args = parser.parse_args(argv)
    concurrent = 32 if args.quick else args.concurrent
    episodes = 500 if args.quick else args.episodes
    results: dict[str, Any] = {}
    print("episode start …", file=sys.stderr)
    with SandboxProcess("--clock", PINNED, auto_connect=True) as sandbox:
        results["start"] = episode_start(sandbox, 50 if args.quick else 200)
    print(f"{concurrent} concurrent episodes over HTTP …", file=sys.stderr)
    results["concurrent"] = concurrent_episodes(concurrent)
    print("stdio episodes …", file=sys.stderr)
    results["stdio"] = stdio_episodes(4 if args.quick else 8)
    print("memory …", file=sys.stderr)
    results["world_memory"] = world_memory()
    results["rss"] = rss_over_episodes(episodes)
    results["ratio_http_to_stdio"] = round(
        results["concurrent"]["episodes_per_minute"] / results["stdio"]["episodes_per_minute"], 1
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(table(results))
    return 0 if results["concurrent"]["all_correct"] else 1


if __name__ == "__main__":
    sys.exit(main())
