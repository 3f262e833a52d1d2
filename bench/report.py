"""The results as a readable table (Markdown, pasted into docs/performance.md) and as JSON."""

from __future__ import annotations

import json
import os
import platform
import sys
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"


def machine() -> dict[str, Any]:
    cpu = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "load_1min_at_end": load,
        "os": f"{platform.system()} {platform.release()}",
        "python": sys.version.split()[0],
        "mcp": version("mcp"),
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }


def _spread(summary: dict[str, Any], spec: str, unit: str = "") -> str:
    """`median (p25–p75)` of a summary (stats.Summary.to_json), formatted by `spec`; `unit` follows the median."""
    median, low, high = (format(summary[key], spec) for key in ("median", "p25", "p75"))
    return f"{median}{unit} ({low}–{high})"


def _met(ok: bool) -> str:
    return "yes" if ok else "**no**"


def _search_rows(ctx: dict[str, Any]) -> list[tuple[str, str, str, str, str, str]]:
    """Issue 15's measures: what Claude Code's model reads (bench/host_view.py), against every result whole."""
    rows: list[tuple[str, str, str, str, str, str]] = []
    found, flow = ctx.get("searches"), ctx.get("flow")
    if found:
        rows.append(
            (
                f"search_actions, default limit, {found['phrasings']} phrasings (bytes to the model)",
                f"median {found['median_bytes']:g}; p90 {found['p90_bytes']:g}; max {found['max_bytes']}",
                f"every result whole: median {found['whole_median_bytes']:g}; max {found['whole_max_bytes']}",
                f"{found['median_bytes'] / found['whole_median_bytes']:.2f}×",
                "≤ 3,000 (median)",
                _met(found["median_bytes"] <= 3000),
            )
        )
        rows.append(
            (
                '"how many users are online right now" (bytes to the model)',
                str(found["flow_intent_bytes"]),
                f"{found['flow_intent_whole_bytes']} every result whole",
                f"{found['flow_intent_bytes'] / found['flow_intent_whole_bytes']:.2f}×",
                "≤ 3,000",
                _met(found["flow_intent_bytes"] <= 3000),
            )
        )
    if flow and found:
        whole = flow["total_bytes"] - found["flow_intent_bytes"] + found["flow_intent_whole_bytes"]
        steps = "; ".join(f"{name} {size}" for name, size in flow["steps"].items())
        rows.append(
            (
                "Demo flow in Claude Code: definitions + 5 results (bytes to the model)",
                f"{flow['total_bytes']} ({steps})",
                f"{whole} with every search result whole",
                f"{flow['total_bytes'] / whole:.2f}×",
                "≤ 8,000",
                _met(flow["total_bytes"] <= 8000),
            )
        )
    return rows


def table(results: dict[str, Any]) -> str:
    rows: list[tuple[str, str, str, str, str, str]] = []
    cold = results.get("cold_start")
    if cold:
        floor = cold["floor"]["ms"]
        for name in ("clevertap-mcp (credentials)", "clevertap-mcp --sandbox"):
            entry = cold[name]
            ratio = entry["ratio_to_floor"]
            rows.append(
                (
                    f"Cold start, {name} (ms)",
                    _spread(entry["ms"], ".0f"),
                    f"{floor['median']:.0f} bare MCPServer",
                    _spread(ratio, ".2f", "×"),
                    "≤ 1.10×",
                    _met(ratio["median"] <= 1.10),
                )
            )
    per_call = results.get("per_call")
    if per_call:
        ms = per_call["ms"]
        trivial = ms["trivial tool (floor)"]["median"]
        for tool, direct in (("run_action", "direct HTTP run"), ("proxy_request", "direct HTTP proxy")):
            over = per_call["overhead_ms"][tool]
            rows.append(
                (
                    f"Per call, {tool} (ms)",
                    f"{ms[tool]['median']:.2f}",
                    f"{ms[direct]['median']:.2f} HTTP + {trivial:.2f} trivial tool",
                    f"overhead {_spread(over, '+.2f', ' ms')}",
                    "≤ 1.5 ms",
                    _met(over["median"] <= 1.5),
                )
            )
    throughput = results.get("http_throughput")
    if throughput:
        floor_rate = throughput["calls_per_second"]["floor"]["median"]
        for name, ratio in throughput["per_call_ratio_to_floor"].items():
            rate = throughput["calls_per_second"][name]
            rows.append(
                (
                    f"HTTP, {throughput['concurrent']} concurrent, {name} (calls/s)",
                    _spread(rate, ".0f"),
                    f"{floor_rate:.0f} bare MCPServer over stateless HTTP",
                    f"per call {_spread(ratio, '.2f', '×')}; "
                    f"{throughput['scaling_vs_one_worker'][name]['median']:.2f}× one worker's rate",
                    "≤ 1.5×",
                    _met(ratio["median"] <= 1.5),
                )
            )
        for name, cpu in throughput.get("server_cpu_ratio_to_floor", {}).items():
            ours = throughput["server_cpu_ms_per_call"][name]["median"]
            floor_cpu = throughput["server_cpu_ms_per_call"]["floor"]["median"]
            rows.append(
                (
                    f"HTTP, {throughput['concurrent']} concurrent, {name} (server CPU ms per call)",
                    f"{ours:.2f}",
                    f"{floor_cpu:.2f} bare MCPServer",
                    _spread(cpu, ".2f", "×"),
                    "≤ 1.5×",
                    _met(cpu["median"] <= 1.5),
                )
            )
    client = results.get("membrane_client")
    if client:
        lean, httpx2 = client["cpu_us_per_request"]["lean"], client["cpu_us_per_request"]["httpx2"]
        ratio = client["lean_to_httpx2"]
        rows.append(
            (
                "Membrane client, one request (µs CPU)",
                _spread(lean, ".0f"),
                f"{httpx2['median']:.0f} httpx2",
                _spread(ratio, ".2f", "×"),
                "< 1×",
                _met(ratio["median"] < 1),
            )
        )
    conc = results.get("concurrency")
    if conc:
        wall = conc["wall_ms"]
        fast = conc["fast_call_behind_63_slow_ms"]
        rows.append(
            (
                f"{conc['in_flight']} calls in flight, upstream {conc['upstream_ms']:.0f} ms (wall ms)",
                _spread(wall, ".0f"),
                f"{conc['upstream_ms']:.0f}; bare MCPServer, 64 × await 200 ms: {conc['floor_wall_ms']['median']:.0f}",
                f"{conc['ratio_to_upstream']:.2f}× upstream; {conc['ratio_to_floor']['median']:.2f}× floor",
                "≤ 1.5×",
                _met(conc["ratio_to_upstream"] <= 1.5),
            )
        )
        rows.append(
            (
                "Fast call sent behind 63 slow ones (ms)",
                _spread(fast, ".0f"),
                f"{conc['upstream_ms']:.0f} (a slow call)",
                f"{fast['median'] / conc['upstream_ms']:.2f}×",
                "< 1× (not queued)",
                _met(fast["median"] < conc["upstream_ms"]),
            )
        )
    ctx = results.get("context")
    if ctx:
        per_action = ctx["one tool per action: tools/list"]
        listed = ctx["tools/list"]
        rows.append(
            (
                "tools/list, 4 tools (bytes)",
                f"{listed['wire_bytes']} wire; {listed['context_bytes']} to the model (~{listed['context_tokens']} tok)",
                f"{per_action['wire_bytes']} one tool per action ({per_action['actions']})",
                f"{listed['wire_bytes'] / per_action['wire_bytes']:.2f}×",
                "≤ 4,100",
                _met(listed["wire_bytes"] <= 4100),
            )
        )
        rows += _search_rows(ctx)
        for name, entry in ctx.items():
            if name in ("tools/list", "one tool per action: tools/list", "searches", "flow"):
                continue
            target = "≤ 4,000 (context)" if name.startswith("search_actions") else ""
            rows.append(
                (
                    f"{name} (bytes)",
                    f"{entry['context_bytes']} context (~{entry['context_tokens']} tok); {entry['wire_bytes']} wire",
                    "",
                    "",
                    target,
                    _met(entry["context_bytes"] <= 4000) if target else "",
                )
            )
    mem = results.get("memory")
    if mem:
        ours, floor = mem["clevertap-mcp"], mem["floor"]
        rows.append(
            (
                f"Peak RSS after {ours['calls']} calls (MiB)",
                f"{ours['peak_rss_mib']:.1f}",
                f"{floor['peak_rss_mib']:.1f} bare MCPServer",
                f"{ours['peak_rss_mib'] / floor['peak_rss_mib']:.2f}×",
                "≤ 80 MiB",
                _met(ours["peak_rss_mib"] <= 80),
            )
        )
        rows.append(
            (
                "RSS growth, calls 100 → 1,000 (MiB)",
                f"{ours['growth_mib_first_to_last_100']:+.2f}",
                f"{floor['growth_mib_first_to_last_100']:+.2f}",
                "",
                "none",
                _met(ours["growth_mib_first_to_last_100"] <= 0.5),
            )
        )
    header = "| Measure | clevertap-mcp (median, p25–p75) | Floor / comparison | Ratio | Target | Met |"
    lines = [header, "|---|---|---|---|---|---|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    m = results["machine"]
    lines.append("")
    lines.append(
        f"{m['date']}; {m['cpu']}, {m['cores']} cores (load {m['load_1min_at_end']:.1f} at the end); {m['os']}; "
        f"Python {m['python']}; mcp {m['mcp']}; {results['settings']}."
    )
    return "\n".join(lines)


def write(results: dict[str, Any], name: str) -> tuple[Path, Path]:
    RESULTS.mkdir(exist_ok=True)
    json_path = RESULTS / f"{name}.json"
    json_path.write_text(json.dumps(results, indent=2) + "\n")
    md_path = RESULTS / f"{name}.md"
    md_path.write_text(table(results) + "\n")
    return json_path, md_path
