"""Command line: `clevertap-mcp` (the stdio server) and `clevertap-mcp sandbox` (the sandbox alone).

clevertap-mcp [--sandbox [--sandbox-auto-connect]] [-v|-vv]
clevertap-mcp sandbox [--host 127.0.0.1] [--port 8787] [--auto-connect] [--seed N] [--profiles N]
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import os
import sys
from collections.abc import Sequence

from clevertap_mcp import __version__, logs

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
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sandbox = sub.add_parser("sandbox", help="serve the sandbox's Membrane API alone over HTTP")
    sandbox.add_argument("--host", default="127.0.0.1")
    sandbox.add_argument("--port", type=int, default=SANDBOX_DEFAULT_PORT)
    sandbox.add_argument("--auto-connect", action="store_true", help="new connections become READY on their own")
    sandbox.add_argument("--seed", type=int, default=None, help="seed of the CleverTap demo data")
    sandbox.add_argument("--profiles", type=int, default=None, help="number of demo profiles")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logs.configure(args.verbose)
    if args.command == "sandbox":
        return _serve_sandbox(args)
    return _serve_stdio(args)


def _serve_stdio(args: argparse.Namespace) -> int:
    from clevertap_mcp.config import settings_from_env
    from clevertap_mcp.server import build_server

    sandbox_settings = None
    if args.sandbox or args.sandbox_auto_connect:
        from clevertap_mcp.sandbox.settings import SandboxSettings

        sandbox_settings = SandboxSettings(auto_connect=args.sandbox_auto_connect)
    settings = settings_from_env(os.environ, sandbox=sandbox_settings)
    build_server(settings).run("stdio")
    return 0


def _serve_sandbox(args: argparse.Namespace) -> int:
    import anyio

    from clevertap_mcp.sandbox.server import serve_forever
    from clevertap_mcp.sandbox.settings import SandboxSettings

    settings = SandboxSettings(auto_connect=args.auto_connect)
    if args.seed is not None:
        settings = dataclasses.replace(settings, seed=args.seed)
    if args.profiles is not None:
        settings = dataclasses.replace(settings, profiles=args.profiles)

    def on_ready(base_url: str) -> None:
        sys.stdout.write(
            f"Membrane sandbox listening on {base_url}\n"
            f"  MEMBRANE_API_URL={base_url}\n"
            f"  MEMBRANE_WORKSPACE_KEY={settings.workspace_key}\n"
            f"  MEMBRANE_WORKSPACE_SECRET={settings.workspace_secret}   (demo credential of the sandbox)\n"
            f"  MEMBRANE_TENANT_KEY={settings.tenant_key}\n"
            f"  control plane: {base_url}/_sandbox   (Ctrl+C stops)\n"
        )
        sys.stdout.flush()

    try:
        with contextlib.suppress(KeyboardInterrupt):
            anyio.run(serve_forever, settings, args.host, args.port, on_ready)
    except OSError as exc:
        sys.stderr.write(
            f"clevertap-mcp sandbox: cannot listen on {args.host}:{args.port}: {exc.strerror}. "
            "Pick another --port (0 chooses a free one).\n"
        )
        return 2
    return 0
