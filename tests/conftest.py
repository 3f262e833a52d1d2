"""Shared fixtures: the anyio backend, recognisable credentials, and the record of everything the server wrote.

Every log record emitted during the suite (at DEBUG) and every tool result the tests receive is kept in
`WRITTEN`; `test_no_credential_written.py` runs last and scans it all for the credentials below.
"""

from __future__ import annotations

import ipaddress
import logging
import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from clevertap_mcp import logs
from clevertap_mcp.sandbox.server import SandboxServer
from clevertap_mcp.sandbox.settings import SandboxSettings

from leakcheck import WRITTEN


class _Recorder(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        WRITTEN.append(self.format(record))


_recorder = _Recorder(level=logging.DEBUG)
_recorder.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))


@pytest.fixture(scope="session", autouse=True)
def _record_logs() -> Iterator[None]:
    root = logging.getLogger()
    previous = root.level
    root.addHandler(_recorder)
    root.setLevel(logging.DEBUG)
    yield
    root.removeHandler(_recorder)
    root.setLevel(previous)


@pytest.fixture(scope="session", autouse=True)
def _loopback_only() -> Iterator[None]:
    """No test reaches beyond this machine: a connection to any non-loopback address fails at once, saying so,
    instead of leaving the machine (or hanging on a DNS look-up where there is no network)."""
    real_connect = socket.socket.connect

    def connect(self: socket.socket, address: Any) -> None:
        if self.family in (socket.AF_INET, socket.AF_INET6):
            host = str(address[0])
            try:
                loopback = ipaddress.ip_address(host.split("%", 1)[0]).is_loopback
            except ValueError:
                loopback = host == "localhost"
            if not loopback:
                raise ConnectionRefusedError(f"tests reach only loopback addresses, not {host}")
        real_connect(self, address)

    socket.socket.connect = connect  # type: ignore[method-assign]
    yield
    socket.socket.connect = real_connect  # type: ignore[method-assign]


@pytest.fixture(autouse=True)
def _no_stored_sign_in(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    """The developer's own `clevertap-mcp login` never leaks into a test: the sign-in store is an empty directory."""
    config_dir: Path = tmp_path_factory.mktemp("config")
    monkeypatch.setenv("CLEVERTAP_MCP_CONFIG_DIR", str(config_dir))


@pytest.fixture(autouse=True)
def _keep_recording_logs(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Commands under test call `logs.configure`, which replaces the root handlers: the recorder goes back in at
    once, and the root logger is as the session fixture left it after each test, so no test hides what it logged."""
    real_configure = logs.configure

    def configure_and_keep_recording(verbosity: int) -> None:
        real_configure(verbosity)
        root = logging.getLogger()
        if _recorder not in root.handlers:
            root.addHandler(_recorder)

    monkeypatch.setattr(logs, "configure", configure_and_keep_recording)
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The secret scan reads what every other test wrote, so it runs last."""
    items.sort(key=lambda item: item.path.name == "test_no_credential_written.py")


@pytest.fixture
def sandbox_factory() -> Iterator[Callable[..., SandboxServer]]:
    """Starts real sandboxes on 127.0.0.1 (free ports) with the given settings; stops them after the test."""
    started: list[SandboxServer] = []

    def make(**overrides: Any) -> SandboxServer:
        server = SandboxServer(SandboxSettings(**overrides))
        server.start()
        started.append(server)
        return server

    yield make
    for server in started:
        server.stop()


@pytest.fixture
def sandbox(sandbox_factory: Callable[..., SandboxServer]) -> SandboxServer:
    return sandbox_factory()
