"""Gemini CLI (npm, pinned) running `gemini -p` with the `mcpServers` entry that `clevertap-mcp config gemini
--sandbox` prints, in a trusted folder, against a scripted fake Gemini API (fake_gemini.py). The same flow as
claude_code.py."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from hostcheck.claude_code import connect_page, connection_id
from hostcheck.common import Outcome, npm_binary, report, served
from hostcheck.fake_anthropic import Step
from hostcheck.fake_gemini import ScriptedGemini

PACKAGE, VERSION = "@google/gemini-cli", "0.61.0"
RUN_TIMEOUT_SECONDS = 180

SCRIPT = [
    Step("ensure_connection", {"wait_seconds": 0}),
    Step("ensure_connection", connection_id, before=connect_page),
    Step("search_actions", {"intent": "how many users are online right now", "limit": 3}),
    Step("run_action", {"action_id": "real-time-user-count"}),
    Step("proxy_request", {"path": "/1/profile.json", "query": {"email": "no@one.example"}}),
    Step("proxy_request", {"path": "https://elsewhere.example/1/profile.json"}),
    Step(text="Done: 3 actions found, the online count read, one lookup, one refused request."),
]


def ensure_installed() -> Path:
    return npm_binary(PACKAGE, VERSION, "gemini")


def run() -> Outcome:
    binary = ensure_installed()
    model = ScriptedGemini(SCRIPT)
    with served(model.app) as port, tempfile.TemporaryDirectory() as home:
        env = {
            "PATH": os.environ.get("PATH", ""),
            "HOME": home,
            "GEMINI_API_KEY": "fake-key-for-the-loopback-model",
            "GOOGLE_GEMINI_BASE_URL": f"http://127.0.0.1:{port}",
            "GEMINI_CLI_NO_RELAUNCH": "1",
        }
        settings = Path(home) / ".gemini" / "settings.json"
        subprocess.run(
            [sys.executable, "-m", "clevertap_mcp", "config", "gemini", "--sandbox", "--write"],
            capture_output=True,
            text=True,
            check=True,
            env=env,
        )
        document: dict[str, Any] = json.loads(settings.read_text())
        # Without it, a base URL alone selects the "gateway" auth, which -p refuses (docs/hosts-in-ci.md).
        document["security"] = {"auth": {"selectedType": "gemini-api-key"}}
        settings.write_text(json.dumps(document))
        work = Path(home) / "work"
        work.mkdir()
        (settings.parent / "trustedFolders.json").write_text(json.dumps({str(work.resolve()): "TRUST_FOLDER"}))
        done = subprocess.run(  # noqa: S603
            [
                str(binary),
                "-p",
                "How many users are online right now?",
                "--output-format",
                "stream-json",
                "--approval-mode",
                "yolo",
            ],
            env=env,
            cwd=work,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=RUN_TIMEOUT_SECONDS,
        )
    final = "".join(
        str(event.get("content", ""))
        for line in done.stdout.splitlines()
        if line.startswith("{")
        for event in [json.loads(line)]
        if event.get("type") == "message" and event.get("role") == "assistant"
    )
    if done.returncode != 0:
        sys.stderr.write(done.stderr[-2000:])
    return Outcome(
        received=[{"results": turn.results} for turn in model.turns],
        request_bytes=[len(turn.body) for turn in model.turns],
        tool_definition_bytes=0,
        exit_code=done.returncode,
        final=final,
    )


def check(outcome: Outcome) -> list[str]:
    problems: list[str] = []
    expect = [
        (1, "CLIENT_ACTION_REQUIRED", False),
        (1, "http://127.0.0.1:", False),
        (2, "READY", False),
        (3, "real-time-user-count", False),
        (4, "output", False),
        (5, "status", False),
        (6, "Refused before sending", True),
    ]
    for step, needle, is_error in expect:
        seen = outcome.result(step)
        if needle not in seen["text"] or seen["is_error"] is not is_error:
            problems.append(f"step {step}: expected {needle!r} (is_error={is_error}), got {str(seen)[:300]}")
    if outcome.exit_code != 0:
        problems.append(f"gemini exited {outcome.exit_code}")
    if "Done" not in outcome.final:
        problems.append(f"final answer {outcome.final!r}")
    return problems


def main() -> int:
    outcome = run()
    problems = check(outcome)
    figures = {
        "host": f"gemini-cli {VERSION}",
        "request_bytes": outcome.request_bytes,
        "received_text_bytes": outcome.received_text_bytes(),
    }
    return report("gemini", "gemini", figures, problems)


if __name__ == "__main__":
    raise SystemExit(main())
