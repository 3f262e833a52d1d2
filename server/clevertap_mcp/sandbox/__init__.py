"""The built-in offline sandbox: an emulated Membrane API with a CleverTap connector, and an emulated CleverTap.

Importing this package is cheap: it loads nothing until one of its names is used, so the stdio server pays for
Starlette, uvicorn and jsonschema only when it runs with `--sandbox`.

    build_sandbox_app(settings, *, root_url, outbound_transport=None) -> Starlette     (app.py)
    SandboxServer(settings, host="127.0.0.1", port=0)   start() / stop() / base_url     (server.py)
    serve_forever(settings, host, port, on_ready)                                        (server.py)
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from clevertap_mcp.sandbox.app import build_sandbox_app
    from clevertap_mcp.sandbox.server import SandboxServer, serve_forever
    from clevertap_mcp.sandbox.settings import SandboxSettings

__all__ = ["SandboxServer", "SandboxSettings", "build_sandbox_app", "serve_forever"]

_HOMES = {
    "SandboxServer": "clevertap_mcp.sandbox.server",
    "serve_forever": "clevertap_mcp.sandbox.server",
    "build_sandbox_app": "clevertap_mcp.sandbox.app",
    "SandboxSettings": "clevertap_mcp.sandbox.settings",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(home), name)
