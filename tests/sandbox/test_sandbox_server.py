"""The sandbox server's own lifecycle: a world that cannot be built leaves nothing behind."""

from __future__ import annotations

import socket

import pytest

from clevertap_mcp.sandbox import server as sandbox_server
from clevertap_mcp.sandbox.server import SandboxServer
from clevertap_mcp.sandbox.settings import SandboxSettings

from helpers import free_port


def test_a_sandbox_whose_app_cannot_be_built_releases_its_port(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken_app(*_: object, **__: object) -> None:
        raise RuntimeError("seeding failed")

    monkeypatch.setattr(sandbox_server, "build_sandbox_app", broken_app)
    port = free_port()
    with pytest.raises(RuntimeError, match="seeding failed"):
        SandboxServer(SandboxSettings(), port=port).start()
    with socket.socket() as again:
        again.bind(("127.0.0.1", port))  # EADDRINUSE if the failed start still held the port
