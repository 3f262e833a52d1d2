"""The helper commands around the server: `demo`, `doctor` and `config`, and the hint for a human at the terminal.

Each command's module is imported only when that command runs, so the stdio server starts no slower for them.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shlex
import sys
from pathlib import Path
from typing import Any

from clevertap_mcp.hosts import HOSTS

__all__ = ["TTY_HINT", "add_commands", "tty_hint", "utf8_output"]

TTY_HINT = (
    "clevertap-mcp: this is an MCP server speaking JSON-RPC on stdin/stdout, waiting for an MCP host to talk to it. "
    "Configure a host with `clevertap-mcp config <host>` ({hosts}); see it work with `clevertap-mcp demo`; "
    "check a setup with `clevertap-mcp doctor`. Ctrl+C quits.\n"
).format(hosts="|".join(HOSTS))


def tty_hint(stdin: Any = None, stderr: Any = None) -> None:
    """A person who ran the server by hand sees one line saying what it is; a host (stdin a pipe) sees nothing."""
    stdin = sys.stdin if stdin is None else stdin
    stderr = sys.stderr if stderr is None else stderr
    try:
        interactive = stdin.isatty()
    except (AttributeError, ValueError):
        interactive = False
    if interactive:
        stderr.write(TTY_HINT)
        stderr.flush()


def add_commands(sub: Any) -> None:
    """Register the subcommands on the CLI's subparsers; each sets `handler`."""
    demo = sub.add_parser("demo", help="see it work: drive the server on the built-in sandbox through the agent flow")
    demo.set_defaults(handler=_demo)

    doctor = sub.add_parser("doctor", help="check versions, credentials, token, Membrane and the CleverTap connection")
    doctor.add_argument(
        "--sandbox", dest="doctor_sandbox", action="store_true", help="check against an embedded sandbox"
    )
    doctor.add_argument(
        "--connect", action="store_true", help="create the CleverTap connection when there is none, and show its link"
    )
    doctor.set_defaults(handler=_doctor)

    config = sub.add_parser("config", help="print (or --write) the configuration snippet for an MCP host")
    config.add_argument("host", choices=HOSTS)
    config.add_argument("--write", action="store_true", help="merge it into the host's config file (backs it up)")
    config.add_argument("--path", type=Path, default=None, help="the config file to write (default: the host's own)")
    config.add_argument("--name", default="clevertap", help="the server's name in the host (default: clevertap)")
    config.add_argument(
        "--sandbox", dest="config_sandbox", action="store_true", help="configure the offline sandbox server"
    )
    config.set_defaults(handler=_config)


def _demo(args: argparse.Namespace) -> int:
    import anyio

    from clevertap_mcp.demo import run_demo

    utf8_output(sys.stdout)
    return anyio.run(run_demo, sys.stdout)


def _doctor(args: argparse.Namespace) -> int:
    import anyio

    from clevertap_mcp.doctor import run_doctor

    sandbox = bool(args.doctor_sandbox or args.sandbox)
    utf8_output(sys.stdout)
    return anyio.run(lambda: run_doctor(os.environ, sys.stdout, sandbox=sandbox, connect=args.connect))


def utf8_output(stream: Any) -> None:
    """✓, ✗ and → must not crash a run whose stdout is a pipe in a legacy code page (Windows CI logs use cp1252):
    such a stream is switched to UTF-8, which every log viewer reads, instead of raising UnicodeEncodeError."""
    try:
        "✓✗→…—".encode(getattr(stream, "encoding", None) or "ascii")
    except (UnicodeEncodeError, LookupError):
        if isinstance(stream, io.TextIOWrapper):
            stream.reconfigure(encoding="utf-8")


def _claude_add(name: str, command: str, args: list[str], sandbox: bool) -> str:
    # add-json rather than `add -e KEY=VALUE`: `claude mcp add` wants every option before the name, yet its
    # variadic -e then swallows the name (anthropics/claude-code#62332); one JSON argument parses the same everywhere.
    entry: dict[str, Any] = {"type": "stdio", "command": command, "args": args}
    if not sandbox:
        entry["env"] = {"MEMBRANE_TOKEN": "<your Membrane token>"}
    return shlex.join(["claude", "mcp", "add-json", "--scope", "user", name, json.dumps(entry)])


def _config(args: argparse.Namespace) -> int:
    from clevertap_mcp import hosts

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


def _after_write(host: str, sandbox: bool) -> str:
    if sandbox:
        return "Restart the host (or reload its MCP servers) to pick it up."
    if host == "vscode":
        return "VS Code asks for the Membrane token when it first starts the server, and keeps it out of the file."
    if host == "claude-code":
        return "Claude Code fills MEMBRANE_TOKEN (or the workspace key and secret) from your environment."
    if host == "codex":
        return "Fill in MEMBRANE_TOKEN (or the workspace key and secret) in its .env table, then restart Codex."
    return "Fill in MEMBRANE_TOKEN (or the workspace key and secret) in its env block, then restart the host."
