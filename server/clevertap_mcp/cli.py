"""Command line: `clevertap-mcp` (the stdio server) and `clevertap-mcp sandbox` (the sandbox alone).

clevertap-mcp [--sandbox [--sandbox-auto-connect] [--sandbox-seed N] [--sandbox-profiles N] [--sandbox-clock T]]
              [-v|-vv]
clevertap-mcp --transport http [--host 127.0.0.1] [--port 8000] [--workers N] [--require-client-token] ... (http.py)
clevertap-mcp sandbox [--host 127.0.0.1] [--port 8787] [--auto-connect] [--seed N] [--profiles N] [--clock T]
                      [--set NAME=VALUE ...]

T pins the sandbox's "now": epoch seconds, or an ISO 8601 time such as 2026-01-05T10:00:00Z (UTC when no zone).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from clevertap_mcp import __version__, logs
from clevertap_mcp.commands import add_commands, tty_hint

if TYPE_CHECKING:
    from clevertap_mcp.config import Settings

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
    parser.add_argument("--sandbox-profiles", type=_profiles, default=None, help="with --sandbox: demo profiles")
    parser.add_argument(
        "--sandbox-clock", type=_clock, default=None, help="with --sandbox: pin now (epoch seconds or ISO 8601)"
    )
    _add_safety_arguments(parser)
    _add_http_arguments(parser)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    add_commands(sub)
    sandbox = sub.add_parser("sandbox", help="serve the sandbox's Membrane API alone over HTTP")
    sandbox.add_argument("--host", default="127.0.0.1")
    sandbox.add_argument("--port", type=int, default=SANDBOX_DEFAULT_PORT)
    sandbox.add_argument("--auto-connect", action="store_true", help="new connections become READY on their own")
    sandbox.add_argument("--seed", type=int, default=None, help="seed of the CleverTap demo data")
    sandbox.add_argument("--profiles", type=_profiles, default=None, help="number of demo profiles")
    sandbox.add_argument(
        "--clock", type=_clock, default=None, help="pin the sandbox's now: epoch seconds or ISO 8601 (UTC default)"
    )
    sandbox.add_argument(
        "--set",
        dest="settings",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="any sandbox setting (README, The sandbox), VALUE as JSON or text; repeatable",
    )
    return parser


def _add_safety_arguments(parser: argparse.ArgumentParser) -> None:
    safety = parser.add_argument_group('safety (see README "Read-only mode and confirmations", "Output size")')
    safety.add_argument(
        "--read-only", action="store_true", default=None,
        help="only reads run; writes are refused (also CLEVERTAP_MCP_READ_ONLY=1)",
    )  # fmt: skip
    safety.add_argument(
        "--confirm", choices=("never", "elicit", "required"), default=None,
        help="ask the user before deletes, stops and sends: never; elicit (default: where the client can); "
        "required (refuse where it cannot). Also CLEVERTAP_MCP_CONFIRM",
    )  # fmt: skip
    safety.add_argument(
        "--max-output-chars", type=int, default=None, metavar="N",
        help="size budget of one tool result (default 20000; also CLEVERTAP_MCP_MAX_OUTPUT_CHARS)",
    )  # fmt: skip


def _add_http_arguments(parser: argparse.ArgumentParser) -> None:
    http = parser.add_argument_group('HTTP transport (--transport http; see README "HTTP deployment")')
    http.add_argument("--transport", choices=("stdio", "http"), default="stdio", help="default: stdio")
    http.add_argument(
        "--host", dest="http_host", default=None, metavar="HOST", help="address to listen on (default 127.0.0.1)"
    )
    http.add_argument(
        "--port", dest="http_port", type=int, default=None, metavar="PORT", help="port to listen on (default 8000)"
    )
    http.add_argument("--workers", type=_workers, default=1, metavar="N", help="uvicorn worker processes (default 1)")
    http.add_argument(
        "--allowed-host", dest="allowed_hosts", action="append", default=None, metavar="NAME[:PORT]",
        help="a Host name clients use to reach this server (DNS-rebinding protection; loopback always allowed)",
    )  # fmt: skip
    http.add_argument(
        "--allowed-origin", dest="allowed_origins", action="append", default=None, metavar="ORIGIN",
        help="a browser Origin allowed to call this server, e.g. https://app.example.com",
    )  # fmt: skip
    http.add_argument(
        "--require-client-token", action="store_true", default=None,
        help="refuse requests without their own Authorization: Bearer <Membrane token>",
    )  # fmt: skip
    http.add_argument(
        "--allow-shared-credentials", action="store_true",
        help="serve beyond loopback although token-less requests use this server's credentials",
    )  # fmt: skip
    http.add_argument(
        "--json-response", action="store_true", default=None, help="plain JSON answers instead of SSE streams"
    )


def _at_least_one(what: str) -> Callable[[str], int]:
    """An argparse type: a whole number, 1 or more, refused as "not a number of `what`"."""

    def parse(value: str) -> int:
        if not value.isdigit() or int(value) < 1:
            raise argparse.ArgumentTypeError(f"{value!r} is not a number of {what}: give a whole number, 1 or more")
        return int(value)

    return parse


_workers = _at_least_one("workers")
_profiles = _at_least_one("profiles")


def _clock(value: str) -> float:
    """A pinned "now" for the sandbox, so date-relative answers are reproducible."""
    try:
        return float(value) if value.replace(".", "", 1).isdigit() else _iso_seconds(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{value!r} is not a time: give epoch seconds (1767607200) or ISO 8601 (2026-01-05T10:00:00Z)"
        ) from None


def _iso_seconds(value: str) -> float:
    from datetime import UTC, datetime

    moment = datetime.fromisoformat(value)
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


def _seeding(seed: int | None, profiles: int | None, clock: float | None) -> dict[str, Any]:
    """The SandboxSettings overrides the seed, size and clock flags ask for."""
    chosen = {"seed": seed, "profiles": profiles, "clock": clock}
    return {name: value for name, value in chosen.items() if value is not None}


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    seeding = (args.sandbox_seed, args.sandbox_profiles, args.sandbox_clock, args.sandbox_settings or None)
    if args.command is None and not (args.sandbox or args.sandbox_auto_connect) and any(v is not None for v in seeding):
        parser.error("--sandbox-seed, --sandbox-profiles, --sandbox-clock and --sandbox-set need --sandbox")
    logs.configure(args.verbose)
    if args.command == "sandbox":
        return _serve_sandbox(args)
    if getattr(args, "handler", None) is not None:
        try:
            return args.handler(args)
        except BrokenPipeError:
            # `clevertap-mcp demo | head`: the reader left; stop quietly, as other command-line tools do.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return 1
    return _serve_stdio(args)


def _serve_stdio(args: argparse.Namespace) -> int:
    from clevertap_mcp.config import SettingsError, settings_from_env, with_safety
    from clevertap_mcp.server import build_server

    sandbox_settings = None
    if args.sandbox or args.sandbox_auto_connect:
        from clevertap_mcp.sandbox.settings import SandboxSettings, with_overrides

        sandbox_settings = SandboxSettings(
            auto_connect=args.sandbox_auto_connect,
            **_seeding(args.sandbox_seed, args.sandbox_profiles, args.sandbox_clock),
        )
        try:
            sandbox_settings = with_overrides(sandbox_settings, args.sandbox_settings)
        except ValueError as exc:
            sys.stderr.write(f"clevertap-mcp: --sandbox-set: {exc}\n")
            return 2
    settings = settings_from_env(os.environ, sandbox=sandbox_settings)
    try:
        settings = with_safety(
            settings, os.environ, read_only=args.read_only, confirm=args.confirm, max_output_chars=args.max_output_chars
        )
    except SettingsError as exc:
        sys.stderr.write(f"clevertap-mcp: {exc}\n")
        return 2
    if args.transport == "http":
        return _serve_http(args, settings)
    tty_hint()
    build_server(settings).run("stdio")
    return 0


def _serve_sandbox(args: argparse.Namespace) -> int:
    import anyio

    from clevertap_mcp.sandbox.server import serve_forever
    from clevertap_mcp.sandbox.settings import SandboxSettings, with_overrides

    settings = SandboxSettings(auto_connect=args.auto_connect, **_seeding(args.seed, args.profiles, args.clock))
    try:
        settings = with_overrides(settings, args.settings)
    except ValueError as exc:
        sys.stderr.write(f"clevertap-mcp sandbox: --set: {exc}\n")
        return 2

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


def _serve_http(args: argparse.Namespace, settings: Settings) -> int:
    from clevertap_mcp.http import HttpConfigError, HttpSettings, serve

    try:
        http = HttpSettings.from_env(
            os.environ,
            host=args.http_host,
            port=args.http_port,
            workers=args.workers,
            allowed_hosts=tuple(args.allowed_hosts) if args.allowed_hosts else None,
            allowed_origins=tuple(args.allowed_origins) if args.allowed_origins else None,
            require_client_token=args.require_client_token,
            allow_shared_credentials=args.allow_shared_credentials,
            json_response=args.json_response,
            verbosity=args.verbose,
        )
    except HttpConfigError as exc:
        sys.stderr.write(f"clevertap-mcp: {exc}\n")
        return 2
    return serve(settings, http)
