"""`clevertap-mcp sandbox`: serve the sandbox's Membrane API (and CleverTap behind it) alone over HTTP."""

from __future__ import annotations

import argparse
import contextlib
import functools
import sys

from clevertap_mcp.cli.args import seeding

__all__ = ["run"]


def run(args: argparse.Namespace) -> int:
    import anyio

    from clevertap_mcp.sandbox.server import serve_forever
    from clevertap_mcp.sandbox.settings import SandboxSettings, with_overrides

    settings = SandboxSettings(auto_connect=args.auto_connect, **seeding(args.seed, args.profiles, args.clock))
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
            anyio.run(
                functools.partial(serve_forever, idle_exit=args.idle_exit), settings, args.host, args.port, on_ready
            )
    except OSError as exc:
        sys.stderr.write(
            f"clevertap-mcp sandbox: cannot listen on {args.host}:{args.port}: {exc.strerror}. "
            "Pick another --port (0 chooses a free one).\n"
        )
        return 2
    return 0
