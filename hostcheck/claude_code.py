"""Claude Code (npm, pinned) driving `clevertap-mcp --sandbox`, configured with the `claude mcp add-json` command
that `clevertap-mcp config claude-code --sandbox` prints, against a scripted fake model (fake_anthropic.py).

The flow: the connect link shown, the user connects (the harness submits the connect page), READY, search, a read
action, a proxy call, a refused call, the final answer. `run()` returns what the model received at each step and the
bytes of every request it was sent; `python -m hostcheck.claude_code` checks it and writes the figures as JSON.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import httpx2

from hostcheck.common import Outcome, npm_binary, report, served
from hostcheck.fake_anthropic import ScriptedModel, Step

PACKAGE, VERSION = "@anthropic-ai/claude-code", "2.1.328"
SERVER = "clevertap"
TOOLS = ("ensure_connection", "search_actions", "run_action", "proxy_request")
RUN_TIMEOUT_SECONDS = 180


def mcp(tool: str) -> str:
    return f"mcp__{SERVER}__{tool}"


def connect_page(results: list[dict[str, Any]]) -> None:
    """The user opens the link the model was shown and submits the connect page."""
    link = re.search(r"http://127\.0\.0\.1:\d+/ui/connect/[\w-]+", results[0]["text"])
    assert link, f"no connect link in {results[0]['text']!r}"
    url = link.group(0)
    from clevertap_mcp.sandbox.settings import (  # the sandbox's demo account
        DEMO_CLEVERTAP_ACCOUNT_ID,
        DEMO_CLEVERTAP_PASSCODE,
        DEMO_CLEVERTAP_REGION,
    )

    form = {
        "account_id": DEMO_CLEVERTAP_ACCOUNT_ID,
        "passcode": DEMO_CLEVERTAP_PASSCODE,
        "region": DEMO_CLEVERTAP_REGION,
    }
    response = httpx2.post(url, data=form)
    assert response.status_code == 200, response.text


def connection_id(results: list[dict[str, Any]]) -> dict[str, Any]:
    found = re.search(r"conn_[0-9A-Za-z]+", results[0]["text"])
    assert found, results[0]["text"]
    return {"connection_id": found.group(0), "wait_seconds": 10}


SCRIPT = [
    Step("ToolSearch", {"query": "select:" + ",".join(mcp(t) for t in TOOLS)}),
    Step(mcp("ensure_connection"), {"wait_seconds": 0}),
    Step(mcp("ensure_connection"), connection_id, before=connect_page),
    Step(mcp("search_actions"), {"intent": "how many users are online right now", "limit": 3}),
    Step(mcp("run_action"), {"action_id": "real-time-user-count"}),
    Step(mcp("proxy_request"), {"path": "/1/profile.json", "query": {"email": "no@one.example"}}),
    Step(mcp("proxy_request"), {"path": "https://elsewhere.example/1/profile.json"}),
    Step(text="Done: 3 actions found, the online count read, one lookup, one refused request."),
]


def ensure_installed() -> Path:
    return npm_binary(PACKAGE, VERSION, "claude")


def _printed_add_command(env: dict[str, str]) -> list[str]:
    """The `claude mcp add-json ...` line `clevertap-mcp config claude-code --sandbox` prints, as it prints it."""
    printed = subprocess.run(
        [sys.executable, "-m", "clevertap_mcp", "config", "claude-code", "--sandbox"],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    )
    line = next(line for line in printed.stderr.splitlines() if line.startswith("# or: claude mcp add-json"))
    return shlex.split(line.removeprefix("# or: "))


def run() -> Outcome:
    binary = ensure_installed()
    model = ScriptedModel(SCRIPT)
    with served(model.app) as port, tempfile.TemporaryDirectory() as home:
        env = {
            "PATH": os.environ.get("PATH", ""),
            "HOME": home,
            "ANTHROPIC_BASE_URL": f"http://127.0.0.1:{port}",  # on every call: setup commands reach out too
            "ANTHROPIC_API_KEY": "fake-key-for-the-loopback-model",
            "DISABLE_TELEMETRY": "1",
            "DISABLE_AUTOUPDATER": "1",
            "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
        }
        add = _printed_add_command(env)
        subprocess.run([str(binary), *add[1:]], env=env, check=True, capture_output=True, timeout=60)  # noqa: S603
        done = subprocess.run(  # noqa: S603
            [
                str(binary),
                "-p",
                "How many users are online in CleverTap right now?",
                "--output-format",
                "stream-json",
                "--verbose",
                "--allowedTools",
                f"mcp__{SERVER}__*",
            ],
            env=env,
            cwd=home,
            capture_output=True,
            text=True,
            timeout=RUN_TIMEOUT_SECONDS,
        )
    final = ""
    for line in done.stdout.splitlines():
        with_result = json.loads(line) if line.startswith("{") else {}
        if with_result.get("type") == "result":
            final = str(with_result.get("result", ""))
    definitions = [t for t in (model.turns[-1].tools if model.turns else []) if t.get("name", "").startswith("mcp__")]
    return Outcome(
        received=[{"results": turn.results} for turn in model.turns],
        request_bytes=[len(turn.body) for turn in model.turns],
        tool_definition_bytes=len(json.dumps(definitions, separators=(",", ":"))),
        exit_code=done.returncode,
        final=final,
    )


def check(outcome: Outcome) -> list[str]:
    """What went wrong, step by step; empty when the flow went as scripted."""
    problems: list[str] = []
    expect: list[tuple[int, str, bool]] = [
        (2, "CLIENT_ACTION_REQUIRED", False),  # the link, shown to the model
        (3, '"state":"READY"', False),
        (4, "real-time-user-count", False),
        (5, '"output"', False),
        (6, '"status":200', False),
        (7, "Refused before sending", True),
    ]
    for step, needle, is_error in expect:
        seen = outcome.result(step)
        if needle not in seen["text"] or seen["is_error"] is not is_error:
            problems.append(f"step {step}: expected {needle!r} (is_error={is_error}), got {seen}")
    if "127.0.0.1" not in outcome.result(2)["text"]:
        problems.append("step 2: the connect link did not reach the model")
    if outcome.exit_code != 0:
        problems.append(f"claude exited {outcome.exit_code}")
    if not outcome.final.startswith("Done"):
        problems.append(f"final answer {outcome.final!r}")
    return problems


def main() -> int:
    outcome = run()
    problems = check(outcome)
    figures = {
        "host": f"claude-code {VERSION}",
        "request_bytes": outcome.request_bytes,
        "tool_definition_bytes": outcome.tool_definition_bytes,
        "received_text_bytes": outcome.received_text_bytes(),
    }
    return report("claude-code", "claude-code", figures, problems)


if __name__ == "__main__":
    raise SystemExit(main())
