"""`clevertap-mcp config <host> [--write]`: print or merge the host's configuration snippet (hosts.py knows each host)."""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path
from typing import Any

from clevertap_mcp.cli import hosts

__all__ = ["run"]


def _claude_add(name: str, command: str, args: list[str], sandbox: bool) -> str:
    # add-json rather than `add -e KEY=VALUE`: `claude mcp add` wants every option before the name, yet its
    # variadic -e then swallows the name (anthropics/claude-code#62332); one JSON argument parses the same everywhere.
    entry: dict[str, Any] = {"type": "stdio", "command": command, "args": args}
    if not sandbox:
        entry["env"] = {"MEMBRANE_TOKEN": "<your Membrane token>"}
    return shlex.join(["claude", "mcp", "add-json", "--scope", "user", name, json.dumps(entry)])


def run(args: argparse.Namespace) -> int:
    sandbox = bool(args.config_sandbox or args.sandbox)
    try:
        snip = hosts.snippet(args.host, name=args.name, sandbox=sandbox)
        path: Path = args.path or hosts.default_path(args.host)
        if not args.write:
            sys.stdout.write(snip.text)
            sys.stderr.write(f"# goes in {path}; `clevertap-mcp config {args.host} --write` merges it there.\n")
            if args.host == "claude-code":
                command, launch_args = hosts.server_launch(sandbox=sandbox)
                sys.stderr.write(f"# or: {_claude_add(args.name, command, launch_args, sandbox)}\n")
            sys.stderr.write(HOST_NOTES.get(args.host, ""))
            if not sandbox:
                sys.stderr.write(f"# {SIGNED_IN_NOTE} Else fill MEMBRANE_TOKEN (or key, secret and tenant).\n")
            return 0
        backup = hosts.write_config(args.host, snip, path, name=args.name)
    except hosts.HostConfigError as exc:
        sys.stderr.write(f"clevertap-mcp config: {exc}\n")
        return 1
    sys.stdout.write(
        f"Wrote server {args.name!r} to {path}" + (f" (previous file kept as {backup})" if backup else "") + ".\n"
    )
    sys.stdout.write(_after_write(args.host, sandbox) + "\n")
    return 0


SIGNED_IN_NOTE = "Signed in with `clevertap-mcp login`? Leave the credential variables blank (the server uses it)."

HOST_NOTES = {
    "codex": (
        "# required = true: Codex lists the tools before its first model request, and `codex exec` fails fast if the\n"
        "# server cannot start. The four tools are pre-approved so `codex exec` (approval policy never) runs the read\n"
        "# flow; `--confirm writes` makes the server ask by a form before every write (uploads too), which `codex\n"
        "# exec` declines, so nothing is sent. ensure_connection waits up to 20 s, within Codex's 60 s\n"
        "# tool_timeout_sec.\n"
    ),
    "gemini": (
        "# Gemini CLI does not pass inherited variables whose names look secret (TOKEN, KEY, SECRET...) to servers:\n"
        "# put the values in env literally. It disables user-level servers in folders it does not trust: trust the\n"
        "# folder (~/.gemini/trustedFolders.json, or /permissions). `gemini -p` offers the tools only with\n"
        '# --approval-mode yolo or "trust": true on the entry, and then nothing is confirmed (Gemini cannot show the\n'
        '# server\'s confirmation form): add "--confirm", "required" or "--read-only" to args for that.\n'
    ),
}


def _after_write(host: str, sandbox: bool) -> str:
    if sandbox:
        return "Restart the host (or reload its MCP servers) to pick it up."
    if host == "vscode":
        how = "VS Code asks for the Membrane token (leave its prompt blank if signed in) and keeps it out of the file"
    elif host == "claude-code":
        how = "Claude Code fills MEMBRANE_TOKEN (or the workspace key, secret and tenant) from your environment"
    elif host == "gemini":
        how = (
            "fill in MEMBRANE_TOKEN (or the workspace key, secret and tenant) literally in its env block "
            "(Gemini CLI does not pass such variables from your environment)"
        )
    else:
        table = ".env table" if host == "codex" else "env block"
        how = f"fill in MEMBRANE_TOKEN (or the workspace key, secret and tenant) in its {table}"
    return f"{SIGNED_IN_NOTE} Else {how}. Then restart the host."
