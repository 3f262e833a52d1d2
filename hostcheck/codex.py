"""Codex CLI (npm, pinned) running `codex exec` with the `[mcp_servers.clevertap]` table that
`clevertap-mcp config codex --sandbox` prints, against a scripted fake Responses API (fake_responses.py).

The same flow as claude_code.py. Codex shows the model no error flag, so the refused call is checked by its text.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from hostcheck.claude_code import connect_page, connection_id
from hostcheck.common import ROOT, Outcome, npm_binary, report, served
from hostcheck.fake_anthropic import Step
from hostcheck.fake_responses import ScriptedResponses

PACKAGE, VERSION = "@openai/codex", "0.169.0"
NS = "mcp__clevertap"
RUN_TIMEOUT_SECONDS = 180

SCRIPT = [
    Step(f"{NS}/ensure_connection", {"wait_seconds": 0}),
    Step(f"{NS}/ensure_connection", connection_id, before=connect_page),
    Step(f"{NS}/search_actions", {"intent": "how many users are online right now", "limit": 3}),
    Step(f"{NS}/run_action", {"action_id": "real-time-user-count"}),
    Step(f"{NS}/proxy_request", {"path": "/1/profile.json", "query": {"email": "no@one.example"}}),
    Step(f"{NS}/proxy_request", {"path": "https://elsewhere.example/1/profile.json"}),
    Step(text="Done: 3 actions found, the online count read, one lookup, one refused request."),
]


def ensure_installed() -> Path:
    return npm_binary(PACKAGE, VERSION, "codex")


def run() -> Outcome:
    binary = ensure_installed()
    model = ScriptedResponses(SCRIPT)
    with served(model.app) as port, tempfile.TemporaryDirectory(dir=ROOT / ".cache") as home:
        env = {"PATH": os.environ.get("PATH", ""), "HOME": home, "CODEX_HOME": home, "FAKE_MODEL_KEY": "x"}
        printed = subprocess.run(
            [sys.executable, "-m", "clevertap_mcp", "config", "codex", "--sandbox"],
            capture_output=True,
            text=True,
            check=True,
            env=env,
        ).stdout
        provider = (
            'model = "fake"\nmodel_provider = "fake"\n\n[model_providers.fake]\nname = "fake"\n'
            f'base_url = "http://127.0.0.1:{port}/v1"\nwire_api = "responses"\nenv_key = "FAKE_MODEL_KEY"\n\n'
        )
        (Path(home) / "config.toml").write_text(provider + printed)
        done = subprocess.run(  # noqa: S603
            [str(binary), "exec", "--json", "--skip-git-repo-check", "How many users are online right now?"],
            env=env,
            cwd=home,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=RUN_TIMEOUT_SECONDS,
        )
    final = ""
    for line in done.stdout.splitlines():
        event: dict[str, Any] = json.loads(line) if line.startswith("{") else {}
        item = event.get("item") or {}
        if event.get("type") == "item.completed" and item.get("type") == "agent_message":
            final = str(item.get("text", ""))
    definitions = [t for t in (model.turns[0].tools if model.turns else []) if t.get("name") == NS]
    return Outcome(
        received=[{"results": turn.results} for turn in model.turns],
        request_bytes=[len(turn.body) for turn in model.turns],
        tool_definition_bytes=len(json.dumps(definitions, separators=(",", ":"))),
        exit_code=done.returncode,
        final=final,
    )


def check(outcome: Outcome) -> list[str]:
    problems: list[str] = []

    def text(step: int) -> str:
        return outcome.result(step)["text"]

    expect = [
        (1, "CLIENT_ACTION_REQUIRED"),
        (1, "http://127.0.0.1:"),
        (2, '"state":"READY"'),
        (3, "real-time-user-count"),
        (4, '"output"'),
        (5, '"status":200'),
        (6, "Refused before sending"),
    ]
    for step, needle in expect:
        if needle not in text(step):
            problems.append(f"step {step}: expected {needle!r}, got {text(step)[:300]!r}")
    if "requires approval" in json.dumps([turn["results"] for turn in outcome.received]):
        problems.append("a call was refused for approval")
    if outcome.exit_code != 0:
        problems.append(f"codex exited {outcome.exit_code}")
    if not outcome.final.startswith("Done"):
        problems.append(f"final answer {outcome.final!r}")
    return problems


def main() -> int:
    outcome = run()
    problems = check(outcome)
    figures = {
        "host": f"codex {VERSION}",
        "request_bytes": outcome.request_bytes,
        "tool_definition_bytes": outcome.tool_definition_bytes,
        "received_text_bytes": outcome.received_text_bytes(),
    }
    return report("codex", "codex", figures, problems)


if __name__ == "__main__":
    raise SystemExit(main())
