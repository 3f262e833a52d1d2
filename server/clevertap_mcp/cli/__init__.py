"""Command line: `clevertap-mcp` (the stdio server) and `clevertap-mcp sandbox` (the sandbox alone).

clevertap-mcp [--sandbox [--sandbox-auto-connect] [--sandbox-seed N] [--sandbox-profiles N] [--sandbox-clock T]]
              [-v|-vv]
clevertap-mcp --transport http [--host 127.0.0.1] [--port 8000] [--workers N] [--require-client-token] ... (http.py)
clevertap-mcp login [--no-browser | --from-membrane-cli]; clevertap-mcp logout   (docs/sign-in.md)
clevertap-mcp sandbox [--host 127.0.0.1] [--port 8787] [--auto-connect] [--seed N] [--profiles N] [--clock T]
                      [--set NAME=VALUE ...]

T pins the sandbox's "now": epoch seconds, or an ISO 8601 time such as 2026-01-05T10:00:00Z (UTC when no zone).
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from clevertap_mcp import __version__, logs
from clevertap_mcp.cli.args import add_http_arguments, add_safety_arguments, clock, profiles
from clevertap_mcp.cli.hosts import HOSTS

__all__ = ["main"]

SANDBOX_DEFAULT_PORT = 8787


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="clevertap-mcp",
        description="MCP server for CleverTap through Membrane. With no command: serve MCP over stdio.",
    )
    parser.add_argument("--version", action="version", version=f"clevertap-mcp {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more logging on stderr (-vv: debug)")
    parser.add_argument(
        "--sandbox", action="store_true", help="talk to the built-in offline sandbox instead of Membrane"
    )
    parser.add_argument(
        "--sandbox-auto-connect",
        action="store_true",
        help="with --sandbox: new connections become READY without the connect page (for scripts)",
    )
    parser.add_argument("--sandbox-seed", type=int, default=None, help="with --sandbox: seed of the demo data")
    parser.add_argument(
        "--sandbox-set",
        dest="sandbox_settings",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="with --sandbox: any sandbox setting, VALUE as JSON or text; repeatable",
    )
    parser.add_argument("--sandbox-profiles", type=profiles, default=None, help="with --sandbox: demo profiles")
    parser.add_argument(
        "--sandbox-clock", type=clock, default=None, help="with --sandbox: pin now (epoch seconds or ISO 8601)"
    )
    parser.add_argument(
        "--sandbox-shared",
        action="store_true",
        help="with --sandbox: servers started with the same sandbox flags share one sandbox process (its world and "
        "connections outlive each server; for harnesses that start a server per tool call)",
    )
    add_safety_arguments(parser)
    add_http_arguments(parser)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    _add_commands(sub)
    return parser


def _add_commands(sub: Any) -> None:
    """Each command's module (cli/<name>.py, with `run(args)`) is imported only when that command runs, so the stdio
    server starts no slower for them."""
    demo = sub.add_parser("demo", help="see it work: drive the server on the built-in sandbox through the agent flow")
    demo.set_defaults(command_module="demo")

    doctor = sub.add_parser("doctor", help="check versions, credentials, token, Membrane and the CleverTap connection")
    doctor.add_argument(
        "--sandbox", dest="doctor_sandbox", action="store_true", help="check against an embedded sandbox"
    )
    doctor.add_argument(
        "--connect", action="store_true", help="create the CleverTap connection when there is none, and show its link"
    )
    doctor.add_argument(
        "--contract",
        action="store_true",
        help="probe which readings of Membrane's unconfirmed points hold (reads only)",
    )
    doctor.set_defaults(command_module="doctor")

    config = sub.add_parser("config", help="print (or --write) the configuration snippet for an MCP host")
    config.add_argument("host", choices=HOSTS)
    config.add_argument("--write", action="store_true", help="merge it into the host's config file (backs it up)")
    config.add_argument("--path", type=Path, default=None, help="the config file to write (default: the host's own)")
    config.add_argument("--name", default="clevertap", help="the server's name in the host (default: clevertap)")
    config.add_argument(
        "--sandbox", dest="config_sandbox", action="store_true", help="configure the offline sandbox server"
    )
    config.set_defaults(command_module="config")

    login = sub.add_parser("login", help="sign in to Membrane in a browser; the server then uses that sign-in")
    login.add_argument("--no-browser", action="store_true", help="print the URL and paste the result back (headless)")
    login.add_argument(
        "--from-membrane-cli",
        action="store_true",
        help="import `membrane credentials --json` (stores a workspace secret)",
    )
    login.add_argument("--timeout", type=float, default=300, metavar="SECONDS", help="how long to wait (default 300)")
    login.set_defaults(command_module="login")
    logout = sub.add_parser("logout", help="revoke and delete the stored Membrane sign-in")
    logout.set_defaults(command_module="logout")

    sandbox = sub.add_parser("sandbox", help="serve the sandbox's Membrane API alone over HTTP")
    sandbox.add_argument("--host", default="127.0.0.1")
    sandbox.add_argument("--port", type=int, default=SANDBOX_DEFAULT_PORT)
    sandbox.add_argument("--auto-connect", action="store_true", help="new connections become READY on their own")
    sandbox.add_argument("--seed", type=int, default=None, help="seed of the CleverTap demo data")
    sandbox.add_argument("--profiles", type=profiles, default=None, help="number of demo profiles")
    sandbox.add_argument(
        "--clock", type=clock, default=None, help="pin the sandbox's now: epoch seconds or ISO 8601 (UTC default)"
    )
    sandbox.add_argument(
        "--set",
        dest="settings",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="any sandbox setting (docs/sandbox.md), VALUE as JSON or text; repeatable",
    )
    sandbox.add_argument(
        "--idle-exit", type=float, default=None, metavar="SECONDS", help="stop after SECONDS without a request"
    )
    sandbox.set_defaults(command_module="sandbox")


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    seeding = (
        args.sandbox_seed,
        args.sandbox_profiles,
        args.sandbox_clock,
        args.sandbox_settings or None,
        args.sandbox_shared or None,
    )
    if args.command is None and not (args.sandbox or args.sandbox_auto_connect) and any(v is not None for v in seeding):
        parser.error(
            "--sandbox-seed, --sandbox-profiles, --sandbox-clock, --sandbox-set and --sandbox-shared need --sandbox"
        )
    logs.configure(args.verbose)
    if args.command is not None:
        command = importlib.import_module(f"clevertap_mcp.cli.{args.command_module}")
        try:
            return command.run(args)
        except BrokenPipeError:
            # `clevertap-mcp demo | head`: the reader left; stop quietly, as other command-line tools do.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return 1
    from clevertap_mcp.cli import serve

    return serve.run(args)
