"""The default command: serve MCP over stdio, or over Streamable HTTP with `--transport http` (http.py)."""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
from typing import TYPE_CHECKING

from clevertap_mcp.cli.args import seeding
from clevertap_mcp.cli.terminal import tty_hint

if TYPE_CHECKING:
    from clevertap_mcp.config import Settings

__all__ = ["run"]


def run(args: argparse.Namespace) -> int:
    from clevertap_mcp.config import SettingsError, settings_from_env, with_safety
    from clevertap_mcp.server import build_server
    from clevertap_mcp.stdio_run import run_stdio

    sandbox_settings = None
    if args.sandbox or args.sandbox_auto_connect:
        from clevertap_mcp.sandbox.settings import SandboxSettings, with_overrides

        sandbox_settings = SandboxSettings(
            auto_connect=args.sandbox_auto_connect,
            **seeding(args.sandbox_seed, args.sandbox_profiles, args.sandbox_clock),
        )
        try:
            sandbox_settings = with_overrides(sandbox_settings, args.sandbox_settings)
        except ValueError as exc:
            sys.stderr.write(f"clevertap-mcp: --sandbox-set: {exc}\n")
            return 2
    settings = settings_from_env(os.environ, sandbox=sandbox_settings)
    if sandbox_settings is not None and args.sandbox_shared:
        settings = dataclasses.replace(settings, sandbox_shared=True)
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
    return run_stdio(build_server(settings))


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
