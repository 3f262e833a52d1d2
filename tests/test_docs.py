"""README.md and docs/: every shell command they show is run, here or by the test or CI script named for it, and
every link to a file of this repository resolves.

Commands cheap and safe to run are run here, as written (the sandbox's only on a free port, not its default 8787):
`config <host> --write` in a throwaway HOME, and the sandbox commands with the control-plane calls shown beside them.
The others name the file that runs them and the text there that shows it; a new command in the docs fails here until
it is run somewhere.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
CLI = str(Path(sys.executable).parent / "clevertap-mcp")

# Command (as the docs write it, up to any comment) → (file that runs it, text in that file that does).
RUN_ELSEWHERE: dict[str, tuple[str, str]] = {
    "scripts/run": ("tests/test_bootstrap_scripts.py", 'machine.run("scripts/run")'),
    "scripts/test": ("scripts/check", "scripts/test"),
    "pip install .": ("scripts/install-smoke", 'pip install -q --disable-pip-version-check "$root"'),
    "pipx install .": ("scripts/install-smoke", 'pipx" install --quiet "$root"'),
    "uvx --from . clevertap-mcp demo": (
        "scripts/install-smoke",
        '"$tools/bin/uvx" --quiet --from "$root" clevertap-mcp',
    ),
    "clevertap-mcp demo": ("tests/test_demo.py", '"demo"'),
    "clevertap-mcp doctor": ("tests/test_doctor.py", '"doctor"'),
    "clevertap-mcp login": ("tests/browser/test_login_browser.py", 'start(["login"], env)'),
    "MEMBRANE_API_URL=http://127.0.0.1:8787 clevertap-mcp login": (
        "tests/browser/test_login_browser.py",
        'start(["login"], env)',
    ),
    "clevertap-mcp sandbox --port 8787 &": ("tests/test_stdio.py", '"sandbox", "--port", "0"'),
    "clevertap-mcp logout": ("tests/signin/test_login_command.py", 'run_command(["logout"]'),
    "scripts/bundle": ("scripts/bundle-check", '"scripts" / "bundle"'),
    "scripts/bundle-check": (".ci/run", "scripts/bundle-check"),
    "clevertap-mcp --sandbox --transport http --port 8000": (
        "scripts/conformance",
        '"--sandbox", "--sandbox-auto-connect", "--transport", "http"',
    ),
    "curl http://127.0.0.1:8000/healthz": ("tests/test_http.py", '/healthz"'),
    "clevertap-mcp sandbox --auto-connect --port 8787 &": ("tests/test_http_workers.py", "SandboxServer"),
    "MEMBRANE_API_URL=http://127.0.0.1:8787 clevertap-mcp --transport http --port 8000 --workers 2 --require-client-token": (
        "tests/test_http_workers.py",
        '"--workers", "2", "--require-client-token"',
    ),
    "python -m bench": ("tests/test_context_budget.py", "from bench import context"),
}


def documented_commands() -> list[str]:
    """Each command of every ```bash or ```sh block: comments dropped, a quoted argument spanning lines joined."""
    commands: list[str] = []
    for page in PAGES:
        for block in re.findall(r"```(?:bash|sh|shell|console)\n(.*?)```", page.read_text(encoding="utf-8"), re.S):
            pending = ""
            for raw in block.splitlines():
                # A comment follows two spaces or starts the line; a `#` inside a command never does here.
                line = re.sub(r"(^|\s{2,})#.*$", "", raw).strip()
                line = f"{pending} {line}" if pending else line
                if line.count("'") % 2:
                    pending = line
                    continue
                pending = ""
                if line:
                    commands.append(line)
    return commands


def test_every_documented_command_is_run_here_or_by_the_file_named_for_it() -> None:
    commands = documented_commands()
    assert len(commands) > 20
    ran_here = [
        c for c in commands if c.startswith("clevertap-mcp config ") or _sandbox_command(c) or c.startswith("curl -s")
    ]
    elsewhere = [c for c in commands if c not in ran_here]
    assert sorted(set(elsewhere)) == sorted(RUN_ELSEWHERE), "a command in the docs that nothing runs, or a stale entry"
    for command, (path, text) in RUN_ELSEWHERE.items():
        assert text in (ROOT / path).read_text(encoding="utf-8"), f"{path} no longer runs {command!r}"


def _sandbox_command(command: str) -> bool:
    return command.startswith(("clevertap-mcp sandbox --seed", "clevertap-mcp --sandbox --sandbox-seed"))


@pytest.mark.parametrize("command", sorted({c for c in documented_commands() if c.startswith("clevertap-mcp config ")}))
def test_each_documented_config_command_writes_its_hosts_file(command: str, tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config")}
    args = shlex.split(command)[1:]
    done = subprocess.run([CLI, *args], cwd=home, env=env, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    written = re.search(r"Wrote server 'clevertap' to (\S+?)\.?$", done.stdout, re.M)
    assert written is not None, done.stdout
    assert (home / written.group(1)).is_file()  # relative paths are the working directory's


def test_the_documented_sandbox_commands_start_and_answer_the_documented_control_plane_calls() -> None:
    commands = documented_commands()
    (standalone,) = [c for c in commands if c.startswith("clevertap-mcp sandbox --seed")]
    curls = [c for c in commands if c.startswith("curl -s")]
    assert len(curls) == 2
    env = {"PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", str(ROOT))}
    with subprocess.Popen(
        [CLI, *shlex.split(standalone)[1:], "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=env,
        text=True,
    ) as sandbox:
        try:
            assert sandbox.stdout is not None
            first = sandbox.stdout.readline()
            url = re.search(r"(http://127\.0\.0\.1:\d+)", first)
            assert url is not None, first
            answers = [
                subprocess.run(
                    ["/bin/bash", "-c", c],
                    env=env | {"SANDBOX": url.group(1)},
                    capture_output=True,
                    text=True,
                    timeout=30,
                    check=True,
                ).stdout
                for c in curls
            ]
        finally:
            sandbox.terminate()
    assert '"kind":"status"' in answers[0] and '"remaining":2' in answers[0], answers[0]
    assert json.loads(answers[1]) == {"items": []}, answers[1]  # nothing has called CleverTap yet


def test_the_documented_stdio_sandbox_command_parses_its_flags_and_serves() -> None:
    (stdio,) = [c for c in documented_commands() if c.startswith("clevertap-mcp --sandbox --sandbox-seed")]
    hello = (
        '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},'
        '"clientInfo":{"name":"docs","version":"0"}}}\n'
    )
    env = {"PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", str(ROOT))}
    done = subprocess.run(
        [CLI, *shlex.split(stdio)[1:]], input=hello, env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert '"serverInfo"' in done.stdout


def test_every_link_to_a_file_of_this_repository_resolves() -> None:
    for page in PAGES:
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", page.read_text(encoding="utf-8")):
            if "://" in target:
                continue
            assert (page.parent / target).exists(), f"{page.relative_to(ROOT)} links to {target}, which does not exist"
